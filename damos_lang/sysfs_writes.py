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

from . import catalog, model
from .convert import LegacyNumbers, output_numbers
from .errors import DamosError
from .model import Context

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


def _pids(ctx: Context, pid_from_caller: bool) -> list[str]:
    """The pid_target value of each target (vaddr and fvaddr)."""
    if pid_from_caller:
        return [PID_FROM_CALLER]
    if not ctx.targets:
        raise DamosError(f"{ctx.ops} monitors a process: write 'target pid N' or pass --pid",
                         ctx.loc)
    out = []
    for i, t in enumerate(ctx.targets):
        if t.pid is None:
            raise DamosError(f"target {i} has no pid; {ctx.ops} monitors a process: "
                             "write 'target pid N'", t.loc or ctx.loc)
        out.append(num(t.pid))
    return out


def _regions(w, base: str, regions) -> None:
    if not regions:
        return
    w(f"{base}/regions/nr_regions", num(len(regions)), "number of regions")
    for r, (start, end) in enumerate(regions):
        w(f"{base}/regions/{r}/start", num(start), f"region {r} start")
        w(f"{base}/regions/{r}/end", num(end), f"region {r} end")


def _targets(w, ctx: Context, pid_from_caller: bool) -> None:
    base = f"{CONTEXT}/targets"
    if not catalog.OPS[ctx.ops].takes_pid:
        # physical memory: one target, no pid; every region of the file
        regions = sorted(r for t in ctx.targets for r in t.regions)
        w(f"{base}/nr_targets", "1", "number of targets")
        _regions(lambda p, v, what: w(p, v, f"target 0 {what}"), f"{base}/0", regions)
        return
    pids = _pids(ctx, pid_from_caller)
    w(f"{base}/nr_targets", num(len(pids)), "number of targets")
    for i, pid in enumerate(pids):
        t = f"{base}/{i}"
        w(f"{t}/pid_target", pid, f"target {i} pid")
        if catalog.OPS[ctx.ops].needs_regions and i < len(ctx.targets):
            _regions(lambda p, v, what, i=i: w(p, v, f"target {i} {what}"), t,
                     ctx.targets[i].regions)


# the sysfs file of each model.Filter argument field
_FILTER_FILES = {"memcg_path": "memcg_path", "addr_start": "addr_start", "addr_end": "addr_end",
                 "target_idx": "damon_target_idx", "sz_min": "min", "sz_max": "max"}


def _filter(w, base: str, f: model.Filter, kernel) -> None:
    w(f"{base}/type", f.type, "type")   # first: it selects the arguments
    for field, value in f.args().items():
        name = _FILTER_FILES[field]
        text = _text(value or "", name) if isinstance(value, str) or value is None else num(value)
        w(f"{base}/{name}", text, name)
    w(f"{base}/matching", yn(f.matching), "matching")
    # Before 6.14 there is no allow file and every filter rejects; the fresh
    # default N is "reject", so a reject filter writes allow only when the
    # kernel is known to have the file.
    if f.allow or (kernel is not None and tuple(kernel) >= ALLOW_SINCE):
        w(f"{base}/allow", yn(f.allow), "allow")


def _scheme(w, base: str, s: model.Scheme, n: LegacyNumbers, kernel) -> None:
    w(f"{base}/action", s.action, "action")
    if s.apply_interval_us:
        w(f"{base}/apply_interval_us", num(s.apply_interval_us), "apply_interval_us")
    if s.target_nid is not None:
        w(f"{base}/target_nid", num(s.target_nid), "target_nid")
    if s.dests:
        w(f"{base}/dests/nr_dests", num(len(s.dests)), "dests/nr_dests")
        for d, dest in enumerate(s.dests):
            w(f"{base}/dests/{d}/id", num(dest.nid), f"dests/{d}/id")
            w(f"{base}/dests/{d}/weight", num(dest.weight), f"dests/{d}/weight")
    ap = f"{base}/access_pattern"
    for name, lo, hi in (("sz", n.sz_min, n.sz_max),
                         ("nr_accesses", n.nr_accesses_min, n.nr_accesses_max),
                         ("age", n.age_min, n.age_max)):
        w(f"{ap}/{name}/min", num(lo), f"access_pattern/{name}/min")
        w(f"{ap}/{name}/max", num(hi), f"access_pattern/{name}/max")
    qb = f"{base}/quotas"
    q = s.quota
    if q is not None:
        w(f"{qb}/ms", num(n.quota_ms), "quotas/ms")
        w(f"{qb}/bytes", num(n.quota_bytes), "quotas/bytes")
        w(f"{qb}/reset_interval_ms", num(n.quota_reset_ms), "quotas/reset_interval_ms")
        if q.weights is not None:
            for name, v in (("sz_permil", n.weight_sz),
                            ("nr_accesses_permil", n.weight_nr_accesses),
                            ("age_permil", n.weight_age)):
                w(f"{qb}/weights/{name}", num(v), f"quotas/weights/{name}")
        if q.goal_tuner is not None:
            w(f"{qb}/goal_tuner", q.goal_tuner, "quotas/goal_tuner")
        if q.fail_charge_denom:
            w(f"{qb}/fail_charge_num", num(q.fail_charge_num), "quotas/fail_charge_num")
            w(f"{qb}/fail_charge_denom", num(q.fail_charge_denom), "quotas/fail_charge_denom")
        if q.goals:
            w(f"{qb}/goals/nr_goals", num(len(q.goals)), "quotas/goals/nr_goals")
        for g, goal in enumerate(q.goals):
            gb = f"{qb}/goals/{g}"
            w(f"{gb}/target_metric", goal.metric, f"goal {g} target_metric")
            w(f"{gb}/target_value", num(goal.target_value), f"goal {g} target_value")
            if goal.current_value:
                w(f"{gb}/current_value", num(goal.current_value), f"goal {g} current_value")
            if goal.nid is not None:
                w(f"{gb}/nid", num(goal.nid), f"goal {g} nid")
            if goal.path is not None:
                w(f"{gb}/path", _text(goal.path, "goal path"), f"goal {g} path")
    if s.watermarks is not None:
        wm = f"{base}/watermarks"
        w(f"{wm}/metric", n.wmark_metric, "watermarks/metric")
        for name, v in (("interval_us", n.wmark_interval_us), ("high", n.wmark_high),
                        ("mid", n.wmark_mid), ("low", n.wmark_low)):
            w(f"{wm}/{name}", num(v), f"watermarks/{name}")
    if s.filters:
        fb = f"{base}/filters"
        w(f"{fb}/nr_filters", num(len(s.filters)), "filters/nr_filters")
        for i, f in enumerate(s.filters):
            _filter(lambda p, v, what, i=i: w(p, v, f"filter {i} {what}"), f"{fb}/{i}", f,
                    kernel)
    if s.max_nr_snapshots:
        w(f"{base}/stats/max_nr_snapshots", num(s.max_nr_snapshots), "stats/max_nr_snapshots")


def plan(ctx: model.Context, options=None, *, numbers: list[LegacyNumbers] | None = None,
         pid_from_caller: bool = False) -> list[Write]:
    """The ordered writes that start one kdamond running ``ctx``.

    ``options.kernel`` (a :class:`damos_lang.targets.Options` or None) decides
    whether reject filters may write ``allow``; ``numbers`` are the
    legacy-layout numbers under a ``max`` policy (default: the model's own).
    With ``pid_from_caller`` the single vaddr/fvaddr target's pid is the
    placeholder :data:`PID_FROM_CALLER`, to be filled in at write time.
    Raises DamosError when the plan cannot be made (no pid)."""
    kernel = getattr(options, "kernel", None)
    if numbers is None:
        numbers = [LegacyNumbers.of(s) for s in ctx.schemes]
    out: list[Write] = []

    def w(path: str, value: str, what: str) -> None:
        out.append(Write(path, value, what))

    w("kdamonds/nr_kdamonds", "1", "number of kdamonds")
    w(f"{KDAMOND}/contexts/nr_contexts", "1", "number of contexts")
    w(f"{CONTEXT}/operations", ctx.ops, "operations set")
    ma = f"{CONTEXT}/monitoring_attrs"
    iv = ctx.intervals
    w(f"{ma}/intervals/sample_us", num(iv.sample_us), "sampling interval (us)")
    w(f"{ma}/intervals/aggr_us", num(iv.aggr_us), "aggregation interval (us)")
    w(f"{ma}/intervals/update_us", num(iv.update_us), "update interval (us)")
    g = ctx.intervals_goal
    if g is not None:
        gb = f"{ma}/intervals/intervals_goal"
        for name in ("access_bp", "aggrs", "min_sample_us", "max_sample_us"):
            w(f"{gb}/{name}", num(getattr(g, name)), f"intervals_goal {name}")
    w(f"{ma}/nr_regions/min", num(ctx.nr_regions_min), "nr_regions min")
    w(f"{ma}/nr_regions/max", num(ctx.nr_regions_max), "nr_regions max")
    _targets(w, ctx, pid_from_caller)
    sb = f"{CONTEXT}/schemes"
    w(f"{sb}/nr_schemes", num(len(ctx.schemes)), "number of schemes")
    for i, (s, n) in enumerate(zip(ctx.schemes, numbers)):
        _scheme(lambda p, v, what, i=i: w(p, v, f"scheme {i} {what}"), f"{sb}/{i}", s, n, kernel)
    w(STATE, "on", "start kdamond 0")
    return out


def takes_pid_from_caller(ctx: model.Context) -> bool:
    """Whether a script of this context takes the target pid as an argument."""
    return catalog.OPS[ctx.ops].takes_pid and len(ctx.targets) <= 1


def plan_for(unit, options=None, *, pid_from_caller: bool = False) -> list[Write]:
    """:func:`plan` for a pipeline Unit, with ``options.max_policy``'s numbers."""
    policy = getattr(options, "max_policy", "unbounded")
    numbers = [n.capped() for n in output_numbers(unit.program, unit.context, policy)]
    return plan(unit.context, options, numbers=numbers, pid_from_caller=pid_from_caller)


def plan_to_json(writes: list[Write]) -> str:
    """``{"root": ..., "writes": [{"path", "value", "what"}, ...]}``."""
    return json.dumps({"root": ADMIN_ROOT, "writes": [asdict(w) for w in writes]}, indent=2) + "\n"


def plan_from_json(text: str) -> list[Write]:
    data = json.loads(text)
    return [Write(str(d["path"]), str(d["value"]), str(d["what"])) for d in data["writes"]]
