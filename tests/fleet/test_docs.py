"""docs/fleet.md shows what the compiler writes: the unit and the container's
script are compared with the targets' output."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.targets import kubernetes as K

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs/fleet.md").read_text()


def block_after(marker: str) -> tuple[str, str]:
    """(the marker's line, the fenced block right after it)."""
    m = re.search(rf"^<!-- {marker}(.*?)-->\n```\w*\n(.*?)^```$", DOC, re.M | re.S)
    assert m, marker
    return m.group(1).strip(), m.group(2)


def test_the_unit_shown_is_the_compilers():
    command, text = block_after("fleet-unit:")
    args = shlex.split(command)
    assert args[:1] == ["damos"]
    r = CliRunner().invoke(app, args[1:])
    assert r.exit_code == 0, r.output
    assert r.stdout == text


def test_the_script_shown_is_the_containers():
    _, text = block_after("fleet-script")
    assert text == K.script("/etc/damos-lang/prcl.damos", ["--stop-damon-stat", "--pid", "1"])
    first = re.search(r"^damos compile (prcl\.damos -t kubernetes [^|]*)\|", DOC, re.M).group(1)
    assert "--pid 1 --stop-damon-stat" in first


def test_the_option_tables_name_every_flag():
    for mod in ("systemd", "kubernetes"):
        target = __import__(f"damos_lang.targets.{mod}", fromlist=["OPTIONS"])
        for o in target.OPTIONS:
            assert f"`{o.flag}" in DOC, (mod, o.flag)
