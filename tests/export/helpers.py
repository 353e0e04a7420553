"""Stand-in trees with running kdamonds for the exporter's tests, and the
exposition parsed back (prometheus_client's own parser)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from damos_lang.live import apply as A
from damos_lang.pipeline import compile_path, unit_from_text
from damos_lang.sysfs.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
PRCL = str(ROOT / "examples/prcl.damos")
PID = os.getpid()

NAMED = """scheme cold_out {
    action pageout
    size 4K..max
    access 0%..0%
    age 5s..max
    quota {
        size 64M
        reset 1s
    }
}

scheme hot_stat {
    action stat
    access 50%..100%
}
"""

def modules(tmp_path, enabled="Y", idle=None):
    base = tmp_path / "module/damon_stat/parameters"
    base.mkdir(parents=True, exist_ok=True)
    (base / "enabled").write_text(enabled + "\n")
    (base / "kdamond_pid").write_text(("54" if enabled == "Y" else "-1") + "\n")
    (base / "estimated_memory_bandwidth").write_text("123456789\n")
    idle = idle if idle is not None else [i * 10 - 200 for i in range(101)]
    (base / "memory_idle_ms_percentiles").write_text(",".join(map(str, idle)) + "\n")
    (base / "aggr_interval_us").write_text("250000\n")
    return str(tmp_path / "module")


def tree(tmp_path, version=(7, 3), mods=None):
    root = str(tmp_path / "admin")
    StandIn.create(root, version, pids={PID}, module_root=mods)
    return root


def apply_file(root, path=PRCL, mods=None, text=None):
    unit = unit_from_text(text, path, pid=PID) if text is not None else compile_path(path, pid=PID)
    return A.apply(unit, root=root, module_root=mods, sleep=lambda s: None,
                   stop_damon_stat=True)


def samples(text: str) -> dict:
    """{(sample name, frozenset(labels)): value} of an exposition text."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def promtool() -> str | None:
    return shutil.which("promtool")


def promtool_check(text: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), "check", "metrics"], input=text, text=True,
                          capture_output=True, timeout=60)
