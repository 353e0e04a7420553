"""Which kdamonds damos-lang started: a JSON file under /run/damos-lang for
the kernel's tree, beside the tree for any other root.  A kdamond is ours
while it is still the one we started (see :meth:`Owners.owns`)."""
from __future__ import annotations

import json
import os

from .. import catalog
from ..sysfs import layout as L
from ..sysfs.read import Kdamond, is_admin_root, read_ops, read_target_pids

RUN_DIR = "/run/damos-lang"


class Owners:
    def __init__(self, fs):
        if is_admin_root(fs):
            self.path = os.path.join(RUN_DIR, "owned.json")
        else:
            self.path = os.path.abspath(fs.root).rstrip("/") + ".damos-owned.json"
        try:
            with open(self.path) as f:
                self.data = json.load(f)
        except (OSError, ValueError):
            self.data = {}

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def record(self, index: int, info: dict) -> None:
        self.data[str(index)] = info
        self.save()

    def forget(self, index: int) -> None:
        if self.data.pop(str(index), None) is not None:
            self.save()

    def get(self, index: int) -> dict | None:
        return self.data.get(str(index))

    def owns(self, fs, k: Kdamond) -> bool:
        """Recorded by us, and still the kdamond we started: the same pid while
        it runs, the same target pid once its target exited."""
        info = self.get(k.index)
        if info is None or k.nr_contexts != 1:
            return False
        if k.state == L.ON:
            return k.pid == info.get("kdamond_pid")
        # off (its target exited, or stopped): still the context we wrote
        cb = L.context_dir(k.index)
        if read_ops(fs, cb) != info.get("ops"):
            return False
        pids = [p for p in info.get("targets", []) if p is not None]
        if catalog.OPS[info["ops"]].takes_pid and pids:
            return read_target_pids(fs, cb) == pids
        return True
