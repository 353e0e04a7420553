"""Shared builders for the damos run tests: a monitor stand-in whose regions
the test sets, and an actuator that records what it was asked to do."""
from damos_lang.catalog import USERSPACE
from damos_lang.monitor.regions import Region, Target
from damos_lang.pipeline import unit_from_text
from damos_lang.run.engine import Engine
from damos_lang.run.sysinfo import FixedSystemInfo


class FakeMonitor:
    """What the engine reads of a Monitor: passed, now_us, targets, hooks and
    the moving sum (here the completed window: the engine runs at boundaries)."""

    def __init__(self, regions_per_target, sample_us=5000, aggr_us=100_000):
        self.targets = [Target(i, [Region(*r) for r in regs])
                        for i, regs in enumerate(regions_per_target)]
        self.sample_us, self.aggr_us = sample_us, aggr_us
        self.passed = 0
        self.on_sample, self.on_aggregation, self.on_update = [], [], []

    @property
    def now_us(self):
        return self.passed * self.sample_us

    def moving_nr_accesses(self, r):
        return r.nr_accesses

    def aggregate(self):
        """Advance one aggregation interval and run the hooks."""
        self.passed += self.aggr_us // self.sample_us
        for h in self.on_sample:
            h(self)
        for h in self.on_aggregation:
            h(self, None)


class RecordingActuator:
    dry_run = False

    def __init__(self):
        self.calls = []          # (action, target_index, start, end, now_us)

    def begin_pass(self, now_us):
        pass

    def apply(self, action, target_index, target_id, ranges, now_us):
        for s, e in ranges:
            self.calls.append((action, target_index, s, e, now_us))
        return sum(e - s for s, e in ranges)

    def close(self):
        pass


def engine_for(text, regions_per_target, sysinfo=None, probe=None, **kw):
    ctx = unit_from_text(text, interface=USERSPACE).context
    mon = FakeMonitor(regions_per_target, ctx.intervals.sample_us, ctx.intervals.aggr_us)
    act = RecordingActuator()
    eng = Engine(ctx, act, sysinfo=sysinfo or FixedSystemInfo(), probe=probe, **kw)
    eng.attach(mon)
    return eng, mon, act


def acted_bytes(calls):
    return sum(e - s for _, _, s, e, _ in calls)
