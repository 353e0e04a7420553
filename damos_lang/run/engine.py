"""The DAMOS engine: the kernel's apply pass (algorithm.md §9, Linux 7.3) over
the user-space monitor's regions.

The engine hooks into the monitor at the kernel's apply_schemes() slot
(after merge, before the aggregation reset and split).  Each scheme runs
every apply interval (the aggregation interval by default); it matches
regions against its access pattern with the moving sum nr' (which is the
completed window's nr_accesses at an aggregation boundary), honours its
quota (charge windows, prioritisation scores, goal-tuned effective quota,
resuming where the last full window stopped), its watermarks and filters,
hands what is left to an actuator (:mod:`damos_lang.run.actions`), resets
the age of what it acted on, and counts stats named like the kernel's.

Where user space differs from the kernel:
* watermarks are read when a scheme is due, not every sample, and monitoring
  goes on while every scheme is inactive (the kernel sleeps);
* ops filters (anon, young) decide page by page for every action (the
  kernel's vaddr evaluates them for stat and migrate_* only);
* the PSI goal starts from the PSI total at the first window, not from 0.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, List, Optional

from .. import catalog
from ..model import Context, QuotaGoal, Scheme
from ..monitor.regions import Target, split_at
from ..units import UINT_MAX
from .filters import FilterSet, runs
from .quota import GoalState, QuotaState
from .scores import DAMOS_MAX_SCORE, min_score, scheme_score
from .sysinfo import SystemInfo

PAGE = 4096


@dataclass
class Stats:
    """``struct damos_stat``."""

    nr_tried: int = 0
    sz_tried: int = 0
    nr_applied: int = 0
    sz_applied: int = 0
    sz_ops_filter_passed: int = 0
    qt_exceeds: int = 0
    nr_snapshots: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class WatermarkState:
    """``struct damos_watermarks`` with ``activated`` (algorithm.md §9.6)."""

    def __init__(self, wm) -> None:
        self.wm = wm
        self.activated = True
        self.last_metric: int | None = None

    def update(self, metric: int | None) -> bool:
        wm = self.wm
        if wm is None or wm.metric == "none" or metric is None:
            return self.activated
        self.last_metric = metric
        if metric > wm.high or metric < wm.low:
            self.activated = False
        elif not self.activated and wm.mid <= metric <= wm.high:
            pass
        else:
            self.activated = True
        return self.activated


class SchemeRun:
    """One scheme's state in the engine."""

    def __init__(self, index: int, scheme: Scheme, sample_us: int, aggr_us: int,
                 min_region_sz: int) -> None:
        self.index = index
        self.scheme = scheme
        self.name = scheme.name or f"scheme {index}"
        self.stats = Stats()
        self.quota = QuotaState(scheme.quota, min_region_sz)
        self.wmarks = WatermarkState(scheme.watermarks)
        self.filters = FilterSet(scheme.filters, min_region_sz)
        self.apply_samples = max(1, (scheme.apply_interval_us or aggr_us) // sample_us)
        self.next_apply = 0
        w = scheme.quota.weights if scheme.quota and scheme.quota.weights else None
        self.w_nr = w.nr_accesses if w else 0
        self.w_age = w.age if w else 0
        self.scored = catalog.ACTIONS[scheme.action].score is not None

    @property
    def action(self) -> str:
        return self.scheme.action


# fn(scheme_index, target_index, start, end, sz_applied, now_us) after each action
ApplyHook = Callable[[int, int, int, int, int, int], None]


class Engine:
    """Applies ``ctx``'s schemes through ``actuator`` at ``monitor``'s apply slot.

    ``sysinfo`` answers free memory rate and PSI (default: this host's /proc);
    ``probe`` answers per-page anon/young for ops filters (None: such filters
    are refused when first needed)."""

    def __init__(self, ctx: Context, actuator, sysinfo=None, probe=None,
                 min_region_sz: int = PAGE) -> None:
        self.ctx = ctx
        self.actuator = actuator
        self.sysinfo = sysinfo if sysinfo is not None else SystemInfo()
        self.probe = probe
        self.min_region_sz = min_region_sz
        iv = ctx.intervals
        self.sample_us, self.aggr_us = iv.sample_us, iv.aggr_us
        self.samples_per_aggr = max(1, min(iv.aggr_us // max(iv.sample_us, 1), UINT_MAX))
        self.schemes = [SchemeRun(i, s, iv.sample_us, iv.aggr_us, min_region_sz)
                        for i, s in enumerate(ctx.schemes)]
        self.on_apply: List[ApplyHook] = []
        self.monitor = None
        self.passes = 0

    # --- wiring ----------------------------------------------------------------
    def attach(self, monitor) -> None:
        """Register at the monitor's apply slot: every sample when some apply
        interval is not a multiple of the aggregation interval, else at
        aggregation boundaries only (the same pass, without per-sample cost)."""
        self.monitor = monitor
        self._per_sample = False
        for s in self.schemes:
            s.next_apply = monitor.passed + s.apply_samples
        if self._needs_per_sample():
            self._per_sample = True
            monitor.on_sample.append(self.apply_pass)
        else:
            monitor.on_aggregation.append(self._apply_at_aggregation)
        if hasattr(monitor, "on_targets_changed"):
            monitor.on_targets_changed.append(self._targets_changed)
        if hasattr(monitor, "on_attrs_changed"):
            monitor.on_attrs_changed.append(self._attrs_changed)

    def _needs_per_sample(self) -> bool:
        aggr_samples = max(1, self.aggr_us // self.sample_us)
        return any(s.apply_samples % aggr_samples for s in self.schemes)

    def _apply_at_aggregation(self, monitor, snapshot) -> None:
        self.apply_pass(monitor)

    def _attrs_changed(self, monitor, old, change) -> None:
        """The monitor's intervals were tuned (damon_set_attrs): every scheme's
        next apply is its apply interval, in samples of the new interval, from
        now (damos_set_next_apply_sis); ages count aggregations of the new one."""
        self.sample_us, self.aggr_us = monitor.attrs.sample_us, monitor.attrs.aggr_us
        self.samples_per_aggr = monitor.attrs.samples_per_aggr
        for s in self.schemes:
            s.apply_samples = max(1, (s.scheme.apply_interval_us or self.aggr_us)
                                  // self.sample_us)
            s.next_apply = monitor.passed + s.apply_samples
        if not self._per_sample and self._needs_per_sample():
            self._per_sample = True
            monitor.on_aggregation.remove(self._apply_at_aggregation)
            monitor.on_sample.append(self.apply_pass)

    def _targets_changed(self, monitor, added, removed) -> None:
        """Targets are indices into the monitor's list: when one goes, the
        indices after it move, so a quota resumes from the first target (the
        kernel's damos_skip_charged_region would point at the wrong one)."""
        if removed:
            for s in self.schemes:
                s.quota.charge_target_from, s.quota.charge_addr_from = None, 0

    def set_user_input(self, scheme_index: int, value: int) -> None:
        """The current value of the scheme's user_input goals (sysfs: current_value)."""
        s = self.schemes[scheme_index]
        for g, st in zip(s.scheme.quota.goals if s.scheme.quota else (), s.quota.goals):
            if g.metric == "user_input":
                st.current = value

    # --- goal metrics ---------------------------------------------------------------
    def read_goal(self, goal: QuotaGoal, st: GoalState) -> Optional[int]:
        if goal.metric == "user_input":
            return None                       # keeps st.current, which the user sets
        if goal.metric == "some_mem_psi_us":
            total = self.sysinfo.psi_some_total_us()
            if total is None:
                return None
            last = st.last_psi_total if st.last_psi_total is not None else total
            st.last_psi_total = total
            return max(0, total - last)
        return None                           # features.require refused the others

    # --- the apply pass ----------------------------------------------------------------
    def apply_pass(self, monitor) -> None:
        passed = monitor.passed
        due = [s for s in self.schemes if passed >= s.next_apply]
        if not due:
            return
        now = monitor.now_us
        metric = None
        if any(s.scheme.watermarks and s.scheme.watermarks.metric != "none" for s in due):
            metric = self.sysinfo.free_mem_rate()
        active = [s for s in due if s.wmarks.update(metric)]
        for s in active:
            self._adjust_quota(s, monitor, now)
        if active:
            self.passes += 1
            self.actuator.begin_pass(now)
            total = sum(t.total_bytes() for t in monitor.targets)
            max_region_sz = max(self.min_region_sz, total // max(1, self.ctx.nr_regions_min))
            for ti, t in enumerate(monitor.targets):
                i = 0
                while i < len(t.regions):
                    for s in active:
                        self._try(s, monitor, ti, t, i, now)
                    i = self._merge_back(t, i, max_region_sz) + 1
        for s in due:
            s.next_apply = passed + s.apply_samples

    def _merge_back(self, t: Target, i: int, max_region_sz: int) -> int:
        """Undo a split made by a quota or a filter (7.x): same counters, small enough."""
        if i == 0:
            return i
        p, r = t.regions[i - 1], t.regions[i]
        if (p.end == r.start and p.age == r.age and p.nr_accesses == r.nr_accesses
                and p.last_nr_accesses == r.last_nr_accesses and r.end - p.start <= max_region_sz):
            p.end = r.end
            del t.regions[i]
            return i - 1
        return i

    def _adjust_quota(self, s: SchemeRun, monitor, now: int) -> None:
        q = s.quota
        if not q.is_set:
            return
        if q.adjust(now, self.read_goal) and q.ended_full:
            s.stats.qt_exceeds += 1
        if not s.scored:
            q.min_score = DAMOS_MAX_SCORE     # every region scores 99
            return
        sized = []
        for ti, t in enumerate(monitor.targets):
            for i, r in enumerate(t.regions):
                nr = monitor.moving_nr_accesses(r)
                if not s.scheme.matches(r.end - r.start, nr, r.age):
                    continue
                if s.filters.core and s.filters.core_verdict(ti, t, i, split=False)[0]:
                    continue
                sized.append((r.end - r.start, self._score(s, nr, r.age)))
        q.min_score = min_score(sized, q.esz)

    def _score(self, s: SchemeRun, nr: int, age: int) -> int:
        return scheme_score(s.action, nr, age, self.aggr_us, self.samples_per_aggr,
                            s.w_nr, s.w_age)

    def _skip_charged(self, s: SchemeRun, ti: int, t: Target, i: int) -> bool:
        """damos_skip_charged_region: resume after where the last full window stopped."""
        q = s.quota
        if q.charge_target_from is None:
            return False
        if ti != q.charge_target_from:
            return True
        r = t.regions[i]
        if i == len(t.regions) - 1:
            q.charge_target_from, q.charge_addr_from = None, 0
            return True
        if q.charge_addr_from and r.end <= q.charge_addr_from:
            return True
        skip_left = False
        if q.charge_addr_from and r.start < q.charge_addr_from:
            a = self.min_region_sz
            sz = (q.charge_addr_from - r.start) // a * a
            if not sz:
                if r.end - r.start <= a:
                    return True
                sz = a
            split_at(t, i, sz)
            skip_left = True       # the right part, visited next, is where it resumes
        q.charge_target_from, q.charge_addr_from = None, 0
        return skip_left

    def _try(self, s: SchemeRun, monitor, ti: int, t: Target, i: int, now: int) -> None:
        if s.quota.is_full:
            return
        if self._skip_charged(s, ti, t, i):
            return
        sc = s.scheme
        if sc.max_snapshots and s.stats.nr_snapshots >= sc.max_snapshots:
            return
        r = t.regions[i]
        nr = monitor.moving_nr_accesses(r)
        if sc.matches(r.end - r.start, nr, r.age) and (
                not s.quota.is_set or self._score(s, nr, r.age) >= s.quota.min_score):
            self._apply(s, ti, t, i, now)
        if i == len(t.regions) - 1:
            s.stats.nr_snapshots += 1

    def _apply(self, s: SchemeRun, ti: int, t: Target, i: int, now: int) -> None:
        q = s.quota
        r = t.regions[i]
        sz = r.end - r.start
        if q.is_set and q.charged_sz + sz > q.esz:
            sz = (q.esz - q.charged_sz) // self.min_region_sz * self.min_region_sz
            if sz == 0:
                s.stats.nr_tried += 1
                return
            split_at(t, i, sz)
        rejected, allowed = (s.filters.core_verdict(ti, t, i) if s.filters.core
                             else (s.filters.core_default_reject, False))
        if rejected:
            return
        r = t.regions[i]
        sz = r.end - r.start
        ranges = [(r.start, r.end)]
        if s.filters.ops and not allowed:
            ranges = self._ops_filtered(s, t.target_id, r.start, r.end, now)
        passed_sz = sum(e - b for b, e in ranges)
        applied, elapsed = 0, 0
        if ranges and s.action != "stat":
            t0 = time.perf_counter_ns()
            applied = self.actuator.apply(s.action, ti, t.target_id, ranges, now)
            elapsed = time.perf_counter_ns() - t0
        q.charge(sz, applied, ti, r.end, elapsed)
        if s.action != "stat":
            r.age = 0
        st = s.stats
        st.nr_tried += 1
        st.sz_tried += sz
        st.sz_ops_filter_passed += passed_sz
        if applied:
            st.nr_applied += 1
            st.sz_applied += applied
        for hook in self.on_apply:
            hook(s.index, ti, r.start, r.end, applied, now)

    def _ops_filtered(self, s: SchemeRun, target_id: int, start: int, end: int, now: int):
        if self.probe is None:
            from ..errors import DamosError
            raise DamosError(f"{s.name}: no page information for filters of type "
                             f"{', '.join(s.filters.ops_kinds())} with this source")
        props = self.probe.properties(target_id, start, end, s.filters.ops_kinds(), now)
        mask = s.filters.ops_pass_mask(props, (end - start) // PAGE)
        return runs(start, mask)

    # --- reporting ----------------------------------------------------------------
    def stats(self) -> List[dict]:
        return [{"index": s.index, "name": s.name, "action": s.action, **s.stats.as_dict(),
                 "activated": s.wmarks.activated, "esz": s.quota.esz if s.quota.is_set else None}
                for s in self.schemes]

