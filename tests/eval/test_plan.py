"""The eval's plan on fixed inputs: the arms' order, monitoring-only, the
dilation of every DAMON time, the settle step's refusals, the engines'
pre-flight refusals, DAMON_RECLAIM through a module stand-in, and the report."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from damos_lang.errors import DamosError
from damos_lang.eval import engines as E
from damos_lang.eval import plan as P
from damos_lang.eval import report, runner
from damos_lang.pipeline import unit_from_text

ROOT = Path(__file__).resolve().parents[2]

FULL = """\
monitor {
    ops vaddr
    sample 5ms
    aggr 100ms
    update 1s
    nr_regions 10..1000
}
scheme cold {
    action pageout
    size 4K..max
    access 0%..0%
    age 2s..max
    apply_interval 200ms
    quota {
        time 10ms
        size 128M
        reset 1s
    }
    watermarks {
        metric free_mem_rate
        interval 5s
        high 50%
        mid 40%
        low 20%
    }
}
scheme hot {
    action hugepage
    size 2M..max
    access 50%..max
    age 0s..max
}
"""


def unit(text=FULL):
    return unit_from_text(text)


def test_the_arms_alternate():
    steps = P.order(3)
    assert [(s.arm, s.index) for s in steps] == [
        (a, i) for i in range(3) for a in ("baseline", "monitor", "scheme")]


def test_monitoring_only_keeps_everything_but_the_actions():
    u = unit()
    m = P.monitoring_only(u)
    assert [s.action for s in m.context.schemes] == ["stat", "stat"]
    assert [s.pattern for s in m.context.schemes] == [s.pattern for s in u.context.schemes]
    assert m.context.intervals == u.context.intervals
    assert [s.action for s in u.context.schemes] == ["pageout", "hugepage"]   # untouched


def test_dilation_multiplies_every_damon_time():
    u = unit()
    d = P.dilate(u, 10).context
    c = u.context
    assert (d.intervals.sample_us, d.intervals.aggr_us, d.intervals.update_us) == \
        (50_000, 1_000_000, 10_000_000)
    s, s0 = d.schemes[0], c.schemes[0]
    # ages are counted in aggregation intervals: the same count is 10x the time
    assert s.pattern == s0.pattern
    assert s.pattern.age_min * d.intervals.aggr_us == 10 * s0.pattern.age_min * c.intervals.aggr_us
    assert s.apply_interval_us == 2_000_000
    assert s.quota.reset_interval_ms == 10_000
    assert s.quota.ms == s0.quota.ms and s.quota.sz == s0.quota.sz
    assert s.watermarks.interval_us == 50_000_000
    assert d.schemes[1].apply_interval_us == 0          # 0 (= aggr) stays 0
    assert P.dilate(u, 1) is u


def test_dilation_option():
    assert P.resolve_dilation("off")[0] == 1
    n, why = P.resolve_dilation("12")
    assert n == 12 and "x12" in why and "slower" in why
    for bad in ("fast", "0.5", "-3", "5000"):
        with pytest.raises(DamosError):
            P.resolve_dilation(bad)


def test_auto_dilation_compares_the_calibration_with_the_host_figure(monkeypatch):
    monkeypatch.setattr(P, "calibrate", lambda n=0: 1.2)
    n, why = P.resolve_dilation("auto", host_s=0.1)
    assert n == 12 and "1.200 s against 0.100 s" in why
    n, why = P.resolve_dilation("auto", host_s=1.1)
    assert n == 1 and "no emulation slowdown" in why
    monkeypatch.setenv("DAMOS_EVAL_HOST_CALIBRATION", "0.3")
    assert P.resolve_dilation("auto")[0] == 4


def test_calibration_takes_time():
    assert 0 < P.calibrate(20_000) < 5


def test_settle_says_why_it_skipped(monkeypatch):
    assert "no --drop-caches" in P.settle(False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "not root" in P.settle(True)


def test_the_run_engine_needs_page_idle(tmp_path):
    with pytest.raises(DamosError, match="page_idle"):
        E.RunEngine(page_idle=str(tmp_path / "bitmap")).prepare()


def test_files_the_engines_cannot_run_are_refused():
    phys = unit("monitor {\n    ops paddr\n}\ntarget region 0x100000..0x40000000\n"
                "scheme {\n    action stat\n}\n")
    with pytest.raises(DamosError, match="physical memory"):
        E.check_unit(phys, "kernel")
    with pytest.raises(DamosError, match="DAMON_RECLAIM"):
        E.check_unit(unit(), "reclaim")          # two schemes: the module runs one
    with pytest.raises(DamosError, match="no schemes"):
        E.check_unit(unit("monitor {\n    ops vaddr\n}\n"), "kernel")


RECLAIM = """\
monitor {
    ops paddr
    sample 5ms
    aggr 100ms
}
target region 0x100000..0x40000000
scheme {
    action pageout
    size 4K..max
    access 0..0 samples
    age 2s..max
    watermarks {
        metric free_mem_rate
        interval 1s
        high 100%
        mid 100%
        low 0%
    }
}
"""


def module_tree(tmp_path):
    from damos_lang.targets import reclaim
    base = tmp_path / "module" / "damon_reclaim" / "parameters"
    base.mkdir(parents=True)
    u = unit_from_text(RECLAIM)
    for name, _ in reclaim.params(u):
        (base / name).write_text("0\n")
    (base / "enabled").write_text("N\n")
    (base / "commit_inputs").write_text("N\n")
    (base / "kdamond_pid").write_text(f"{os.getpid()}\n")   # a live pid, not a kdamond
    return str(tmp_path / "module"), u, base


def test_reclaim_engine_writes_the_parameters_and_turns_the_module_off_again(tmp_path):
    root, u, base = module_tree(tmp_path)
    e = E.ReclaimEngine(root)
    assert e.prepare() == []
    e.start(u, os.getpid())
    assert (base / "enabled").read_text().strip() == "Y"
    assert e.left_applied() == ["DAMON_RECLAIM"]
    assert (base / "min_age").read_text().strip() != "0"
    assert e.damon_cpu() is None          # that pid is not a kdamond: never read as one
    e.stop()
    assert (base / "enabled").read_text().strip() == "N"
    assert e.left_applied() == []
    with pytest.raises(DamosError, match="no .*DAMON_RECLAIM"):
        E.ReclaimEngine(str(tmp_path / "none")).prepare()


def test_reclaim_via_the_command_line(tmp_path):
    """--via reclaim: the scheme arm through the module, monitoring only
    through a sysfs kdamond (stand-in), both off at the end."""
    import json
    from damos_lang.eval.command import eval_file
    from damos_lang.sysfs.standin import StandIn
    root, _, base = module_tree(tmp_path)
    admin = str(tmp_path / "admin")
    StandIn.create(admin, (6, 12), pids={os.getpid()})
    out = tmp_path / "e.json"
    f = tmp_path / "reclaim.damos"
    f.write_text(RECLAIM)
    rc = eval_file(str(f), ["sleep", "0.1"], repeat=1,
                   via="reclaim", sysfs_root=admin, module_root=root, json_out=str(out),
                   quiet=True)
    assert rc == 0
    assert json.loads(out.read_text())["order"] == ["baseline#1", "monitor#1", "scheme#1"]
    assert (base / "enabled").read_text().strip() == "N"


def _run(arm, i, wall):
    return runner.Run(arm, i, wall, wall / 2, 10, 12, 100, 0, 0, None if arm != "baseline" else 0.0)


def test_the_report_flags_a_change_inside_the_spread():
    runs = [_run("baseline", 0, 1.0), _run("baseline", 1, 1.2),
            _run("scheme", 0, 1.05), _run("scheme", 1, 1.15),
            _run("monitor", 0, 3.0), _run("monitor", 1, 3.1)]
    res = P.Result(runs, ["a note"])
    text = report.table(res)
    row = next(line for line in text.splitlines() if "runtime (wall)" in line)
    cells = [c.strip() for c in row.strip("│| ").split("│")]
    # scheme vs baseline: 0 % and inside; monitor vs baseline: far outside
    assert cells[4] == "+0.0 % ~" and "~" not in cells[6] and cells[6].startswith("+177.3 %")
    doc = report.to_dict(res, {"file": "x"})
    ch = doc["changes"]
    assert ch["scheme_vs_baseline"]["wall_s"]["inside_spread"] is True
    assert ch["monitor_vs_baseline"]["wall_s"]["inside_spread"] is False
    assert doc["arms"]["scheme"]["damon_cpu_s"] is None        # not measured: None, not 0
    assert ch["scheme_vs_baseline"]["damon_cpu_s"] is None


def test_a_gated_workload_does_not_run_before_its_gate(tmp_path):
    marker = tmp_path / "ran"
    g = runner.Gated(["touch", str(marker)])
    import time
    time.sleep(0.2)
    assert not marker.exists()
    g.kill()
    assert not marker.exists()
    g = runner.Gated(["touch", str(marker)])
    r = runner.measure(g, "baseline", 0)
    assert marker.exists() and r.wall_s > 0
    g = runner.Gated([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
    with pytest.raises(runner.WorkloadFailed, match="killed by signal 9"):
        runner.measure(g, "baseline", 0)


FAKE_DAMOS_RUN = """\
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)     # it finishes, as damos run does
t = time.process_time()
while time.process_time() - t < 0.3:     # the 'imports': not DAMON's work
    pass
sys.stdout.write("ready\\n"); sys.stdout.flush()
if sys.stdin.readline().strip() != "go":
    sys.exit(0)
t = time.process_time()
while time.process_time() - t < 0.4:     # the monitoring
    pass
print("damos run: stopped: the target exited")
print("  monitored 1.0 s, 10 aggregations")
"""


def test_the_run_engine_starts_warm_and_counts_its_cpu_from_go(monkeypatch, tmp_path):
    """The user-space engine's process imports before the gate opens (a
    stand-in script here: the host has no page_idle), monitors from 'go', and
    its CPU before 'go' is not counted; its summary becomes a note."""
    monkeypatch.setattr(E, "_WARM", FAKE_DAMOS_RUN)
    monkeypatch.setattr(E.RunEngine, "prepare", lambda self: [])
    e = E.RunEngine()
    u = unit()
    res = P.execute({"monitor": P.monitoring_only(u), "scheme": u},
                    ["sleep", "0.2"], {"monitor": e, "scheme": e}, repeat=1)
    assert res.stopped is None
    cpu = {r.arm: r.damon_cpu_s for r in res.runs}
    assert cpu["baseline"] == 0
    for arm in ("monitor", "scheme"):
        assert 0.3 <= cpu[arm] < 0.65, cpu          # the 0.4 s after go, not the 0.3 before
    assert any(n.startswith("scheme run 1: damos run: stopped: the target exited") for n in res.notes)
    assert e.left_applied() == []


def test_a_failing_run_engine_stops_the_eval(monkeypatch):
    monkeypatch.setattr(E, "_WARM", "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n"
                                    "sys.stderr.write('damos run: error: no page_idle\\n')\nsys.exit(2)\n")
    monkeypatch.setattr(E.RunEngine, "prepare", lambda self: [])
    e = E.RunEngine()
    u = unit()
    res = P.execute({"monitor": P.monitoring_only(u), "scheme": u},
                    ["sleep", "0.3"], {"monitor": e, "scheme": e}, repeat=2)
    assert res.stopped == "monitor run 1: damos run failed (2): damos run: error: no page_idle"
    assert [r.arm for r in res.runs] == ["baseline"]
    assert e.left_applied() == []
