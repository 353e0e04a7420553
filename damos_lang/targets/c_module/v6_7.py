"""Linux 6.7-6.10: ``damon_new_scheme()`` takes ``apply_interval_us`` but no
``target_nid`` (6.11); quota goals from 6.9."""
from __future__ import annotations

from .base import Emitter


class Family(Emitter):
    first = (6, 7)
    last = (6, 10)

    def new_scheme_args(self, s):
        return super().new_scheme_args(s)[:-1]     # no target_nid
