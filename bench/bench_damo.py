"""Our compiler against damo 3.4.3 converting the same 1000 schemes.

The schemes are bench_compiler's generated file (``scheme_file``), and the
input both sides share is its damo kdamonds JSON (``damos compile -t
damo-json``, which damo's own parser reads back).  Each side is one whole
process, timed from outside (wall, and CPU from ``os.wait4``):

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
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_compiler import scheme_file  # noqa: E402
from bench.common import (CommandFailed, damos_cmd, load_note, median_of, row,  # noqa: E402
                          run_command)

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


def timed(cmd: tuple, stdin: str, env: dict, repeat: int) -> list:
    """``repeat`` runs of ``cmd`` (common.Run: wall, CPU, stdout); raises
    CommandFailed when one fails or takes more than 300 s."""
    return [run_command(cmd, stdin=stdin, env=env, timeout=300) for _ in range(repeat)]


def na_rows(n: int, why: str) -> list[dict]:
    return [row(name, "n/a", "", note=f"n/a: {why}") for name in row_names(n)]


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
        r = run_command(damos + ["compile", src, "-t", "damo-json", "-o", big], check=False)
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
                base_wall = statistics.median(r.wall_s for r in runs)
                base_cpu = statistics.median(r.cpu_s for r in runs)
            damo = {}
            # the dry runs first: the real writes fill the stand-in tree
            modes = [("plan", repeat), ("json", repeat)] + ([] if quick else [("sysfs", 3)])
            for mode, rep in modes:
                nets = []
                for r in timed(cmd, req(mode), env, rep):
                    w, c, ph = r.wall_s, r.cpu_s, json.loads(r.stdout)
                    # not damo's cost: the dry run's set-up, our guards' path checks
                    extra = [ph[k] for k in ("setup", "guard") if k in ph]
                    nets.append((w - base_wall - sum(x[0] for x in extra),
                                 c - base_cpu - sum(x[1] for x in extra), ph))
                nets.sort(key=lambda x: x[0])
                mid = nets[len(nets) // 2]           # the median run's phases for the note
                damo[mode] = (mid[0], statistics.median(x[1] for x in nets), mid[2], rep)
        except (CommandFailed, ValueError) as e:
            return na_rows(n, f"damo's run failed: {str(e).splitlines()[-1][:120]}")
        ours = {}
        for target in ("sysfs", "sysfs-plan", "damo-json"):
            ocmd = damos + ["compile", big, "-t", target, "-o", os.path.join(d, f"ours.{target}")]
            m = median_of(ocmd, repeat)
            ours[target] = (m.wall_s, m.cpu_s)
        nplan = len(json.loads(Path(d, "ours.sysfs-plan").read_text())["writes"])
        scmd = damos + ["compile", src, "-t", "sysfs", "-o", os.path.join(d, "src.sh")]
        from_src = median_of(scmd, repeat).wall_s
        jcmd = damos + ["compile", src, "-t", "damo-json", "-o", os.path.join(d, "src.json")]
        src_json = median_of(jcmd, repeat).wall_s
        # start-up on each side, to split the totals into start-up and per scheme
        ours_start = median_of(damos + ["compile", "examples/ethp.damos", "-t", "sysfs"],
                               repeat).wall_s
        python_start = median_of([mod.PYTHON, "-I", "-c", "pass"], repeat).wall_s

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

    def vs_damo(output: str, target: str, what: str, mode: str, damo_side: str) -> dict:
        """Ours to ``target`` next to damo in ``mode``, ``damo_side`` saying
        what damo's run did."""
        (w, c), (dw, dc, ph, _) = ours[target], damo[mode]
        return row(f"vs damo 3.4.3: {n} schemes JSON -> {output} (ours -t {target})", w, "s",
                   goal="ratio < 1", baseline=dw, ratio=w / dw,
                   note=f"ours/damo wall, medians of {repeat}; {cpu(c, dc)}. Ours: `damos "
                        f"compile big.json -t {target}` ({what}). damo{damo_side} "
                        f"{split(w, dw, ph)}; {sandbox}; {load_note()}")

    ph = damo["plan"][2]
    dry_run = (f", `damo start --kdamonds big.json` short of the kernel, in its own dry-run "
               f"mode (_damo_fs.debug_dryrun: each write logged, not done): {start(ph)}, "
               f"write_kdamonds_dir {net(ph)} ms for {ph['logged']} writes, with its "
               f"isfile/isdir probes of a stand-in tree (damo also writes files left at their "
               f"defaults: watermarks, apply_interval_us, goal_tuner); our guards' path checks "
               f"({ph['guard'][0] * 1000:.0f} ms, timed as they ran) and the dry run's set-up "
               f"({ph['setup'][0] * 1000:.0f} ms) subtracted.")
    rows = [vs_damo("sysfs writes", "sysfs-plan", f"the write list as JSON, {nplan} writes",
                    "plan", dry_run),
            vs_damo("sysfs writes", "sysfs",
                    f"the sh script doing them; from the .damos source {from_src:.2f} s",
                    "plan", dry_run)]
    name = f"damo 3.4.3 doing the {n} schemes' writes (real files) vs its dry run"
    if "sysfs" not in damo:
        rows.append(row(name, "n/a", "",
                        note=f"n/a: not run in --quick (each run creates ~{ph['logged']} files "
                             f"of a stand-in tree, 5-10 s here); the full run has it"))
    else:
        rows.append(real_writes_row(name, damo["sysfs"], damo["plan"][0]))
    ph = damo["json"][2]
    rows.append(vs_damo("damo JSON", "damo-json", "parse, check every field, convert back", "json",
                        f": `damo args damon --kdamonds big.json --format json --out F` short "
                        f"of its root check: {start(ph)}, to_kvpairs+json.dumps+write "
                        f"{ms(ph, 'dump')} ms; ours from the .damos source {src_json:.2f} s; "
                        f"per scheme ours checks every field, lowers to the language and "
                        f"converts back, damo maps JSON to objects and back."))
    return rows


def real_writes_row(name: str, measured: tuple, plan_wall: float) -> dict:
    dw, dc, ph, rep = measured
    return row(
        name, dw, "s", baseline=plan_wall, ratio=dw / plan_wall,
        note=(f"damo's wall, median of {rep}, CPU {dc:.2f} s; ratio to damo's dry run above: "
              f"the file I/O share. Same as above but write_kdamonds_dir really writes "
              f"{ph['writes']} files of a stand-in tree on {tmp_fs()} "
              f"({net(ph)} ms; a real sysfs write costs differently); ours has no "
              f"counterpart (the sh script writes when run, never run here); our guards' "
              f"{ph['guard'][0] * 1000:.0f} ms (path checks, timed as they ran) "
              f"subtracted; {load_note()}"))


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
