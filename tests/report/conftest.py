"""A simulator run of prcl on the stairs workload, recorded once for the
report tests; the simulator stays available as the ground truth."""
import os
from dataclasses import dataclass

import pytest

from damos_lang.catalog import USERSPACE
from damos_lang.pipeline import unit_from_text
from damos_lang.run.session import RunOptions, Session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAIRS = os.path.join(ROOT, "examples", "workloads", "stairs.cfg")


@dataclass
class StairsRun:
    record: str
    source: object            # the SimulatorSource: working_set_bytes, region_ranges
    aggr_us: int
    update_us: int


@pytest.fixture(scope="session")
def stairs(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("report") / "stairs.jsonl")
    with open(os.path.join(ROOT, "examples", "prcl.damos")) as f:
        ctx = unit_from_text(f.read(), interface=USERSPACE).context
    session = Session(ctx, RunOptions(sim=STAIRS, record=path, source_name="examples/prcl.damos"))
    summary = session.run()
    assert summary.reason == "the duration is over"
    return StairsRun(path, session.source, ctx.intervals.aggr_us, ctx.intervals.update_us)
