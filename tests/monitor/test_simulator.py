"""The masim simulator: config parsing, accuracy against ground truth (the
damon-tests criterion), and the state changes an action engine makes."""
import pytest

from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.errors import MonitorError, TargetGone
from damos_lang.monitor.masim import parse_masim
from damos_lang.monitor.sources.simulator import SimulatorSource

from .helpers import MIXED, simulated_monitor, workload


def test_parse_stairs_and_zigzag():
    stairs, zigzag = workload("stairs"), workload("zigzag")
    assert [r.size for r in stairs.regions] == [10_000_000] * 10
    assert len(stairs.phases) == 11 and stairs.duration_ms == 60_000
    assert stairs.phases[3].patterns[0].region == "s2"
    assert stairs.phases[3].patterns[0].weight == 50
    assert [r.name for r in zigzag.regions] == ["a", "b"]
    assert len(zigzag.phases) == 13


def test_parse_comments_leading_spaces_and_modes():
    cfg = parse_masim("#regions\nr, 8192\n# a comment\n\nonly\n   100\nr,  1,  64,  3, ro\n")
    (pattern,) = cfg.phases[0].patterns
    assert cfg.phases[0].duration_ms == 100
    assert (pattern.random, pattern.stride, pattern.weight, pattern.mode) == (True, 64, 3, "ro")


@pytest.mark.parametrize("text", ["#regions\nr, 8192\n", "r, 8192\n\nphase\n10\nq, 0, 64, 1\n",
                                  "r, big\n\nphase\n10\nr, 0, 64, 1\n"])
def test_bad_configs_are_refused(text):
    with pytest.raises(MonitorError):
        parse_masim(text)


def wss_hits(name, seed):
    """Aggregations (after the first update interval) whose region-based WSS
    is within 10 % of the simulator's truth, and how many were scored."""
    attrs = MonitorAttrs()  # 5 ms / 100 ms / 1 s, 10..1000 regions
    monitor, source = simulated_monitor(name, seed=seed, attrs=attrs)
    hits = scored = 0
    for snap in monitor.snapshots(until_us=source.end_us):
        if snap.time_us <= attrs.update_us:
            continue
        truth = source.working_set_bytes(snap.time_us - attrs.aggr_us, snap.time_us)
        scored += 1
        hits += abs(snap.bytes_with_accesses() - truth) <= truth // 10
    return hits, scored


@pytest.mark.parametrize("name", ["stairs", "zigzag"])
def test_wss_accuracy_meets_the_damon_tests_criterion(name):
    hits, scored = wss_hits(name, seed=1)
    assert scored >= 580
    assert hits >= 0.9 * scored, f"{hits}/{scored} aggregations within 10 %"


def test_ground_truth_is_the_active_region():
    source = SimulatorSource(workload("stairs"), seed=0)
    # phase 2 (s2) runs from 20 s to 25 s: 10 MB, whole pages included
    assert abs(source.working_set_bytes(21_000_000, 21_100_000) - 10_000_000) < 2 * 4096
    # the initial phase touches every region within 100 ms
    assert source.working_set_bytes(1_000_000, 1_100_000) > 99_000_000


def test_pageout_leaves_pages_out_until_touched_again():
    source = SimulatorSource(parse_masim(MIXED), seed=3)
    cold_start, cold_end = source.region_ranges[2]
    warm_start, warm_end = source.region_ranges[1]
    resident = source.resident_bytes(900_000)
    # the cold region is swept with stride 64 KiB: 1/16 of its pages get touched
    freed = source.pageout(cold_start, cold_end, 900_000)
    assert freed > 0 and source.resident_bytes(900_000) == resident - freed
    # the warm region is touched again and again: its pages come back
    warm_freed = source.pageout(warm_start, warm_end, 900_000)
    assert warm_freed > 0
    assert source.resident_bytes(990_000) > resident - freed - warm_freed
    # willneed reads the paged-out cold pages back
    source.pageout(cold_start, cold_end, 990_000)
    assert source.willneed(cold_start, cold_end, 990_000) > 0
    before = source.resident_bytes(990_000)
    assert source.cold(cold_start, cold_end, 990_000) > 0
    assert source.resident_bytes(990_000) == before  # MADV_COLD keeps pages resident


def test_paged_out_hot_region_becomes_resident_when_touched():
    source = SimulatorSource(workload("zigzag"), seed=0)
    a_start, a_end = source.region_ranges[0]
    source.resident_bytes(12_000_000)  # phase "low 0": a is hot
    source.pageout(a_start, a_end, 12_000_000)
    assert source.resident_bytes(12_000_000) < 110_000_000
    assert source.resident_bytes(12_010_000) > 199_000_000


def test_workload_end_is_target_gone():
    cfg = parse_masim("r, 65536\n\nonly\n50\nr, 0, 4096, 1\n")
    monitor, source = None, SimulatorSource(cfg, seed=0)
    from damos_lang.monitor.monitor import Monitor
    monitor = Monitor(MonitorAttrs(sample_us=5000, aggr_us=10_000, update_us=20_000), source)
    with pytest.raises(TargetGone):
        for _ in monitor.snapshots():
            pass
    assert monitor.now_us > 50_000


def test_hooks_run_at_aggregation_before_reset_and_at_update():
    attrs = MonitorAttrs(sample_us=5000, aggr_us=50_000, update_us=200_000)
    monitor, _ = simulated_monitor("zigzag", attrs=attrs)
    seen, updates = [], []

    def on_aggregation(mon, snap):
        live = [r.nr_accesses for t in mon.targets for r in t.regions]
        # the live regions are the snapshot's, counters not yet reset
        assert live == [r.nr_accesses for r in snap.targets[0].regions]
        assert all(mon.moving_nr_accesses(r) == r.nr_accesses for t in mon.targets for r in t.regions)
        seen.append(snap.time_us)
        for t in mon.targets:
            for r in t.regions:
                r.age = 0  # what an applied action does

    monitor.on_aggregation.append(on_aggregation)
    monitor.on_update.append(lambda mon: updates.append(mon.now_us))
    snaps = monitor.run_until(1_000_000)
    assert seen == [s.time_us for s in snaps] == list(range(50_000, 1_000_001, 50_000))
    assert updates == list(range(200_000, 1_000_001, 200_000))
    assert all(r.age <= 1 for s in snaps[1:] for r in s.targets[0].regions)
