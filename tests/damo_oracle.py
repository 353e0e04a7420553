"""damo 3.4.3 as an oracle, run as a separate process, never against the host.

Two requests, each answered by damo's own code:

* :func:`damo_writes` -- damo reads a kdamonds JSON with the function its
  CLI uses for ``--kdamonds`` (``_damon_args.kdamonds_from_json_arg``), then
  writes it with its sysfs writer (``_damon_sysfs.write_kdamonds_dir``,
  the code ``damo start`` runs, unit conversion included) into a *fake*
  sysfs tree in a temporary directory.  The answer is every file damo wrote,
  ``{path relative to the admin root: content}``, plus damo's debugfs line
  (``_damon_dbgfs.damos_to_debugfs_input``) of each scheme debugfs can take.
* :func:`damo_legacy_lines` -- damo's deprecated single-line parser
  (``_damo_deprecated.damo_single_line_schemes_to_damos``) on legacy lines,
  then its debugfs writer at given intervals: damo's 18-field (and 7-field)
  ``schemes`` lines.

Safety (the host runs a kdamond that is not ours):

* nothing here calls damo's feature probes, ``initialize`` or anything
  that resolves the real sysfs/debugfs roots; the writers get explicit
  paths inside the temporary directory;
* the runner installs a Python audit hook that kills the process on any
  ``open`` of a path under ``/sys`` or ``/proc/sys`` and on any attempt to
  start a process (but ``file -b``, which ``platform.architecture()`` runs
  when damo's ``_damo_fmt_str`` is imported), before damo is imported; and
  damo's ``_damo_fs.write_file`` is wrapped to refuse any path outside the
  temporary directory;
* when possible (root, ``unshare`` available) the runner runs in a private
  mount namespace with empty tmpfs mounted over ``/sys/kernel/mm/damon``
  and ``/sys/kernel/debug``, so even a stray write lands nowhere.

``damo_available()`` tells whether damo is importable by this interpreter;
tests skip without it locally and fail in CI (``CI=true``).
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

PYTHON = sys.executable

RUNNER = r'''
import json, os, sys

def _guard(event, args):
    if event == "open":
        path = args[0]
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        if isinstance(path, str):
            real = os.path.realpath(path)
            if real == "/sys" or real.startswith("/sys/") or real.startswith("/proc/sys"):
                os.write(2, ("damo_oracle: refused to open %s\n" % real).encode())
                os._exit(97)
    elif event == "subprocess.Popen" and list(args[1])[:2] == ["file", "-b"]:
        pass    # platform.architecture(), which _damo_fmt_str calls at import
    elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn",
                   "os.spawn", "os.fork"):
        os.write(2, ("damo_oracle: refused %s\n" % event).encode())
        os._exit(98)

sys.addaudithook(_guard)

import importlib.util
spec = importlib.util.find_spec("damo")
damo_dir = os.path.dirname(spec.origin)
sys.path.insert(0, damo_dir)

import _damo_fs, _damon, _damon_args, _damon_sysfs, _damon_dbgfs, _damo_deprecated

req = json.load(sys.stdin)
work = req["workdir"]
assert os.path.isabs(work) and not os.path.realpath(work).startswith("/sys")

_write = _damo_fs.write_file
def _checked_write(path, content):
    real = os.path.realpath(path)
    if not real.startswith(os.path.realpath(work) + os.sep):
        os.write(2, ("damo_oracle: refused to write %s\n" % real).encode())
        os._exit(96)
    return _write(path, content)
_damo_fs.write_file = _checked_write


def mkfile(path, content=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def skeleton(root, kdamonds):
    """A fake admin tree shaped like a recent kernel's (filters/ layout), with
    nr_* files already holding the counts, so damo writes values only."""
    j = os.path.join
    mkfile(j(root, "kdamonds", "nr_kdamonds"), "%d" % len(kdamonds))
    for ki, kd in enumerate(kdamonds):
        kdir = j(root, "kdamonds", "%d" % ki)
        mkfile(j(kdir, "refresh_ms"), "0")          # 6.17; damo writes it where it exists
        mkfile(j(kdir, "contexts", "nr_contexts"), "%d" % len(kd.contexts))
        for ci, ctx in enumerate(kd.contexts):
            c = j(kdir, "contexts", "%d" % ci)
            mkfile(j(c, "addr_unit"), "1")           # 6.18
            mkfile(j(c, "pause"), "N")               # 7.2
            os.makedirs(j(c, "monitoring_attrs", "intervals"), exist_ok=True)
            os.makedirs(j(c, "monitoring_attrs", "nr_regions"), exist_ok=True)
            if ctx.intervals.intervals_goal != _damon.DamonIntervalsGoal():
                os.makedirs(j(c, "monitoring_attrs", "intervals", "intervals_goal"),
                            exist_ok=True)
            if ctx.probes:                           # 7.2; weight 7.3
                pb = j(c, "monitoring_attrs", "probes")
                mkfile(j(pb, "nr_probes"), "%d" % len(ctx.probes))
                for pi, p in enumerate(ctx.probes):
                    mkfile(j(pb, "%d" % pi, "weight"), "0")
                    mkfile(j(pb, "%d" % pi, "filters", "nr_filters"), "%d" % len(p.filters))
                    for fi in range(len(p.filters)):
                        os.makedirs(j(pb, "%d" % pi, "filters", "%d" % fi))
            mkfile(j(c, "targets", "nr_targets"), "%d" % len(ctx.targets))
            for ti, t in enumerate(ctx.targets):
                mkfile(j(c, "targets", "%d" % ti, "regions", "nr_regions"),
                       "%d" % len(t.regions))
                for ri in range(len(t.regions)):
                    os.makedirs(j(c, "targets", "%d" % ti, "regions", "%d" % ri))
            mkfile(j(c, "schemes", "nr_schemes"), "%d" % len(ctx.schemes))
            for si, s in enumerate(ctx.schemes):
                sd = j(c, "schemes", "%d" % si)
                for d in ("sz", "nr_accesses", "age"):
                    os.makedirs(j(sd, "access_pattern", d))
                os.makedirs(j(sd, "quotas", "weights"))
                os.makedirs(j(sd, "watermarks"))
                mkfile(j(sd, "apply_interval_us"), "0")
                mkfile(j(sd, "quotas", "goal_tuner"), "consist")
                mkfile(j(sd, "quotas", "goals", "nr_goals"), "%d" % len(s.quotas.goals))
                for gi in range(len(s.quotas.goals)):
                    mkfile(j(sd, "quotas", "goals", "%d" % gi, "target_metric"), "user_input")
                    mkfile(j(sd, "quotas", "goals", "%d" % gi, "complement"), "N")
                if s.filters:
                    mkfile(j(sd, "filters", "nr_filters"), "%d" % len(s.filters))
                    for fi in range(len(s.filters)):
                        mkfile(j(sd, "filters", "%d" % fi, "allow"), "N")
                if s.dests:
                    mkfile(j(sd, "dests", "nr_dests"), "%d" % len(s.dests))
                    for di in range(len(s.dests)):
                        os.makedirs(j(sd, "dests", "%d" % di))


def read_tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            with open(p, newline="") as f:     # keep \r as written
                out[os.path.relpath(p, root)] = f.read()
    return out


def debugfs_lines(ctx):
    lines = []
    for s in ctx.schemes:
        if s.action not in _damon_dbgfs.damos_action_to_int or s.filters:
            lines.append(None)
            continue
        lines.append(_damon_dbgfs.damos_to_debugfs_input(s, ctx.intervals, True))
    return lines


answers = []
for i, item in enumerate(req["items"]):
    if item["kind"] == "json":
        path = os.path.join(work, "in-%d.json" % i)
        with open(path, "w") as f:
            f.write(item["text"])
        kdamonds, err = _damon_args.kdamonds_from_json_arg(path)
        if err is not None:
            answers.append({"error": "%s: %s" % (type(err).__name__, err)})
            continue
        # damo's debugfs lines, from a fresh parse (writing converts in place)
        again, _ = _damon_args.kdamonds_from_json_arg(path)
        dbgfs = debugfs_lines(again[0].contexts[0])
        root = os.path.join(work, "admin-%d" % i)
        skeleton(root, kdamonds)
        err = _damon_sysfs.write_kdamonds_dir(os.path.join(root, "kdamonds"), kdamonds)
        if err is not None:
            answers.append({"error": "write: %s" % err})
            continue
        answers.append({"files": read_tree(root), "debugfs": dbgfs})
    elif item["kind"] == "legacy":
        _damo_deprecated.avoid_crashing_single_line_scheme_for_testing = True
        _damo_deprecated.avoid_crashing_v1_v3_schemes_for_testing = True
        schemes, err = _damo_deprecated.damo_single_line_schemes_to_damos(item["text"])
        if err is not None:
            answers.append({"error": err})
            continue
        iv = _damon.DamonIntervals(item["sample_us"], item["aggr_us"], item.get("update_us", 1000000))
        answers.append({
            "v4": [_damon_dbgfs.damos_to_debugfs_input(s, iv, True) for s in schemes],
            "v0": [_damon_dbgfs.damos_to_debugfs_input(s, iv, False) for s in schemes]})
    else:
        answers.append({"error": "unknown request"})

sys.stdout.write(json.dumps(answers))
'''

SANDBOX = r'''
set -e
for d in /sys/kernel/mm/damon /sys/kernel/debug; do
    if [ -d "$d" ]; then mount -t tmpfs -o size=1m damos-oracle "$d"; fi
done
exec "$@"
'''


@functools.lru_cache(maxsize=None)
def damo_available() -> bool:
    r = subprocess.run([PYTHON, "-c", "import importlib.util, sys; "
                        "s = importlib.util.find_spec('damo'); "
                        "import os; sys.exit(0 if s and os.path.isfile(os.path.join("
                        "os.path.dirname(s.origin), '_damon_args.py')) else 1)"],
                       capture_output=True)
    return r.returncode == 0


@functools.lru_cache(maxsize=None)
def sandbox_prefix() -> tuple[str, ...]:
    """The private-mount-namespace prefix, or () when it cannot be had here
    (not root, no unshare): then only the audit hook guards the run."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        return ()
    prefix = (unshare, "--mount", "--propagation", "private", "sh", "-c", SANDBOX, "damos-oracle")
    probe = subprocess.run(prefix + ("sh", "-c", "! [ -d /sys/kernel/mm/damon ] || "
                                     "[ -z \"$(ls -A /sys/kernel/mm/damon)\" ]"),
                           capture_output=True, timeout=30)
    return prefix if probe.returncode == 0 else ()


def require_damo() -> None:
    """Skip (locally) or fail (CI=true) when damo is not installed."""
    if damo_available():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("damo 3.4.3 is not installed, and the damo oracle tests must run in CI")
    pytest.skip("damo is not installed (pip install damo==3.4.3)")


def _run(items: list[dict]) -> list[dict]:
    require_damo()
    with tempfile.TemporaryDirectory(prefix="damos-oracle-") as work:
        req = json.dumps({"workdir": work, "items": items})
        cmd = sandbox_prefix() + (PYTHON, "-I", "-c", RUNNER)
        r = subprocess.run(cmd, input=req, capture_output=True, text=True, timeout=120,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                "HOME": work, "LC_ALL": "C.UTF-8"})
        if r.returncode != 0:
            raise RuntimeError(f"damo oracle failed ({r.returncode}): {r.stderr[-2000:]}")
        return json.loads(r.stdout)


def damo_writes(json_texts: list[str]) -> list[dict]:
    """For each kdamonds JSON text: ``{"files": {path: content}, "debugfs":
    [line or None per scheme]}`` or ``{"error": message}``."""
    return _run([{"kind": "json", "text": t} for t in json_texts])


def damo_legacy_lines(texts: list[str], sample_us: int = 5000, aggr_us: int = 100000
                      ) -> list[dict]:
    """For each legacy-lines text: ``{"v4": [18-field lines], "v0": [7-field
    lines]}`` (damo's tab-separated debugfs input) or ``{"error": ...}``."""
    return _run([{"kind": "legacy", "text": t, "sample_us": sample_us, "aggr_us": aggr_us}
                 for t in texts])
