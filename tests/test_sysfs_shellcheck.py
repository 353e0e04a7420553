"""The generated sysfs scripts are clean POSIX sh for shellcheck, including
with hostile strings in them."""
import os
import shutil
import subprocess

import pytest

from damos_lang.lower import parse
from damos_lang.targets import run_target
from damos_lang.targets import Options, sysfs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".damos"))
HOSTILE = ("scheme { action stat\n filter reject memcg \"/a b'c\\\"$(touch x)`id`;rm -rf /\" }\n")


def shellcheck(script: str):
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is not installed (./dev test installs it as root)")
        pytest.skip("shellcheck is not installed")
    return subprocess.run(["shellcheck", "-s", "sh", "-"], input=script, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_scripts_are_shellcheck_clean(name):
    program = parse(open(os.path.join(ROOT, "examples", name)).read())
    r = shellcheck(run_target(sysfs, program, Options(), source=f"examples/{name}"))
    assert r.returncode == 0, r.stdout


def test_hostile_strings_stay_shellcheck_clean():
    r = shellcheck(run_target(sysfs, parse(HOSTILE), Options(pid=1)))
    assert r.returncode == 0, r.stdout
