"""damos status: the kernel's files read back into the IR and printed as
DAMOS source; round trip for every example and generated programs."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from damos_lang.errors import DamosError
from damos_lang.fmt import format_program
from damos_lang.live import apply as A, status as S
from damos_lang.sysfs import read as R, root as RT
from damos_lang.pipeline import build, compile_path, unit_from_text
from damos_lang.source import Source

from strategies import programs
from .helpers import make_tree

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.damos"))
PID = os.getpid()
MEMCGS = ("/", "/workloads", "/workloads/batch job")


def do_apply(unit, root, tmp_path):
    return A.apply(unit, root=root, module_root=str(tmp_path / "module"), sleep=lambda s: None)


def read_back(root) -> list:
    """Each kdamond's printed source, parsed again into the model."""
    return [unit_from_text(e["source"], "<status>").context for e in S.snapshot(root)]


@pytest.mark.parametrize("version", [(6, 12), (7, 3)], ids=lambda v: "%d.%d" % v)
@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_example_round_trips_through_the_tree(tmp_path, path, version):
    unit = compile_path(path, pid=PID)
    root = make_tree(tmp_path, version, memcgs=MEMCGS)
    try:
        do_apply(unit, root, tmp_path)
    except DamosError as e:
        assert version < (7, 3) and "lacks" in e.message   # a newer feature, named
        pytest.skip(e.message)
    [back] = read_back(root)
    assert R.normalize(back) == R.normalize(unit.context)
    # and the tree itself, read without printing, holds the same
    assert R.normalize(R.read_context(RT.tree(root), "kdamonds/0/contexts/0")) == \
        R.normalize(unit.context)


def _pids_and_memcgs(ctx):
    pids = {t.pid for t in ctx.targets if t.pid is not None}
    memcgs = {f.memcg_path for s in ctx.schemes for f in s.filters if f.memcg_path}
    memcgs |= {g.path for s in ctx.schemes if s.quota for g in s.quota.goals if g.path}
    return pids, memcgs


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(programs())
def test_generated_programs_round_trip(tmp_path_factory, program):
    src = Source("<generated>", format_program(program), "damos")
    try:
        unit = build(src, program, pid=None)
    except DamosError:
        return   # not a runnable context (sample > aggr, no region, ...)
    ctx = unit.context
    if ctx.ops != "paddr" and not ctx.targets:
        unit = build(src, program, pid=PID)
        ctx = unit.context
    if any(t.pid is None for t in ctx.targets) and ctx.ops != "paddr":
        return
    pids, memcgs = _pids_and_memcgs(ctx)
    d = tmp_path_factory.mktemp("gen")
    root = make_tree(d, (7, 3), pids=pids, memcgs=memcgs | {"/"})
    try:
        do_apply(unit, root, d)
    except DamosError as e:
        # what only the kernel's check at 'on' refuses (nr_regions min < 3, ...)
        assert "state" in e.message and "nothing was changed" in e.message, e.message
        return
    [back] = read_back(root)
    assert R.normalize(back) == R.normalize(ctx)


def test_status_prints_source_and_rising_stats(tmp_path):
    root = make_tree(tmp_path)
    do_apply(compile_path(str(ROOT / "examples/prcl.damos"), pid=PID), root, tmp_path)
    first = S.snapshot(root)
    second = S.snapshot(root)
    a, b = first[0]["schemes"][0]["stats"], second[0]["schemes"][0]["stats"]
    assert b["nr_tried"] > a["nr_tried"] > 0 and b["sz_applied"] > a["sz_applied"]
    text = S.render(second)
    assert text.startswith("# kdamond 0: on, pid 4000; started by damos-lang from ")
    assert "# scheme 0 (pageout): tried" in text
    assert "action pageout\n    size 4K..max\n    access 0..0 samples\n" \
           "    age 50..max aggr_intervals\n" in text
    data = json.loads(S.to_json(second))
    k = data["kdamonds"][0]
    assert k["owned"] and k["state"] == "on" and k["schemes"][0]["stats"]["nr_tried"] > 0
    assert unit_from_text(k["source"]).context.schemes[0].action == "pageout"


def test_others_kdamonds_are_shown_but_not_refreshed(tmp_path):
    root = make_tree(tmp_path)
    do_apply(compile_path(str(ROOT / "examples/prcl.damos"), pid=PID), root, tmp_path)
    os.remove(f"{root}.damos-owned.json")
    a, b = S.snapshot(root), S.snapshot(root)
    assert a == b and not a[0]["owned"] and not a[0]["refreshed"]
    assert "not started by damos-lang" in S.render(a)
    assert "(as last refreshed by its owner)" in S.render(a)


def test_no_kdamonds(tmp_path):
    assert S.render(S.snapshot(make_tree(tmp_path))) == "# no kdamonds (nr_kdamonds is 0)\n"


def test_watch_renders_a_table(tmp_path):
    root = make_tree(tmp_path)
    do_apply(compile_path(str(ROOT / "examples/prcl.damos"), pid=PID), root, tmp_path)
    from rich.console import Console
    console = Console(width=160, record=True, file=open(os.devnull, "w"))
    console.print(S.table(S.snapshot(root)))
    out = console.export_text()
    assert "pageout" in out and "nr_tried" in out


def test_status_regions_prints_the_tried_regions(tmp_path):
    root = make_tree(tmp_path)
    do_apply(compile_path(str(ROOT / "examples/prcl.damos"), pid=PID), root, tmp_path)
    kds = S.snapshot(root, regions=True)
    assert kds[0]["schemes"][0]["tried_regions"] == [
        {"start": 1 << 30, "end": (1 << 30) + (4 << 20), "nr_accesses": 0, "age": 12}]
    assert "#   tried 0x40000000..0x40400000 (4.0 MiB) nr_accesses 0 age 12" in S.render(kds)
