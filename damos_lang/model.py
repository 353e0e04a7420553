"""The kernel-unit model: what every backend reads.

A :class:`Context` is one DAMON context as the kernel holds it: integers in
kernel units (bytes, samples, aggregation intervals, microseconds, permil,
bp), nested optional records where the kernel has optional parts (quota,
weights, goals, watermarks, filters), and each integer field's C type
declared once, beside it (``uint`` or ``ulong``), so a C emitter, a Cython
engine or a sysfs writer can rely on every value fitting its field.

``max`` is the largest value of the field (ULONG_MAX or UINT_MAX), which the
kernel reads as unbounded.  What other tools would write for it (damo's
numbers, ``--max damo``) is an output policy applied by the writers
(:mod:`damos_lang.convert`), never stored here.  Source locations ride along
(excluded from equality) so backends report ``file:line:col`` without the
Program.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .errors import Loc

from .units import UINT_MAX, ULONG_MAX

C_MAX = {"unsigned long": ULONG_MAX, "unsigned int": UINT_MAX, "int": 2**31 - 1}


def ulong(default: int = 0):
    return field(default=default, metadata={"ctype": "unsigned long"})


def uint(default: int = 0):
    return field(default=default, metadata={"ctype": "unsigned int"})


def cint(default=None):
    """A C ``int`` (pids, node ids, target indices); None when unset."""
    return field(default=default, metadata={"ctype": "int"})


def source_loc():
    return field(default=None, compare=False, repr=False)


def ctype_of(record, name: str) -> str | None:
    """The C type declared for ``record``'s field ``name``."""
    for f in fields(record):
        if f.name == name:
            return f.metadata.get("ctype")
    raise KeyError(name)


def out_of_range(record) -> list[tuple[str, int]]:
    """Fields of ``record`` (not nested) whose value does not fit their C type."""
    bad = []
    for f in fields(record):
        ctype = f.metadata.get("ctype")
        v = getattr(record, f.name)
        if ctype and isinstance(v, int) and not isinstance(v, bool):
            lo = -2**31 if ctype == "int" else 0
            if not lo <= v <= C_MAX[ctype]:
                bad.append((f.name, v))
    return bad


@dataclass(frozen=True)
class AccessPattern:
    """``struct damos_access_pattern``; every range is inclusive (algorithm.md §9.2)."""

    sz_min: int = ulong(0)
    sz_max: int = ulong(ULONG_MAX)
    nr_accesses_min: int = uint(0)
    nr_accesses_max: int = uint(UINT_MAX)
    age_min: int = uint(0)
    age_max: int = uint(UINT_MAX)

    def matches(self, sz: int, nr_accesses: int, age: int) -> bool:
        return (self.sz_min <= sz <= self.sz_max
                and self.nr_accesses_min <= nr_accesses <= self.nr_accesses_max
                and self.age_min <= age <= self.age_max)

    def ranges(self):
        """(name, min, max) of the three dimensions, as sysfs names them."""
        return (("sz", self.sz_min, self.sz_max),
                ("nr_accesses", self.nr_accesses_min, self.nr_accesses_max),
                ("age", self.age_min, self.age_max))


@dataclass(frozen=True)
class Weights:
    """Prioritisation weights (permil) of ``struct damos_quota``."""

    sz: int = uint(0)
    nr_accesses: int = uint(0)
    age: int = uint(0)


@dataclass(frozen=True)
class QuotaGoal:
    """``struct damos_quota_goal``: ``metric`` is a catalog.GOAL_METRICS name."""

    metric: str
    target_value: int = ulong(0)
    current_value: int = ulong(0)
    nid: int | None = cint()
    path: str | None = None
    loc: Loc | None = source_loc()


@dataclass(frozen=True)
class Quota:
    """``struct damos_quota``; a time or size of 0 means "no limit of that kind"."""

    ms: int = ulong(0)
    sz: int = ulong(0)
    reset_interval_ms: int = ulong(0)
    weights: Weights | None = None
    goals: tuple[QuotaGoal, ...] = ()
    goal_tuner: str | None = None            # catalog.GOAL_TUNERS name (7.1)
    fail_charge_num: int = uint(0)           # (7.2)
    fail_charge_denom: int = uint(0)
    loc: Loc | None = source_loc()
    locs: dict = field(default_factory=dict, compare=False, repr=False)   # "reset", ...


@dataclass(frozen=True)
class Watermarks:
    """``struct damos_watermarks``: ``metric`` is a catalog.WMARK_METRICS name."""

    metric: str = "none"
    interval_us: int = ulong(0)
    high: int = ulong(0)
    mid: int = ulong(0)
    low: int = ulong(0)
    loc: Loc | None = source_loc()
    locs: dict = field(default_factory=dict, compare=False, repr=False)   # "high", ...


@dataclass(frozen=True)
class Filter:
    """``struct damos_filter``: ``type`` is a catalog.FILTER_TYPES name; only the
    argument of that type is set."""

    type: str
    matching: bool = True
    allow: bool = False
    memcg_path: str | None = None
    addr_start: int | None = ulong(None)
    addr_end: int | None = ulong(None)
    target_idx: int | None = cint()
    sz_min: int | None = ulong(None)       # hugepage_size
    sz_max: int | None = ulong(None)
    loc: Loc | None = source_loc()

    def args(self) -> dict:
        """The argument fields this filter sets (catalog.FILTER_TYPES[type].args)."""
        from .catalog import FILTER_TYPES
        return {name: getattr(self, name) for name in FILTER_TYPES[self.type].args}


@dataclass(frozen=True)
class Dest:
    nid: int = uint(0)
    weight: int = uint(0)


@dataclass(frozen=True)
class Scheme:
    """``struct damos``: ``action`` is a catalog.ACTIONS name."""

    action: str
    pattern: AccessPattern = AccessPattern()
    apply_interval_us: int = ulong(0)
    quota: Quota | None = None
    watermarks: Watermarks | None = None
    filters: tuple[Filter, ...] = ()
    target_nid: int | None = cint()
    dests: tuple[Dest, ...] = ()
    max_snapshots: int = ulong(0)
    name: str | None = field(default=None, compare=False)
    loc: Loc | None = source_loc()
    action_loc: Loc | None = source_loc()
    # where each optional setting was written ("apply_interval", ...), for messages
    locs: dict = field(default_factory=dict, compare=False, repr=False)

    def loc_of(self, setting: str) -> Loc | None:
        return self.locs.get(setting) or self.loc

    def matches(self, sz: int, nr_accesses: int, age: int) -> bool:
        return self.pattern.matches(sz, nr_accesses, age)


@dataclass(frozen=True)
class Intervals:
    sample_us: int = ulong(5_000)
    aggr_us: int = ulong(100_000)
    update_us: int = ulong(1_000_000)

    @property
    def samples_per_aggr(self) -> float:
        """How many samples an aggregation interval holds (nr_accesses' maximum)."""
        return self.aggr_us / self.sample_us

    @property
    def samples_per_aggr_whole(self) -> int:
        """The kernel's integer count of it, at least 1 (what probe hits count to
        and what damon_valid_probe_params() multiplies the weights by)."""
        return max(self.aggr_us // max(self.sample_us, 1), 1)


@dataclass(frozen=True)
class IntervalsGoal:
    access_bp: int = ulong(0)
    aggrs: int = ulong(0)
    min_sample_us: int = ulong(0)
    max_sample_us: int = ulong(0)


@dataclass(frozen=True)
class Target:
    """A process (``pid``) and/or fixed ``[start, end)`` regions, in address order."""

    pid: int | None = cint()
    regions: tuple[tuple[int, int], ...] = ()
    loc: Loc | None = source_loc()
    # staged for removal from the running list at the next commit (6.19's
    # obsolete file): only ``damos update`` sets it, never a source file
    obsolete: bool = False


@dataclass(frozen=True)
class ProbeFilter:
    """``struct damon_filter`` of a probe: ``type`` is a catalog.PROBE_FILTER_TYPES
    name; ``memcg_path`` is set for memcg only (the kernel resolves it at on/commit)."""

    type: str
    matching: bool = True
    allow: bool = False
    memcg_path: str | None = None
    loc: Loc | None = source_loc()


@dataclass(frozen=True)
class Probe:
    """``struct damon_probe`` (7.2): a sample passing ``filters`` is a hit; a
    nonzero ``weight`` (7.3) turns off access checks (regions by probe hits)."""

    weight: int = uint(0)
    filters: tuple[ProbeFilter, ...] = ()
    name: str | None = field(default=None, compare=False)
    loc: Loc | None = source_loc()
    weight_loc: Loc | None = source_loc()


@dataclass(frozen=True)
class Context:
    """One DAMON context: monitoring attributes, targets and schemes."""

    ops: str = "vaddr"
    intervals: Intervals = Intervals()
    nr_regions_min: int = ulong(10)
    nr_regions_max: int = ulong(1000)
    intervals_goal: IntervalsGoal | None = None
    targets: tuple[Target, ...] = ()
    schemes: tuple[Scheme, ...] = ()
    loc: Loc | None = source_loc()
    pause: bool = False                  # the kdamond's loop does nothing while set (7.2)
    addr_unit: int = ulong(1)            # bytes per core address unit, paddr only (6.18)
    # the kdamond's own: it refreshes its stats files every refresh_ms (0: never; 6.17);
    # damos-lang runs one context per kdamond, so the context carries it
    refresh_ms: int = uint(0)
    probes: tuple[Probe, ...] = ()       # data-attribute probes (7.2), at most 4
    # where each monitoring setting was written ("sample", "nr_regions", ...), for messages
    locs: dict = field(default_factory=dict, compare=False, repr=False)

    def loc_of(self, setting: str) -> Loc | None:
        return self.locs.get(setting) or self.loc
