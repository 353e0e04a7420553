"""DAMON_RECLAIM and DAMON_LRU_SORT parameters written to a live kernel, all
or nothing (the parameters themselves come from the ``reclaim`` and
``lru-sort`` targets)."""
from __future__ import annotations

import errno
import os
import time

from ..errors import DamosError
from ..targets._module_params import LABEL


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)


def write_params(module_root: str, module: str, params: list[tuple[str, str]],
                 sleep=time.sleep) -> dict:
    """Write the parameters, then ``enabled`` Y (or ``commit_inputs`` Y when
    the module already runs); on any failure put every old value back."""
    base = os.path.join(module_root, module, "parameters")
    if not os.path.isdir(base):
        raise DamosError(f"no {base}: this kernel has no {LABEL[module]} "
                         f"(CONFIG_{LABEL[module]}=y)")
    enabled_path = os.path.join(base, "enabled")
    was_on = _read(enabled_path) == "Y"
    journal: list[tuple[str, str]] = []
    final = ("commit_inputs", "Y") if was_on else ("enabled", "Y")
    for name, value in params + [final]:
        path = os.path.join(base, name)
        old = _read(path)
        if old is None:
            _restore(journal)
            raise DamosError(f"no {path}: this kernel's {LABEL[module]} has no parameter "
                             f"{name}; nothing was changed")
        try:
            _write(path, value)
        except OSError as e:
            _restore(journal)
            hint = ""
            if name == "enabled" and e.errno == errno.EBUSY:
                hint = "; a DAMON sysfs kdamond (or another exclusive DAMON user) is running"
            elif name == "enabled" and e.errno == errno.EINVAL:
                hint = "; the module refused the parameters when it built its scheme"
            raise DamosError(f"failed to write '{value}' to {path}: "
                             f"{os.strerror(e.errno)}{hint}\nnothing was changed: every "
                             "parameter before it was restored") from None
        if name != "commit_inputs":
            journal.append((path, old))
    pid = None
    for _ in range(20):
        pid = _read(os.path.join(base, "kdamond_pid"))
        if pid not in (None, "-1"):
            break
        sleep(0.1)
    return {"module": module, "enabled": _read(enabled_path), "kdamond_pid": pid}


def _restore(journal) -> None:
    for path, old in reversed(journal):
        try:
            _write(path, old)
        except OSError:
            pass


