"""systemd as PID 1 runs the unit that `damos compile prcl.damos --target
systemd --pid 1 --stop-damon-stat` emits (docs/fleet.md), on Debian's stock
7.3 kernel in a Debian trixie root filesystem (systemd 257, the tree's
python3 running this checkout; kernelrig.run_vm_systemd), in one boot
(jobs/systemd-unit.sh):

* before systemd starts, the unit is installed as docs/fleet.md says and
  `systemctl enable`d;
* at boot it applied prcl: a kdamond runs the file's scheme on pid 1 while
  DAMON_STAT, which Debian's 7.3 starts at boot, is stopped (enabled N);
  ExecStart exited 4 (applied), a success by SuccessExitStatus;
* after the file is edited, `systemctl reload` commits the change: the
  scheme's age in sysfs changes, the kdamond's pid does not, and ExecReload's
  exit 3 (updated) is a success too;
* `systemctl stop` stops the kdamond and DAMON_STAT runs again (enabled Y);
* the journal's lines of the unit's programs are one-line damos messages;
* `damos export`, a service beside it, is scraped at boot and after the
  reload while the kdamond runs (its tried counter rises) and once after the
  stop (DAMON_STAT's metrics are back), with Debian's prometheus_client;
* then examples/fleet/playbook.yml, run twice on the node by Debian's
  ansible-core (-c local), reports changed, then ok, and leaves the kdamond
  running the file as the playbook says."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
UNIT = "damos-prcl.service"
# what docs/fleet.md tells a node's admin to run; systemd is not running yet,
# so enable links the unit into multi-user.target.wants itself
SETUP = f"""set -e
install -D -m 644 /out/prcl.damos /etc/damos-lang/prcl.damos
cp -r /out/units/. /etc/systemd/system/
cp /out/damos-export.service /etc/systemd/system/
systemctl enable {UNIT} damos-export.service
"""
# the exporter as a node would run it beside the unit (docs/metrics.md)
EXPORT_UNIT = """[Unit]
Description=DAMON metrics for Prometheus (damos export)

[Service]
ExecStart=/usr/local/bin/damos export --listen 127.0.0.1:10142
SyslogIdentifier=damos-export

[Install]
WantedBy=multi-user.target
"""
# what one line of the unit's programs starts with: the file (damos check) or the command
DAMOS_LINE = re.compile(r"(/etc/damos-lang/prcl\.damos|damos (apply|stop)): \S")


def compile_units(kernel_rig, dest: Path) -> dict:
    """The units of examples/prcl.damos as a node gets them (-o DIR), by name."""
    p = subprocess.run([*kernel_rig.damos_command(), "compile", str(ROOT / "examples/prcl.damos"),
                        "-t", "systemd", "--pid", "1", "--stop-damon-stat", "-o", str(dest)],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return {str(f.relative_to(dest)): f for f in sorted(dest.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def unit_run(kernel_rig, systemd_root, tmp_path_factory):
    units = compile_units(kernel_rig, tmp_path_factory.mktemp("units"))
    assert sorted(units) == [UNIT, f"{UNIT}.d/50-local.conf"]
    files = {f"units/{name}": path for name, path in units.items()}
    files["prcl.damos"] = ROOT / "examples/prcl.damos"
    files["damos-export.service"] = EXPORT_UNIT
    out = tmp_path_factory.mktemp("systemd-unit")
    r = kernel_rig.run_vm_systemd(systemd_root, kernel_rig.job("systemd-unit.sh"), setup=SETUP,
                                  files=files, out=out, timeout=480)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    journal = r.text("journal.unit.txt") if r.path("journal.unit.txt").exists() else ""
    return r, res, f"{res}\n--- unit's journal ---\n{journal[-4000:]}\n{r.describe()}"


def show(r, tag: str) -> dict:
    """`systemctl show` of the unit after step TAG."""
    return dict(line.split("=", 1) for line in r.text(f"show.{tag}.txt").splitlines() if "=" in line)


def status(prop: str) -> int | None:
    """The exit status systemd recorded for an Exec*= property's last run."""
    m = re.search(r"\bstatus=(\d+)", prop)
    return int(m.group(1)) if m else None


def test_systemd_is_pid_1_on_debians_7_3_and_enabled_the_unit(unit_run):
    r, res, ctx = unit_run
    assert res["pid1"] == "systemd" and res["kernel"].startswith("7.3."), ctx
    # systemctl enable made the link itself (systemd was not running)
    assert f"multi-user.target.wants/{UNIT}" in r.text("setup.sh.log"), r.text("setup.sh.log")
    assert res["boot.enabled"] == "enabled", ctx


def test_at_boot_the_unit_applied_prcl_with_damon_stat_stopped(unit_run):
    r, res, ctx = unit_run
    assert res["boot.active"] == "active", ctx
    assert res["boot.state"] == "on" and res["boot.pid_comm"].startswith("kdamond"), ctx
    assert (res["boot.ops"], res["boot.target_pid"], res["boot.action"]) == ("vaddr", "1", "pageout"), ctx
    assert res["boot.age_min"] == "50", ctx          # 5 s at 100 ms aggregations
    assert res["boot.stat_enabled"] == "N", ctx       # DAMON_STAT stopped by the unit
    s = show(r, "boot")
    assert s["Result"] == "success", ctx
    assert status(s["ExecStartPre"]) == 0, s["ExecStartPre"]          # damos check --kernel %v
    assert status(s["ExecStart"]) == 4, s["ExecStart"]                 # applied: a success


def test_reload_commits_the_edit_to_the_same_kdamond(unit_run):
    r, res, ctx = unit_run
    assert res["edited"] == "1", ctx
    assert res["reload_rc"] == "0" and res["reload.active"] == "active", ctx
    assert res["reload.age_min"] == "70", ctx        # the edit (5s -> 7s) is in the kernel
    assert res["reload.pid"] == res["boot.pid"] and res["reload.state"] == "on", ctx
    assert res["reload.stat_enabled"] == "N", ctx
    s = show(r, "reload")
    # apply --ensure said "updated" (3): SuccessExitStatus= holds for ExecReload too
    assert status(s["ExecReload"]) == 3, s["ExecReload"]
    assert s["Result"] == "success", ctx


def test_stop_stops_the_kdamond_and_damon_stat_runs_again(unit_run):
    r, res, ctx = unit_run
    assert res["stop_rc"] == "0" and res["stop.active"] == "inactive", ctx
    assert res["stop.boot_pid_alive"] == "no", ctx
    assert res["stop.state"] in ("", "off"), ctx
    assert res["stop.stat_enabled"] == "Y" and res["stop.stat_comm"].startswith("kdamond"), ctx
    assert status(show(r, "stop")["ExecStop"]) == 0, ctx


def test_the_journal_has_one_line_damos_messages(unit_run):
    r, res, ctx = unit_run
    lines = r.text("journal.damos.txt").splitlines()
    # each line is its own journal entry: it must read alone, no traceback, no
    # continuation lines
    bad = [line for line in lines if not DAMOS_LINE.match(line) or "Traceback" in line]
    assert lines and not bad, lines
    text = "\n".join(lines)
    for said in (f"kdamond 0 is on (pid {res['boot.pid']})", "updated: committed",
                 "damos stop: kdamond 0 is off", "damos stop: kdamond 0, scheme 0: tried",
                 "DAMON_STAT started again"):
        assert said in text, (said, lines)


def test_the_exporter_service_scrapes_twice_and_after_the_stop(unit_run):
    from prometheus_client.parser import text_string_to_metric_families

    r, res, ctx = unit_run
    scrapes = {}
    for tag in ("boot", "reload", "stop"):
        assert res[f"{tag}.scrape_rc"] == "0", r.text(f"scrape.{tag}.txt")[-2000:]
        scrapes[tag] = {(s.name, frozenset(s.labels.items())): s.value
                        for fam in text_string_to_metric_families(r.text(f"scrape.{tag}.txt"))
                        for s in fam.samples}
    k0 = frozenset({"kdamond": "0"}.items())
    boot, reload, stop = scrapes["boot"], scrapes["reload"], scrapes["stop"]
    assert boot[("damos_kdamond_running", k0)] == reload[("damos_kdamond_running", k0)] == 1
    assert boot[("damos_damon_stat_enabled", frozenset())] == 0

    def tried(scrape):
        return [v for (n, labels), v in scrape.items()
                if n == "damos_scheme_tried_regions_total" and ("kdamond", "0") in labels]
    # at least 15 s apart (the job waits), three times the scheme's age:
    # regions were tried again, and the reload's commit kept the counters
    (t1,), (t2,) = tried(boot), tried(reload)
    assert t2 > t1 >= 0, (t1, t2)
    assert not any(n == "damos_kdamond_running" and v == 1 for (n, _), v in stop.items())
    assert stop[("damos_damon_stat_enabled", frozenset())] == 1
    assert res["export_active"] == "active", ctx


RECAP = re.compile(r"^localhost\s+:\s+(.*)$", re.M)


def recap(r, n: int) -> dict:
    """The PLAY RECAP counts of the job's playbook run N (/out/ansible.N.txt)."""
    lines = RECAP.findall(r.text(f"ansible.{n}.txt"))
    assert len(lines) == 1, r.text(f"ansible.{n}.txt")[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[0])}


def test_the_example_playbook_reports_changed_then_ok(unit_run):
    # after the unit's stop (the job's last unit step): Debian's ansible-core
    # runs examples/fleet/playbook.yml on the node with -c local, twice
    r, res, ctx = unit_run
    first, second = r.text("ansible.1.txt"), r.text("ansible.2.txt")
    assert res["ansible1.rc"] == "0", first[-3000:]
    assert res["ansible2.rc"] == "0", second[-3000:]
    one, two = recap(r, 1), recap(r, 2)
    # the copy put back the file the reload step had edited and apply --ensure
    # started a kdamond: both tasks changed
    assert one["changed"] >= 1 and one["failed"] == 0 and one["unreachable"] == 0, one
    # nothing to do: the file as copied, the kdamond running it as written
    assert two["changed"] == 0 and two["ok"] >= 1, two
    assert two["failed"] == 0 and two["unreachable"] == 0, two
    applied = re.search(r'"msg": "applied: kdamond 0 \(pid (\d+)\)"', first)
    unchanged = re.search(r'"msg": "unchanged: kdamond 0 \(pid (\d+)\)"', second)
    assert applied and unchanged, (first[-3000:], second[-3000:])
    # the kdamond runs as the playbook says: the checkout's prcl (5 s) on pid
    # 1, the pid both runs reported, DAMON_STAT stopped by --stop-damon-stat;
    # the unit stays stopped, so the kdamond is the playbook's
    assert applied.group(1) == unchanged.group(1) == res["ansible.pid"], ctx
    assert res["ansible.state"] == "on" and res["ansible.pid_comm"].startswith("kdamond"), ctx
    assert (res["ansible.ops"], res["ansible.target_pid"], res["ansible.action"]) == \
        ("vaddr", "1", "pageout"), ctx
    assert res["ansible.age_min"] == "50" and res["ansible.file_age"] == "1", ctx
    assert res["ansible.stat_enabled"] == "N" and res["ansible.active"] == "inactive", ctx
