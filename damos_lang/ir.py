"""The one intermediate representation every part of damos-lang speaks.

Values keep the user's units (``Value("5", "s")``), so ``fmt`` round-trips;
turning them into kernel units is the job of :mod:`damos_lang.convert`, and
nothing else.  Every node is an immutable dataclass; source locations are
carried for diagnostics but excluded from equality.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import catalog
from .errors import Loc

# the vocabulary, in the catalog's order (the catalog holds every fact about each name)
ACTIONS = tuple(catalog.ACTIONS)
OPS = tuple(catalog.OPS)
WMARK_METRICS = tuple(catalog.WMARK_METRICS)
GOAL_METRICS = tuple(catalog.GOAL_METRICS)
GOAL_TUNERS = tuple(catalog.GOAL_TUNERS)
FILTER_TYPES = tuple(catalog.FILTER_TYPES)


def _loc():
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Value:
    """A number with the unit the user wrote, or the keyword ``min``/``max``.

    ``number`` is canonical decimal text ("5", "1.5"; commas removed) so that
    damo's int-or-float reading of it can be reproduced exactly."""

    number: str | None
    unit: str = ""
    keyword: str | None = None
    loc: Loc | None = _loc()

    @staticmethod
    def kw(word: str, unit: str = "") -> "Value":
        return Value(None, unit, word)

    @property
    def is_min(self) -> bool:
        return self.keyword == "min"

    @property
    def is_max(self) -> bool:
        return self.keyword == "max"

    def text(self) -> str:
        if self.keyword is not None:
            return self.keyword
        return f"{self.number}{self.unit}"

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class Range:
    """A closed range ``lo..hi``; ``unit`` is a kernel unit word written after
    the range (``samples`` or ``aggr_intervals``) or ""."""

    lo: Value
    hi: Value
    unit: str = ""
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class AccessPattern:
    size: Range | None = None       # None: any size
    access: Range | None = None     # None: any access frequency
    age: Range | None = None        # None: any age


@dataclass(frozen=True)
class Weights:
    size: Value
    access: Value
    age: Value
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Goal:
    metric: str
    target: Value
    current: Value | None = None
    nid: int | None = None
    path: str | None = None
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Quota:
    time: Value | None = None
    size: Value | None = None
    reset: Value | None = None
    weights: Weights | None = None
    goals: tuple[Goal, ...] = ()
    tuner: str | None = None
    # charge this fraction (num, denom) of the size of regions the action failed on (7.2)
    fail_charge: tuple[int, int] | None = None
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Watermarks:
    metric: str
    interval: Value
    high: Value
    mid: Value
    low: Value
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Filter:
    """``allow``/``reject`` memory that is (``matching``) or is not of a type."""

    allow: bool
    type: str
    matching: bool = True
    memcg_path: str | None = None
    addr: Range | None = None
    target_idx: int | None = None
    hugepage: Range | None = None
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Dest:
    """A migration destination node and its weight (``dest N weight W``, 6.17)."""

    nid: int
    weight: int
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Scheme:
    """One scheme: an action for regions of an access pattern, and its limits."""

    action: str
    pattern: AccessPattern = AccessPattern()
    name: str | None = None
    apply_interval: Value | None = None
    quota: Quota | None = None
    watermarks: Watermarks | None = None
    filters: tuple[Filter, ...] = ()
    target_nid: int | None = None
    dests: tuple[Dest, ...] = ()
    max_snapshots: int | None = None  # deactivate after this many snapshots (7.0)
    # how the user wrote it: a legacy line of N fields, or a block (0)
    legacy_fields: int = 0
    loc: Loc | None = _loc()
    action_loc: Loc | None = _loc()


@dataclass(frozen=True)
class IntervalsGoal:
    """Interval auto-tuning toward an observed-access ratio (6.15)."""

    access: Value      # access_bp, written as a percent or bp
    aggrs: int
    min_sample: Value
    max_sample: Value
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class ProbeFilter:
    """A data-attribute probe's filter: ``allow``/``reject`` pages that are
    (``matching``) or are not of a type (catalog.PROBE_FILTER_TYPES)."""

    allow: bool
    type: str
    matching: bool = True
    memcg_path: str | None = None
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Probe:
    """``probe [NAME] { weight N; filter ... }``: a data-attribute probe (7.2;
    ``weight`` 7.3).  Each sample of a region that passes the filters is a hit."""

    name: str | None = None
    weight: int | None = None
    filters: tuple[ProbeFilter, ...] = ()
    loc: Loc | None = _loc()
    weight_loc: Loc | None = _loc()


@dataclass(frozen=True)
class Monitor:
    """Monitoring attributes; ``None`` fields take the documented defaults."""

    ops: str | None = None
    sample: Value | None = None
    aggr: Value | None = None
    update: Value | None = None
    nr_regions: tuple[int, int] | None = None
    intervals_goal: IntervalsGoal | None = None
    loc: Loc | None = _loc()
    nr_regions_loc: Loc | None = _loc()
    pause: bool | None = None          # ``pause yes``: start (or commit) paused (7.2)
    addr_unit: Value | None = None     # ``addr_unit 4K``: bytes per address unit, paddr (6.18)
    refresh: Value | None = None       # ``refresh 1s``: the kdamond refreshes its stats (6.17)
    pause_loc: Loc | None = _loc()
    probes: tuple[Probe, ...] = ()     # data-attribute probes (7.2), at most 4


@dataclass(frozen=True)
class AddrRange:
    """``[start, end)`` as the user wrote it (hex, or a size such as 4G)."""

    start: Value
    end: Value


@dataclass(frozen=True)
class Target:
    """A process to monitor, and/or fixed address ranges (paddr, fvaddr)."""

    pid: int | None = None
    regions: tuple[AddrRange, ...] = ()
    loc: Loc | None = _loc()


@dataclass(frozen=True)
class Program:
    monitor: Monitor | None = None
    targets: tuple[Target, ...] = ()
    schemes: tuple[Scheme, ...] = ()
