"""Shared test configuration.

* ``kernelrig`` (tests/kernel/kernelrig.py, stdlib only) is importable from
  every test: its ``find_tool(name)`` is the one lookup of the commands the
  tests run (``damos``, ``damo``), in the environment of the interpreter
  running the tests, then PATH -- so the suite runs in any environment the
  package is installed into, not only ``./dev``'s .venv.
* A test parametrized over an empty list (``examples/*.damos`` found
  nothing, say) fails instead of being skipped: a test over "every example"
  must not pass, or vanish, when there is none.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "kernel"))

EMPTY = "got empty parameter set"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and call.excinfo is not None and EMPTY in str(call.excinfo.value):
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid}: parametrized over an empty list; a test over "
                           f"every item must have items ({call.excinfo.value})")
