"""masim workload files: every rule masim's reader has is checked, and an
error names the file, the line and the rule broken (issue 14: a file with no
empty line between paragraphs said "needs a regions paragraph")."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from damos_lang.monitor.errors import MonitorError
from damos_lang.monitor.masim import load_masim, parse_masim
from damos_lang.run import workloads

ROOT = Path(__file__).resolve().parent.parent
GOOD = "#regions\nr, 8192\ns, 4096, none\n\n#phases\nfirst\n100\nr, 0, 4096, 1\ns, 1, 64, 2, ro\n"

# (text, line, words the message must have)
BROKEN = [
    ("r, 8192\nphase\n10\nr, 0, 64, 1\n", 2,
     ["'name, size_in_bytes[, data_file]'", "1 field", "an empty line must separate"]),
    ("#regions\nr, 8192\n", 2, ["no phases", "an empty line and at least one phase"]),
    ("", 1, ["empty"]),
    ("\nr, 8192\n\nphase\n10\nr, 0, 64, 1\n", 1, ["empty line before the regions"]),
    ("r, 8192\n\nphase\n10\nr, 0, 64, 1", 5, ["must end with a newline"]),
    ("r, 8192\n\nphase\n10\nr, 0, 64, 1\n\n", 6, ["empty line at the end"]),
    ("r, 8192\n\n\nphase\n10\nr, 0, 64, 1\n", 3, ["second empty line in a row", "line 2",
                                                   "exactly one"]),
    ("r, 8192\n\n#c\n\nphase\n10\nr, 0, 64, 1\n", 4, ["second empty line", "line 2"]),
    ("r, 8192\n  \nphase\n10\nr, 0, 64, 1\n", 2, ["only blanks", "truly empty"]),
    ("r, 8192\r\n\r\nphase\r\n10\r\nr, 0, 64, 1\r\n", 1, ["carriage return", "dos2unix"]),
    ("r, big\n\nphase\n10\nr, 0, 64, 1\n", 1, ["region size", "whole number", "'big'"]),
    ("r, 0\n\nphase\n10\nr, 0, 64, 1\n", 1, ["size 0"]),
    ("r, 8192\nr, 4096\n\nphase\n10\nr, 0, 64, 1\n", 2, ["already defined at line 1"]),
    (", 8192\n\nphase\n10\nr, 0, 64, 1\n", 1, ["region name has 1 to 255 bytes"]),
    ("x" * 256 + ", 8192\n\nphase\n10\nr, 0, 64, 1\n", 1, ["1 to 255 bytes"]),
    ("r, 8192,\n\nphase\n10\nr, 0, 64, 1\n", 1, ["data file field is empty", "'none'"]),
    ("r, 8192, a, b\n\nphase\n10\nr, 0, 64, 1\n", 1, ["4 fields"]),
    ("r, 100000000000\n\nphase\n10\nr, 0, 64, 1\n", 1, ["add up to", "64 GiB"]),
    ("r, 8192\n\nphase\n10\n", 3, ["phase 'phase'", "at least one pattern line", "2 lines"]),
    ("r, 8192\n\nphase\nr, 0, 64, 1\n", 3, ["phase 'phase'", "2 lines"]),
    ("r, 8192\n\nphase\nr, 0, 64, 1\nr, 0, 64, 1\n", 4, ["second line", "duration in ms",
                                                         "not a pattern"]),
    ("r, 8192\n\nphase\n10ms\nr, 0, 64, 1\n", 4, ["phase duration (ms)", "'10ms'"]),
    ("r, 8192\n\nphase\n99999999999\nr, 0, 64, 1\n", 4, ["above 2147483647"]),
    ("r, 8192\n\nphase\n10\nq, 0, 64, 1\n", 5, ["no region named 'q'", "the regions are 'r'"]),
    ("r, 8192\n\nphase\n10\n r, 0, 64, 1\n", 5, ["no region named ' r'", "byte for byte",
                                                 "did you mean 'r'"]),
    ("r, 8192\n\nphase\n10\nr, 0, 64\n", 5, ["pattern line", "3 fields"]),
    ("r, 8192\n\nphase\n10\nr, 0, -64, 1\n", 5, ["stride (bytes)", "whole number"]),
    ("r, 8192\n\nphase\n10\nr, x, 64, 1\n", 5, ["random field"]),
    ("r, 8192\n\nphase\n10\nr, 0, 64, 1.5\n", 5, ["probability", "whole number"]),
    ("r, 8192\n\nphase\n10\nr, 0, 64, 1, rx\n", 5, ["access mode is ro, wo or rw", "'rx'"]),
    ("r, 8192\n\nphase\n10\nr, 0, 64, 2000000000\nr, 0, 64, 2000000000\n", 3,
     ["add up to more than 2147483647"]),
    ("r, 8192\n\np1\n10\nr, 0, 64, 1\n\np2\n10\n", 7, ["phase 'p2'"]),
]


@pytest.mark.parametrize("text,line,words", BROKEN, ids=[repr(b[0][:40]) for b in BROKEN])
def test_each_broken_rule_is_named_at_its_line(text, line, words):
    with pytest.raises(MonitorError) as e:
        parse_masim(text, "w.cfg")
    message = str(e.value)
    assert message.startswith(f"w.cfg:{line}: "), message
    for word in words:
        assert word in message, (word, message)
    assert "\n" not in message


def test_good_configs_parse_as_masim_reads_them():
    cfg = parse_masim(GOOD)
    assert [(r.name, r.size) for r in cfg.regions] == [("r", 8192), ("s", 4096)]
    (phase,) = cfg.phases
    assert (phase.name, phase.duration_ms) == ("first", 100)
    assert [(p.region, p.random, p.stride, p.weight, p.mode) for p in phase.patterns] == \
        [("r", False, 4096, 1, "wo"), ("s", True, 64, 2, "ro")]
    # masim: numbers through atoi (blanks around them), any random value but 0 is random
    cfg = parse_masim("r,\t 8192 \n\np\n 10\t\nr, 2 ,0, 0\n")
    assert cfg.regions[0].size == 8192 and cfg.phases[0].duration_ms == 10
    assert cfg.phases[0].patterns[0].random and cfg.phases[0].patterns[0].weight == 0


@pytest.mark.parametrize("name", sorted(workloads.BUILTIN))
def test_the_shipped_workloads_parse(name):
    cfg = load_masim(str(ROOT / "examples" / "workloads" / f"{name}.cfg"))
    assert cfg == parse_masim(workloads.BUILTIN[name])
    assert len(cfg.phases) > 10


def test_a_file_that_is_not_utf8_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "w.cfg"
    path.write_bytes(b"r, 8192\n\nph\xffase\n10\nr, 0, 64, 1\n")
    with pytest.raises(MonitorError) as e:
        load_masim(str(path))
    assert str(e.value) == f"{path}:3: not UTF-8 text (byte 11)"  # 0-based, as damos check says


@pytest.mark.parametrize("text,expect", [
    (b"r, 8192\nphase\n10\nr, 0, 64, 1\n", ":2: a region line is"),
    (b"r, 8192\n\nph\xffase\n10\nr, 0, 64, 1\n", ":3: not UTF-8 text"),
    (b"r, 100000000000\n\nphase\n10\nr, 0, 64, 1\n", ":1: the regions add up to"),
])
def test_damos_run_reports_the_line_without_a_traceback(tmp_path, text, expect):
    path = tmp_path / "w.cfg"
    path.write_bytes(text)
    r = subprocess.run([sys.executable, "-m", "damos_lang", "run", "examples/prcl.damos",
                        "--sim", str(path), "-q"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"damos run: error: {path}{expect}"), r.stderr
    assert "Traceback" not in r.stderr
