"""The monitor imports nothing from the compiler: an engine or another tool
can use it alone, and compiler refactors cannot break it."""
import ast
import os
import re
import subprocess
import sys

from .helpers import ROOT

MONITOR = os.path.join(ROOT, "damos_lang", "monitor")


def imported_modules(path, package):
    """Absolute names of every module `path` imports (relative ones resolved)."""
    text = open(path).read()
    if path.endswith(".pyx"):  # Cython: not Python syntax; its imports are simple lines
        text = "\n".join(m.group(0).replace("cimport", "import")
                         for m in re.finditer(r"(?m)^[ \t]*(from\s+\S+\s+c?import\s+\w+|import\s+[\w.]+)",
                                              text))
        text = "\n".join(line.strip() for line in text.splitlines())
    tree = ast.parse(text, path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module)
    return names


def test_no_module_of_the_monitor_imports_the_rest_of_damos_lang():
    checked = 0
    for dirpath, _, files in os.walk(MONITOR):
        rel = os.path.relpath(dirpath, ROOT)
        package = rel.replace(os.sep, ".")
        for name in files:
            if not name.endswith((".py", ".pyx")):
                continue
            checked += 1
            for module in imported_modules(os.path.join(dirpath, name), package):
                if module.startswith("damos_lang"):
                    assert module.startswith("damos_lang.monitor"), f"{rel}/{name} imports {module}"
    assert checked >= 10


def test_relative_import_resolution_catches_an_escape(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..errors import X\nfrom ... import cli\n")
    assert imported_modules(str(bad), "damos_lang.monitor.sources") == [
        "damos_lang.monitor.errors", "damos_lang"]


def test_importing_the_monitor_loads_no_compiler_module():
    code = ("import sys, damos_lang.monitor; "
            "print(sorted(m for m in sys.modules if m.startswith('damos_lang')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)
    assert "damos_lang.monitor.monitor" in loaded
    assert [m for m in loaded if m != "damos_lang" and not m.startswith("damos_lang.monitor")] == []
