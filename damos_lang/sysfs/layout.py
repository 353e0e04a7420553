"""The DAMON sysfs admin tree as one table, as the kernel keeps it in one
``mm/damon/sysfs-schemes.c`` (sysfs.md §1, §2, §4).

The tree is made of *entities*: the directory kinds that repeat under an
index (a kdamond, a context, a target, a scheme, a goal, a filter, ...).  An
:class:`Entity` lists its files (:class:`File` rows) by their path below the
entity's directory; a ``nr_*`` file is a :data:`COUNT` row whose ``child``
is the entity its writes create.  Each row says when the file appeared
(``since``) and left (``until``), its kind, what a fresh one holds, its
mode, the catalog feature it brings, whether the kernel takes its writes
under a trylock (``retry``), when the write plan writes it, and the model
field it carries (``field``, dotted from the entity's record, e.g.
``quota.weights.sz``) or the counter it shows (``stat``).

The write plan, the reader, the feature probe and the stand-in kernel are
all derived from these rows (:mod:`damos_lang.sysfs`); this module is the
only place in damos-lang that spells a file of the tree.  A new kernel's
file is one row here (and, if it carries a setting, a model field).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field

from .. import catalog

Version = tuple[int, int]
FIRST: Version = (5, 18)                     # the sysfs interface itself

ADMIN_ROOT = "/sys/kernel/mm/damon/admin"

# -- file kinds (how the kernel parses a write; sysfs.md §3) -------------------------
NUMBER = "number"      # kstrtoul(buf, 0): unsigned, base 0 (a leading 0 is octal)
SIGNED = "signed"      # kstrtoint: pids, node ids, target indices
BOOL = "bool"          # kstrtobool; reads back Y or N
KEYWORD = "keyword"    # one word of a vocabulary (sysfs_streq)
TEXT = "text"          # a path, taken as it is
COMMAND = "command"    # the kdamond's state file: on, off, commit, update_*
COUNT = "count"        # nr_*: writing N recreates N child directories with fresh files
INDEXED = "indexed"    # a directory of numbered child directories the kernel fills itself
LIST = "list"          # read-only, one word per line

RW, RO = 0o600, 0o400

# -- when the write plan writes a row (the reader inverts the same rule) --------------
ALWAYS = "always"
IF_SET = "if set"                  # the field is not None (None reads back from the default)
IF_NONZERO = "if nonzero"          # the field (or ``when_field``) is not 0 / not empty
IF_TRUE_OR_KNOWN = "if true or known"   # true, or the target kernel is known to have the file
# not the row's default; or the plan writes over an existing kdamond's files and the
# target kernel is known to have the file (so that an update puts back a default the
# running kdamond was given before)
IF_CHANGED_OR_KNOWN = "if not default or known"
NEVER = "never"                    # not written by the plan (read-only, or not in the language)

# -- keyword vocabularies --------------------------------------------------------------
CORE, OPS_SCOPE, ANY_SCOPE = "core", "ops", "any"     # which filter types a directory takes


@dataclass(frozen=True)
class Vocabulary:
    label: str                   # how messages name a word of it ("filter type")
    table: dict | None           # the catalog records (for their ``since``), or None
    words: tuple = ()            # the words, when there is no catalog table

    def at(self, version: Version, scope: str = ANY_SCOPE) -> set:
        """The words a kernel of ``version`` takes (in a directory of ``scope``)."""
        if self.table is None:
            return set(self.words)
        out = {name for name, rec in self.table.items()
               if tuple(version) >= tuple(getattr(rec, "since", FIRST))}
        if scope == CORE:
            out = {n for n in out if getattr(self.table[n], "core", True)}
        elif scope == OPS_SCOPE:
            out = {n for n in out if not getattr(self.table[n], "core", False)}
        return out

    def since(self, word: str) -> Version | None:
        rec = (self.table or {}).get(word)
        return getattr(rec, "since", None)


OPERATIONS = Vocabulary("operations set", catalog.OPS)
ACTION = Vocabulary("action", catalog.ACTIONS)
WMARK_METRIC = Vocabulary("watermark metric", catalog.WMARK_METRICS)
FILTER_TYPE = Vocabulary("filter type", catalog.FILTER_TYPES)
GOAL_METRIC = Vocabulary("goal metric", catalog.GOAL_METRICS)
GOAL_TUNER = Vocabulary("goal tuner", None, tuple(catalog.GOAL_TUNERS))
PROBE_FILTER_TYPE = Vocabulary("probe filter type", catalog.PROBE_FILTER_TYPES)


# -- the kdamond's state commands (sysfs.md §5) -----------------------------------------
ON = "on"
OFF = "off"
COMMIT = "commit"
UPDATE_SCHEMES_STATS = "update_schemes_stats"
UPDATE_TRIED_REGIONS = "update_schemes_tried_regions"
CLEAR_TRIED_REGIONS = "clear_schemes_tried_regions"
UPDATE_TRIED_BYTES = "update_schemes_tried_bytes"
COMMIT_QUOTA_GOALS = "commit_schemes_quota_goals"
UPDATE_EFFECTIVE_QUOTAS = "update_schemes_effective_quotas"
UPDATE_TUNED_INTERVALS = "update_tuned_intervals"
STATE_COMMANDS: dict[str, Version] = {
    ON: (5, 18), OFF: (5, 18), UPDATE_SCHEMES_STATS: (5, 18), COMMIT: (5, 19),
    UPDATE_TRIED_REGIONS: (6, 2), CLEAR_TRIED_REGIONS: (6, 2), UPDATE_TRIED_BYTES: (6, 6),
    COMMIT_QUOTA_GOALS: (6, 8), UPDATE_EFFECTIVE_QUOTAS: (6, 9), UPDATE_TUNED_INTERVALS: (6, 15),
}
# the features of the command words (the catalog key a command brings)
COMMAND_FEATURES = {COMMIT: catalog.COMMIT}


@dataclass(frozen=True)
class File:
    """One file (or numbered directory) of an entity's directory."""

    path: str                          # below the entity's directory
    kind: str
    default: str = "0"                 # what a fresh file holds, without its newline
    since: Version = FIRST
    until: Version | None = None       # the first kernel without it
    mode: int = RW
    field: str | None = None           # the model attribute it carries (dotted)
    stat: str | None = None            # or the counter it shows (a SchemeStats/region field)
    feature: str | None = None         # the catalog feature key it brings
    retry: bool = False                # written under the kernel's trylock: -EBUSY, try again
    write: str = ALWAYS                # when the plan writes it (NEVER without a field)
    when_field: str | None = None      # IF_NONZERO on another field than its own
    what: str | None = None            # how messages name it (default: its path)
    child: "Entity | None" = None      # COUNT and INDEXED: the entity of each index
    vocab: Vocabulary | None = None    # KEYWORD: its words
    scope: str = ANY_SCOPE             # COUNT of filters: the filter types its children take
    arg: catalog.FilterArg | None = None   # a filter argument file: the argument it carries
    kernel_bits: int = 64              # bits the kernel keeps of it (nr_accesses, age: 32)
    parse_bits: int = 64               # bits its parser takes (kstrtouint: 32, ERANGE above)
    einval: bool = False               # every parse failure is -EINVAL (not -ERANGE)
    nonzero: bool = False              # the kernel refuses 0
    max_count: int | None = None       # COUNT: the most the kernel takes (more is EINVAL)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def dir(self) -> str:
        """COUNT: the directory holding the numbered children; INDEXED: itself."""
        return self.path.rsplit("/", 1)[0] if self.kind == COUNT else self.path

    @property
    def label(self) -> str:
        return self.what or self.path

    def exists_at(self, version: Version) -> bool:
        v = tuple(version)
        return v >= self.since and (self.until is None or v < self.until)


@dataclass(frozen=True)
class Entity:
    name: str                          # "scheme"
    prefix: str                        # how messages name one ("scheme {i} ")
    files: tuple[File, ...] = dc_field(default=())

    def file(self, key: str) -> File:
        """The row carrying model field (or stat) ``key``, or at path ``key``."""
        for f in self.files:
            if key in (f.field, f.stat) or f.path == key:
                return f
        raise KeyError(f"{self.name} has no file for {key!r}")

    def counts(self):
        return [f for f in self.files if f.kind in (COUNT, INDEXED)]


def _range_files(base: str, field_lo: str, field_hi: str, **kw) -> tuple[File, File]:
    return (File(f"{base}/min", NUMBER, field=field_lo, **kw),
            File(f"{base}/max", NUMBER, field=field_hi, **kw))


# -- the tree, from the leaves up --------------------------------------------------------

REGION = Entity("region", "region {i} ", (
    File("start", NUMBER, field="start"),
    File("end", NUMBER, field="end"),
))

TARGET = Entity("target", "target {i} ", (
    File("pid_target", SIGNED, field="pid", write=IF_SET, what="pid", einval=True),
    # written only by 'damos update', for a running target the new file drops
    File("obsolete_target", BOOL, "N", since=(6, 19), field="obsolete", write=IF_NONZERO,
         what="obsolete_target"),
    File("regions/nr_regions", COUNT, child=REGION, field="regions", write=IF_NONZERO,
         what="number of regions", retry=True),
))

# a probe's filter (mm/damon/sysfs.c; the rows need no 'since': their entity exists
# only below a 7.2 context): a fresh one is anon, matching N, allow N;
# 'path' is resolved to a memcg id at on/commit (EINVAL when no memcg has it)
PROBE_FILTER = Entity("probe filter", "filter {i} ", (
    File("type", KEYWORD, "anon", field="type", vocab=PROBE_FILTER_TYPE),
    File("matching", BOOL, "N", field="matching"),
    File("allow", BOOL, "N", field="allow"),
    File("path", TEXT, "", field="memcg_path", arg=catalog.ARG_PATH,
         retry=True),
))

PROBE = Entity("probe", "probe {i} ", (
    File("weight", NUMBER, since=(7, 3), field="weight", write=IF_NONZERO,
         feature=catalog.PROBE_WEIGHT, parse_bits=32),
    File("filters/nr_filters", COUNT, child=PROBE_FILTER, field="filters",
         write=IF_NONZERO, retry=True, what="number of filters"),
))

GOAL = Entity("goal", "goal {i} ", (
    File("target_metric", KEYWORD, "user_input", since=(6, 9), field="metric", vocab=GOAL_METRIC,
         feature=catalog.GOAL_METRIC),
    File("target_value", NUMBER, field="target_value"),
    File("current_value", NUMBER, field="current_value", write=IF_NONZERO),
    File("nid", SIGNED, since=(6, 16), field="nid", write=IF_SET, feature=catalog.GOAL_NID),
    File("path", TEXT, "", since=(6, 19), field="path", write=IF_SET, feature=catalog.GOAL_PATH,
         retry=True),
))

FILTER = Entity("filter", "filter {i} ", (
    # type first: it selects which argument files apply (sysfs.md §6)
    File("type", KEYWORD, "anon", field="type", vocab=FILTER_TYPE),
    File("memcg_path", TEXT, "", field="memcg_path", arg=catalog.ARG_PATH, retry=True),
    File("addr_start", NUMBER, since=(6, 6), field="addr_start", arg=catalog.ARG_ADDR_RANGE),
    File("addr_end", NUMBER, since=(6, 6), field="addr_end", arg=catalog.ARG_ADDR_RANGE),
    File("damon_target_idx", SIGNED, since=(6, 6), field="target_idx", arg=catalog.ARG_INDEX),
    File("min", NUMBER, since=(6, 15), field="sz_min", arg=catalog.ARG_SIZE_RANGE),
    File("max", NUMBER, since=(6, 15), field="sz_max", arg=catalog.ARG_SIZE_RANGE),
    File("matching", BOOL, "N", field="matching"),
    # before 6.14 every filter rejects; a fresh allow is N (reject)
    File("allow", BOOL, "N", since=(6, 14), field="allow", write=IF_TRUE_OR_KNOWN,
         feature=catalog.ALLOW_FILTERS),
))

DEST = Entity("dest", "dests/{i}/", (
    File("id", NUMBER, field="nid"),
    File("weight", NUMBER, field="weight"),
))

# a tried region's probe (7.2): the probe's hits, printed "%hhu\n": on 7.3 their pseudo
# moving sum over the last aggregation interval (damon_probe_hits_mvsum), on 7.2 the
# current interval's count (region->probe_hits)
TRIED_PROBE = Entity("tried region probe", "probe {i} ", (
    File("hits", NUMBER, mode=RO, stat="hits"),
))

TRIED_REGION = Entity("tried region", "tried region {i} ", (
    File("start", NUMBER, mode=RO, stat="start"),
    File("end", NUMBER, mode=RO, stat="end"),
    File("nr_accesses", NUMBER, mode=RO, stat="nr_accesses"),
    File("age", NUMBER, mode=RO, stat="age"),
    File("sz_filter_passed", NUMBER, since=(6, 14), mode=RO, stat="sz_filter_passed"),
    File("probes", INDEXED, since=(7, 2), mode=RO, child=TRIED_PROBE),
))

_FILTERS = dict(kind=COUNT, child=FILTER, field="filters", retry=True)
SCHEME = Entity("scheme", "scheme {i} ", (
    File("action", KEYWORD, "stat", field="action", vocab=ACTION),
    File("apply_interval_us", NUMBER, since=(6, 7), field="apply_interval_us", write=IF_NONZERO,
         feature=catalog.APPLY_INTERVAL),
    File("target_nid", SIGNED, "-1", since=(6, 11), field="target_nid", write=IF_SET,
         feature=catalog.TARGET_NID),
    File("dests/nr_dests", COUNT, since=(6, 17), child=DEST, field="dests", write=IF_NONZERO,
         feature=catalog.DESTS, retry=True),
    # a fresh scheme's six bounds are 0, which matches nothing: always write them
    *_range_files("access_pattern/sz", "pattern.sz_min", "pattern.sz_max"),
    *_range_files("access_pattern/nr_accesses", "pattern.nr_accesses_min",
                  "pattern.nr_accesses_max", kernel_bits=32),
    *_range_files("access_pattern/age", "pattern.age_min", "pattern.age_max", kernel_bits=32),
    File("quotas/ms", NUMBER, field="quota.ms", einval=True),
    File("quotas/bytes", NUMBER, field="quota.sz", einval=True),
    File("quotas/reset_interval_ms", NUMBER, field="quota.reset_interval_ms", einval=True),
    File("quotas/effective_bytes", NUMBER, since=(6, 9), mode=RO, stat="effective_bytes"),
    File("quotas/weights/sz_permil", NUMBER, field="quota.weights.sz"),
    File("quotas/weights/nr_accesses_permil", NUMBER, field="quota.weights.nr_accesses"),
    File("quotas/weights/age_permil", NUMBER, field="quota.weights.age"),
    File("quotas/goal_tuner", KEYWORD, "consist", since=(7, 1), field="quota.goal_tuner",
         write=IF_SET, vocab=GOAL_TUNER, feature=catalog.GOAL_TUNER),
    File("quotas/fail_charge_num", NUMBER, since=(7, 2), field="quota.fail_charge_num",
         write=IF_NONZERO, when_field="quota.fail_charge_denom", feature=catalog.FAIL_CHARGE,
         einval=True),
    File("quotas/fail_charge_denom", NUMBER, since=(7, 2), field="quota.fail_charge_denom",
         write=IF_NONZERO, feature=catalog.FAIL_CHARGE, einval=True),
    File("quotas/goals/nr_goals", COUNT, since=(6, 8), child=GOAL, field="quota.goals",
         write=IF_NONZERO, feature=catalog.QUOTA_GOALS, retry=True),
    File("watermarks/metric", KEYWORD, "none", field="watermarks.metric", vocab=WMARK_METRIC),
    File("watermarks/interval_us", NUMBER, field="watermarks.interval_us"),
    File("watermarks/high", NUMBER, field="watermarks.high"),
    File("watermarks/mid", NUMBER, field="watermarks.mid"),
    File("watermarks/low", NUMBER, field="watermarks.low"),
    # the reader takes filters from all three directories; the plan writes filters/,
    # which takes both kinds on every kernel that has filters (deprecated from 6.15)
    File("core_filters/nr_filters", since=(6, 15), write=NEVER, scope=CORE, **_FILTERS),
    File("ops_filters/nr_filters", since=(6, 15), write=NEVER, scope=OPS_SCOPE, **_FILTERS),
    File("filters/nr_filters", since=(6, 3), write=IF_NONZERO, feature=catalog.FILTERS,
         **_FILTERS),
    File("stats/nr_tried", NUMBER, mode=RO, stat="nr_tried"),
    File("stats/sz_tried", NUMBER, mode=RO, stat="sz_tried"),
    File("stats/nr_applied", NUMBER, mode=RO, stat="nr_applied"),
    File("stats/sz_applied", NUMBER, mode=RO, stat="sz_applied"),
    File("stats/qt_exceeds", NUMBER, mode=RO, stat="qt_exceeds"),
    File("stats/sz_ops_filter_passed", NUMBER, since=(6, 14), mode=RO,
         stat="sz_ops_filter_passed"),
    File("stats/nr_snapshots", NUMBER, since=(7, 0), mode=RO, stat="nr_snapshots"),
    File("stats/max_nr_snapshots", NUMBER, since=(7, 0), field="max_snapshots",
         write=IF_NONZERO, feature=catalog.MAX_SNAPSHOTS),
    File("tried_regions", INDEXED, since=(6, 2), mode=RO, child=TRIED_REGION),
    File("tried_regions/total_bytes", NUMBER, since=(6, 6), mode=RO, stat="tried_bytes"),
))

_MA = "monitoring_attrs"
_GOAL = f"{_MA}/intervals/intervals_goal"
CONTEXT = Entity("context", "", (
    File("avail_operations", LIST, "vaddr\nfvaddr\npaddr", since=(5, 19), mode=RO),
    File("operations", KEYWORD, "vaddr", field="ops", vocab=OPERATIONS, what="operations set"),
    File("addr_unit", NUMBER, "1", since=(6, 18), field="addr_unit",
         write=IF_CHANGED_OR_KNOWN, feature=catalog.ADDR_UNIT, nonzero=True),
    File("pause", BOOL, "N", since=(7, 2), field="pause", write=IF_CHANGED_OR_KNOWN,
         feature=catalog.PAUSE),
    File(f"{_MA}/intervals/sample_us", NUMBER, "5000", field="intervals.sample_us",
         what="sampling interval (us)"),
    File(f"{_MA}/intervals/aggr_us", NUMBER, "100000", field="intervals.aggr_us",
         what="aggregation interval (us)"),
    File(f"{_MA}/intervals/update_us", NUMBER, "60000000", field="intervals.update_us",
         what="update interval (us)"),
    *(File(f"{_GOAL}/{name}", NUMBER, since=(6, 15), field=f"intervals_goal.{name}",
           what=f"intervals_goal {name}", feature=catalog.INTERVALS_GOAL)
      for name in ("access_bp", "aggrs", "min_sample_us", "max_sample_us")),
    File(f"{_MA}/nr_regions/min", NUMBER, "10", field="nr_regions_min", what="nr_regions min"),
    File(f"{_MA}/nr_regions/max", NUMBER, "1000", field="nr_regions_max", what="nr_regions max"),
    # an update writes 0 over a running kdamond's probes when the new file has none
    File(f"{_MA}/probes/nr_probes", COUNT, since=(7, 2), child=PROBE, field="probes",
         write=IF_CHANGED_OR_KNOWN, feature=catalog.PROBES, retry=True, what="number of probes",
         max_count=catalog.MAX_PROBES),
    File("targets/nr_targets", COUNT, child=TARGET, field="targets", what="number of targets",
         retry=True),
    File("schemes/nr_schemes", COUNT, child=SCHEME, field="schemes", what="number of schemes",
         retry=True),
))

KDAMOND = Entity("kdamond", "", (
    # the plan writes its command last, after everything below it
    File("state", COMMAND, "off", field="state", write=NEVER, retry=True),
    File("pid", SIGNED, "-1", mode=RO, field="pid"),
    # the plan writes it from the context's field (one context per kdamond)
    File("refresh_ms", NUMBER, since=(6, 17), field="refresh_ms", write=IF_CHANGED_OR_KNOWN,
         feature=catalog.REFRESH_MS, parse_bits=32),
    File("contexts/nr_contexts", COUNT, child=CONTEXT, field="contexts",
         what="number of contexts", retry=True),
))

ADMIN = Entity("admin", "", (
    File("kdamonds/nr_kdamonds", COUNT, child=KDAMOND, field="kdamonds",
         what="number of kdamonds", retry=True),
))

ENTITIES = (ADMIN, KDAMOND, CONTEXT, TARGET, REGION, SCHEME, DEST, GOAL, FILTER, PROBE,
            PROBE_FILTER, TRIED_REGION, TRIED_PROBE)


# -- paths -----------------------------------------------------------------------------

NR_KDAMONDS = ADMIN.file("kdamonds").path


def child_dir(base: str, entity: Entity, key: str, index: int) -> str:
    """The directory of child ``index`` of ``entity``'s COUNT/INDEXED row ``key``
    (its field, or its path) below ``base`` (the entity's directory)."""
    row = entity.file(key)
    return _join(base, f"{row.dir}/{index}")


def path_of(base: str, entity: Entity, key: str) -> str:
    """The file of ``entity`` (at ``base``) that carries ``key``."""
    return _join(base, entity.file(key).path)


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base else rel


TRIED_REGIONS = next(f for f in SCHEME.files if f.child is TRIED_REGION)
AVAIL_OPERATIONS = next(f for f in CONTEXT.files if f.kind == LIST)
REFRESH_MS = KDAMOND.file("refresh_ms")


def tried_regions_dir(scheme_dir: str) -> str:
    return _join(scheme_dir, TRIED_REGIONS.path)


def kdamond_dir(k: int) -> str:
    return child_dir("", ADMIN, "kdamonds", k)


def context_dir(k: int, c: int = 0) -> str:
    return child_dir(kdamond_dir(k), KDAMOND, "contexts", c)


def scheme_dir(k: int, s: int, c: int = 0) -> str:
    return child_dir(context_dir(k, c), CONTEXT, "schemes", s)


def state_path(k: int) -> str:
    return path_of(kdamond_dir(k), KDAMOND, "state")


def nr_contexts_path(k: int) -> str:
    return path_of(kdamond_dir(k), KDAMOND, "contexts")


# -- locating a path in the table ---------------------------------------------------------

@dataclass(frozen=True)
class Located:
    """A path of the tree found in the table: its row, the entity it is in,
    and the COUNT rows passed on the way (the nearest last)."""

    file: File
    entity: Entity
    counts: tuple[File, ...]

    @property
    def scope(self) -> str:
        for c in reversed(self.counts):
            if c.scope != ANY_SCOPE:
                return c.scope
        return ANY_SCOPE


_INDEX = re.compile(r"\d+$")


def locate(rel: str) -> Located | None:
    """The row of ``rel`` (a path below the admin root), or None if the table
    has no such file."""
    entity, rest, counts = ADMIN, rel.strip("/"), ()
    while True:
        for f in entity.files:
            if f.path == rest:
                return Located(f, entity, counts)
        for f in entity.counts():
            head = f.dir + "/"
            if rest.startswith(head):
                idx, _, tail = rest[len(head):].partition("/")
                if _INDEX.match(idx) and tail:
                    entity, rest, counts = f.child, tail, counts + (f,)
                    break
        else:
            return None


def feature_rows(feature: str) -> list[tuple[Entity, File]]:
    """Every (entity, row) that brings the catalog ``feature``."""
    return [(e, f) for e in ENTITIES for f in e.files if f.feature == feature]


def first_version(feature: str) -> Version | None:
    """The first kernel whose tree has a file bringing ``feature``."""
    if feature in COMMAND_FEATURES.values():
        return min(v for c, v in STATE_COMMANDS.items() if COMMAND_FEATURES.get(c) == feature)
    rows = feature_rows(feature)
    return min(f.since for _, f in rows) if rows else None


def fresh(entity: Entity, version: Version) -> dict[str, str]:
    """{path: content} of a freshly created ``entity`` directory on ``version``
    (COUNT files at 0, INDEXED directories empty)."""
    out = {}
    for f in entity.files:
        if not f.exists_at(version) or f.kind == INDEXED:
            continue
        out[f.path] = "0" if f.kind == COUNT else f.default
    return out


def listing(entity: Entity, version: Version, base: str = "") -> list[str]:
    """Every path a fresh ``entity`` on ``version`` has, directories included
    (COUNT files' child directories are not there until written)."""
    out = set()
    for path in fresh(entity, version):
        full = _join(base, path)
        out.add(full)
        parts = full.split("/")
        for i in range(1, len(parts)):
            out.add("/".join(parts[:i]) + "/")
    for f in entity.files:
        if f.kind == INDEXED and f.exists_at(version):
            out.add(_join(base, f.path) + "/")
    return sorted(out)


def predicted_tree(version: Version) -> dict[str, tuple[str, int, str | None]]:
    """{path: (type, mode, content)} of a tree on ``version`` in which every
    count file holds 1 (one kdamond, context, target, region, scheme, goal,
    filter, dest, probe, ...), freshly created: what the rig's tree-listing
    job sees (directories are "dir" 0755 with no content; file content
    includes the kernel's trailing newline)."""
    out: dict = {}

    def add_dirs(path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts)):
            out.setdefault("/".join(parts[:i]), ("dir", 0o755, None))

    def walk(entity: Entity, base: str) -> None:
        for f in entity.files:
            if not f.exists_at(version):
                continue
            path = _join(base, f.path)
            add_dirs(path)
            if f.kind == INDEXED:
                out[path] = ("dir", 0o755, None)
                continue
            out[path] = ("file", f.mode, ("1" if f.kind == COUNT else f.default) + "\n")
            if f.kind == COUNT:
                child = _join(base, f"{f.dir}/0")
                out[child] = ("dir", 0o755, None)
                walk(f.child, child)
    walk(ADMIN, "")
    return out
