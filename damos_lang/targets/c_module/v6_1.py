"""Linux 6.1-6.6: ``struct damon_attrs`` and ``struct damos_access_pattern``;
``damon_new_scheme(pattern, action, quota, wmarks)``; filters from 6.3."""
from __future__ import annotations

from .base import Emitter


class Family(Emitter):
    first = (6, 1)
    last = (6, 6)

    def new_scheme_args(self, s):
        args = super().new_scheme_args(s)
        return args[:2] + args[3:5]                # no apply_interval_us, no target_nid
