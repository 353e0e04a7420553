"""The textfile is never seen half-written (a reader process loops while it
is rewritten many times; the same reader does catch a writer that is not
atomic); promtool check metrics passes on what we emit (HTTP and textfile);
bad options: one line, exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.export.command import make_collector
from damos_lang.export.serve import TEXTFILE, registry_with, textfile_loop, write_textfile
from damos_lang.sysfs import layout as L
from damos_lang.sysfs.standin import StandIn
from prometheus_client import generate_latest

from .helpers import NAMED, PRCL, apply_file, modules, promtool, promtool_check, samples, tree

LAST = "damos_export_skipped_kdamonds "     # the last family of every scrape

READER = textwrap.dedent(r"""
    import json, os, sys, time
    from prometheus_client.parser import text_string_to_metric_families
    path, stop = sys.argv[1], sys.argv[2]
    reads = bad = 0
    seen = set()
    while not os.path.exists(stop):
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            continue
        reads += 1
        try:
            fams = list(text_string_to_metric_families(text))
            whole = text.endswith("\n") and any(l.startswith("damos_export_skipped_kdamonds ")
                                                for l in text.splitlines())
        except Exception:
            whole = False
        if not whole:
            bad += 1
        else:
            seen.add(text)
    print(json.dumps({"reads": reads, "bad": bad, "distinct": len(seen)}))
""")


def run_reader_during(tmp_path, rewrite) -> dict:
    path = str(tmp_path / TEXTFILE)
    stop = str(tmp_path.parent / (tmp_path.name + ".stop"))
    reader = subprocess.Popen([sys.executable, "-c", READER, path, stop], stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ))
    try:
        time.sleep(0.3)                   # the reader is looping
        rewrite(path)
    finally:
        open(stop, "w").close()
        out, _ = reader.communicate(timeout=60)
    return json.loads(out)


@pytest.fixture
def busy_tree(tmp_path):
    root = tree(tmp_path)
    StandIn(root).write(L.NR_KDAMONDS, "2")
    named = tmp_path / "named.damos"
    named.write_text(NAMED)
    apply_file(root, str(named))
    apply_file(root, PRCL)
    return root


def test_the_textfile_is_never_seen_half_written(tmp_path, busy_tree):
    reg = registry_with(make_collector(busy_tree, modules(tmp_path), (), True))
    out_dir = tmp_path / "textfile"
    out_dir.mkdir()
    # every rewrite has new counters (the stand-in moves at each refresh)
    res = run_reader_during(out_dir, lambda p: textfile_loop(reg, str(out_dir), 0.002, count=300))
    assert res["bad"] == 0, res
    assert res["reads"] > 300 and res["distinct"] > 20, res       # it did read during rewrites
    assert sorted(os.listdir(out_dir)) == [TEXTFILE]                 # no temporary left behind


def test_the_reader_catches_a_writer_that_is_not_atomic(tmp_path, busy_tree):
    # the proof above could not pass by a reader that sees nothing
    reg = registry_with(make_collector(busy_tree, None, (), True))
    text = generate_latest(reg)

    def naive(path):
        for _ in range(100):
            with open(path, "wb") as f:
                f.write(text[: len(text) // 2])
                f.flush()
                time.sleep(0.002)
                f.write(text[len(text) // 2:])
    res = run_reader_during(tmp_path, naive)
    assert res["bad"] > 0, res


def test_the_loop_keeps_its_schedule(monkeypatch):
    import damos_lang.export.serve as S
    now = [0.0]
    writes, sleeps = [], []

    def write(reg, d):                   # each write takes 0.3 s
        writes.append(now[0])
        now[0] += 0.3

    def sleep(s):
        sleeps.append(s)
        now[0] += s
    monkeypatch.setattr(S, "write_textfile", write)
    textfile_loop(None, "/nonexistent", 1.0, count=4, sleep=sleep, clock=lambda: now[0])
    assert writes == pytest.approx([0.0, 1.0, 2.0, 3.0])        # a 0.3 s write does not drift it
    assert sleeps == pytest.approx([0.7, 0.7, 0.7])


# -- promtool ------------------------------------------------------------------------

def need_promtool():
    if promtool() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool (Debian's prometheus package) is missing in CI: ./dev test "
                        "installs it as root")
        pytest.skip("no promtool (apt-get install prometheus)")


def test_promtool_accepts_the_textfile_and_the_http_text(tmp_path, busy_tree):
    need_promtool()
    rec = tmp_path / "run.jsonl"
    from damos_lang.run.command import run_file
    named = tmp_path / "named.damos"
    assert run_file(str(named), sim="stairs", command=[], duration="1s", dry_run=False,
                    record=str(rec), realtime=False, seed=0, quiet=True) == 0
    reg = registry_with(make_collector(busy_tree, modules(tmp_path), [str(rec)], True))
    d = tmp_path / "tf"
    d.mkdir()
    path = write_textfile(reg, str(d))
    text = open(path).read()
    # everything is in it: kdamonds, schemes, DAMON_STAT, the run session
    for fam in ("damos_scheme_tried_bytes_total", "damos_damon_stat_memory_idle_seconds",
                "damos_run_scheme_applied_bytes_total", "damos_kdamond_info"):
        assert f"\n{fam}" in text
    r = promtool_check(text)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr
    # and what the HTTP endpoint serves a Prometheus that asks for the text format
    import urllib.request
    from damos_lang.export.serve import serve_http
    server, _ = serve_http(reg, "127.0.0.1", 0)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics",
                                      timeout=10).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert "damos_scheme_tried_bytes_total" in body
    r = promtool_check(body)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr


def test_promtool_catches_a_badly_named_counter():
    need_promtool()
    r = promtool_check("# HELP x_bytes a counter without _total\n# TYPE x_bytes counter\nx_bytes 1\n")
    assert r.returncode != 0 or r.stdout.strip() or r.stderr.strip()


# -- the command ---------------------------------------------------------------------

def cli(*args):
    return CliRunner().invoke(app, ["export", *args])


def test_textfile_once_through_the_command(tmp_path, busy_tree):
    d = tmp_path / "tf"
    d.mkdir()
    r = cli("--sysfs-root", busy_tree, "--textfile", str(d))
    assert r.exit_code == 0, r.output
    v = samples((d / TEXTFILE).read_text())
    assert v[("damos_kdamond_running", frozenset({"kdamond": "1"}.items()))] == 1


@pytest.mark.parametrize("args, words", [
    (["--interval", "0", "--textfile", "."], "--interval 0"),
    (["--loop"], "--loop needs --textfile"),
    (["--listen", "localhost"], "--listen 'localhost'"),
    (["--listen", "127.0.0.1:70000"], "PORT 0 to 65535"),
    (["--listen", ":9"], "expected ADDR:PORT"),
    (["--textfile", "/nonexistent/dir"], "not a directory"),
    (["--textfile", ".", "--listen", "127.0.0.1:1"], "choose one"),
    (["--run-record", "/"], "a directory"),
])
def test_bad_options_one_line_exit_2(args, words):
    r = cli("--sysfs-root", ".", *args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("damos export: error: ") and words in lines[0], \
        r.output
    assert "Traceback" not in r.output


def test_http_through_the_command_and_sigterm(tmp_path, busy_tree):
    import re
    import urllib.request
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-m", "damos_lang", "export", "--sysfs-root", busy_tree,
                          "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
        assert m, line
        body = urllib.request.urlopen(m.group(0), timeout=20).read().decode()
        assert "damos_scheme_tried_regions_total" in body
    finally:
        p.terminate()
        rc = p.wait(timeout=20)
    assert rc == 0
