"""Inside the stock 7.3 VM (the host's Python in the chroot): damos export
against the real kernel.  argv: WORKLOAD_PID SCHEME_FILE OUT_JSON.

One Python process (under TCG each start of the interpreter and its imports
costs tens of seconds): the exporter's HTTP server and textfile writer run
here as threads built exactly as ``damos export`` builds them
(:func:`damos_lang.export.command.make_collector`), and apply/stop are the
bodies of ``damos apply`` / ``damos stop``.  (The command line itself, with
SIGTERM, is tested on the host.)

1. HTTP on 127.0.0.1 (port 0); scrape "boot" while DAMON_STAT runs from boot;
2. damos apply --stop-damon-stat SCHEME_FILE --pid PID; scrapes "running1"
   and "running2", 3 s apart;
3. the textfile rewritten every 20 ms by a writer thread while the main
   thread reads it in a loop for 4 s (every read must parse whole);
4. the workload killed (its vaddr kdamond stops by itself): "target_gone";
5. damos stop (DAMON_STAT starts again): "stat_again".
Each scrape's status and text go to OUT_JSON, with the reader's counts and
promtool's verdict on running2 and on the last textfile."""
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from damos_lang.console import Exit
from damos_lang.export import serve
from damos_lang.export.command import make_collector
from damos_lang.live import commands as live

pid, scheme, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
res = {"scrapes": [], "t0": None}


def now():
    return float(open("/proc/uptime").read().split()[0])


def damos(body, *args):
    """A command body as the CLI runs it: its exit status and output."""
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try:
            rc = body(*args)
        except Exit as x:
            rc = x.code
    return {"rc": rc or 0, "out": o.getvalue()[-2000:], "err": e.getvalue()[-2000:]}


res["t0"] = now()
registry = serve.registry_with(make_collector(None, None, (), True))
server, _ = serve.serve_http(registry, "127.0.0.1", 0)
url = f"http://127.0.0.1:{server.server_port}/metrics"


def scrape(tag):
    t0 = now()
    entry = {"tag": tag, "uptime": t0}
    try:
        r = urllib.request.urlopen(url, timeout=60)
        entry["status"] = r.status
        entry["text"] = r.read().decode()
    except Exception as e:             # recorded: the host asserts on it
        entry["error"] = repr(e)
    entry["seconds"] = now() - t0
    res["scrapes"].append(entry)
    return entry


def save():
    with open(out_path, "w") as f:
        json.dump(res, f)


try:
    scrape("boot")
    # damos apply --stop-damon-stat SCHEME --pid PID
    res["apply"] = damos(live.apply, scheme, pid, None, None, "sysfs", True, False, False)
    time.sleep(3)
    scrape("running1")
    time.sleep(3)
    scrape("running2")

    # the textfile, rewritten every 20 ms while read in a loop
    d = "/tmp/textfile"
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "damos.prom")
    # the writer reads without refresh commands (each costs a kdamond wake-up
    # under TCG): many rewrites in the 4 s, each with a new scrape duration
    quiet = serve.registry_with(make_collector(None, None, (), False))
    stop_writing = threading.Event()

    writes = [0]

    def write_loop():
        while not stop_writing.is_set():
            writes[0] += 1
            serve.textfile_loop(quiet, d, 0.02, count=1)
            time.sleep(0.02)
    writer = threading.Thread(target=write_loop, daemon=True)
    writer.start()
    while not os.path.exists(path):
        time.sleep(0.01)
    reads = bad = 0
    seen = {}
    end = time.monotonic() + 4
    while time.monotonic() < end:
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            continue
        reads += 1
        if text not in seen:          # parse each content once (parsing is slow under TCG)
            try:
                list(text_string_to_metric_families(text))
                seen[text] = text.endswith("\n") and "\ndamos_export_skipped_kdamonds " in text
            except Exception:
                seen[text] = False
        bad += not seen[text]
        time.sleep(0.002)             # let the writer thread have the GIL
    stop_writing.set()
    writer.join(timeout=30)
    res["textfile"] = {"reads": reads, "bad": bad, "distinct": len(seen), "writes": writes[0],
                       "writer_alive": writer.is_alive(), "left": sorted(os.listdir(d))}
    last_textfile = open(path).read()

    promtool = shutil.which("promtool")
    res["promtool"] = None
    if promtool:
        checks = {}
        for name, text in (("http", res["scrapes"][-1].get("text", "")),
                           ("textfile", last_textfile)):
            p = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=60)
            checks[name] = {"rc": p.returncode, "out": (p.stdout + p.stderr)[-2000:]}
        res["promtool"] = checks

    os.kill(pid, signal.SIGKILL)
    time.sleep(2)
    scrape("target_gone")
    res["stop"] = damos(live.stop, None, None, None)
    time.sleep(1)
    scrape("stat_again")
finally:
    server.shutdown()
    save()
