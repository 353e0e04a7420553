"""The engine against the simulator: prcl on stairs pages out the cold
buffers and leaves the hot one resident (the simulator's ground truth)."""
import os

from damos_lang.catalog import USERSPACE
from damos_lang.pipeline import unit_from_text
from damos_lang.run import workloads
from damos_lang.run.session import RunOptions, Session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRCL = open(os.path.join(ROOT, "examples", "prcl.damos")).read()
MB = 1 << 20


def test_prcl_on_stairs_pages_out_cold_buffers_and_keeps_the_hot_one():
    ctx = unit_from_text(PRCL, interface=USERSPACE).context
    session = Session(ctx, RunOptions(sim="stairs", seed=1))
    applied = []
    resident_at = {}

    def on_apply(si, ti, start, end, sz, now):
        applied.append((start, end, now))

    def watch(monitor, snap):
        t = monitor.now_us
        src = session.source
        resident_at[t] = src.resident_bytes(t)

    orig_setup = session.setup

    def setup():
        orig_setup()
        session.engine.on_apply.append(on_apply)
        session.monitor.on_aggregation.append(watch)
    session.setup = setup
    summary = session.run()
    src = session.source
    ranges = src.region_ranges
    assert summary.reason == "the duration is over" and summary.time_us == 60_000_000

    # during phase k, nothing of buffer k (the only one accessed) is paged out,
    # except within one aggregation of the phase switching to it
    for start, end, now in applied:
        if now < 10_000_000 + 100_000:
            continue
        k = min(9, (now - 10_000_000) // 5_000_000)
        phase_start = 10_000_000 + k * 5_000_000
        hs, he = ranges[k]
        if now > phase_start + 100_000:
            assert end <= hs or start >= he, (hex(start), hex(end), now, k)

    # everything was resident at the end of the initial phase, then it drops
    assert resident_at[10_000_000] >= 95 * MB
    late = [v for t, v in resident_at.items() if t >= 25_000_000]
    assert max(late) <= 32 * MB, max(late)
    # ground truth at the end: the hot buffer (s9) is resident, the cold ones
    # idle for more than 10 s (s0..s7) are out; pageout() returns what it freed
    now = summary.time_us
    assert src.pageout(*ranges[9], now) >= 9 * MB
    for k in range(8):
        assert src.pageout(*ranges[k], now) <= MB // 2, k
    st = summary.schemes[0]
    assert st["nr_applied"] > 0 and st["sz_applied"] >= 80 * MB
    assert summary.paged_out >= 80 * MB


def test_dry_run_changes_nothing_in_the_simulator():
    ctx = unit_from_text(PRCL, interface=USERSPACE).context
    s = Session(ctx, RunOptions(sim="stairs", seed=1, dry_run=True, duration_us=30_000_000))
    summary = s.run()
    assert summary.schemes[0]["sz_applied"] > 0          # what would have been advised
    assert summary.resident_end >= 95 * MB and not summary.paged_out


def test_builtin_workloads_are_the_example_configs():
    for name, text in workloads.BUILTIN.items():
        with open(os.path.join(ROOT, "examples", "workloads", f"{name}.cfg")) as f:
            assert f.read() == text, name
