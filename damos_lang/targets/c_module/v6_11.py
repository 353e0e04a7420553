"""Linux 6.11-6.13: ``damon_new_scheme()`` takes ``target_nid``; filters have
no ``allow`` yet; periodic work hooks ``ctx->callback.after_aggregation``.

This family is the reference shape (:class:`base.Emitter`); nothing differs."""
from __future__ import annotations

from .base import Emitter


class Family(Emitter):
    first = (6, 11)
    last = (6, 13)
