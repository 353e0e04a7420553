"""The README's fleet lines run and make what the README says they make:
the two compiles as written, the apply and the export against a stand-in
DAMON tree (the only change: --sysfs-root/--module-root, and this process
as the pid), so nothing touches the host's DAMON."""
from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.sysfs.standin import StandIn

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fleet_lines() -> list[list[str]]:
    rest = README[README.index("## Fleets"):]
    start = rest.index("```sh")
    body = rest[rest.index("\n", start) + 1:]
    body = body[:body.index("```")]
    return [shlex.split(line) for line in body.splitlines() if line.strip()]


def test_the_fleet_lines_run(tmp_path, monkeypatch):
    lines = fleet_lines()
    assert [line[:3] for line in lines] == [["damos", "compile", "examples/prcl.damos"]] * 2 + \
        [["damos", "apply", "--ensure"], ["damos", "export", "--textfile"]]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    root, modules = str(tmp_path / "admin"), str(tmp_path / "module")
    StandIn.create(root, (7, 3), pids={os.getpid()})
    runner = CliRunner()

    def run(argv, *extra):
        argv = [str(os.getpid()) if a == "1" and i and argv[i - 1] == "--pid" else a
                for i, a in enumerate(argv)]
        return runner.invoke(app, argv[1:] + list(extra))

    r = run(lines[0])
    assert r.exit_code == 0, r.output
    units = tmp_path / "build" / "units"
    assert (units / "damos-prcl.service").is_file(), sorted(os.listdir(units))
    assert (units / "damos-prcl.service.d").is_dir()
    assert any(p.suffix == ".timer" for p in units.iterdir()), sorted(os.listdir(units))
    service = (units / "damos-prcl.service").read_text()
    assert "check --kernel %v" in service and "--ensure" in service and "stop --file" in service

    r = run(lines[1])
    assert r.exit_code == 0, r.output
    deploy = tmp_path / "build" / "deploy"
    yaml_text = (deploy / "damos-prcl.yaml").read_text()
    assert "kind: ConfigMap" in yaml_text and "kind: DaemonSet" in yaml_text
    assert (deploy / "Containerfile").is_file()

    r = run(lines[2], "--sysfs-root", root)
    assert r.exit_code == 4, r.output                   # applied
    assert json.loads(r.output.strip().splitlines()[-1])["changed"] is True
    r = run(lines[2], "--sysfs-root", root)
    assert r.exit_code == 0, r.output                   # unchanged
    assert json.loads(r.output.strip().splitlines()[-1])["changed"] is False

    r = run(lines[3], "--sysfs-root", root, "--module-root", modules)
    assert r.exit_code == 0, r.output
    prom = (tmp_path / "build" / "damos.prom").read_text()
    # the kdamond the apply started, and its scheme's counters
    assert re.search(r'^damos_kdamond_running\{kdamond="0"\} 1\.0$', prom, re.M), prom[:2000]
    assert re.search(r'^damos_scheme_tried_bytes_total\{action="pageout",.*\} \S+$', prom, re.M), \
        prom[:2000]
