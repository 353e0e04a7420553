"""The README's heatmap is produced by the command the README shows: run
that exact command in a scratch directory and check the picture renders,
at the size of the committed one."""
import os
import re
import subprocess
import sys

import pytest

from .conftest import ROOT

IMAGE = "docs/heatmap-stairs.png"


def readme_command():
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme.split("\n## Seeing it\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    (command,) = [ln for b in blocks for ln in b.splitlines() if "damos report heatmap" in ln]
    return section, command


def test_the_readme_shows_the_image_its_command_writes():
    section, command = readme_command()
    assert f"-o {IMAGE}" in command and command.startswith("mkdir -p build && damos run ")
    assert f"]({IMAGE})" in section
    assert os.path.exists(os.path.join(ROOT, IMAGE))


def test_the_readme_heatmap_command_renders_it(tmp_path):
    image = pytest.importorskip("matplotlib.image")
    _, command = readme_command()
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    (tmp_path / "docs").mkdir()
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    r = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    new = image.imread(str(tmp_path / IMAGE))
    committed = image.imread(os.path.join(ROOT, IMAGE))
    assert new.shape == committed.shape and new.shape[0] > 400 and new.shape[1] > 800
    # it is a picture, not a blank page: the map's colours cover much of it
    assert new[..., :3].std() > 0.1
