"""The DAMOS engine against algorithm.md §9: matching and filters, quotas,
prioritisation, watermarks, goal tuning and stats."""
from hypothesis import given, settings, strategies as st

from damos_lang.run.engine import Engine
from damos_lang.run.quota import QuotaState, feed_loop_next_input
from damos_lang.run.scores import DAMOS_MAX_SCORE, cold_score, hot_score, min_score
from damos_lang.run.sysinfo import FixedSystemInfo
from damos_lang.model import Quota, QuotaGoal

from .helpers import RecordingActuator, acted_bytes, engine_for

P = 4096
MB = 1 << 20


# --- regions and schemes from hypothesis -------------------------------------------

@st.composite
def region_lists(draw, max_regions=12):
    """Address-ordered regions with gaps: (start, end, nr_accesses, age)."""
    n = draw(st.integers(1, max_regions))
    out, addr = [], 0x10000
    for _ in range(n):
        addr += draw(st.sampled_from([0, 0, P, 5 * P]))
        pages = draw(st.integers(1, 40))
        out.append((addr, addr + pages * P, draw(st.integers(0, 20)), draw(st.integers(0, 30))))
        addr += pages * P
    return out


@st.composite
def addr_filter(draw, lo, hi):
    a = draw(st.integers(lo // P, hi // P)) * P
    b = draw(st.integers(a // P, hi // P + 1)) * P
    kind = draw(st.sampled_from(["allow", "reject"]))
    neg = draw(st.sampled_from(["", "not "]))
    return kind, neg, a, b


def page_passes(page, target_index, filters):
    """The filters' verdict for one page, written from §9.7 directly."""
    for kind, neg, what in filters:
        if what[0] == "addr":
            has = what[1] <= page < what[2]
        else:
            has = target_index == what[1]
        if has == (neg == ""):
            return kind == "allow"
    return not (filters and filters[-1][0] == "allow")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_region_is_acted_on_iff_it_matches_and_passes_the_filters(data):
    targets = [data.draw(region_lists()) for _ in range(data.draw(st.integers(1, 2)))]
    nr_lo = data.draw(st.integers(0, 20))
    nr_hi = data.draw(st.integers(nr_lo, 20))
    age_lo = data.draw(st.integers(0, 30))
    lo = min(r[0] for t in targets for r in t)
    hi = max(r[1] for t in targets for r in t)
    filters = []
    for _ in range(data.draw(st.integers(0, 3))):
        if data.draw(st.booleans()):
            kind, neg, a, b = data.draw(addr_filter(lo, hi))
            filters.append((kind, neg, ("addr", a, b)))
        else:
            filters.append((data.draw(st.sampled_from(["allow", "reject"])),
                            data.draw(st.sampled_from(["", "not "])),
                            ("target", data.draw(st.integers(0, 1)))))
    lines = [f"filter {k} {n}addr {w[1]:#x}..{w[2]:#x}" if w[0] == "addr"
             else f"filter {k} {n}target {w[1]}" for k, n, w in filters]
    text = ("scheme {\n action cold\n access %d..%d samples\n age %d..max aggr_intervals\n%s\n}\n"
            % (nr_lo, nr_hi, age_lo, "\n".join(lines)))
    eng, mon, act = engine_for(text, targets)
    mon.aggregate()
    acted = set()
    for _, ti, s, e, _ in act.calls:
        for p in range(s, e, P):
            assert (ti, p) not in acted, "a page was acted on twice in one pass"
            acted.add((ti, p))
    expected = set()
    for ti, regs in enumerate(targets):
        for s, e, nr, age in regs:
            if nr_lo <= nr <= nr_hi and age >= age_lo:
                expected |= {(ti, p) for p in range(s, e, P) if page_passes(p, ti, filters)}
    assert acted == expected
    # the regions still partition what they covered, in order
    for ti, regs in enumerate(targets):
        got = mon.targets[ti].regions
        assert sum(r.size for r in got) == sum(e - s for s, e, _, _ in regs)
        assert all(a.end <= b.start for a, b in zip(got, got[1:]))


@settings(max_examples=80, deadline=None)
@given(regs=region_lists(20), quota_pages=st.integers(1, 64), reset_ms=st.sampled_from([100, 300, 1000]),
       w_nr=st.integers(0, 5), w_age=st.integers(0, 5), aggrs=st.integers(1, 25))
def test_a_quota_is_never_exceeded_within_its_window(regs, quota_pages, reset_ms, w_nr, w_age, aggrs):
    text = ("scheme {\n action pageout\n quota { size %d; reset %dms; weights size 0 access %d age %d }\n}\n"
            % (quota_pages * P, reset_ms, w_nr, w_age))
    eng, mon, act = engine_for(text, [regs])
    windows = {}
    q = eng.schemes[0].quota
    for _ in range(aggrs):
        mon.aggregate()
        for r in mon.targets[0].regions:   # keep things matching and ageing
            r.age += 1
    for action, _, s, e, now in act.calls:
        # the window each application fell in: charged_from is a pass time
        windows.setdefault((now - 100_000) // (max(reset_ms, 100) * 1000), []).append(e - s)
    for w, sizes in windows.items():
        assert sum(sizes) <= quota_pages * P, (w, sizes)
    assert q.esz == quota_pages * P
    assert q.charged_sz <= q.esz


def test_hot_and_cold_scores_follow_the_kernel_formula():
    # nr'=0, age 0: freq 0, age subscore (0+32)*100//32//2 = 50; weights 1,1 -> 25 -> 24
    assert hot_score(0, 0, 100_000, 20, 1, 1) == 24
    assert cold_score(0, 0, 100_000, 20, 1, 1) == 75
    # nr'=20/20 (freq 100), age 100 aggrs = 10 s -> log 4 -> (36*100//32)//2 = 56; (100+56)//2=78 -> 77
    assert hot_score(20, 100, 100_000, 20, 1, 1) == 77
    # idle and old is colder: freq 0, 10 s -> -4 -> (28*100//32)//2 = 43 -> 43*99//100 = 42
    assert hot_score(0, 100, 100_000, 20, 0, 1) == 42
    assert cold_score(0, 100, 100_000, 20, 0, 1) == 57
    # both weights 0: every region scores the same
    assert hot_score(0, 1000, 100_000, 20, 0, 0) == hot_score(20, 0, 100_000, 20, 0, 0) == 0
    # age in log is capped at 32
    assert hot_score(20, 2**32 - 1, 100_000_000, 20, 0, 1) == 99


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 100), st.integers(0, 99)), min_size=1, max_size=30),
       st.integers(0, 3000))
def test_min_score_covers_the_quota_from_the_top(sized, esz):
    m = min_score(sized, esz)
    above = sum(sz for sz, sc in sized if sc > m)
    at_or_above = sum(sz for sz, sc in sized if sc >= m)
    assert above < esz or m == max(sc for _, sc in sized)
    assert at_or_above >= esz or m == 0


def test_prioritisation_pages_out_the_coldest_region_first():
    # three 64 KiB regions; the quota fits one; the idle old one is at the highest address
    regs = [(0x100000, 0x110000, 10, 20), (0x110000, 0x120000, 0, 0), (0x120000, 0x130000, 0, 300)]
    text = "scheme {\n action pageout\n quota { size 64K; reset 1s; weights size 0 access 1 age 1 }\n}\n"
    eng, mon, act = engine_for(text, [regs])
    mon.aggregate()
    assert [(s, e) for _, _, s, e, _ in act.calls] == [(0x120000, 0x130000)]
    scores = [cold_score(nr, age, 100_000, 20, 1, 1) for _, _, nr, age in regs]
    assert scores[2] == max(scores) and eng.schemes[0].quota.min_score == scores[2]


def test_quota_resumes_where_the_last_full_window_stopped():
    regs = [(0x100000 + i * 0x4000, 0x104000 + i * 0x4000, 0, 0) for i in range(6)]
    text = "scheme {\n action cold\n quota { size 32K; reset 100ms }\n}\n"
    eng, mon, act = engine_for(text, [regs])
    order = []
    for _ in range(3):
        act.calls.clear()
        mon.aggregate()
        order.append([s for _, _, s, _, _ in act.calls])
    # each window takes the next two regions (round robin), not the first two again
    assert order[0] == [0x100000, 0x104000]
    assert order[1] == [0x108000, 0x10C000]
    assert eng.schemes[0].stats.qt_exceeds >= 1


def test_watermarks_activate_and_deactivate():
    info = FixedSystemInfo(free_rate=600)
    text = ("scheme {\n action cold\n watermarks { metric free_mem_rate; interval 1s; "
            "high 50%; mid 40%; low 20% }\n}\n")
    eng, mon, act = engine_for(text, [[(0x100000, 0x101000, 0, 0)]], sysinfo=info)
    s = eng.schemes[0]
    steps = [(600, False), (450, False), (350, True), (450, True), (500, True), (510, False),
             (300, True), (150, False), (250, True)]
    for rate, active in steps:
        info.free_rate = rate
        before = len(act.calls)
        mon.aggregate()
        assert s.wmarks.activated is active, rate
        assert (len(act.calls) > before) is active, rate


def test_goal_tuning_moves_the_effective_quota_the_right_way():
    goal = QuotaGoal("user_input", target_value=10000, current_value=5000)
    q = QuotaState(Quota(sz=0, reset_interval_ms=100, goals=(goal,)), P)
    seen = []
    now = 0
    for _ in range(15):
        q.adjust(now, lambda g, st: None)
        seen.append(q.esz)
        now += 100_000
    assert all(b > a for a, b in zip(seen[1:], seen[2:])), seen     # under the goal: grows
    for g in q.goals:
        g.current = 15000                                           # over the goal
    high = q.esz
    for _ in range(5):
        q.adjust(now, lambda g, st: None)
        now += 100_000
    assert q.esz < high
    # the feedback loop's arithmetic
    assert feed_loop_next_input(10000, 10000) == 10000
    assert feed_loop_next_input(10000, 0) == 20000
    assert feed_loop_next_input(40000, 15000) == 20000
    assert feed_loop_next_input(40000, 20000) == 10000


def test_goal_through_the_engine_and_user_input():
    regs = [(0x100000 + i * 0x10000, 0x110000 + i * 0x10000, 0, 0) for i in range(64)]
    text = "scheme {\n action cold\n quota { reset 100ms; goal user_input 100 current 10 }\n}\n"
    eng, mon, act = engine_for(text, [regs])
    for _ in range(20):
        mon.aggregate()
    grown = eng.schemes[0].quota.esz
    assert grown >= P, "under its goal, the quota grows until pages get applied"
    eng.set_user_input(0, 300)          # far over the goal: back to the minimum
    mon.aggregate()
    assert eng.schemes[0].quota.esz < grown


def test_psi_goal_reads_the_increase_since_the_last_window():
    info = FixedSystemInfo(psi_total_us=1_000_000)
    text = "scheme {\n action pageout\n quota { reset 100ms; goal some_mem_psi_us 10ms }\n}\n"
    eng, mon, act = engine_for(text, [[(0x100000, 0x200000, 0, 0)]], sysinfo=info)
    mon.aggregate()
    info.psi_total_us += 40_000          # 4x the goal: less aggressive
    mon.aggregate()
    assert eng.schemes[0].quota.goals[0].current == 40_000


def test_stats_are_counted_like_the_kernel():
    regs = [(0x100000, 0x104000, 0, 5), (0x104000, 0x10C000, 5, 5), (0x10C000, 0x110000, 0, 5)]
    eng, mon, act = engine_for("scheme {\n action pageout\n access 0%..0%\n}\n", [regs])
    mon.aggregate()
    st_ = eng.schemes[0].stats
    assert (st_.nr_tried, st_.sz_tried, st_.nr_applied, st_.sz_applied) == (2, 32 * 1024, 2, 32 * 1024)
    # pageout resets the age of what it acted on
    ages = {r.start: r.age for r in mon.targets[0].regions}
    assert ages[0x100000] == 0 and ages[0x104000] == 5
    # stat tries but applies nothing and keeps ages
    eng2, mon2, act2 = engine_for("scheme {\n action stat\n}\n", [regs])
    mon2.aggregate()
    s2 = eng2.schemes[0].stats
    assert (s2.nr_tried, s2.sz_tried, s2.nr_applied, s2.sz_applied) == (3, 64 * 1024, 0, 0)
    assert not act2.calls and [r.age for r in mon2.targets[0].regions] == [5, 5, 5]


def test_quota_cut_splits_the_region_and_counts_qt_exceeds():
    regs = [(0x100000, 0x110000, 0, 0)]     # 64 KiB
    eng, mon, act = engine_for("scheme {\n action cold\n quota { size 16K; reset 100ms }\n}\n", [regs])
    mon.aggregate()
    assert [(s, e) for _, _, s, e, _ in act.calls] == [(0x100000, 0x104000)]
    mon.aggregate()
    assert eng.schemes[0].stats.qt_exceeds == 1
    # window 2 resumes after 0x104000; what is left is the target's last region,
    # which the kernel's resume rule skips (it clears the mark there)
    assert acted_bytes(act.calls) == 16 * 1024
    mon.aggregate()
    assert act.calls[-1][2:4] == (0x100000, 0x104000)


def test_apply_interval_shorter_than_aggregation_runs_every_few_samples():
    from damos_lang.monitor import Monitor, MonitorAttrs, SimulatorSource
    from damos_lang.run import workloads
    from damos_lang.pipeline import unit_from_text
    from damos_lang.catalog import USERSPACE
    ctx = unit_from_text("scheme {\n action stat\n apply_interval 20ms\n}\n",
                         interface=USERSPACE).context
    src = SimulatorSource(workloads.load("stairs"), seed=1)
    mon = Monitor(MonitorAttrs(), src, seed=1)
    eng = Engine(ctx, RecordingActuator(), sysinfo=FixedSystemInfo())
    eng.attach(mon)
    assert eng.apply_pass in mon.on_sample
    mon.run_until(1_000_000)
    assert eng.passes == 50                   # every 4 samples over 1 s
    assert eng.schemes[0].stats.nr_snapshots == 50


def test_ops_filters_decide_page_by_page():
    class Probe:
        def properties(self, tid, start, end, kinds, now):
            n = (end - start) // P
            return {"young": bytes([1 if i % 2 else 0 for i in range(n)]), "anon": b"\x01" * n}
    regs = [(0x100000, 0x108000, 0, 0)]
    eng, mon, act = engine_for("scheme {\n action cold\n filter reject young\n}\n", [regs],
                               probe=Probe())
    mon.aggregate()
    assert [(s, e) for _, _, s, e, _ in act.calls] == [(0x100000 + i * P, 0x101000 + i * P)
                                                       for i in range(0, 8, 2)]
    assert eng.schemes[0].stats.sz_ops_filter_passed == 4 * P
    assert DAMOS_MAX_SCORE == 99
