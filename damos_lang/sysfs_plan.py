"""The DAMON sysfs write plan: the ordered list of (file, value) writes that
sets up one kdamond for a program (sysfs.md §6).

Both the ``sysfs`` script target and a direct "apply" write exactly this
list, in order, stopping at the first failure.  Paths are relative to the
admin root (``/sys/kernel/mm/damon/admin``); values are the exact text to
write, without the trailing newline.

Why only non-default values are written: every ``nr_*`` write in the plan
recreates the directories below it with fresh defaults (sysfs.md §7 trap 3),
and the plan writes ``nr_kdamonds`` first, so every file the plan leaves
alone holds its documented default.  Skipping defaults keeps the plan
runnable on every kernel that has the features the program uses (a file a
kernel lacks is never touched unless the program needs it).  The six
access-pattern bounds are the exception: their fresh default is 0/0, which
matches nothing (§7 trap 4), so they are always written.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .errors import DamosError
from .kernel import KContext, KFilter, KScheme

ADMIN_ROOT = "/sys/kernel/mm/damon/admin"
KDAMOND = "kdamonds/0"
CONTEXT = f"{KDAMOND}/contexts/0"
STATE = f"{KDAMOND}/state"

ALLOW_SINCE = (6, 14)   # filters/<F>/allow
# the pid the plan writes when the caller supplies it later (the sh script's $1)
PID_FROM_CALLER = "\0pid\0"


@dataclass(frozen=True)
class Write:
    """Write ``value`` (plus a newline) to ``<admin root>/<path>``; ``what``
    names the setting for error messages."""

    path: str
    value: str
    what: str


def num(n: int) -> str:
    """Plain decimal: a leading 0 would make the kernel read octal (§3)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"not an integer: {n!r}")
    return str(n)


def yn(b: bool) -> str:
    return "Y" if b else "N"


def _text(s: str, what: str) -> str:
    if "\0" in s:
        raise DamosError(f"{what} contains a NUL character, which sysfs cannot take")
    if s.endswith("\n"):
        # the kernel drops one trailing newline (the one every write adds)
        raise DamosError(f"{what} ends with a newline, which sysfs would drop")
    return s


def _pids(kctx: KContext, options, pid_from_caller: bool) -> list[str]:
    """The pid_target value of each target (vaddr and fvaddr)."""
    opt_pid = getattr(options, "pid", None)
    targets = kctx.targets
    if pid_from_caller or opt_pid is not None:
        if len(targets) > 1:
            raise DamosError(f"the file has {len(targets)} targets, so the pid cannot be given "
                             "on the command line; write 'target pid N' for each")
        return [PID_FROM_CALLER if pid_from_caller else num(opt_pid)]
    if not targets:
        raise DamosError(f"{kctx.ops} monitors a process: write 'target pid N' or pass --pid")
    out = []
    for i, t in enumerate(targets):
        if t.pid is None:
            raise DamosError(f"target {i} has no pid; {kctx.ops} monitors a process: "
                             "write 'target pid N'")
        out.append(num(t.pid))
    return out


def _regions(w, base: str, regions) -> None:
    regions = sorted(regions)
    if not regions:
        return
    w(f"{base}/regions/nr_regions", num(len(regions)), "number of regions")
    for r, (start, end) in enumerate(regions):
        w(f"{base}/regions/{r}/start", num(start), f"region {r} start")
        w(f"{base}/regions/{r}/end", num(end), f"region {r} end")


def _targets(w, kctx: KContext, options, pid_from_caller: bool) -> None:
    base = f"{CONTEXT}/targets"
    if kctx.ops == "paddr":
        # physical memory: one target, no pid; every region of the file
        regions = [r for t in kctx.targets for r in t.regions]
        if not regions:
            raise DamosError("paddr needs the physical address range to monitor: write "
                             "'target region START..END' (e.g. the largest 'System RAM' range "
                             "of /proc/iomem)")
        w(f"{base}/nr_targets", "1", "number of targets")
        _regions(lambda p, v, what: w(p, v, f"target 0 {what}"), f"{base}/0", regions)
        return
    pids = _pids(kctx, options, pid_from_caller)
    w(f"{base}/nr_targets", num(len(pids)), "number of targets")
    for i, pid in enumerate(pids):
        t = f"{base}/{i}"
        w(f"{t}/pid_target", pid, f"target {i} pid")
        if kctx.ops == "fvaddr":
            regions = kctx.targets[i].regions if i < len(kctx.targets) else ()
            if not regions:
                raise DamosError(f"fvaddr monitors fixed address ranges: give target {i} "
                                 "a region, e.g. 'target pid N region START..END'")
            _regions(lambda p, v, what, i=i: w(p, v, f"target {i} {what}"), t, regions)


def _filter(w, base: str, f: KFilter, kernel) -> None:
    w(f"{base}/type", f.type, "type")   # first: it selects the arguments
    if f.type == "memcg":
        w(f"{base}/memcg_path", _text(f.memcg_path or "", "memcg path"), "memcg_path")
    elif f.type == "addr":
        w(f"{base}/addr_start", num(f.addr_start), "addr_start")
        w(f"{base}/addr_end", num(f.addr_end), "addr_end")
    elif f.type == "target":
        w(f"{base}/damon_target_idx", num(f.target_idx), "damon_target_idx")
    elif f.type == "hugepage_size":
        w(f"{base}/min", num(f.min), "min")
        w(f"{base}/max", num(f.max), "max")
    w(f"{base}/matching", yn(f.matching), "matching")
    # Before 6.14 there is no allow file and every filter rejects; the fresh
    # default N is "reject", so a reject filter writes allow only when the
    # kernel is known to have the file.
    if f.allow or (kernel is not None and tuple(kernel) >= ALLOW_SINCE):
        w(f"{base}/allow", yn(f.allow), "allow")


def _scheme(w, base: str, s: KScheme, kernel) -> None:
    w(f"{base}/action", s.action, "action")
    if s.apply_interval_us:
        w(f"{base}/apply_interval_us", num(s.apply_interval_us), "apply_interval_us")
    if s.target_nid is not None:
        w(f"{base}/target_nid", num(s.target_nid), "target_nid")
    if s.dests:
        w(f"{base}/dests/nr_dests", num(len(s.dests)), "dests/nr_dests")
        for d, (nid, weight) in enumerate(s.dests):
            w(f"{base}/dests/{d}/id", num(nid), f"dests/{d}/id")
            w(f"{base}/dests/{d}/weight", num(weight), f"dests/{d}/weight")
    ap = f"{base}/access_pattern"
    for name, lo, hi in (("sz", s.sz_min, s.sz_max),
                         ("nr_accesses", s.nr_accesses_min, s.nr_accesses_max),
                         ("age", s.age_min, s.age_max)):
        w(f"{ap}/{name}/min", num(lo), f"access_pattern/{name}/min")
        w(f"{ap}/{name}/max", num(hi), f"access_pattern/{name}/max")
    q = f"{base}/quotas"
    if s.has_quota:
        w(f"{q}/ms", num(s.quota_ms), "quotas/ms")
        w(f"{q}/bytes", num(s.quota_bytes), "quotas/bytes")
        w(f"{q}/reset_interval_ms", num(s.quota_reset_ms), "quotas/reset_interval_ms")
    if s.has_weights:
        w(f"{q}/weights/sz_permil", num(s.weight_sz), "quotas/weights/sz_permil")
        w(f"{q}/weights/nr_accesses_permil", num(s.weight_nr_accesses),
          "quotas/weights/nr_accesses_permil")
        w(f"{q}/weights/age_permil", num(s.weight_age), "quotas/weights/age_permil")
    if s.goal_tuner is not None:
        w(f"{q}/goal_tuner", s.goal_tuner, "quotas/goal_tuner")
    if s.fail_charge_denom:
        w(f"{q}/fail_charge_num", num(s.fail_charge_num), "quotas/fail_charge_num")
        w(f"{q}/fail_charge_denom", num(s.fail_charge_denom), "quotas/fail_charge_denom")
    if s.goals:
        w(f"{q}/goals/nr_goals", num(len(s.goals)), "quotas/goals/nr_goals")
        for g, goal in enumerate(s.goals):
            gb = f"{q}/goals/{g}"
            w(f"{gb}/target_metric", goal.metric, f"goal {g} target_metric")
            w(f"{gb}/target_value", num(goal.target_value), f"goal {g} target_value")
            if goal.current_value:
                w(f"{gb}/current_value", num(goal.current_value), f"goal {g} current_value")
            if goal.nid is not None:
                w(f"{gb}/nid", num(goal.nid), f"goal {g} nid")
            if goal.path is not None:
                w(f"{gb}/path", _text(goal.path, "goal path"), f"goal {g} path")
    if s.has_watermarks:
        wm = f"{base}/watermarks"
        w(f"{wm}/metric", s.wmark_metric, "watermarks/metric")
        w(f"{wm}/interval_us", num(s.wmark_interval_us), "watermarks/interval_us")
        w(f"{wm}/high", num(s.wmark_high), "watermarks/high")
        w(f"{wm}/mid", num(s.wmark_mid), "watermarks/mid")
        w(f"{wm}/low", num(s.wmark_low), "watermarks/low")
    if s.filters:
        fb = f"{base}/filters"
        w(f"{fb}/nr_filters", num(len(s.filters)), "filters/nr_filters")
        for i, f in enumerate(s.filters):
            _filter(lambda p, v, what, i=i: w(p, v, f"filter {i} {what}"), f"{fb}/{i}", f,
                    kernel)
    if s.max_nr_snapshots:
        w(f"{base}/stats/max_nr_snapshots", num(s.max_nr_snapshots), "stats/max_nr_snapshots")


def plan(kctx: KContext, options=None, *, pid_from_caller: bool = False) -> list[Write]:
    """The ordered writes that start one kdamond running ``kctx``.

    ``options`` is a :class:`damos_lang.targets.Options` (or anything with
    ``kernel`` and ``pid``): ``pid`` replaces the file's target pid, and
    ``kernel`` decides whether reject filters may write ``allow``.  With
    ``pid_from_caller`` the single vaddr/fvaddr target's pid is the
    placeholder :data:`PID_FROM_CALLER`, to be filled in at write time.
    Raises DamosError when the plan cannot be made (no pid, no region)."""
    kernel = getattr(options, "kernel", None)
    out: list[Write] = []

    def w(path: str, value: str, what: str) -> None:
        out.append(Write(path, value, what))

    w("kdamonds/nr_kdamonds", "1", "number of kdamonds")
    w(f"{KDAMOND}/contexts/nr_contexts", "1", "number of contexts")
    w(f"{CONTEXT}/operations", kctx.ops, "operations set")
    ma = f"{CONTEXT}/monitoring_attrs"
    iv = kctx.intervals
    w(f"{ma}/intervals/sample_us", num(iv.sample_us), "sampling interval (us)")
    w(f"{ma}/intervals/aggr_us", num(iv.aggr_us), "aggregation interval (us)")
    w(f"{ma}/intervals/update_us", num(iv.update_us), "update interval (us)")
    g = kctx.intervals_goal
    if g is not None:
        gb = f"{ma}/intervals/intervals_goal"
        w(f"{gb}/access_bp", num(g.access_bp), "intervals_goal access_bp")
        w(f"{gb}/aggrs", num(g.aggrs), "intervals_goal aggrs")
        w(f"{gb}/min_sample_us", num(g.min_sample_us), "intervals_goal min_sample_us")
        w(f"{gb}/max_sample_us", num(g.max_sample_us), "intervals_goal max_sample_us")
    w(f"{ma}/nr_regions/min", num(kctx.nr_regions_min), "nr_regions min")
    w(f"{ma}/nr_regions/max", num(kctx.nr_regions_max), "nr_regions max")
    _targets(w, kctx, options, pid_from_caller)
    sb = f"{CONTEXT}/schemes"
    w(f"{sb}/nr_schemes", num(len(kctx.schemes)), "number of schemes")
    for i, s in enumerate(kctx.schemes):
        _scheme(lambda p, v, what, i=i: w(p, v, f"scheme {i} {what}"), f"{sb}/{i}", s, kernel)
    w(STATE, "on", "start kdamond 0")
    return out


def plan_for(program, options=None, *, pid_from_caller: bool = False) -> list[Write]:
    """:func:`plan` from a Program: checks ``options.kernel`` against the
    features the program uses, then converts to kernel units."""
    from .features import require_version
    from .kernel import to_kernel
    kernel = getattr(options, "kernel", None)
    if kernel is not None:
        require_version(program, tuple(kernel))
    kctx = to_kernel(program, getattr(options, "max_policy", "unbounded"))
    return plan(kctx, options, pid_from_caller=pid_from_caller)


def plan_to_json(writes: list[Write]) -> str:
    """``{"root": ..., "writes": [{"path", "value", "what"}, ...]}``."""
    return json.dumps({"root": ADMIN_ROOT, "writes": [asdict(w) for w in writes]}, indent=2) + "\n"


def plan_from_json(text: str) -> list[Write]:
    data = json.loads(text)
    return [Write(str(d["path"]), str(d["value"]), str(d["what"])) for d in data["writes"]]
