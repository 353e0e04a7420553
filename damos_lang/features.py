"""Which mainline kernel version first has each feature a Program uses
(sysfs.md §2).  Used by ``check`` (the minimum version a file needs) and by
``compile --kernel X.Y`` (an error naming the feature and its version)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import DamosError, Loc
from .ir import Program

SYSFS_BASE = (5, 18)

ACTION_SINCE = {
    "willneed": (5, 16), "cold": (5, 16), "pageout": (5, 16), "hugepage": (5, 16),
    "nohugepage": (5, 16), "stat": (5, 16), "lru_prio": (6, 0), "lru_deprio": (6, 0),
    "migrate_hot": (6, 11), "migrate_cold": (6, 11), "collapse": (7, 2),
}
FILTER_SINCE = {"anon": (6, 3), "memcg": (6, 3), "addr": (6, 6), "target": (6, 6),
                "young": (6, 10), "active": (6, 16), "hugepage_size": (6, 16),
                "unmapped": (6, 16)}
GOAL_METRIC_SINCE = {"user_input": (6, 9), "some_mem_psi_us": (6, 9),
                     "node_mem_used_bp": (6, 16), "node_mem_free_bp": (6, 16),
                     "node_memcg_used_bp": (6, 19), "node_memcg_free_bp": (6, 19),
                     "active_mem_bp": (7, 0), "inactive_mem_bp": (7, 0),
                     "node_eligible_mem_bp": (7, 2)}


@dataclass(frozen=True)
class Feature:
    name: str
    since: tuple[int, int]
    loc: Loc | None = None


def vstr(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def parse_version(text: str) -> tuple[int, int]:
    try:
        parts = text.strip().split(".")
        major, minor = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise DamosError(f"bad kernel version {text!r}; write it as X.Y, e.g. 6.12") from None
    return major, minor


def features_of(program: Program, interface: str = "sysfs") -> list[Feature]:
    """Every versioned feature the program uses, for the given interface."""
    out: list[Feature] = []
    if interface == "sysfs":
        out.append(Feature("DAMON sysfs interface", SYSFS_BASE))
    m = program.monitor
    if m and m.intervals_goal:
        out.append(Feature("intervals_goal (interval auto-tuning)", (6, 15), m.intervals_goal.loc))
    for s in program.schemes:
        out.append(Feature(f"action {s.action}", ACTION_SINCE[s.action], s.action_loc or s.loc))
        if s.apply_interval is not None:
            out.append(Feature("apply_interval", (6, 7), s.apply_interval.loc or s.loc))
        if s.target_nid is not None:
            out.append(Feature("target_nid", (6, 11), s.loc))
        if s.dests:
            out.append(Feature("dests", (6, 17), s.loc))
        if s.max_snapshots is not None:
            out.append(Feature("max_snapshots", (7, 0), s.loc))
        for f in s.filters:
            out.append(Feature("filters", (6, 3), f.loc))
            out.append(Feature(f"filter type {f.type}", FILTER_SINCE[f.type], f.loc))
            if f.allow:
                out.append(Feature("allow filters", (6, 14), f.loc))
        q = s.quota
        if q:
            for g in q.goals:
                out.append(Feature("quota goals", (6, 8), g.loc))
                out.append(Feature(f"goal metric {g.metric}", GOAL_METRIC_SINCE[g.metric], g.loc))
                if g.nid is not None:
                    out.append(Feature("goal nid", (6, 16), g.loc))
                if g.path is not None:
                    out.append(Feature("goal path", (6, 19), g.loc))
            if q.tuner is not None:
                out.append(Feature("goal_tuner", (7, 1), q.loc))
            if q.fail_charge is not None:
                out.append(Feature("fail_charge", (7, 2), q.loc))
    return out


def minimum_version(program: Program, interface: str = "sysfs") -> Feature | None:
    feats = features_of(program, interface)
    return max(feats, key=lambda f: f.since) if feats else None


def require_version(program: Program, version: tuple[int, int], interface: str = "sysfs") -> None:
    """Raise for the first feature the given kernel lacks."""
    for f in features_of(program, interface):
        if f.since > version:
            raise DamosError(f"Linux {vstr(version)} lacks {f.name} (first in Linux {vstr(f.since)})",
                             f.loc)
