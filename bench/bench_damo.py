"""Our compiler against damo 3.4.3 converting the same 1000 schemes.

The schemes are bench_compiler's generated file (``scheme_file``), and the
input both sides share is its damo kdamonds JSON (``damos compile -t
damo-json``, which damo's own parser reads back).  Each side is one whole
process, timed from outside (wall, and CPU from ``getrusage``):

* ours: ``damos compile big.json -t sysfs-plan`` (every sysfs write, as
  JSON), ``-t sysfs`` (the sh script doing them) and ``-t damo-json``;
* damo: what ``damo start --kdamonds big.json`` does short of the kernel --
  import damo's CLI (``damo.py``, which imports every subcommand), build its
  parser and parse that command line, read the file with
  ``_damon_args.kdamonds_from_json_arg``, then ``_damon_sysfs.write_kdamonds_dir``
  in damo's own dry-run mode (``_damo_fs.debug_dryrun``: each write logged,
  not done; its isfile/isdir probes look at a stand-in tree) -- and what
  ``damo args damon --format json --out F`` does (``to_kvpairs``,
  ``json.dumps``).  The full run adds write_kdamonds_dir really writing the
  stand-in tree's files.

Safety (the host runs a kdamond that is not ours): damo runs only the way
tests/damo_oracle.py runs it -- this module reuses that file's runner
preamble verbatim (the audit hook that kills the process on any open under
/sys or /proc/sys and on any process start; damo's ``write_file`` refusing
any path outside the temporary directory) and its sandbox prefix (a private
mount namespace with empty tmpfs over /sys/kernel/mm/damon and
/sys/kernel/debug, when root).  Nothing calls damo's feature probes,
``initialize`` or a subcommand's ``main``.  The guards' path checks are
timed as they run and subtracted from damo's figures, as are the sandbox's
start and the dry run's set-up.  When damo, the oracle or its runner's
shape is missing, the rows say "n/a: ..." instead of failing.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_compiler import CPU, damos_cmd, load_note, scheme_file, wall  # noqa: E402

# Prepended to the oracle's preamble: the clock starts before damo is imported.
PROLOGUE = "import time as _bt\n_BT0, _BC0 = _bt.perf_counter(), _bt.process_time()\n"

# Appended to the oracle's preamble (which has read the request, set `work`,
# installed the guards and imported damo's modules).
TIMED = r'''
def _lap(key, t, c):
    out[key] = [_bt.perf_counter() - t, _bt.process_time() - c]
    return _bt.perf_counter(), _bt.process_time()

out = {}
mode = req["mode"]
kdamonds_dir = os.path.join(req["root"], "kdamonds")
t, c = _lap("import", _BT0, _BC0)
if mode == "skeleton":
    kdamonds, err = _damon_args.kdamonds_from_json_arg(req["input"])
    if err is not None:
        raise SystemExit("damo cannot read the input: %s" % err)
    skeleton(req["root"], kdamonds)
else:
    # damo start's own start-up: damo.py imports every subcommand module,
    # then main() builds the parser and parses the command line
    import argparse
    import damo as _damo_cli
    parser = argparse.ArgumentParser(formatter_class=_damo_cli.SubCmdHelpFormatter)
    sub = parser.add_subparsers(title="command", dest="command", metavar="<command>")
    for subcmd in _damo_cli.subcmds:
        subcmd.add_parser(sub)
    if mode == "json":
        args = parser.parse_args(["args", "damon", "--kdamonds", req["input"],
                                  "--format", "json", "--out", req["output"]])
    else:
        args = parser.parse_args(["start", "--kdamonds", req["input"]])
    t, c = _lap("cli", t, c)
    kdamonds, err = _damon_args.kdamonds_from_json_arg(args.kdamonds)
    if err is not None:
        raise SystemExit("damo cannot read the input: %s" % err)
    t, c = _lap("parse", t, c)
    if mode in ("plan", "sysfs"):
        if mode == "plan":
            # damo's own dry run (_damo_fs.debug_dryrun): writes are logged,
            # not done; reads come from this dict (the stand-in tree's files)
            reads = {os.path.join(req["root"], k): v for k, v in read_tree(req["root"]).items()}
            _damo_fs.debug_dryrun(reads)
            t, c = _lap("setup", t, c)
        written = []
        _guarded_write = _damo_fs.write_file
        def _counting_write(path, content):
            written.append(path)
            return _guarded_write(path, content)
        _damo_fs.write_file = _counting_write
        # what our guards cost damo, measured as it runs: both the audit
        # hook and the checked write resolve each path with os.path.realpath
        # (damo's writer never calls it), so time every call of it
        _realpath, _in_guard = os.path.realpath, [0.0, 0.0]
        def _timed_realpath(path, *a, **k):
            t0, c0 = _bt.perf_counter(), _bt.process_time()
            try:
                return _realpath(path, *a, **k)
            finally:
                _in_guard[0] += _bt.perf_counter() - t0
                _in_guard[1] += _bt.process_time() - c0
        os.path.realpath = _timed_realpath
        try:
            err = _damon_sysfs.write_kdamonds_dir(kdamonds_dir, kdamonds)
        finally:
            os.path.realpath = _realpath
        if err is not None:
            raise SystemExit("damo's writer failed: %s" % err)
        t, c = _lap("write", t, c)
        out["guard"] = _in_guard
        out["writes"] = len(written)
        if mode == "plan":
            logs = _damo_fs.debug_get_dryrun_logs()
            out["logged"] = sum(1 for x in logs if x.startswith("write "))
    else:
        for k in kdamonds:
            for ctx in k.contexts:
                for s in ctx.schemes:
                    s.stats = None
                    s.tried_regions = None
        kvpairs = {"kdamonds": [k.to_kvpairs(args.raw, args.omit_defaults, params_only=True)
                                for k in kdamonds]}
        text = json.dumps(kvpairs, indent=4)
        with open(args.out, "w") as f:
            f.write(text)
        t, c = _lap("dump", t, c)
sys.stdout.write(json.dumps(out))
'''

ORACLE_CUT = "\nanswers = []"
ORACLE_NEEDS = ("sys.addaudithook(_guard)", "_damo_fs.write_file = _checked_write",
                "def skeleton(", "work = req[\"workdir\"]")


def oracle():
    """tests/damo_oracle.py as a module, or a reason it cannot be used."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import damo_oracle
    except Exception as e:     # pytest missing, or the file moved
        return None, f"cannot import tests/damo_oracle.py ({type(e).__name__}: {e})"
    finally:
        sys.path.remove(str(ROOT / "tests"))
    runner = getattr(damo_oracle, "RUNNER", "")
    if ORACLE_CUT not in runner or not all(s in runner for s in ORACLE_NEEDS):
        return None, "tests/damo_oracle.py's RUNNER changed shape; not running damo unguarded"
    if not damo_oracle.damo_available():
        return None, "damo is not installed (pip install damo==3.4.3; needs network)"
    return damo_oracle, ""


def runner_source(damo_oracle) -> str:
    return PROLOGUE + damo_oracle.RUNNER[:damo_oracle.RUNNER.index(ORACLE_CUT)] + TIMED


def timed(cmd: tuple, stdin: str, env: dict, repeat: int) -> list[tuple]:
    """``repeat`` runs of ``cmd``: (wall, CPU as children's user + system,
    stdout) of each; raises RuntimeError when one fails."""
    runs = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300,
                           env=env)
        w = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise RuntimeError(f"exit {r.returncode}: {r.stderr.strip()[-300:]}")
        runs.append((w, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
                     r.stdout))
    return runs


def na_rows(n: int, why: str) -> list[dict]:
    return [{"name": name, "value": "n/a", "unit": "", "note": f"n/a: {why}"}
            for name in row_names(n)]


def row_names(n: int) -> list[str]:
    """The rows' names, in order, whether damo ran or not."""
    return [f"vs damo 3.4.3: {n} schemes JSON -> sysfs writes (ours -t sysfs-plan)",
            f"vs damo 3.4.3: {n} schemes JSON -> sysfs writes (ours -t sysfs)",
            f"damo 3.4.3 doing the {n} schemes' writes (real files) vs its dry run",
            f"vs damo 3.4.3: {n} schemes JSON -> damo JSON (ours -t damo-json)"]


def ms(phases: dict, key: str) -> str:
    """A phase's wall time as measured inside damo's process, in ms."""
    return f"{phases[key][0] * 1000:.0f}"


def net(phases: dict) -> str:
    """damo's write phase without what our guards added to it, in ms."""
    return f"{(phases['write'][0] - phases['guard'][0]) * 1000:.0f}"


def run(quick: bool, n: int = 1000) -> list[dict]:
    repeat = 3 if quick else 10
    mod, why = oracle()
    if mod is None:
        return na_rows(n, why)
    damos = damos_cmd()
    prefix = mod.sandbox_prefix()
    sandbox = "private mount namespace, tmpfs over /sys/kernel/mm/damon" if prefix else \
        "no mount namespace here (not root or no unshare): audit hook only"
    with tempfile.TemporaryDirectory(prefix="damos-bench-damo-") as d:
        src = os.path.join(d, f"big{n}.damos")
        Path(src).write_text(scheme_file(n))
        big = os.path.join(d, f"big{n}.json")
        r = subprocess.run(damos + ["compile", src, "-t", "damo-json", "-o", big], cwd=ROOT,
                           capture_output=True, text=True)
        if r.returncode != 0:
            return na_rows(n, f"damos compile -t damo-json failed: {r.stderr.strip()[:100]}")
        work = os.path.join(d, "damo")
        os.mkdir(work)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work,
               "LC_ALL": "C.UTF-8"}
        cmd = tuple(prefix) + (mod.PYTHON, "-I", "-c", runner_source(mod))
        root = os.path.join(work, "admin")

        def req(mode: str) -> str:
            return json.dumps({"workdir": work, "mode": mode, "input": big, "root": root,
                               "output": os.path.join(work, "out.json")})
        try:
            timed(cmd, req("skeleton"), env, 1)      # the stand-in tree, not timed
            base_wall = base_cpu = 0.0
            if prefix:                               # the sandbox's own cost, subtracted
                runs = timed(tuple(prefix) + ("true",), "", env, repeat)
                base_wall = statistics.median(r[0] for r in runs)
                base_cpu = statistics.median(r[1] for r in runs)
            damo = {}
            # the dry runs first: the real writes fill the stand-in tree
            modes = [("plan", repeat), ("json", repeat)] + ([] if quick else [("sysfs", 3)])
            for mode, rep in modes:
                nets = []
                for w, c, out in timed(cmd, req(mode), env, rep):
                    ph = json.loads(out)
                    # not damo's cost: the dry run's set-up, our guards' path checks
                    extra = [ph[k] for k in ("setup", "guard") if k in ph]
                    nets.append((w - base_wall - sum(x[0] for x in extra),
                                 c - base_cpu - sum(x[1] for x in extra), ph))
                nets.sort(key=lambda x: x[0])
                mid = nets[len(nets) // 2]           # the median run's phases for the note
                damo[mode] = (mid[0], statistics.median(x[1] for x in nets), mid[2], rep)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            return na_rows(n, f"damo's run failed: {str(e).splitlines()[-1][:120]}")
        ours = {}
        for target in ("sysfs", "sysfs-plan", "damo-json"):
            ocmd = damos + ["compile", big, "-t", target, "-o", os.path.join(d, f"ours.{target}")]
            ours[target] = (wall(ocmd, repeat), CPU[tuple(ocmd)])
        nplan = len(json.loads(Path(d, "ours.sysfs-plan").read_text())["writes"])
        scmd = damos + ["compile", src, "-t", "sysfs", "-o", os.path.join(d, "src.sh")]
        from_src = wall(scmd, repeat)
        jcmd = damos + ["compile", src, "-t", "damo-json", "-o", os.path.join(d, "src.json")]
        src_json = wall(jcmd, repeat)
        # start-up on each side, to split the totals into start-up and per scheme
        ours_start = wall(damos + ["compile", "examples/ethp.damos", "-t", "sysfs"], repeat)
        python_start = wall([mod.PYTHON, "-I", "-c", "pass"], repeat)

    def cpu(c: float, dc: float) -> str:
        return f"CPU ours {c:.2f} s, damo {dc:.2f} s (CPU ratio {c / max(dc, 1e-9):.2f})"

    def start(ph: dict) -> str:
        return (f"after python's start-up: damo's library imports {ms(ph, 'import')} ms, "
                f"damo.py's subcommand imports and argparse {ms(ph, 'cli')} ms, "
                f"kdamonds_from_json_arg {ms(ph, 'parse')} ms")

    def split(w: float, dw: float, ph: dict) -> str:
        damo_start = python_start + ph["import"][0] + ph["cli"][0]
        ours_per, damo_per = (w - ours_start) / n, (dw - damo_start) / n
        lose = [what for what, worse in (("start-up", ours_start > damo_start),
                                         ("per scheme", ours_per > damo_per)) if worse]
        return (f"Start-up ours {ours_start * 1000:.0f} ms (`damos compile examples/ethp.damos "
                f"-t sysfs`), damo {damo_start * 1000:.0f} ms (bare python + its imports and "
                f"argparse); per scheme beyond it ours {ours_per * 1e6:.0f} us, damo "
                f"{damo_per * 1e6:.0f} us: we lose " + (" and ".join(lose) or "neither") + " here")

    rows = []
    dw, dc, ph, _ = damo["plan"]
    plan_wall = dw
    for target in ("sysfs-plan", "sysfs"):
        w, c = ours[target]
        what = (f"the write list as JSON, {nplan} writes" if target == "sysfs-plan" else
                f"the sh script doing them; from the .damos source {from_src:.2f} s")
        rows.append({
            "name": f"vs damo 3.4.3: {n} schemes JSON -> sysfs writes (ours -t {target})",
            "value": w, "unit": "s", "goal": "ratio < 1", "baseline": dw, "ratio": w / dw,
            "note": (f"ours/damo wall, medians of {repeat}; {cpu(c, dc)}. Ours: `damos compile "
                     f"big.json -t {target}` ({what}). damo, `damo start --kdamonds big.json` "
                     f"short of the kernel, in its own dry-run mode (_damo_fs.debug_dryrun: "
                     f"each write logged, not done): {start(ph)}, write_kdamonds_dir "
                     f"{net(ph)} ms for {ph['logged']} writes, with its isfile/isdir "
                     f"probes of a stand-in tree (damo also writes "
                     f"files left at their defaults: watermarks, apply_interval_us, "
                     f"goal_tuner); our guards' path checks ({ph['guard'][0] * 1000:.0f} ms, "
                     f"timed as they ran) and the dry run's set-up ({ph['setup'][0] * 1000:.0f} "
                     f"ms) subtracted. {split(w, dw, ph)}; {sandbox}; {load_note()}")})
    name = f"damo 3.4.3 doing the {n} schemes' writes (real files) vs its dry run"
    if "sysfs" not in damo:
        rows.append({"name": name, "value": "n/a", "unit": "",
                     "note": f"n/a: not run in --quick (each run creates ~{ph['logged']} files "
                             f"of a stand-in tree, 5-10 s here); the full run has it"})
    else:
        rows.append(real_writes_row(name, damo["sysfs"], plan_wall))
    dw, dc, ph, _ = damo["json"]
    w, c = ours["damo-json"]
    rows.append({
        "name": f"vs damo 3.4.3: {n} schemes JSON -> damo JSON (ours -t damo-json)",
        "value": w, "unit": "s", "goal": "ratio < 1", "baseline": dw, "ratio": w / dw,
        "note": (f"ours/damo wall, medians of {repeat}; {cpu(c, dc)}. Ours: `damos compile "
                 f"big.json -t damo-json` (parse, check every field, convert back). damo: "
                 f"`damo args damon --kdamonds big.json --format json --out F` short of its "
                 f"root check: {start(ph)}, to_kvpairs+json.dumps+write {ms(ph, 'dump')} ms; "
                 f"ours from the .damos source {src_json:.2f} s; per scheme ours checks every "
                 f"field, lowers to the language and converts back, damo maps JSON to objects "
                 f"and back. {split(w, dw, ph)}; {sandbox}; {load_note()}")})
    return rows


def real_writes_row(name: str, measured: tuple, plan_wall: float) -> dict:
    dw, dc, ph, rep = measured
    return {
        "name": name,
        "value": dw, "unit": "s", "baseline": plan_wall, "ratio": dw / plan_wall,
        "note": (f"damo's wall, median of {rep}, CPU {dc:.2f} s; ratio to damo's dry run above: "
                 f"the file I/O share. Same as above but write_kdamonds_dir really writes "
                 f"{ph['writes']} files of a stand-in tree on {tmp_fs()} "
                 f"({net(ph)} ms; a real sysfs write costs differently); ours has no "
                 f"counterpart (the sh script writes when run, never run here); our guards' "
                 f"{ph['guard'][0] * 1000:.0f} ms (path checks, timed as they ran) "
                 f"subtracted; {load_note()}")}


def tmp_fs() -> str:
    """The file system type of the temporary directory (where damo writes)."""
    tmp = os.path.realpath(tempfile.gettempdir())
    best, kind = "", "?"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1]
                if (tmp == mnt or tmp.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind
