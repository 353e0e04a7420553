"""Everything damos-lang knows about DAMOS vocabulary, one record per name.

Each action, filter type, quota goal metric, goal tuner, watermark metric
and operations set is defined here once, with every fact any part needs:
the first kernel version per interface, debugfs codes, C enum names, the
madvise advice ``damos run`` uses (or why it cannot), which ops sets can
apply it, the words ``explain`` uses.  Adding an action is one record here
(plus its tests); no other module keeps a table of these names.

Versions are mainline ``(major, minor)`` tuples (sysfs.md §2, c-api.md §3,
algorithm.md §9.7 and §11).  ``None`` means "never".
"""
from __future__ import annotations

from dataclasses import dataclass

Version = tuple[int, int]

# the interfaces a program can be compiled or run through
SYSFS = "sysfs"
DEBUGFS = "debugfs"
C_API = "c"
USERSPACE = "userspace"
INTERFACES = (SYSFS, DEBUGFS, C_API, USERSPACE)

# kernel versions that have each interface at all (inclusive bounds)
INTERFACE_SPAN: dict[str, tuple[Version, Version | None]] = {
    SYSFS: ((5, 18), None),
    DEBUGFS: ((5, 16), (6, 12)),     # schemes file 5.16; the 6.14 tree has no debugfs
    C_API: ((5, 16), None),
    USERSPACE: ((5, 10), None),      # process_madvise(2)
}
INTERFACE_WORDS = {
    SYSFS: "DAMON sysfs interface",
    DEBUGFS: "DAMON debugfs schemes file",
    C_API: "in-kernel DAMON C API",
    USERSPACE: "process_madvise(2) (damos run)",
}

# -- feature keys: one name per versioned setting (features.py yields them, the
# sysfs layout says which file brings each, the C emitter which API has it)
INTERVALS_GOAL = "intervals_goal (interval auto-tuning)"
APPLY_INTERVAL = "apply_interval"
TARGET_NID = "target_nid"
DESTS = "dests"
MAX_SNAPSHOTS = "max_snapshots"
FILTERS = "filters"
ALLOW_FILTERS = "allow filters"
QUOTA_GOALS = "quota goals"
GOAL_METRIC = "goal metric"          # a metric other than user_input (the target_metric file)
GOAL_NID = "goal nid"
GOAL_PATH = "goal path"
GOAL_TUNER = "goal_tuner"
FAIL_CHARGE = "fail_charge"
PAUSE = "pause"                      # the context's pause file (7.2)
ADDR_UNIT = "addr_unit"              # the context's address unit, paddr only (6.18)
REFRESH_MS = "refresh_ms"            # the kdamond refreshes its stats files itself (6.17)
COMMIT = "commit"                    # online parameter updates (the 'commit' state command)
PROBES = "probes"                    # data-attribute probes of the context (7.2)
PROBE_WEIGHT = "probe weight"        # a probe's weight: regions by probe hits (7.3)

VADDR_OPS = frozenset({"vaddr", "fvaddr"})
ALL_OPS = frozenset({"vaddr", "fvaddr", "paddr"})


# which score a quota prioritises an action's regions by (damon_{va,pa}_scheme_score);
# actions with no score give every region DAMOS_MAX_SCORE
COLD = "cold"
HOT = "hot"

# what an action needs to do anything (check warns when a scheme lacks it)
NEEDS_THP = "transparent huge pages enabled"
NEEDS_HUGE_REGIONS = "regions of at least one huge page (2 MiB)"
NEEDS_DEST_NODE = "a destination node (target_nid or dests)"


@dataclass(frozen=True)
class Action:
    name: str
    words: str                       # explain: what it does, in plain English
    c_enum: str
    since: Version                   # first kernel whose DAMOS has it (sysfs and C API)
    ops: frozenset                   # operations sets that apply it (others apply 0 bytes)
    debugfs_code: int | None = None  # None: debugfs cannot express it
    madvise: str | None = None       # advice damos run passes to process_madvise
    madvise_value: int | None = None
    userspace_since: Version | None = None   # process_madvise accepts it remotely
    userspace_why_not: str | None = None     # why damos run cannot apply it
    score: str | None = None         # COLD or HOT: what a quota prioritises by (None: none)
    needs: tuple = ()                # NEEDS_* conditions for it to act
    dests_ops: frozenset = frozenset()   # operations sets that honour weighted dests


# paddr's damon_pa_migrate() uses only the scheme's target_nid, in every kernel
# from 6.11 to 7.3 (read in the sources; on stock 7.3 a paddr scheme with dests
# migrated 0 bytes); vaddr honours dests from 6.17
_DESTS_OPS = frozenset({"vaddr", "fvaddr"})


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("willneed", "prefetch (MADV_WILLNEED)", "DAMOS_WILLNEED", (5, 16), VADDR_OPS, 0,
           "MADV_WILLNEED", 3, (5, 10)),
    Action("cold", "deactivate (MADV_COLD)", "DAMOS_COLD", (5, 16), VADDR_OPS, 1,
           "MADV_COLD", 20, (5, 10)),
    Action("pageout", "page out (MADV_PAGEOUT; reclaim)", "DAMOS_PAGEOUT", (5, 16), ALL_OPS, 2,
           "MADV_PAGEOUT", 21, (5, 10), score=COLD),
    Action("hugepage", "back with huge pages (MADV_HUGEPAGE)", "DAMOS_HUGEPAGE", (5, 16),
           VADDR_OPS, 3, userspace_why_not="process_madvise refuses MADV_HUGEPAGE for another "
           "process (it changes VMA flags)", needs=(NEEDS_THP, NEEDS_HUGE_REGIONS)),
    Action("nohugepage", "back with regular pages (MADV_NOHUGEPAGE)", "DAMOS_NOHUGEPAGE",
           (5, 16), VADDR_OPS, 4, userspace_why_not="process_madvise refuses MADV_NOHUGEPAGE "
           "for another process (it changes VMA flags)", needs=(NEEDS_THP,)),
    Action("collapse", "collapse into huge pages (MADV_COLLAPSE)", "DAMOS_COLLAPSE", (7, 2),
           VADDR_OPS, None, "MADV_COLLAPSE", 25, (6, 1), needs=(NEEDS_THP, NEEDS_HUGE_REGIONS)),
    Action("lru_prio", "prioritise on the LRU lists (mark accessed)", "DAMOS_LRU_PRIO", (6, 0),
           frozenset({"paddr"}), userspace_why_not="user space has no way to reorder "
           "another process's LRU lists", score=HOT),
    Action("lru_deprio", "deprioritise on the LRU lists (deactivate)", "DAMOS_LRU_DEPRIO",
           (6, 0), frozenset({"paddr"}), userspace_why_not="user space has no way to reorder "
           "another process's LRU lists", score=COLD),
    Action("migrate_hot", "migrate to another NUMA node, hottest first", "DAMOS_MIGRATE_HOT",
           (6, 11), ALL_OPS, userspace_why_not="damos run does not migrate pages "
           "(it would need move_pages(2))", score=HOT, needs=(NEEDS_DEST_NODE,),
           dests_ops=_DESTS_OPS),
    Action("migrate_cold", "migrate to another NUMA node, coldest first", "DAMOS_MIGRATE_COLD",
           (6, 11), ALL_OPS, userspace_why_not="damos run does not migrate pages "
           "(it would need move_pages(2))", score=COLD, needs=(NEEDS_DEST_NODE,),
           dests_ops=_DESTS_OPS),
    Action("stat", "only count (no action)", "DAMOS_STAT", (5, 16), ALL_OPS, 5,
           userspace_since=(5, 10)),
)}


@dataclass(frozen=True)
class FilterArg:
    """The shape of a filter type's argument: every part that reads, writes or
    prints a filter switches on this, never on the type's name."""

    name: str
    fields: tuple                    # the model.Filter fields that carry it
    words: str                       # how messages name it ("takes a cgroup path")


ARG_NONE = FilterArg("none", (), "no argument")
ARG_PATH = FilterArg("path", ("memcg_path",), "a cgroup path")
ARG_ADDR_RANGE = FilterArg("address range", ("addr_start", "addr_end"), "an address range")
ARG_INDEX = FilterArg("index", ("target_idx",), "a target index")
ARG_SIZE_RANGE = FilterArg("size range", ("sz_min", "sz_max"), "a size range")


@dataclass(frozen=True)
class FilterType:
    name: str
    c_enum: str
    since: Version
    core: bool                       # evaluated by the core per region (else per folio by ops)
    arg: FilterArg                   # the shape of its argument
    userspace_source: str | None     # what lets damos run evaluate it, or None
    words: str                       # explain: "memory that is <words>"

    @property
    def args(self) -> tuple:
        """The model.Filter fields that carry its argument."""
        return self.arg.fields


FILTER_TYPES: dict[str, FilterType] = {f.name: f for f in (
    FilterType("anon", "DAMOS_FILTER_TYPE_ANON", (6, 3), False, ARG_NONE,
               "pagemap (the file-page/shared-anon bit)", "anon"),
    FilterType("memcg", "DAMOS_FILTER_TYPE_MEMCG", (6, 3), False, ARG_PATH, None,
               "in cgroup {memcg_path}"),
    FilterType("addr", "DAMOS_FILTER_TYPE_ADDR", (6, 6), True, ARG_ADDR_RANGE,
               "the region's address", "in addresses [{addr_start:#x}, {addr_end:#x})"),
    FilterType("target", "DAMOS_FILTER_TYPE_TARGET", (6, 6), True, ARG_INDEX,
               "the target's index", "of target {target_idx}"),
    FilterType("young", "DAMOS_FILTER_TYPE_YOUNG", (6, 10), False, ARG_NONE,
               "the page_idle bit (or the simulator's accessed state)", "young"),
    FilterType("active", "DAMOS_FILTER_TYPE_ACTIVE", (6, 15), False, ARG_NONE, None,
               "active"),
    FilterType("hugepage_size", "DAMOS_FILTER_TYPE_HUGEPAGE_SIZE", (6, 15), False,
               ARG_SIZE_RANGE, None, "in huge pages of {sz_min} to {sz_max}"),
    FilterType("unmapped", "DAMOS_FILTER_TYPE_UNMAPPED", (6, 15), False, ARG_NONE, None,
               "unmapped"),
)}


@dataclass(frozen=True)
class ProbeFilterType:
    """A filter type of a data-attribute probe (``enum damon_filter_type``, 7.2):
    a vocabulary of its own, apart from the DAMOS filter types."""

    name: str
    c_enum: str
    since: Version
    arg: FilterArg                   # the shape of its argument (ARG_NONE or ARG_PATH)
    words: str                       # explain: "pages that are <words>"


PROBE_FILTER_TYPES: dict[str, ProbeFilterType] = {f.name: f for f in (
    ProbeFilterType("anon", "DAMON_FILTER_TYPE_ANON", (7, 2), ARG_NONE, "anonymous"),
    ProbeFilterType("memcg", "DAMON_FILTER_TYPE_MEMCG", (7, 2), ARG_PATH,
                    "in cgroup {memcg_path}"),
)}
# DAMON_MAX_PROBES (include/linux/damon.h, 7.2 and 7.3): nr_probes above is EINVAL
MAX_PROBES = 4
# the operations sets that count probe hits: only paddr implements apply_probes
# (mm/damon/paddr.c, 7.2 and 7.3); on vaddr and fvaddr the hits stay 0
PROBE_OPS = frozenset({"paddr"})
# probe_hits is an unsigned char per region: with a weight the kernel refuses (EINVAL at
# on/commit) more samples per aggregation than it holds (damon_valid_probe_params)
PROBE_HITS_MAX = 255


@dataclass(frozen=True)
class GoalMetric:
    name: str
    c_enum: str
    since: Version
    unit: str                        # how its value is written: number, time, bp
    takes_nid: bool = False
    takes_path: bool = False
    userspace_source: str | None = None   # what damos run reads for it
    damo_keys: tuple = ()            # the extra keys damo 3.4.3 writes (and needs) for it
    ops: frozenset = ALL_OPS         # operations sets whose contexts take it
    ops_why: str = ""                # what the kernel does with it on the others


GOAL_METRICS: dict[str, GoalMetric] = {g.name: g for g in (
    GoalMetric("user_input", "DAMOS_QUOTA_USER_INPUT", (6, 9), "number",
               userspace_source="the goal's current value"),
    GoalMetric("some_mem_psi_us", "DAMOS_QUOTA_SOME_MEM_PSI_US", (6, 9), "time",
               userspace_source="/proc/pressure/memory"),
    GoalMetric("node_mem_used_bp", "DAMOS_QUOTA_NODE_MEM_USED_BP", (6, 16), "bp", True,
               damo_keys=("nid",)),
    GoalMetric("node_mem_free_bp", "DAMOS_QUOTA_NODE_MEM_FREE_BP", (6, 16), "bp", True,
               damo_keys=("nid",)),
    GoalMetric("node_memcg_used_bp", "DAMOS_QUOTA_NODE_MEMCG_USED_BP", (6, 19), "bp", True, True,
               damo_keys=("nid", "memcg_path")),
    GoalMetric("node_memcg_free_bp", "DAMOS_QUOTA_NODE_MEMCG_FREE_BP", (6, 19), "bp", True, True,
               damo_keys=("nid", "memcg_path")),
    GoalMetric("active_mem_bp", "DAMOS_QUOTA_ACTIVE_MEM_BP", (7, 0), "bp"),
    GoalMetric("inactive_mem_bp", "DAMOS_QUOTA_INACTIVE_MEM_BP", (7, 0), "bp"),
    GoalMetric("node_eligible_mem_bp", "DAMOS_QUOTA_NODE_ELIGIBLE_MEM_BP", (7, 2), "bp", True,
               ops=frozenset({"paddr"}),
               ops_why="the kernel takes it on paddr only: 7.3 refuses it at 'on' with EINVAL, "
               "7.2 starts and refuses the next 'commit'"),
)}


@dataclass(frozen=True)
class GoalTuner:
    name: str
    c_enum: str
    since: Version
    words: str = ""                  # how it moves the effective quota (explain)


# how each moved the effective quota on stock 7.3 (tests/kernel/test_kernel_stock73.py)
GOAL_TUNERS: dict[str, GoalTuner] = {t.name: t for t in (
    GoalTuner("consist", "DAMOS_QUOTA_GOAL_TUNER_CONSIST", (7, 1),
              "the effective quota grows or shrinks step by step toward the goals (the "
              "kernel's default)"),
    GoalTuner("temporal", "DAMOS_QUOTA_GOAL_TUNER_TEMPORAL", (7, 1),
              "the whole quota while a goal is unmet, none once the goals are met"),
)}


@dataclass(frozen=True)
class WmarkMetric:
    name: str
    c_enum: str
    debugfs_code: int
    userspace_source: str | None


WMARK_METRICS: dict[str, WmarkMetric] = {w.name: w for w in (
    WmarkMetric("none", "DAMOS_WMARK_NONE", 0, "nothing to read"),
    WmarkMetric("free_mem_rate", "DAMOS_WMARK_FREE_MEM_RATE", 1, "/proc/meminfo"),
)}


@dataclass(frozen=True)
class OpsSet:
    name: str
    c_enum: str
    words: str
    takes_pid: bool                  # targets are processes
    needs_regions: bool              # targets need fixed address ranges
    kconfig: str


OPS: dict[str, OpsSet] = {o.name: o for o in (
    OpsSet("vaddr", "DAMON_OPS_VADDR", "virtual addresses of processes", True, False,
           "DAMON_VADDR"),
    OpsSet("fvaddr", "DAMON_OPS_FVADDR", "fixed virtual address ranges of processes", True, True,
           "DAMON_VADDR"),
    OpsSet("paddr", "DAMON_OPS_PADDR", "physical memory", False, True, "DAMON_PADDR"),
)}
DEFAULT_OPS = "vaddr"


@dataclass(frozen=True)
class DefaultRegion:
    """What the kernel monitors on an operations set whose file gives no region,
    and which interfaces let it pick one."""

    ops: str
    name: str                        # the feature's name in messages
    since: dict                      # interface -> first kernel that picks the region itself
    modules: tuple                   # the module targets that leave it to the module
    regions: tuple                   # ((first kernel, what is monitored), ...), oldest first
    refusal: str                     # the error of an interface with no default
    why_not: str                     # the short reason, for an interfaces line


# paddr without 'target region'.  The C API's damon_set_region_biggest_system_ram_default()
# (6.1; commit 233f0b31bd95, 2022-10-03) and DAMON_RECLAIM / DAMON_LRU_SORT
# (monitor_region_start and _end both 0) take the biggest 'System RAM' resource of
# /proc/iomem (mm/damon/core.c, 6.1-7.1); 7.2 replaced it by
# damon_set_region_system_rams_default() (Debian's 7.2.13 and 7.3.4 damon.h), one region
# from the first 'System RAM' resource's start to the last one's end, walked in address
# order (walk_system_ram_res(), so the holes between them are in it; damonitor/linux).
# The modules write the range they picked back into those two parameters.  DAMON's sysfs
# and debugfs interfaces have no default: they monitor the regions written to them.
PADDR_DEFAULT_REGION = DefaultRegion(
    "paddr", "the default paddr region", {C_API: (6, 1)}, ("reclaim", "lru-sort"),
    (((5, 16), "the biggest 'System RAM' range of /proc/iomem"),
     ((7, 2), "all System RAM: one region from the lowest 'System RAM' start of /proc/iomem "
              "to the highest end (holes between the ranges included)")),
    "paddr needs the physical address range to monitor: write 'target region "
    "START..END' (e.g. the largest 'System RAM' range of /proc/iomem)",
    "DAMON's sysfs and debugfs interfaces have no default region")


def default_region_words(d: DefaultRegion = PADDR_DEFAULT_REGION) -> str:
    """What ``d`` monitors, by kernel version ("before Linux 7.2 ...; from 7.2 ...")."""
    parts = []
    for i, (_, words) in enumerate(d.regions):
        if i + 1 < len(d.regions):
            parts.append(f"before Linux {vstr(d.regions[i + 1][0])} {words}")
        else:
            parts.append(f"from Linux {vstr(d.regions[i][0])} {words}" if i else words)
    return "; ".join(parts)


@dataclass(frozen=True)
class Setting:
    """A versioned part of a scheme or context that is not a vocabulary word
    (apply_interval, filters, quota goals, ...).  Its first sysfs kernel is the
    first kernel with the file that carries it (:mod:`damos_lang.sysfs.layout`)."""

    name: str
    c_api: Version                   # first kernel whose C API has it
    in_debugfs: bool = False         # debugfs schemes lines can carry it
    userspace_why_not: str | None = None   # why damos run cannot do it (None: it can)


_MIGRATES = "damos run does not migrate pages"
SETTINGS: dict[str, Setting] = {x.name: x for x in (
    Setting(INTERVALS_GOAL, (6, 15)),
    Setting(APPLY_INTERVAL, (6, 7)),
    Setting(TARGET_NID, (6, 11), userspace_why_not=_MIGRATES),
    Setting(DESTS, (6, 17), userspace_why_not=_MIGRATES),
    Setting(MAX_SNAPSHOTS, (7, 0)),
    Setting(FILTERS, (6, 3)),
    Setting(ALLOW_FILTERS, (6, 14)),
    Setting(QUOTA_GOALS, (6, 9)),          # 6.8's C API had only get_score
    Setting(GOAL_NID, (6, 16)),
    Setting(GOAL_PATH, (6, 19)),
    Setting(GOAL_TUNER, (7, 1)),
    Setting(FAIL_CHARGE, (7, 2)),
    Setting(PAUSE, (7, 2), userspace_why_not="damos run has no kdamond to pause"),
    Setting(ADDR_UNIT, (6, 18)),         # ctx->addr_unit (6.18)
    Setting(REFRESH_MS, (6, 17)),          # a sysfs file; the C API has no such thing
    Setting(PROBES, (7, 2), userspace_why_not="damos run samples accesses only, not data "
            "attributes"),
    Setting(PROBE_WEIGHT, (7, 3), userspace_why_not="damos run samples accesses only, not "
            "data attributes"),
)}
# settings the c-module target does not emit (features.py refuses them there)
NOT_IN_C_MODULE = frozenset({REFRESH_MS})


def vstr(v: Version) -> str:
    return f"{v[0]}.{v[1]}"
