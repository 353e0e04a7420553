"""`damos run` on a real process whose sampling is made slow (a seam: the
stand-in page_idle source's checks cost the test's wall clock 3 sampling
intervals each): the summary says it fell behind, the record says how many
samples each aggregation took, and no real time is measured."""
from damos_lang.monitor.sources.page_idle import PageIdleSource
from damos_lang.run import record
from damos_lang.run.live import summary_lines

from .test_targets import LOOP, session


class WallClock:
    """The test's wall clock (as in tests/monitor/test_falling_behind.py)."""
    origin_s = None

    def __init__(self):
        self.wall = 0
        self.now_us = 0

    def elapsed_us(self):
        return self.wall

    def wait_until(self, t_us):
        self.wall = max(self.wall, t_us)
        self.now_us = t_us


class SlowPageIdle(PageIdleSource):
    def __init__(self, pids, clock, **kw):
        super().__init__(pids, **kw)
        self.clock = clock

    def check(self, target_id, addrs, accessed, now_us):
        super().check(target_id, addrs, accessed, now_us)
        self.clock.wall += 15_000


def test_a_run_that_falls_behind_says_so_and_records_the_samples(tmp_path, procs):
    p = procs(LOOP)
    clock = WallClock()
    s = session(tmp_path, pids=[p.pid], duration_us=1_000_000)
    bitmap = str(tmp_path / "bitmap")
    s.make_source = lambda pids: SlowPageIdle(pids, clock, bitmap_path=bitmap)
    s.clock = clock
    summary = s.run()
    assert summary.reason == "the duration is over" and summary.time_us == 1_000_000
    assert summary.samples_due == 200 and 0 < summary.samples_taken < 100
    text = "\n".join(summary_lines(summary))
    pct = 100.0 * summary.samples_taken / 200
    assert (f"fell behind: took {summary.samples_taken} of 200 samples ({pct:.1f} %)" in text), text
    assert "nr_accesses scaled to its 10 samples" in text
    assert "kernel crossings per region-sample (pagemap reads " in text
    rec = record.read(tmp_path / "run.jsonl")
    aggs = [line for line in rec if line["type"] == "aggregation"]
    assert len(aggs) == 20 and all(1 <= a["samples"] < 10 for a in aggs)
    assert sum(a["samples"] for a in aggs) == summary.samples_taken
    assert rec[-1]["samples_taken"] == summary.samples_taken and rec[-1]["samples_due"] == 200
    assert p.poll() is None


def test_on_time_nothing_is_said(tmp_path, procs):
    p = procs(LOOP)
    clock = WallClock()
    s = session(tmp_path, pids=[p.pid], duration_us=500_000)
    s.clock = clock
    summary = s.run()
    assert summary.samples_taken == summary.samples_due == 100
    assert "fell behind" not in "\n".join(summary_lines(summary))
    assert all("samples" not in line for line in record.read(tmp_path / "run.jsonl")
               if line["type"] == "aggregation")
