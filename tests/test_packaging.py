"""`pip install .` must carry the grammar and the console script."""
import os
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_wheel_contains_grammar_and_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path), ROOT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = [p for p in tmp_path.iterdir() if p.suffix == ".whl"]
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "damos_lang/grammar/damos.lark" in names
        ep = [n for n in names if n.endswith("entry_points.txt")]
        assert ep and "damos = damos_lang.cli:main" in z.read(ep[0]).decode()
