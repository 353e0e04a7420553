"""Fixtures of the damos run tests."""
import subprocess
import sys

import pytest


@pytest.fixture
def procs():
    """spawn(*args): a ``python -c`` child of this test, returned once it has
    printed its first line (it has mapped its memory); killed at the end."""
    started = []

    def spawn(*args):
        p = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        started.append(p)
        p.stdout.readline()
        return p
    yield spawn
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
