"""The built wheel carries the compiled hot loop, and the installed package
uses it: a silent fallback to the Python reference cannot pass for it."""
import os
import shutil
import subprocess
import sys
import zipfile

from .helpers import ROOT

# copy the tree without build products, so the wheel's .so can only come from compiling
SKIP = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.so", "_fastpath.c", "__pycache__",
                              "*.egg-info", ".hypothesis", ".pytest_cache")


def test_wheel_contains_the_compiled_extension(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path / "wheel"), str(source)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "wheel").iterdir()
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    compiled = [n for n in names if n.startswith("damos_lang/monitor/_fastpath.") and n.endswith(".so")]
    assert compiled, names
    assert "damos_lang/monitor/reference.py" in names
    assert "damos_lang/monitor/sources/simulator.py" in names


def test_installed_package_uses_the_cython_path():
    code = ("import damos_lang.monitor as m, damos_lang.monitor.fastpath as f; "
            "print(m.IMPLEMENTATION, f.pick_sampling_addresses.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(ROOT)).stdout.split()
    assert out == ["cython", "damos_lang.monitor._fastpath"]
