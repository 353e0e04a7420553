"""damos report wss against the simulator's ground truth."""
import json
import subprocess
import sys

from damos_lang.report.load import load
from damos_lang.report import wss

from .conftest import ROOT


def test_wss_matches_the_ground_truth_after_the_first_update_interval(stairs):
    rec = load(stairs.record)
    times, sizes = wss.series(rec)
    assert len(times) == 600 and times[0] == stairs.aggr_us
    checked = good = 0
    for t, w in zip(times, sizes):
        if t <= stairs.update_us:
            continue
        truth = stairs.source.working_set_bytes(t - stairs.aggr_us, t)
        assert truth > 0
        checked += 1
        good += abs(w - truth) <= 0.10 * truth
    assert checked == 590
    assert good >= 0.90 * checked, (good, checked)


def test_wss_percentiles_are_nearest_rank():
    assert wss.percentiles([5, 1, 4, 2, 3]) == {0: 1, 25: 2, 50: 3, 75: 4, 90: 5, 99: 5, 100: 5}
    assert wss.percentiles([]) == {}


def test_wss_cli_table_and_json(stairs):
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "wss", stairs.record],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr
    lines = r.stdout.splitlines()
    assert "600 aggregations of 100 ms" in lines[0]
    dist = {int(ln.split()[0]): ln.split()[1:] for ln in lines
            if ln.strip() and ln.split()[0].isdigit() and len(ln.split()) == 3}
    assert sorted(dist) == [0, 25, 50, 75, 90, 99, 100]
    # stairs: one 10 MB buffer hot for 50 s, all ten for the first 10 s
    assert dist[50] == ["9.5", "MiB"] and float(dist[90][0]) > 90
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "wss", stairs.record,
                        "--json", "--time", "20-30"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["aggregations"] == 101 and len(data["wss_bytes"]) == 101
    assert all(20_000_000 <= t <= 30_000_000 for t in data["time_us"])
    assert data["percentiles"]["50"] == sorted(data["wss_bytes"])[50]


def test_wss_range_clips_regions(stairs):
    rec = load(stairs.record)
    lo, hi = stairs.source.region_ranges[3]
    # phase 3 (25..30 s): buffer 3 is the working set, nothing else counts in its range
    times, sizes = wss.series(rec, addr_range=(lo, hi), time_range=(26, 29))
    assert times and all(abs(w - (hi - lo)) <= 0.1 * (hi - lo) for w in sizes)
    times, sizes = wss.series(rec, addr_range=stairs.source.region_ranges[0], time_range=(26, 29))
    assert times and max(sizes) == 0
