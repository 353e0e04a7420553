"""The ``name`` label of a scheme: its name in the DAMOS file it was started
from, when one is known (the ownership record's ``source_path`` for a sysfs
kdamond damos-lang started, the record header's ``source`` for a damos run
session) and the file still holds the same actions in the same order.  The
file is parsed once per (path, mtime, size); an unnamed scheme, a file that
is gone, changed or does not parse, gives an empty name."""
from __future__ import annotations

import os

_CACHE: dict = {}


def _parse(path: str) -> list | None:
    from ..pipeline import compile_path
    try:
        ctx = compile_path(path).context
    except Exception:        # a label is decoration: whatever the file holds, no scrape fails
        return None
    return [(s.action, s.name or "") for s in ctx.schemes]


def scheme_names(path: str | None, actions: list) -> list[str]:
    """One name per scheme (empty where unknown)."""
    blank = [""] * len(actions)
    if not path:
        return blank
    try:
        st = os.stat(path)
    except OSError:
        return blank
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = _parse(path)
    parsed = _CACHE[key]
    if parsed is None or [a for a, _ in parsed] != list(actions):
        return blank
    return [n for _, n in parsed]
