"""``damos check`` through the CLI on a text, for the tests of settings
that are gated by kernel version."""
from typer.testing import CliRunner

from damos_lang.cli import app


def check_cli(tmp_path, text, *args):
    """(exit code, output with the file's path written as F)."""
    path = tmp_path / "f.damos"
    path.write_text(text)
    r = CliRunner().invoke(app, ["check", *args, str(path)])
    return r.exit_code, r.output.replace(str(path), "F")
