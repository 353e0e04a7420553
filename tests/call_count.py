"""Work counted in function calls, not time: a bound that holds on a busy machine."""
from __future__ import annotations

import sys


def count_calls(fn) -> int:
    """Python and C function calls made while ``fn()`` runs."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count
