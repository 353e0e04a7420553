"""Linux 6.14-6.16: ``damos_new_filter(type, matching, allow)``.

``damon_call()`` exists from 6.14 but has no ``repeat`` before 6.17, so the
periodic work stays on ``after_aggregation``, as 6.14's samples/damon does."""
from __future__ import annotations

from .base import Emitter


class Family(Emitter):
    first = (6, 14)
    last = (6, 16)

    def new_filter(self, f):
        fn, args = super().new_filter(f)
        return fn, args + [str(f.allow).lower()]
