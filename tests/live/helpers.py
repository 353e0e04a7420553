"""A stand-in DAMON sysfs tree for the live tests, with write recording and
failure injection.  Every test passes its own root: the kernel's tree is
never used (and ``tree(None)`` refuses under pytest anyway)."""
from __future__ import annotations

import errno
import os

from damos_lang.sysfs import root as RT
from damos_lang.sysfs.root import open_root
from damos_lang.sysfs.standin import StandIn


def make_tree(tmp_path, version=(6, 12), pids=(), memcgs=("/",), name="admin"):
    root = str(tmp_path / name)
    StandIn.create(root, version, pids=set(pids) | {os.getpid()}, memcgs=memcgs)
    return root


def snapshot(root) -> dict:
    """Every file and directory of the tree with its bytes."""
    out = {}
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        out[rel + "/"] = None
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                out[os.path.join(rel, f)] = fh.read()
    return out


class Recorder:
    """Patches the tree opener: records every write (path, value) and makes
    the ``fail_at``-th write fail with ``code`` (0-based; None: none fails)."""

    def __init__(self, monkeypatch, fail_at=None, code=errno.EINVAL):
        self.writes: list[tuple[str, str]] = []
        self.fail_at = fail_at
        self.code = code
        rec = self

        class Failing(StandIn):
            def write(self, rel, value):
                if rec.fail_at is not None and len(rec.writes) == rec.fail_at:
                    rec.writes.append((rel, value))
                    rec.fail_at = None            # the undo's writes succeed
                    raise OSError(rec.code, os.strerror(rec.code), rel)
                rec.writes.append((rel, value))
                super().write(rel, value)

        def opener(root):
            fs = open_root(root)
            return Failing(root) if isinstance(fs, StandIn) else fs

        monkeypatch.setattr(RT, "open_root", opener)
