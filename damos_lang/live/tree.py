"""Reading a DAMON sysfs tree (never writing): its kdamonds, each context as
the kernel-unit model, scheme stats, which features the kernel has, and
which kdamonds damos-lang owns.

Feature detection reads what exists (sysfs.md §2: test whether the file
exists, not ``uname -r``).  A fresh kernel with no kdamond directories shows
no scheme or filter directory to look into; then a feature is *unknown*
until the apply writes reach it, and the apply checks each file exists
before writing it.  The kernel release is used only for features the tree
cannot show either way.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .. import catalog, model
from ..catalog import vstr
from ..errors import DamosError
from ..features import features_of, parse_version
from ..units import UINT_MAX, ULONG_MAX
from .fs import ADMIN_ROOT, StandIn, SysfsFs, open_root

STATS = ("nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds")
RUN_DIR = "/run/damos-lang"


def tree(root: str | None = None) -> SysfsFs:
    """The admin tree at ``root`` (None: the kernel's).  Under pytest the
    kernel's own tree is refused, so no test can touch the host's DAMON."""
    if root is None and (os.environ.get("PYTEST_CURRENT_TEST")
                         or os.environ.get("DAMOS_LIVE_NO_KERNEL_TREE")):
        raise DamosError("refusing to use the kernel's DAMON tree under a test: pass a "
                         "stand-in tree (--sysfs-root)")
    fs = open_root(root)
    if not fs.isdir("kdamonds"):
        where = root or ADMIN_ROOT
        raise DamosError(f"no DAMON sysfs interface at {where} (needs CONFIG_DAMON_SYSFS=y, "
                         "Linux >= 5.18, and sysfs mounted)")
    return fs


# -- kdamonds -------------------------------------------------------------------

@dataclass
class Kdamond:
    index: int
    state: str
    pid: int
    nr_contexts: int

    @property
    def path(self) -> str:
        return f"kdamonds/{self.index}"


def nr_kdamonds(fs: SysfsFs) -> int:
    return int(fs.read("kdamonds/nr_kdamonds"))


def kdamonds(fs: SysfsFs) -> list[Kdamond]:
    out = []
    for k in range(nr_kdamonds(fs)):
        b = f"kdamonds/{k}"
        out.append(Kdamond(k, fs.read_or(f"{b}/state", "?"), int(fs.read_or(f"{b}/pid", "-1")),
                           int(fs.read_or(f"{b}/contexts/nr_contexts", "0"))))
    return out


# -- ownership ------------------------------------------------------------------

class Owners:
    """Which kdamonds damos-lang started: a JSON file under /run/damos-lang
    for the kernel's tree, beside the tree for any other root."""

    def __init__(self, fs: SysfsFs):
        root = os.path.abspath(fs.root)
        if root == ADMIN_ROOT:
            self.path = os.path.join(RUN_DIR, "owned.json")
        else:
            self.path = root.rstrip("/") + ".damos-owned.json"
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

    def owns(self, fs: SysfsFs, k: Kdamond) -> bool:
        """Recorded by us, and still the kdamond we started: the same pid while
        it runs, the same target pid once its target exited."""
        info = self.get(k.index)
        if info is None or k.nr_contexts != 1:
            return False
        if k.state == "on":
            return k.pid == info.get("kdamond_pid")
        # off (its target exited, or stopped): still the context we wrote
        cb = f"{k.path}/contexts/0"
        if fs.read_or(f"{cb}/operations") != info.get("ops"):
            return False
        pids = [p for p in info.get("targets", []) if p is not None]
        if catalog.OPS[info["ops"]].takes_pid and pids:
            got = [int(fs.read_or(f"{cb}/targets/{t}/pid_target", "-1"))
                   for t in range(int(fs.read_or(f"{cb}/targets/nr_targets", "0")))]
            return got == pids
        return True


# -- features -------------------------------------------------------------------

# feature name (features.py) -> (kind of directory, file or directory in it)
FEATURE_FILES = {
    "intervals_goal (interval auto-tuning)": ("context", "monitoring_attrs/intervals/intervals_goal"),
    "apply_interval": ("scheme", "apply_interval_us"),
    "target_nid": ("scheme", "target_nid"),
    "dests": ("scheme", "dests"),
    "max_snapshots": ("scheme", "stats/max_nr_snapshots"),
    "filters": ("scheme", "filters"),
    "allow filters": ("filter", "allow"),
    "quota goals": ("scheme", "quotas/goals"),
    "goal nid": ("goal", "nid"),
    "goal path": ("goal", "path"),
    "goal_tuner": ("scheme", "quotas/goal_tuner"),
    "fail_charge": ("scheme", "quotas/fail_charge_num"),
}
# the last path component of a plan write -> the feature that brought the file
WRITE_FEATURES = {"intervals_goal": "intervals_goal (interval auto-tuning)",
                  "apply_interval_us": "apply_interval", "target_nid": "target_nid",
                  "dests": "dests", "max_nr_snapshots": "max_snapshots", "filters": "filters",
                  "allow": "allow filters", "goals": "quota goals", "goal_tuner": "goal_tuner",
                  "fail_charge_num": "fail_charge", "fail_charge_denom": "fail_charge",
                  "commit": "commit"}
SINCE = {"commit": (5, 19), "intervals_goal (interval auto-tuning)": (6, 15),
         "apply_interval": (6, 7), "target_nid": (6, 11), "dests": (6, 17),
         "max_snapshots": (7, 0), "filters": (6, 3), "allow filters": (6, 14),
         "quota goals": (6, 8), "goal nid": (6, 16), "goal path": (6, 19),
         "goal_tuner": (7, 1), "fail_charge": (7, 2), "goal metric": (6, 9)}


@dataclass
class Probe:
    """What reading the tree showed: one example directory of each kind."""

    dirs: dict = field(default_factory=dict)      # kind -> a directory of that kind
    release: tuple[int, int] | None = None        # the kernel release (last resort)
    avail_operations: list[str] | None = None

    def has(self, kind: str, name: str, fs: SysfsFs) -> bool | None:
        d = self.dirs.get(kind)
        if d is None:
            return None
        return fs.exists(f"{d}/{name}")


def _first_dir(fs: SysfsFs, base: str, nr_file: str) -> str | None:
    n = int(fs.read_or(f"{base}/{nr_file}", "0") or 0)
    return f"{base}/0" if n > 0 and fs.isdir(f"{base}/0") else None


def probe(fs: SysfsFs) -> Probe:
    p = Probe()
    for k in range(nr_kdamonds(fs)):
        kb = f"kdamonds/{k}"
        p.dirs.setdefault("kdamond", kb)
        c = _first_dir(fs, f"{kb}/contexts", "nr_contexts")
        if c is None:
            continue
        p.dirs.setdefault("context", c)
        if p.avail_operations is None and fs.exists(f"{c}/avail_operations"):
            p.avail_operations = fs.read(f"{c}/avail_operations").split()
        for s in range(int(fs.read_or(f"{c}/schemes/nr_schemes", "0"))):
            sb = f"{c}/schemes/{s}"
            p.dirs.setdefault("scheme", sb)
            for d in ("filters", "ops_filters", "core_filters"):
                f = _first_dir(fs, f"{sb}/{d}", "nr_filters")
                if f:
                    p.dirs.setdefault("filter", f)
            g = _first_dir(fs, f"{sb}/quotas/goals", "nr_goals")
            if g:
                p.dirs.setdefault("goal", g)
    p.release = _release(fs)
    return p


def _release(fs: SysfsFs) -> tuple[int, int] | None:
    if isinstance(fs, StandIn):
        return fs.version
    if os.path.abspath(fs.root) != ADMIN_ROOT:
        return None
    try:
        with open("/proc/sys/kernel/osrelease") as f:
            return parse_version(f.read().split("-")[0])
    except (OSError, DamosError):
        return None


def missing_features(ctx: model.Context, p: Probe, fs: SysfsFs) -> list[str]:
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
        where = FEATURE_FILES.get(f.name)
        if f.name.startswith("goal metric") and f.name != "goal metric user_input":
            where = ("goal", "target_metric")
        shown = p.has(where[0], where[1], fs) if where else None
        if shown is False:
            out.append(f"this kernel lacks {f.name} (first in Linux {vstr(f.since)}): "
                       f"{p.dirs[where[0]]} has no {where[1]}")
        elif shown is None and p.release is not None and p.release < f.since:
            out.append(f"Linux {vstr(p.release)} lacks {f.name} (first in Linux "
                       f"{vstr(f.since)})")
    return out


def feature_of_path(rel: str) -> str | None:
    """The feature that brought the file ``rel`` (for 'no such file' errors)."""
    for part in reversed(rel.split("/")):
        if part in WRITE_FEATURES:
            return WRITE_FEATURES[part]
    return None


# -- a context read back into the model -----------------------------------------

def _int(fs, rel, default=0) -> int:
    v = fs.read_or(rel)
    return int(v) if v not in (None, "") else default


def _yn(fs, rel) -> bool:
    return fs.read_or(rel, "N") == "Y"


def read_filter(fs, fb: str) -> model.Filter:
    t = fs.read(f"{fb}/type")
    kw = {}
    for arg in catalog.FILTER_TYPES[t].args:
        if arg == "memcg_path":
            kw[arg] = fs.read(f"{fb}/memcg_path")
        elif arg == "target_idx":
            kw[arg] = _int(fs, f"{fb}/damon_target_idx")
        else:
            name = {"addr_start": "addr_start", "addr_end": "addr_end", "sz_min": "min",
                    "sz_max": "max"}[arg]
            kw[arg] = _int(fs, f"{fb}/{name}")
    return model.Filter(t, _yn(fs, f"{fb}/matching"), _yn(fs, f"{fb}/allow"), **kw)


def read_scheme(fs, sb: str) -> model.Scheme:
    ap = f"{sb}/access_pattern"
    pattern = model.AccessPattern(
        _int(fs, f"{ap}/sz/min"), _int(fs, f"{ap}/sz/max"),
        _int(fs, f"{ap}/nr_accesses/min") & UINT_MAX, _int(fs, f"{ap}/nr_accesses/max") & UINT_MAX,
        _int(fs, f"{ap}/age/min") & UINT_MAX, _int(fs, f"{ap}/age/max") & UINT_MAX)
    qb = f"{sb}/quotas"
    goals = []
    for g in range(_int(fs, f"{qb}/goals/nr_goals")):
        gb = f"{qb}/goals/{g}"
        nid = _int(fs, f"{gb}/nid")
        path = fs.read_or(f"{gb}/path", "")
        goals.append(model.QuotaGoal(fs.read_or(f"{gb}/target_metric", "user_input"),
                                     _int(fs, f"{gb}/target_value"),
                                     _int(fs, f"{gb}/current_value"),
                                     nid if nid else None, path or None))
    weights = model.Weights(_int(fs, f"{qb}/weights/sz_permil"),
                            _int(fs, f"{qb}/weights/nr_accesses_permil"),
                            _int(fs, f"{qb}/weights/age_permil"))
    tuner = fs.read_or(f"{qb}/goal_tuner", "consist")
    quota = model.Quota(_int(fs, f"{qb}/ms"), _int(fs, f"{qb}/bytes"),
                        _int(fs, f"{qb}/reset_interval_ms"),
                        weights if weights != model.Weights() else None, tuple(goals),
                        None if tuner == "consist" else tuner,
                        _int(fs, f"{qb}/fail_charge_num"), _int(fs, f"{qb}/fail_charge_denom"))
    if quota == model.Quota():
        quota = None
    wb = f"{sb}/watermarks"
    wm = model.Watermarks(fs.read(f"{wb}/metric"), _int(fs, f"{wb}/interval_us"),
                          _int(fs, f"{wb}/high"), _int(fs, f"{wb}/mid"), _int(fs, f"{wb}/low"))
    filters = []
    for d in ("core_filters", "ops_filters", "filters"):
        for i in range(_int(fs, f"{sb}/{d}/nr_filters")):
            filters.append(read_filter(fs, f"{sb}/{d}/{i}"))
    nid = _int(fs, f"{sb}/target_nid", -1)
    dests = tuple(model.Dest(_int(fs, f"{sb}/dests/{d}/id"), _int(fs, f"{sb}/dests/{d}/weight"))
                  for d in range(_int(fs, f"{sb}/dests/nr_dests")))
    return model.Scheme(fs.read(f"{sb}/action"), pattern, _int(fs, f"{sb}/apply_interval_us"),
                        quota, None if wm == model.Watermarks() else wm, tuple(filters),
                        None if nid == -1 else nid, dests,
                        _int(fs, f"{sb}/stats/max_nr_snapshots"))


def read_context(fs, cb: str) -> model.Context:
    ma = f"{cb}/monitoring_attrs"
    iv = model.Intervals(_int(fs, f"{ma}/intervals/sample_us"), _int(fs, f"{ma}/intervals/aggr_us"),
                         _int(fs, f"{ma}/intervals/update_us"))
    gb = f"{ma}/intervals/intervals_goal"
    goal = None
    if _int(fs, f"{gb}/aggrs"):
        goal = model.IntervalsGoal(_int(fs, f"{gb}/access_bp"), _int(fs, f"{gb}/aggrs"),
                                   _int(fs, f"{gb}/min_sample_us"), _int(fs, f"{gb}/max_sample_us"))
    ops = fs.read(f"{cb}/operations")
    targets = []
    for t in range(_int(fs, f"{cb}/targets/nr_targets")):
        tb = f"{cb}/targets/{t}"
        regions = tuple((_int(fs, f"{tb}/regions/{r}/start"), _int(fs, f"{tb}/regions/{r}/end"))
                        for r in range(_int(fs, f"{tb}/regions/nr_regions")))
        pid = _int(fs, f"{tb}/pid_target") if catalog.OPS[ops].takes_pid else None
        targets.append(model.Target(pid, regions))
    schemes = tuple(read_scheme(fs, f"{cb}/schemes/{s}")
                    for s in range(_int(fs, f"{cb}/schemes/nr_schemes")))
    return model.Context(ops, iv, _int(fs, f"{ma}/nr_regions/min"),
                         _int(fs, f"{ma}/nr_regions/max"), goal, tuple(targets), schemes)


def read_stats(fs, sb: str) -> dict:
    out = {k: _int(fs, f"{sb}/stats/{k}") for k in STATS}
    if fs.exists(f"{sb}/quotas/effective_bytes"):
        out["effective_bytes"] = _int(fs, f"{sb}/quotas/effective_bytes")
    return out


def read_tried_regions(fs, sb: str) -> list[dict]:
    base = f"{sb}/tried_regions"
    out = []
    for r in sorted((d for d in fs.listdir(base) if d.isdigit()), key=int):
        rb = f"{base}/{r}"
        out.append({k: _int(fs, f"{rb}/{k}") for k in ("start", "end", "nr_accesses", "age")})
    return out


__all__ = ["tree", "kdamonds", "Kdamond", "Owners", "probe", "missing_features",
           "feature_of_path", "read_context", "read_scheme", "read_stats", "STATS",
           "ULONG_MAX"]
