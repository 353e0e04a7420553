"""damos compile --target systemd: systemd 252's own checker takes the unit of
every example (and the timer, its service and the drop-in directory), the
command lines read back as the words meant, and those commands, run in the
order systemd runs them against a stand-in tree, start, reload (commit, same
kdamond) and stop only their own file's kdamond, starting DAMON_STAT again."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.sysfs import root as RT
from damos_lang.sysfs.standin import StandIn
from damos_lang.targets import systemd as S

from . import systemd_exec as X

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.damos"))
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
PID = os.getpid()
SUCCESS = {0} | {int(c) for c in S.ENSURE_SUCCESS.split()}


def compile_(*args):
    return CliRunner().invoke(app, ["compile", "-t", "systemd", *map(str, args)])


def needs_pid(example: Path) -> bool:
    r = compile_(example, "--damos-bin", sys.executable)
    return r.exit_code == 2 and "monitors a process and the file names none" in r.stderr


def verify(*units: Path) -> subprocess.CompletedProcess:
    return subprocess.run([ANALYZE, "verify", "--man=no", *map(str, units)],
                          capture_output=True, text=True, cwd=units[0].parent)


@pytest.fixture(scope="module")
def damos_bin(tmp_path_factory) -> Path:
    """An executable damos that imports this tree (verify checks that ExecStart's
    binary exists; the lifecycle test runs it).  DAMOS_TEST_ROOT / _MODULES make
    apply and stop use a stand-in tree (the kernel's is never touched)."""
    d = tmp_path_factory.mktemp("bin")
    p = d / "damos"
    p.write_text(f"""#!/bin/sh
export PYTHONPATH={ROOT}
cmd=$1; shift
case $cmd in
apply|stop|update) exec {sys.executable} -m damos_lang "$cmd" --sysfs-root "$DAMOS_TEST_ROOT" \\
    --module-root "$DAMOS_TEST_MODULES" "$@" ;;
*) exec {sys.executable} -m damos_lang "$cmd" "$@" ;;
esac
""")
    p.chmod(0o755)
    return p


def test_the_examples_are_there():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_systemd_analyze_verifies_every_examples_units(example, tmp_path, damos_bin):
    out = tmp_path / "units"
    pid = ["--pid", "1"] if needs_pid(example) else []
    r = compile_(example, *pid, "--damos-bin", damos_bin, "--stop-damon-stat",
                 "--ensure-every", "5min", "-o", out)
    assert r.exit_code == 0, r.output
    name = example.stem
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [f"damos-{name}-ensure.service", f"damos-{name}-ensure.timer",
                     f"damos-{name}.service", f"damos-{name}.service.d/50-local.conf"]
    v = verify(out / f"damos-{name}.service", out / f"damos-{name}-ensure.timer",
               out / f"damos-{name}-ensure.service")
    assert v.returncode == 0 and v.stderr == "", v.stderr
    unit = X.settings((out / f"damos-{name}.service").read_text())
    path = f"/etc/damos-lang/{name}.damos"
    ensure = [str(damos_bin), "apply", "--ensure", "--stop-damon-stat", *pid, path]
    assert unit["Type"] == ["oneshot"] and unit["RemainAfterExit"] == ["yes"]
    assert X.argv(unit["ExecStartPre"][0], "7.3.0-1-amd64") == [
        str(damos_bin), "check", "--kernel", "7.3.0-1-amd64", path]
    assert X.argv(unit["ExecStart"][0]) == ensure == X.argv(unit["ExecReload"][0])
    assert X.argv(unit["ExecStop"][0]) == [str(damos_bin), "stop", "--file", path]
    assert unit["SuccessExitStatus"] == ["3 4"] and unit["SyslogIdentifier"] == [f"damos-{name}"]
    assert unit["ConditionPathIsDirectory"] == ["/sys/kernel/mm/damon/admin"]
    assert "Restart" not in unit           # refused for oneshot before systemd 254
    assert unit["Wants"] == [f"damos-{name}-ensure.timer"]
    timer = X.settings((out / f"damos-{name}-ensure.timer").read_text())
    assert timer["OnUnitActiveSec"] == ["300s"] and timer["BindsTo"] == [f"damos-{name}.service"]
    again = X.settings((out / f"damos-{name}-ensure.service").read_text())
    assert X.argv(again["ExecStart"][0]) == ensure and again["SuccessExitStatus"] == ["3 4"]
    assert again["Requisite"] == [f"damos-{name}.service"]     # only while the unit is active


def test_verify_catches_what_the_tests_rely_on(tmp_path, damos_bin):
    """The checker is not a rubber stamp: a missing binary, an unknown
    specifier and an unknown key in the drop-in directory all fail."""
    out = tmp_path / "u"
    assert compile_(EXAMPLES[0], "--pid", "1", "--damos-bin", damos_bin, "-o", out).exit_code == 0
    unit = out / f"damos-{EXAMPLES[0].stem}.service"
    good = unit.read_text()
    assert verify(unit).returncode == 0
    unit.write_text(good.replace(str(damos_bin), str(tmp_path / "nowhere")))
    assert verify(unit).returncode != 0
    unit.write_text(good.replace("%v", "%Q"))
    assert "specifier" in verify(unit).stderr
    unit.write_text(good)
    (out / f"{unit.name}.d/50-local.conf").write_text("[Service]\nBogusKey=1\n")
    assert "BogusKey" in verify(unit).stderr


def test_standard_output_is_the_unit_alone():
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1")
    assert r.exit_code == 0 and r.stdout.count("[Service]") == 1
    assert "ExecStart=/usr/local/bin/damos apply --ensure --pid 1 /etc/damos-lang/prcl.damos\n" \
        in r.stdout
    # no shell runs ExecStartPre: $(uname -r) would reach damos as it is
    assert "$(" not in r.stdout and " --kernel %v " in r.stdout


def test_the_kernel_check_passes_on_this_kernel(tmp_path, damos_bin):
    """ExecStartPre with %v expanded as systemd does (uname -r): the check
    takes a full release string and gates the file at it."""
    f = tmp_path / "prcl.damos"
    f.write_text("4K max 0 0 5s max pageout\n")
    r = compile_(f, "--pid", "1", "--damos-bin", damos_bin, "--deploy-path", f)
    pre = X.argv(X.settings(r.stdout)["ExecStartPre"][0])
    done = subprocess.run(pre, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"interfaces at Linux {os.uname().release}: sysfs yes" in done.stdout
    # and a kernel older than the file needs fails the unit before ExecStart
    old = subprocess.run(X.argv(X.settings(r.stdout)["ExecStartPre"][0], "5.15.0-91-generic"),
                         capture_output=True, text=True)
    assert old.returncode == 2 and "Linux 5.15 lacks" in old.stderr


def run_exec(unit: dict, key: str, env: dict) -> subprocess.CompletedProcess:
    """One Exec= line as systemd runs it; asserts systemd would call it a success."""
    r = subprocess.run(X.argv(unit[key][0]), capture_output=True, text=True, env=env)
    assert r.returncode in SUCCESS, (key, r.returncode, r.stdout, r.stderr)
    return r


def test_a_units_life_start_reload_stop(tmp_path, damos_bin):
    """Two units on one node: start both, edit one file and reload it (the
    difference is committed: same kdamond pid), stop it (only its kdamond;
    DAMON_STAT starts again once no kdamond needs it stopped)."""
    from tests.live.test_damon_stat import enabled, modules
    mods = modules(tmp_path)
    root = str(tmp_path / "admin")
    StandIn.create(root, (7, 3), pids={PID}, module_root=mods)
    fs = RT.tree(root)
    fs.write("kdamonds/nr_kdamonds", "2")    # docs/fleet.md: tmpfiles.d sets it at boot
    env = {**os.environ, "DAMOS_TEST_ROOT": root, "DAMOS_TEST_MODULES": mods}
    units = {}
    for name, text in (("a", "4K max 0 0 5s max pageout\n"), ("b", "4K max 0 0 9s max stat\n")):
        f = tmp_path / f"{name}.damos"
        f.write_text(text)
        r = compile_(f, "--pid", PID, "--damos-bin", damos_bin, "--deploy-path", f,
                     "--stop-damon-stat")
        assert r.exit_code == 0, r.output
        units[name] = X.settings(r.stdout)

    for key in ("ExecStartPre", "ExecStart"):
        last = run_exec(units["a"], key, env)
    assert last.returncode == 4 and "kdamond 0 is on (pid 4000)" in last.stdout
    assert enabled(mods) == "N"
    run_exec(units["b"], "ExecStartPre", env)
    assert run_exec(units["b"], "ExecStart", env).returncode == 4
    assert fs.read("kdamonds/1/state") == "on"

    r = run_exec(units["a"], "ExecReload", env)           # nothing changed
    assert r.returncode == 0 and "unchanged" in r.stdout
    (tmp_path / "a.damos").write_text("4K max 0 0 7s max pageout\n")
    r = run_exec(units["a"], "ExecReload", env)
    assert r.returncode == 3 and "still running" in r.stdout
    assert fs.read("kdamonds/0/pid") == "4000"

    r = run_exec(units["a"], "ExecStop", env)
    assert r.returncode == 0 and "kdamond 0 is off" in r.stdout
    assert "DAMON_STAT left stopped: kdamond 1 still runs" in r.stdout     # b runs
    assert enabled(mods) == "N"
    assert fs.read("kdamonds/1/state") == "on"
    run_exec(units["a"], "ExecStop", env)                          # stopping twice is fine
    r = run_exec(units["b"], "ExecStop", env)
    assert "DAMON_STAT started again" in r.stdout and enabled(mods) == "Y"


def test_the_run_engine_unit(tmp_path, damos_bin):
    runnable = 0
    for example in EXAMPLES:
        out = tmp_path / example.stem
        r = compile_(example, "--engine", "run", "--exec", "/bin/sleep 600",
                     "--damos-bin", damos_bin, "-o", out)
        if r.exit_code != 0:
            assert "damos run cannot express" in r.stderr, r.stderr
            continue
        runnable += 1
        unit = out / f"damos-{example.stem}.service"
        v = verify(unit)
        assert v.returncode == 0 and v.stderr == "", v.stderr
        s = X.settings(unit.read_text())
        assert s["Type"] == ["simple"] and s["Restart"] == ["on-failure"]
        path = f"/etc/damos-lang/{example.stem}.damos"
        assert X.argv(s["ExecStartPre"][0]) == [str(damos_bin), "check", "--userspace", path]
        assert X.argv(s["ExecStart"][0]) == [str(damos_bin), "run", path, "--",
                                             "/bin/sleep", "600"]
        assert "ExecReload" not in s and "SuccessExitStatus" not in s
    assert runnable >= 3


def test_a_run_unit_needs_a_process():
    r = compile_(ROOT / "examples/prcl.damos", "--engine", "run")
    assert r.exit_code == 2 and "--exec 'CMD ARGS'" in r.stderr.splitlines()[0]
    r = compile_(ROOT / "examples/prcl.damos", "--engine", "run", "--pid", "77")
    assert r.exit_code == 0 and "ExecStart=/usr/local/bin/damos run --pid 77 " in r.stdout


BAD = [
    (["--ensure-every", "5"], "--ensure-every '5': write a time such as 30s, 5min or 1h"),
    (["--ensure-every", "2s", "-o", "{tmp}"], "--ensure-every '2s': give 10s to 24h"),
    (["--ensure-every", "5min"], "--ensure-every writes three units"),
    (["--name", "a b"], "--name 'a b': a unit name takes"),
    (["--name", "-x"], "--name '-x': a unit name takes"),
    (["--deploy-path", "etc/x.damos"], "--deploy-path 'etc/x.damos': give a normalized absolute"),
    (["--deploy-path", "/etc/../x"], "--deploy-path '/etc/../x': give a normalized absolute"),
    (["--deploy-path", "/etc/my file"], "--deploy-path '/etc/my file': give a normalized"),
    (["--damos-bin", "damos"], "--damos-bin 'damos': give a normalized absolute"),
    (["--deploy-path", ""], "--deploy-path '': give a normalized absolute"),
    (["--engine", "daemon"], "--engine must be apply or run, not 'daemon'"),
    (["--exec", "/bin/true"], "--exec applies to --engine run"),
    (["--engine", "run", "--exec", ""], "--exec needs a command"),
    (["--engine", "run", "--exec", "sleep 1"], "--exec 'sleep 1': give the command's absolute"),
    (["--engine", "run", "--exec", "/bin/x 'a"], "--exec \"/bin/x 'a\": No closing quotation"),
    (["--engine", "run", "--exec", "/bin/x", "--pid", "3"], "--pid and --exec exclude"),
    (["--engine", "run", "--stop-damon-stat"], "--stop-damon-stat applies to --engine apply"),
    (["--engine", "run", "--ensure-every", "1h"], "--ensure-every applies to --engine apply"),
    (["--image", "x"], "--image applies to the kubernetes target, not systemd"),
]


@pytest.mark.parametrize("args,says", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_options_are_one_line_errors(args, says, tmp_path):
    args = [a.format(tmp=tmp_path / "o") for a in args]
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", *args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("damos: error: " + says), r.stderr
    assert r.stderr.count("\n") == 1 and r.stdout == ""


def test_a_pid_file_without_a_pid_is_refused_at_its_line():
    r = compile_(ROOT / "examples/reclaim.damos")
    first = r.stderr.splitlines()[0]
    assert r.exit_code == 2 and first.startswith(str(ROOT / "examples/reclaim.damos") + ":3:1: ")
    assert "vaddr monitors a process and the file names none" in first


# -- option values ---------------------------------------------------------------

PATH_CHARS = st.sampled_from("abcXYZ019._+@=,:%$~^#&()[]{}!*?<>|-")
segments = st.text(PATH_CHARS, min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
paths = st.lists(segments, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,30}[A-Za-z0-9_-])?", fullmatch=True)
spans = st.tuples(st.integers(1, 1440), st.sampled_from(["s", "sec", "m", "min", "h"])).filter(
    lambda t: 10 <= t[0] * S.SPAN_SECONDS[t[1]] <= 86400)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=paths, name=names, every=spans, stat=st.booleans())
def test_any_good_option_values_make_units_systemd_takes(tmp_path_factory, damos_bin, path,
                                                          name, every, stat):
    out = tmp_path_factory.mktemp("units")
    args = ["--name", name, "--deploy-path", path, "--ensure-every", f"{every[0]}{every[1]}",
            "-o", out] + (["--stop-damon-stat"] if stat else [])
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", "--damos-bin", damos_bin, *args)
    assert r.exit_code == 0, r.output
    unit = out / f"damos-{name}.service"
    v = verify(unit, out / f"damos-{name}-ensure.timer", out / f"damos-{name}-ensure.service")
    assert v.returncode == 0 and v.stderr == "", (path, v.stderr)
    s = X.settings(unit.read_text())
    assert X.argv(s["ExecStop"][0]) == [str(damos_bin), "stop", "--file", path]
    assert X.argv(s["ExecStart"][0])[-1] == path
    assert ("--stop-damon-stat" in X.argv(s["ExecStart"][0])) == stat
    assert s["RequiresMountsFor"] == [path.replace("%", "%%")]
    t = X.settings((out / f"damos-{name}-ensure.timer").read_text())
    assert t["OnUnitActiveSec"] == [f"{every[0] * S.SPAN_SECONDS[every[1]]}s"]


@settings(max_examples=60, deadline=None)
@given(word=st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=20))
def test_any_word_reads_back_as_itself(word):
    assert X.words(S.arg(word)) == [word.replace("%", "%%").replace("$", "$$")]
    assert X.argv(S.command(["/bin/x", word, "y"])) == ["/bin/x", word, "y"]


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=12))
def test_any_bad_span_is_a_one_line_error(text):
    ok = S.SPAN.match(text.strip())
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", "--ensure-every", text, "-o",
                 "/nonexistent/never-written")
    if ok and 10 <= int(ok.group(1)) * S.SPAN_SECONDS[ok.group(2)] <= 86400:
        return
    assert r.exit_code == 2 and r.stderr.startswith("damos: error: --ensure-every ")
    assert r.stderr.count("\n") == 1
