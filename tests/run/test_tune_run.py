"""`damos run` with the file's intervals_goal and with --max-cpu, on the
simulator: the record shows the intervals of every aggregation and each
change, the summary states the final intervals and what the budget did, the
engine's apply intervals follow, bad --max-cpu values are one-line errors.
The CPU time is a seam (RunOptions.cpu_time), so the budget is deterministic."""
import subprocess
import sys

import pytest

from damos_lang.catalog import USERSPACE
from damos_lang.pipeline import unit_from_text
from damos_lang.run import command, record
from damos_lang.run.live import summary_lines
from damos_lang.run.session import RunOptions, Session

from .test_cli_run import DAMOS, ROOT

GOAL = ("monitor {\n    sample 5ms\n    aggr 100ms\n    intervals_goal {\n"
        "        access 4%\n        aggrs 3\n        min_sample 5ms\n"
        "        max_sample 1s\n    }\n}\n")
STAT = "scheme {\n    action stat\n}\n"
IDLE = """#regions
hot, 4000000
cold, 60000000

#phases
idle
600000
hot, 0, 65536, 1
"""


@pytest.fixture
def idle_cfg(tmp_path):
    p = tmp_path / "idle.cfg"
    p.write_text(IDLE)
    return str(p)


def run_session(text, cfg, duration_us, **kw):
    ctx = unit_from_text(text, interface=USERSPACE).context
    s = Session(ctx, RunOptions(sim=cfg, duration_us=duration_us, **kw))
    return s, s.run()


def test_intervals_goal_is_honoured_and_recorded(tmp_path, idle_cfg):
    rec = tmp_path / "run.jsonl"
    s, summary = run_session(GOAL + STAT, idle_cfg, 20_000_000, record=str(rec))
    lines = record.read(str(rec))
    body = [x for x in lines if x["type"] == "aggregation"]
    samples = [b["sample_us"] for b in body]
    assert samples[:3] == [5000] * 3 and samples[3] > 5000          # tuned after 3 aggregations
    assert samples == sorted(samples) and samples[-1] > 100_000       # idle: it grows
    assert all(b["aggr_us"] == 20 * b["sample_us"] for b in body)     # ratio kept
    tuned = [b for b in body if "tuned" in b]
    assert tuned and tuned[0]["aggregation"] == 4
    for b in tuned:          # each change is what the next line was sampled with
        (t,) = b["tuned"]
        assert t["by"] == "intervals_goal" and t["sample_us"] == b["sample_us"]
        assert t["aggr_us"] == b["aggr_us"] and t["score_bp"] < 10000
    # the time of a line: the one before + the aggregation it was sampled with
    for a, b in zip(body, body[1:]):
        assert b["time_us"] - a["time_us"] == b["aggr_us"]
    assert lines[0]["intervals_goal"] == {"access_bp": 400, "aggrs": 3, "min_sample_us": 5000,
                                          "max_sample_us": 1_000_000}
    assert lines[0]["max_cpu"] is None
    last = lines[-1]
    assert last["intervals"]["final_sample_us"] == s.monitor.attrs.sample_us > 100_000
    assert last["intervals"]["sample_us"] == 5000 and last["intervals"]["tunings"] >= 4
    assert last["intervals"]["intervals_goal"]["access_bp"] == 400
    text = "\n".join(summary_lines(summary))
    assert ("intervals_goal (access 4 %, every 3 aggregations, sampling 5 ms..1 s): "
            "sampling 5 ms -> ") in text
    assert "aggregation 100 ms -> " in text


def test_the_engines_apply_interval_follows_the_tuned_interval(idle_cfg):
    text = GOAL + "scheme {\n    action stat\n    apply_interval 1s\n}\n"
    s, _ = run_session(text, idle_cfg, 10_000_000)
    sample = s.monitor.attrs.sample_us
    assert sample > 5000
    sr = s.engine.schemes[0]
    assert sr.apply_samples == 1_000_000 // sample
    assert s.engine.aggr_us == s.monitor.attrs.aggr_us


def test_without_a_goal_the_intervals_stay(tmp_path, idle_cfg):
    rec = tmp_path / "run.jsonl"
    run_session(STAT, idle_cfg, 3_000_000, record=str(rec))
    body = [x for x in record.read(str(rec)) if x["type"] == "aggregation"]
    assert {(b["sample_us"], b["aggr_us"]) for b in body} == {(5000, 100_000)}
    assert not any("tuned" in b for b in body)


class FakeCpu:
    """0.4 ms of CPU per sample taken: 8 % at 5 ms sampling."""

    def __init__(self, session_box, cost_s=0.0004):
        self.box, self.cost_s = session_box, cost_s

    def __call__(self):
        s = self.box[0]
        m = getattr(s, "monitor", None)
        return 0.0 if m is None else m.samples_taken * self.cost_s


def budget_session(text, cfg, duration_us, pct, tmp_path):
    box = []
    ctx = unit_from_text(text, interface=USERSPACE).context
    rec = tmp_path / "run.jsonl"
    s = Session(ctx, RunOptions(sim=cfg, duration_us=duration_us, max_cpu=pct,
                                cpu_time=FakeCpu(box), record=str(rec)))
    box.append(s)
    return s, s.run(), record.read(str(rec))


def test_max_cpu_widens_sampling_and_says_so(tmp_path, idle_cfg):
    s, summary, lines = budget_session(STAT, idle_cfg, 20_000_000, 2.0, tmp_path)
    assert s.monitor.attrs.sample_us == 25_000 and s.monitor.attrs.aggr_us == 500_000
    text = "\n".join(summary_lines(summary))
    assert "--max-cpu 2%: sampling widened 5 ms -> 25 ms; CPU 1.6 % in the last window" in text
    assert lines[0]["max_cpu"] == 2.0 and lines[0]["intervals_goal"] is None
    mc = lines[-1]["max_cpu"]
    assert mc["percent"] == 2.0 and mc["widest_sample_us"] == 25_000
    assert mc["file_sample_us"] == 5000 and mc["last_cpu_percent"] == pytest.approx(1.6)
    tuned = [t for b in lines if b["type"] == "aggregation" for t in b.get("tuned", [])]
    assert [(t["by"], t["old_sample_us"], t["sample_us"]) for t in tuned] == [
        ("max_cpu", 5000, 20_000), ("max_cpu", 20_000, 25_000)]
    assert tuned[0]["cpu_percent"] == pytest.approx(8.0)


def test_max_cpu_within_budget_keeps_the_files_interval(tmp_path, idle_cfg):
    s, summary, lines = budget_session(STAT, idle_cfg, 10_000_000, 50.0, tmp_path)
    assert s.monitor.attrs.sample_us == 5000
    assert "--max-cpu 50%: sampling not widened (5 ms); CPU 8.0 % in the last window" in \
        "\n".join(summary_lines(summary))


def test_max_cpu_with_a_goal_floors_the_goal_tuner(tmp_path):
    busy = tmp_path / "busy.cfg"
    busy.write_text("#regions\nhot, 2000000\n\n#phases\nbusy\n600000\nhot, 0, 4096, 1\n")
    s, summary, lines = budget_session(GOAL + STAT, str(busy), 30_000_000, 2.0, tmp_path)
    # the goal tuner wants min_sample (5 ms) on this busy workload; the budget holds 25 ms
    assert s.monitor.tuner.last_score_bp > 10000
    assert s.monitor.attrs.sample_us == 25_000 == s.monitor.tuner.min_sample_us


@pytest.mark.parametrize("value", ["0", "0%", "101%", "-1%", "abc", "2%%", "nan", ""])
def test_bad_max_cpu_values_are_one_line_errors(value, capsys):
    unit = unit_from_text(STAT, interface=USERSPACE)
    rc = command.run(unit, pid=None, sim="stairs", command=[], duration="1s", dry_run=False,
                     record=None, realtime=False, seed=0, quiet=True, max_cpu=value)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith(f"damos run: error: --max-cpu {value!r}: give a percentage")


@pytest.mark.parametrize("value, pct", [("2%", 2.0), ("2.5", 2.5), ("100%", 100.0),
                                        (" 0.5% ", 0.5)])
def test_good_max_cpu_values(value, pct):
    assert command.parse_percent(value) == pct


def test_max_cpu_on_the_command_line(tmp_path, idle_cfg):
    f = tmp_path / "goal.damos"
    f.write_text(GOAL + STAT)
    r = subprocess.run([*DAMOS, "run", str(f), "--sim", idle_cfg, "--duration", "5s",
                        "--max-cpu", "90%"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "intervals_goal (access 4 %" in r.stdout and "--max-cpu 90%:" in r.stdout
    r = subprocess.run([*DAMOS, "run", str(f), "--sim", idle_cfg, "--max-cpu", "200%"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_damos_check_userspace_no_longer_refuses_intervals_goal(tmp_path):
    f = tmp_path / "goal.damos"
    f.write_text(GOAL + STAT)
    r = subprocess.run([sys.executable, "-m", "damos_lang", "check", "--userspace", str(f)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    # it used to fail: "damos run cannot express intervals_goal ...: damos run keeps
    # the file's intervals"
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cannot express" not in r.stdout + r.stderr
    assert "damos run yes" in r.stdout


def test_the_live_view_shows_the_tuned_intervals(idle_cfg):
    import io

    from rich.console import Console

    from damos_lang.run.live import LiveView
    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=120))
    ctx = unit_from_text(GOAL + STAT, interface=USERSPACE).context
    s = Session(ctx, RunOptions(sim=idle_cfg, duration_us=20_000_000), view=view)
    s.run()
    text = out.getvalue()
    # the view draws at most every 0.25 s of wall time: the last frame shows one
    # of the intervals the run went through, and the aggregation interval with it
    from damos_lang.run.live import interval
    last = text.rsplit("sample", 1)[1].split("\n", 1)[0]
    shown = [("5 ms", "100 ms")] + [(interval(t.sample_us), interval(t.aggr_us))
                                    for t in s.monitor.tunings]
    assert s.monitor.tunings
    assert any(f" {a} " in last and f" {b} " in last for a, b in shown), (last, shown)
    assert "aggr" in last and "tunings" in last
