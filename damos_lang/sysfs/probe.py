"""Which features a live tree has, read from what exists (sysfs.md §2: test
whether the file exists, not ``uname -r``), through the layout table.

A fresh kernel with no kdamond directories shows no scheme or filter
directory to look into; then a feature is *unknown* until the apply writes
reach it, and the apply checks each file exists before writing it.  The
kernel release is used only for features the tree cannot show either way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import catalog, model
from ..catalog import vstr
from ..errors import DamosError
from ..features import features_of, parse_version
from . import layout as L
from .read import is_admin_root
from .standin import StandIn


@dataclass
class Probe:
    """What reading the tree showed: one example directory of each entity."""

    dirs: dict = field(default_factory=dict)      # entity name -> a directory of it
    release: tuple[int, int] | None = None        # the kernel release (last resort)
    avail_operations: list[str] | None = None

    def has(self, entity: L.Entity, row: L.File, fs) -> bool | None:
        d = self.dirs.get(entity.name)
        if d is None:
            return None
        return fs.exists(f"{d}/{row.path}" if d else row.path)


def _walk(fs, base: str, entity: L.Entity, p: Probe) -> None:
    p.dirs.setdefault(entity.name, base)
    for row in entity.counts():
        if row.kind != L.COUNT:
            continue
        n = int(fs.read_or(f"{base}/{row.path}" if base else row.path, "0") or 0)
        for i in range(n):
            child = f"{base}/{row.dir}/{i}" if base else f"{row.dir}/{i}"
            if not fs.isdir(child):
                break
            _walk(fs, child, row.child, p)


def probe(fs) -> Probe:
    p = Probe()
    _walk(fs, "", L.ADMIN, p)
    row = L.AVAIL_OPERATIONS
    for k in range(int(fs.read_or(L.NR_KDAMONDS, "0") or 0)):
        c = L.context_dir(k)
        if fs.exists(f"{c}/{row.path}"):
            p.avail_operations = fs.read(f"{c}/{row.path}").split()
            break
    p.release = _release(fs)
    return p


def _release(fs) -> tuple[int, int] | None:
    if isinstance(fs, StandIn):
        return fs.version
    if not is_admin_root(fs):
        return None
    try:
        with open("/proc/sys/kernel/osrelease") as f:
            return parse_version(f.read().split("-")[0])
    except (OSError, DamosError):
        return None


def missing_features(ctx: model.Context, p: Probe, fs) -> list[str]:
    """Why the kernel cannot run ``ctx``, one sentence per missing feature,
    from the tree where it shows, from the release where it cannot."""
    out = []
    if p.avail_operations is not None and ctx.ops not in p.avail_operations:
        out.append(f"this kernel has no '{ctx.ops}' operations set (avail_operations: "
                   f"{' '.join(p.avail_operations)})")
    seen = set()
    for f in features_of(ctx, catalog.SYSFS):
        if f.name in seen or f.since is None:
            continue
        seen.add(f.name)
        shown, where = None, None
        for entity, row in L.feature_rows(f.key) if f.key else ():
            shown = p.has(entity, row, fs)
            where = (entity, row)
            if shown is not None:
                break
        if shown is False:
            entity, row = where
            out.append(f"this kernel lacks {f.name} (first in Linux {vstr(f.since)}): "
                       f"{p.dirs[entity.name]} has no {row.dir if row.kind == L.COUNT else row.path}")
        elif shown is None and p.release is not None and p.release < f.since:
            out.append(f"Linux {vstr(p.release)} lacks {f.name} (first in Linux "
                       f"{vstr(f.since)})")
    return out


def feature_of_path(rel: str) -> tuple[str, L.Version] | None:
    """(feature, first version) of the file ``rel`` brings, for 'no such file'
    errors: the file's own feature, else that of the nearest COUNT row above it."""
    found = L.locate(rel)
    if found is None:
        return None
    if found.file.feature:
        return found.file.feature, found.file.since
    for c in reversed(found.counts):
        if c.feature:
            return c.feature, c.since
    return None


def command_feature(command: str) -> tuple[str, L.Version] | None:
    feat = L.COMMAND_FEATURES.get(command)
    return (feat, L.STATE_COMMANDS[command]) if feat else None
