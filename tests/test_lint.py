"""pyflakes over the package and the tests: no unused imports or names,
no undefined names."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pyflakes_is_clean():
    r = subprocess.run([sys.executable, "-m", "pyflakes", "damos_lang", "tests"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
