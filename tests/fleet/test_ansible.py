"""examples/fleet/playbook.yml: ansible-core's syntax check, and the playbook
run three times on localhost against a stand-in tree: changed (applied), ok
(unchanged: nothing written), changed again after an edit (updated, the same
kdamond)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from damos_lang.sysfs import root as RT
from damos_lang.sysfs.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "examples/fleet/playbook.yml"
# ansible-core is a test extra (pyproject.toml): it sits beside this Python
ANSIBLE = Path(sys.executable).parent / "ansible-playbook"
PID = os.getpid()


def playbook(tmp_path, *args):
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ans"),
           "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ans"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_STDOUT_CALLBACK": "default"}
    return subprocess.run([str(ANSIBLE), "-i", "localhost,", "-c", "local", str(PLAYBOOK),
                           *args], capture_output=True, text=True, env=env, timeout=300)


def test_syntax_check(tmp_path):
    r = playbook(tmp_path, "--syntax-check")
    assert r.returncode == 0, r.stdout + r.stderr


def task_results(out: str) -> dict[str, str]:
    """{task name: ok|changed|failed} from the default callback's output."""
    res = {}
    for block in re.split(r"^TASK ", out, flags=re.M)[1:]:
        name = re.match(r"\[(.+?)\] \*+\n", block).group(1)
        res[name] = re.search(r"^(ok|changed|fatal): \[localhost\]", block, re.M).group(1)
    return res


def test_changed_then_ok_then_changed(tmp_path):
    root = str(tmp_path / "admin")
    StandIn.create(root, (6, 12), pids={PID})
    wrapper = tmp_path / "damos"
    wrapper.write_text(f"""#!/bin/sh
export PYTHONPATH={ROOT}
cmd=$1; shift
exec {sys.executable} -m damos_lang "$cmd" --sysfs-root {root} "$@"
""")
    wrapper.chmod(0o755)
    src = tmp_path / "prcl.damos"
    src.write_text("4K max 0 0 5s max pageout\n")
    args = ["-e", f"damos_bin={wrapper}", "-e", f"damos_dir={tmp_path / 'etc'}",
            "-e", f"damos_source={src}", "-e", "damos_hosts=localhost",
            "-e", "damos_become=false", "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", f'{{"damos_args": ["--pid", "{PID}"]}}']
    (tmp_path / "etc").mkdir()
    ensure = "The kernel runs it (damos apply --ensure)"

    r = playbook(tmp_path, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert task_results(r.stdout)[ensure] == "changed"
    assert '"msg": "applied: kdamond 0 (pid 4000)"' in r.stdout

    r = playbook(tmp_path, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert task_results(r.stdout)[ensure] == "ok"
    assert '"msg": "unchanged: kdamond 0 (pid 4000)"' in r.stdout
    assert re.search(r"localhost\s+: ok=3\s+changed=0\s+unreachable=0\s+failed=0", r.stdout)

    src.write_text("4K max 0 0 9s max pageout\n")
    r = playbook(tmp_path, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert task_results(r.stdout) == {"The DAMOS file is on the host": "changed",
                                      ensure: "changed", "What it did": "ok"}
    assert '"msg": "updated: kdamond 0 (pid 4000)"' in r.stdout
    assert RT.tree(root).read("kdamonds/0/state") == "on"


def test_a_refusal_fails_the_task(tmp_path):
    root = str(tmp_path / "admin")
    StandIn.create(root, (6, 12), pids=set())      # the pid is not running: 'on' fails
    wrapper = tmp_path / "damos"
    wrapper.write_text(f"#!/bin/sh\nexport PYTHONPATH={ROOT}\ncmd=$1; shift\n"
                       f"exec {sys.executable} -m damos_lang \"$cmd\" --sysfs-root {root} \"$@\"\n")
    wrapper.chmod(0o755)
    src = tmp_path / "prcl.damos"
    src.write_text("4K max 0 0 5s max pageout\n")
    (tmp_path / "etc").mkdir()
    r = playbook(tmp_path, "-e", f"damos_bin={wrapper}", "-e", f"damos_dir={tmp_path / 'etc'}",
                 "-e", f"damos_source={src}", "-e", "damos_hosts=localhost", "-e",
                 "damos_become=false", "-e", f"ansible_python_interpreter={sys.executable}",
                 "-e", '{"damos_args": ["--pid", "999999"]}')
    assert r.returncode == 2, r.stdout
    assert task_results(r.stdout)["The kernel runs it (damos apply --ensure)"] == "fatal"
    assert '"rc": 1' in r.stdout
