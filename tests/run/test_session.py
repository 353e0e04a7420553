"""Session edges: a target that execs another program stops the run; the
duration parser; a workload that ends is a clean stop."""
import os

import pytest

from damos_lang.catalog import USERSPACE
from damos_lang.pipeline import unit_from_text
from damos_lang.run.session import RunError, RunOptions, Session, _exe, parse_duration


class Removals:
    def __init__(self):
        self.removed = []

    def remove_target(self, pid, why):
        self.removed.append((pid, why))


def test_a_changed_executable_is_an_exec():
    s = Session(unit_from_text("4K max 0 0 5s max stat\n", interface=USERSPACE).context,
                RunOptions(pid=os.getpid()))
    monitor = Removals()
    s._exes = {os.getpid(): _exe(os.getpid())}
    s._check_exec(monitor)                            # unchanged: nothing happens
    assert monitor.removed == []
    s._exes = {os.getpid(): "/usr/bin/some-other-program"}
    s._check_exec(monitor)                            # the target drops out
    assert monitor.removed == [(os.getpid(), f"it executed {_exe(os.getpid())}")]


def test_durations():
    assert parse_duration("30") == 30_000_000
    assert parse_duration("1.5s") == 1_500_000
    assert parse_duration("500ms") == 500_000
    assert parse_duration("2m") == 120_000_000
    with pytest.raises(RunError):
        parse_duration("5 minutes")


def test_the_workload_ending_is_a_clean_stop():
    ctx = unit_from_text("4K max 0 0 5s max stat\n", interface=USERSPACE).context
    s = Session(ctx, RunOptions(sim="stairs", duration_us=None))
    s.setup()
    s.duration_us = None                              # run past the workload's end
    s.setup = lambda: None
    summary = s.run()
    assert summary.reason == "the workload ended" and summary.time_us >= 60_000_000
