"""damos_lang.run imports the model, catalog and monitor, nothing of the
compiler's targets; the CLI imports it only when `damos run` runs."""
import subprocess
import sys


def modules_after(code):
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_engine_imports_no_target():
    mods = modules_after("import damos_lang.run.session, damos_lang.run.command")
    assert not any(m.startswith("damos_lang.targets") for m in mods)


def test_the_cli_imports_damos_run_lazily():
    mods = modules_after("import damos_lang.cli")
    assert not any(m.startswith("damos_lang.run") for m in mods)
    assert "rich.live" not in mods
