"""The sysfs write plans (and scripts) of every example, and of 40 generated
programs, are exactly what they were when the tree was first described as one
table (tests/golden/plans/, made by the code before that change).

A change that means to alter a plan regenerates the files with
``DAMOS_REGENERATE_GOLDEN=1 ./dev test tests/test_plan_golden.py`` and says
why in its commit; any other difference is a regression."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from damos_lang.cli import app

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
VARIANTS = {"sysfs-plan-at-pid": ["-t", "sysfs-plan", "--pid", "77"],
            "sysfs-plan-at-None": ["-t", "sysfs-plan"],
            "sysfs-plan-at-6.12": ["-t", "sysfs-plan", "--kernel", "6.12"],
            "sysfs-plan-at-7.3": ["-t", "sysfs-plan", "--kernel", "7.3"],
            "plan-damo": ["-t", "sysfs-plan", "--max", "damo"],
            "sysfs-at-pid": ["-t", "sysfs", "--pid", "77"]}
FILES = sorted((GOLDEN / "plans").iterdir())


def test_the_golden_plans_cover_every_example():
    examples = {p.name for p in (ROOT / "examples").glob("*.damos")}
    covered = {f.name.split(".damos.")[0] + ".damos" for f in FILES}
    assert examples and examples <= covered, examples - covered
    assert sum(f.name.startswith("generated-") for f in FILES) >= 40


def _source(name: str) -> Path:
    p = ROOT / "examples" / name
    return p if p.exists() else GOLDEN / "programs" / name


@pytest.mark.parametrize("golden", FILES, ids=lambda p: p.name)
def test_plan_is_as_golden(golden, tmp_path):
    name, rest = golden.name.split(".damos.")
    name += ".damos"
    variant = rest.rsplit(".", 1)[0]
    src = tmp_path / name
    shutil.copy(_source(name), src)
    r = CliRunner().invoke(app, ["compile", str(src)] + VARIANTS[variant])
    assert r.exit_code == 0, r.stderr
    out = r.stdout.replace(str(tmp_path) + "/", "<dir>/")
    if os.environ.get("DAMOS_REGENERATE_GOLDEN"):
        golden.write_text(out)
    assert out == golden.read_text()
