"""The monitor: DAMON's kdamond main loop (algorithm.md §2, Linux 7.3) in user space.

One `step()` is one sampling interval:
  1. each region gets a random sampling address; the source mkolds the batch;
  2. the clock advances one sampling interval;
  3. the source checks the batch; nr_accesses counts the accessed samples;
  4. at an aggregation boundary: merge (which also ages regions), then the
     min_nr_regions cut (apply_min_nr_regions);
  5. HOOKS, at the kernel's apply_schemes() slot: `on_sample` hooks every
     sampling interval, then, at an aggregation boundary, `on_aggregation`
     hooks with the snapshot. Here nr_accesses is the completed window and
     last_nr_accesses the one before; a DAMOS engine applies its schemes here
     and may split regions or reset their age;
  6. at an aggregation boundary: last_nr_accesses = nr_accesses,
     nr_accesses = 0, then split;
  7. at an update boundary: the three-region layout is recomputed from the
     target's mappings and the regions are fitted to it (damon_set_regions),
     then `on_update` hooks run.
Region counters live in arrays during a window so the hot loop can run in C;
hooks always see them written back into the Region objects.

Targets come and go: a target whose source says TargetGone (a process that
exited) is dropped and the others go on; `add_target` adds one (a process that
joined a cgroup).  `on_targets_changed` hooks hear of both.  step() raises
TargetGone only when no target is left.

Falling behind: on a wall clock (a clock with `elapsed_us`), a sample whose
check time has already passed is not taken late; the monitor skips to the
sampling slot of now (never past an aggregation or update boundary), so
aggregations keep their length in time.  An aggregation that took fewer
samples than its aggr_us / sample_us has each region's nr_accesses scaled to
that many (rounded), so counts keep the kernel's meaning; `samples_taken`
and the snapshot's `samples` say how many were really taken.

Tuned intervals (tune.py): with `attrs.intervals_goal` (the kernel's
kdamond_tune_intervals) and/or a CPU budget (`set_cpu_budget`), the sampling
and aggregation intervals change at an aggregation boundary after the
`on_aggregation` hooks and before the reset, as damon_set_attrs() changes
them: the completed window's nr_accesses are converted to the new maximum
(through bp, as the kernel does), ages scaled by old aggr / new aggr, the
next aggregation is aggr/sample samples on.  Time is then counted from the
change (`now_us` = time at the change + samples since times the new
interval).  One difference from the kernel, on purpose: damon_set_attrs()
restarts the update interval at every change (next_ops_update_sis = passed
+ update/sample), which starves the ops update whenever tuning is more
frequent than the update interval; here the next update keeps its time (the
µs left converted to samples of the new interval, rounded up), so maps,
cgroup members and execs are still looked at every update interval.
`on_attrs_changed` hooks hear of every call (a DAMOS engine re-times its
apply intervals; the kernel calls damon_set_attrs() even when the clamped
interval is the old one, and so does this); `tunings` lists the calls that
changed the interval.
"""
from array import array
from dataclasses import dataclass, replace
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from . import fastpath as default_fastpath
from .attrs import MonitorAttrs
from .clock import make_clock
from .errors import TargetGone
from .regions import (Region, Splitter, Target, apply_min_nr_regions, merge_regions,
                      set_regions, three_regions)
from .rng import Rng
from .sources.base import AccessSource
from .tune import CpuBudget, IntervalsTuner, Tuning


@dataclass(frozen=True)
class RegionSnapshot:
    start: int
    end: int
    nr_accesses: int
    age: int
    last_nr_accesses: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class TargetSnapshot:
    target_id: int
    regions: Tuple[RegionSnapshot, ...]


@dataclass(frozen=True)
class Snapshot:
    """The regions after an aggregation interval (after merge, before reset)."""

    time_us: int
    passed: int  # sampling intervals done
    aggregation: int  # 1 for the first aggregation interval
    targets: Tuple[TargetSnapshot, ...]
    # samples really taken in this aggregation (fewer than aggr_us / sample_us
    # when the monitor fell behind; nr_accesses are then scaled), None if all
    samples: Optional[int] = None
    # the intervals this window was sampled with
    sample_us: Optional[int] = None
    aggr_us: Optional[int] = None

    def bytes_with_accesses(self, min_nr_accesses: int = 1) -> int:
        """damo's WSS: bytes of regions with nr_accesses >= the threshold."""
        return sum(r.size for t in self.targets for r in t.regions
                   if r.nr_accesses >= min_nr_accesses)


def mult_frac(x: int, n: int, d: int) -> int:
    return (x // d) * n + ((x % d) * n) // d


class _Packed:
    """One target's regions as arrays for the fast path."""

    def __init__(self, regions: List[Region]) -> None:
        n = len(regions)
        self.starts = array("Q", [r.start for r in regions])
        self.ends = array("Q", [r.end for r in regions])
        self.addrs = array("Q", bytes(8 * n))
        self.nr_accesses = array("I", [r.nr_accesses for r in regions])
        self.accessed = bytearray(n)


AggregationHook = Callable[["Monitor", Snapshot], None]
MonitorHook = Callable[["Monitor"], None]
# fn(monitor, added target ids, [(removed target id, why)])
TargetsHook = Callable[["Monitor", List[int], List[Tuple[int, str]]], None]
# fn(monitor, old attrs, the change)
AttrsHook = Callable[["Monitor", MonitorAttrs, Tuning], None]


def scale_count(nr: int, slots: int, taken: int) -> int:
    """nr accesses seen in `taken` samples, as a count out of `slots` (rounded)."""
    return (nr * slots + taken // 2) // taken


class Monitor:
    def __init__(self, attrs: MonitorAttrs, source: AccessSource,
                 target_ids: Optional[Sequence[int]] = None, seed: int = 0,
                 fastpath=default_fastpath, realtime: bool = False, clock=None) -> None:
        self.attrs = attrs
        self.source = source
        ids = list(target_ids) if target_ids is not None else list(source.target_ids())
        self.targets: List[Target] = [Target(tid) for tid in ids]
        self.rng = Rng(seed)
        self.fast = fastpath
        self.clock = clock if clock is not None else make_clock(realtime)
        self.splitter = Splitter()
        self.passed = 0
        self.next_aggr = attrs.aggr_us // attrs.sample_us
        self.next_update = attrs.update_us // attrs.sample_us
        self._base_passed = 0             # passed at the last change of intervals
        self._base_us = 0                 # the time then
        # the kernel's attrs.aggr_samples: the file's aggr/sample, kept by tuning
        self.aggr_samples = max(1, attrs.aggr_us // attrs.sample_us)
        self.tuner = (IntervalsTuner(attrs.intervals_goal, self.aggr_samples)
                      if attrs.tuning else None)
        self.cpu_budget: Optional[CpuBudget] = None
        self.tunings: List[Tuning] = []
        self.on_attrs_changed: List[AttrsHook] = []
        self.aggregations = 0
        self.sz_limit = attrs.min_region_sz
        self.on_sample: List[MonitorHook] = []
        self.on_aggregation: List[AggregationHook] = []
        self.on_update: List[MonitorHook] = []
        self.on_targets_changed: List[TargetsHook] = []
        self._packed: Optional[List[_Packed]] = None
        self._started = False
        self.samples_taken = 0            # samples really taken (passed counts slots)
        self._window_start = 0            # passed when this aggregation window began
        self._window_taken = 0            # samples taken in it
        self._elapsed = getattr(self.clock, "elapsed_us", None)   # a wall clock's
        self.gone: List[Tuple[int, str, int]] = []   # (target id, why, now_us) dropped
        self._last_gone: Optional[TargetGone] = None

    # --- time ------------------------------------------------------------------
    @property
    def now_us(self) -> int:
        """Simulated time: sampling intervals done times the sampling interval
        (counted from the last change of intervals)."""
        return self._base_us + (self.passed - self._base_passed) * self.attrs.sample_us

    # --- tuning --------------------------------------------------------------------
    def set_cpu_budget(self, budget: CpuBudget) -> None:
        """Bound the monitor's own CPU (tune.py); measured from now."""
        self.cpu_budget = budget
        budget.start(self.now_us)
        if self.tuner is not None:
            self.tuner.floor_us = budget.floor_us

    def _regions_sizes_counts(self):
        return ((r.end - r.start, r.nr_accesses) for t in self.targets for r in t.regions)

    def _tune(self, na: int) -> None:
        """At an aggregation boundary, after the hooks: the goal tuner, then the
        CPU budget (each as kdamond_tune_intervals calls damon_set_attrs)."""
        tuner, budget = self.tuner, self.cpu_budget
        if tuner is not None and tuner.due(self.passed):
            self.next_aggr = na        # as the kernel: not "in the middle of an aggregation"
            new = tuner.tune(self.attrs.sample_us, self._regions_sizes_counts())
            if new is not None:
                self.set_intervals(new, "intervals_goal", score_bp=tuner.last_score_bp)
        if budget is not None:
            floor = budget.observe(self.now_us, self.attrs.sample_us)
            if floor is not None:
                self.next_aggr = na
                if tuner is not None:
                    tuner.floor_us = floor
                    if self.attrs.sample_us < tuner.min_sample_us:
                        self.set_intervals(tuner.min_sample_us, "max_cpu",
                                           cpu_percent=budget.last_percent)
                elif floor != self.attrs.sample_us:
                    self.set_intervals(floor, "max_cpu", cpu_percent=budget.last_percent)

    def set_intervals(self, sample_us: int, by: str = "user", score_bp: Optional[int] = None,
                      cpu_percent: Optional[float] = None) -> Tuning:
        """damon_set_attrs() with a new sampling interval and aggr = sample x
        aggr_samples (the ratio kept); see the module doc for what moves."""
        self.sync_regions()
        old = self.attrs
        new = replace(old, sample_us=sample_us, aggr_us=sample_us * self.aggr_samples)
        passed = self.passed
        aggregating = passed < self.next_aggr
        old_max, new_max = old.samples_per_aggr, new.samples_per_aggr

        def conv(nr: int) -> int:      # damon_nr_accesses_for_new_attrs
            return nr * 10000 // old_max * new_max // 10000
        for t in self.targets:
            for r in t.regions:
                if not aggregating:
                    r.nr_accesses = conv(r.nr_accesses)
                else:
                    r.last_nr_accesses = conv(r.last_nr_accesses)
                    r.nr_accesses = 0
                r.age = r.age * old.aggr_us // new.aggr_us
        now = self.now_us
        update_left_us = max(0, self.next_update - passed) * old.sample_us
        self._base_us, self._base_passed = now, passed
        self.attrs = new
        self.next_aggr = passed + new.aggr_us // new.sample_us
        self.next_update = passed + -(-update_left_us // new.sample_us)
        if aggregating:
            self._window_start, self._window_taken = passed, 0
        change = Tuning(passed, now, by, old.sample_us, new.sample_us, new.aggr_us,
                        score_bp, cpu_percent)
        if new.sample_us != old.sample_us:
            self.tunings.append(change)
        for hook in self.on_attrs_changed:
            hook(self, old, change)
        return change

    # --- setup -----------------------------------------------------------------
    def start(self) -> None:
        """Check the source (MonitorError names what is missing), then lay out
        the three regions of every target that has none (vaddr init)."""
        if self._started:
            return
        self.source.validate()
        gone: Dict[int, TargetGone] = {}
        for t in self.targets:
            if not t.regions:
                try:
                    self._fit_to_mappings(t)
                except TargetGone as e:
                    gone[t.target_id] = e
        self._drop(gone)
        self.sz_limit = apply_min_nr_regions(self.targets, self.attrs.min_nr_regions,
                                             self.attrs.min_region_sz)
        self._started = True

    def _fit_to_mappings(self, t: Target) -> None:
        ranges = three_regions(self.source.mappings(t.target_id, self.now_us))
        if ranges is not None:  # the kernel keeps the old regions on failure
            set_regions(t, ranges, self.attrs.min_region_sz)

    # --- targets coming and going -------------------------------------------------
    def add_target(self, target_id: int) -> bool:
        """Monitor one more target from now on, its regions laid out from its
        mappings (as at start).  False, and nothing added, if it has none (a
        kernel thread, a zombie) or is gone already.  The source may raise
        MonitorError (e.g. no right to read it)."""
        if any(t.target_id == target_id for t in self.targets):
            return False
        self.sync_regions()
        add = getattr(self.source, "add_target", None)
        if add is not None:
            add(target_id)
        t = Target(target_id)
        try:
            self._fit_to_mappings(t)
        except TargetGone:
            pass
        if not t.regions:
            remove = getattr(self.source, "remove_target", None)
            if remove is not None:
                remove(target_id)
            return False
        self.targets.append(t)
        for hook in self.on_targets_changed:
            hook(self, [target_id], [])
        return True

    def remove_target(self, target_id: int, why: str = "removed") -> None:
        """Stop monitoring a target; the others go on."""
        self._drop({target_id: TargetGone(target_id, why)})

    def _drop(self, gone: Dict[int, TargetGone]) -> None:
        if not gone:
            return
        self.sync_regions()
        removed = []
        for tid, err in gone.items():
            before = len(self.targets)
            self.targets = [t for t in self.targets if t.target_id != tid]
            if len(self.targets) == before:
                continue
            why = str(err)
            removed.append((tid, why))
            self.gone.append((tid, why, self.now_us))
            self._last_gone = err
            remove = getattr(self.source, "remove_target", None)
            if remove is not None:
                remove(tid)
        if removed:
            for hook in self.on_targets_changed:
                hook(self, [], removed)

    def _require_targets(self) -> None:
        if not self.targets:
            raise self._last_gone or TargetGone(-1, "no targets")

    # --- the arrays the fast path works on ---------------------------------------
    def _pack(self) -> List[_Packed]:
        if self._packed is None:
            self._packed = [_Packed(t.regions) for t in self.targets]
        return self._packed

    def sync_regions(self) -> None:
        """Write the window's counters into the Region objects; the next
        sample re-reads the regions, so a caller may then change them."""
        if self._packed is None:
            return
        for t, p in zip(self.targets, self._packed):
            for r, nr, addr in zip(t.regions, p.nr_accesses, p.addrs):
                r.nr_accesses = nr
                r.sampling_addr = addr
        self._packed = None

    # --- the loop ----------------------------------------------------------------
    def _catch_up(self) -> None:
        """On a wall clock, skip the sampling slots already past (see above)."""
        slot = self._base_passed + max(0, self._elapsed() - self._base_us) // self.attrs.sample_us
        if slot > self.passed:
            self.passed = max(self.passed, min(slot, self.next_aggr - 1, self.next_update - 1))

    def step(self) -> Optional[Snapshot]:
        """One sampling interval; returns the snapshot if an aggregation ended."""
        self.start()
        self._require_targets()
        attrs = self.attrs
        if self._elapsed is not None:
            self._catch_up()
        na, nu = self.next_aggr, self.next_update
        packed = self._pack()
        now = self.now_us
        gone: Dict[int, TargetGone] = {}
        for t, p in zip(self.targets, packed):
            self.fast.pick_sampling_addresses(p.starts, p.ends, p.addrs, self.rng.state)
            try:
                self.source.prepare(t.target_id, p.addrs, now)
            except TargetGone as e:
                gone[t.target_id] = e
        self.passed += 1
        self.samples_taken += 1
        self._window_taken += 1
        now = self.now_us
        self.clock.wait_until(now)
        max_nr = 0
        for t, p in zip(self.targets, packed):
            if t.target_id in gone:
                continue
            try:
                self.source.check(t.target_id, p.addrs, p.accessed, now)
            except TargetGone as e:
                gone[t.target_id] = e
                continue
            max_nr = max(max_nr, self.fast.count_accesses(p.nr_accesses, p.accessed))
        if gone:
            self._drop(gone)
            self._require_targets()

        snapshot = None
        aggregated = self.passed >= na
        if aggregated:
            self.sync_regions()
            samples = None
            slots, taken = self.passed - self._window_start, self._window_taken
            if 0 < taken < slots:
                # fell behind: counts out of the samples the window should have had
                samples = taken
                for t in self.targets:
                    for r in t.regions:
                        r.nr_accesses = scale_count(r.nr_accesses, slots, taken)
                max_nr = scale_count(max_nr, slots, taken)
                self._window_taken = slots        # scaled: moving sums see whole counts
            merge_regions(self.targets, max_nr // 10, self.sz_limit, attrs.max_nr_regions,
                          attrs.samples_per_aggr)
            self.sz_limit = apply_min_nr_regions(self.targets, attrs.min_nr_regions,
                                                 attrs.min_region_sz)
            self.aggregations += 1
            snapshot = self.snapshot(samples)
        if self.on_sample:
            self.sync_regions()
            for hook in self.on_sample:
                hook(self)
        if aggregated:
            for agg_hook in self.on_aggregation:
                agg_hook(self, snapshot)
            if self.tuner is not None or self.cpu_budget is not None:
                self._tune(na)
                attrs = self.attrs
            self.next_aggr = na + attrs.aggr_us // attrs.sample_us
            self._window_start, self._window_taken = self.passed, 0
            for t in self.targets:
                for r in t.regions:
                    r.last_nr_accesses = r.nr_accesses
                    r.nr_accesses = 0
            self.splitter.split(self.targets, attrs.max_nr_regions, attrs.min_region_sz, self.rng)
        if self.passed >= nu:
            self.next_update = nu + attrs.update_us // attrs.sample_us
            self.sync_regions()
            self.source.refresh(now)
            for t in self.targets:
                try:
                    self._fit_to_mappings(t)
                except TargetGone as e:
                    gone[t.target_id] = e
            self._drop(gone)
            for hook in self.on_update:
                hook(self)
        self._require_targets()
        return snapshot

    def run_until(self, t_us: int) -> List[Snapshot]:
        """Sample until the clock reaches t_us; the snapshots taken on the way."""
        out = []
        while self.now_us < t_us:
            snap = self.step()
            if snap is not None:
                out.append(snap)
        return out

    def snapshots(self, until_us: Optional[int] = None) -> Iterator[Snapshot]:
        """Yield after each aggregation interval; TargetGone propagates."""
        while until_us is None or self.now_us < until_us:
            snap = self.step()
            if snap is not None:
                yield snap

    __iter__ = snapshots

    def snapshot(self, samples: Optional[int] = None) -> Snapshot:
        self.sync_regions()
        return Snapshot(self.now_us, self.passed, self.aggregations, tuple(
            TargetSnapshot(t.target_id, tuple(
                RegionSnapshot(r.start, r.end, r.nr_accesses, r.age, r.last_nr_accesses)
                for r in t.regions))
            for t in self.targets), samples, self.attrs.sample_us, self.attrs.aggr_us)

    def moving_nr_accesses(self, r: Region) -> int:
        """nr' (algorithm.md §4, 7.3): what DAMOS matches against mid-window
        (the window's count so far scaled to its slots when samples were skipped)."""
        window = self.attrs.aggr_us // self.attrs.sample_us or 1
        left = 0 if self.passed >= self.next_aggr else self.next_aggr - self.passed
        nr = r.nr_accesses
        slots, taken = self.passed - self._window_start, self._window_taken
        if 0 < taken < slots:
            nr = scale_count(nr, slots, taken)
        return moving_sum(nr, r.last_nr_accesses, left, window)

    def close(self) -> None:
        self.source.close()


def moving_sum(nr_accesses: int, last_nr_accesses: int, left: int, window: int) -> int:
    left_bp = mult_frac(left, 10000, window)
    if left_bp == 10000:
        return last_nr_accesses
    return nr_accesses + mult_frac(last_nr_accesses, left_bp, 10000)
