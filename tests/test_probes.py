"""Data-attribute probes (7.2; ``weight`` 7.3) in the monitor block, through
every layer: parse and errors, fmt, check with kernel versions, the sysfs plan,
the stand-in's files (the kernel's refusals and trailing newlines), read-back
and ``damos status`` with each tried region's probe hits, damo JSON both ways,
explain, and the targets that refuse them.  The kernel facts (DAMON_MAX_PROBES
4, only paddr's apply_probes, a weight's limits checked at 'commit' only, a
memcg path it cannot find is EINVAL) are from mm/damon/{core,sysfs,paddr}.c of
Debian's linux-source-7.3 (7.3.4); tests/kernel/test_kernel_stock73.py shows
the hits on stock 7.3."""
from __future__ import annotations

import errno
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from damos_lang import catalog
from damos_lang.cli import app
from damos_lang.damo_input import parse_damo_json
from damos_lang.errors import DamosError
from damos_lang.explain import explain
from damos_lang.fmt import format_program, format_source
from damos_lang.ir import Probe, ProbeFilter
from damos_lang.lower import parse
from damos_lang.pipeline import unit_from_text
from damos_lang.sysfs import layout as L
from damos_lang.sysfs.plan import plan_for
from damos_lang.sysfs.read import normalize, read_context, read_tried_regions
from damos_lang.sysfs.standin import StandIn
from damos_lang.targets import Options, damo_json, debugfs, lru_sort, reclaim, run_target

from cli_check import check_cli

C = "kdamonds/0/contexts/0"
P = f"{C}/monitoring_attrs/probes"


def source(*probes: str, ops: str = "paddr", extra: str = "") -> str:
    body = "".join(f"    {p}\n" for p in probes)
    return (f"monitor {{\n    ops {ops}\n{extra}{body}}}\n\ntarget region 4G..8G\n\n"
            "scheme {\n    action stat\n}\n")


TWO = source("probe anon { filter allow anon }",
             'probe batch { weight 3; filter reject not memcg "/a b" }')


# -- parse, errors, fmt ------------------------------------------------------------

def test_probes_parse_into_the_monitor_block():
    m = parse(TWO).monitor
    assert m.probes == (Probe("anon", None, (ProbeFilter(True, "anon"),)),
                        Probe("batch", 3, (ProbeFilter(False, "memcg", False, "/a b"),)))
    ctx = unit_from_text(TWO).context
    assert [p.weight for p in ctx.probes] == [0, 3]
    assert ctx.probes[1].filters[0].memcg_path == "/a b"


def test_fmt_is_canonical_and_round_trips():
    text = format_source(TWO)
    assert "    probe anon {\n        filter allow anon\n    }\n" in text
    assert '    probe batch {\n        weight 3\n        filter reject not memcg "/a b"\n' in text
    assert format_source(text) == text
    assert parse(text) == parse(TWO)
    # comments stay with their probe's settings
    commented = text.replace("        weight 3\n", "        # why\n        weight 3  # three\n")
    assert "# why" in format_source(commented) and "weight 3  # three" in format_source(commented)


@pytest.mark.parametrize("probe, line, col, message", [
    ("probe { filter allow anno }", 3, 26, "unknown probe filter type 'anno'; did you mean 'anon'?"),
    ("probe { filter allow memcg }", 3, 26, "probe filter type 'memcg' takes a cgroup path"),
    ("probe { filter allow anon /a }", 3, 31, "probe filter type 'anon' takes no argument"),
    ("probe { filter allow young }", 3, 26, "unknown probe filter type 'young'"),
    ("probe x", 3, 5, "probe takes a block: probe anon { filter allow anon }"),
    ("probe { weight 4294967296 }", 3, 20, "probe weight must be at most 4294967295"),
    ("probe { weight -1 }", 3, 20, "unexpected character '-'"),
    ("probe { weight 1.5 }", 3, 20, "probe weight must be a whole number"),
    ("probe { wieght 1 }", 3, 13, "unknown probe setting 'wieght'; did you mean 'weight'?"),
    ("probe { weight 1; weight 2 }", 3, 23, "'weight' is set twice in this probe"),
])
def test_bad_probes_are_one_line_errors_with_a_caret(tmp_path, probe, line, col, message):
    rc, out = check_cli(tmp_path, source(probe))
    assert rc == 2, out
    first = out.splitlines()[0]
    assert first.startswith(f"F:{line}:{col}: error: "), out
    assert message in first, out
    assert "^" in out.splitlines()[2] and "Traceback" not in out


def test_more_than_four_probes_is_an_error_at_the_fifth(tmp_path):
    rc, out = check_cli(tmp_path, source(*["probe { filter allow anon }"] * 5))
    assert rc == 2
    assert out.splitlines()[0] == ("F:7:5: error: at most 4 probes: the kernel refuses 5 "
                                   "(DAMON_MAX_PROBES; EINVAL)")
    rc, out = check_cli(tmp_path, source(*["probe { filter allow anon }"] * 4))
    assert rc == 0, out


@pytest.mark.parametrize("ops", ["vaddr", "fvaddr"])
def test_probes_on_virtual_addresses_are_an_error_at_the_probe(tmp_path, ops):
    text = source("probe { filter allow anon }", ops=ops).replace("target region 4G..8G\n\n", "")
    rc, out = check_cli(tmp_path, text)
    assert rc == 2
    assert out.splitlines()[0] == (f"F:3:5: error: probes count hits on physical memory only: "
                                   f"write 'ops paddr' (the kernel's {ops} has no apply_probes, "
                                   "so every hit would stay 0)")


def test_a_kernel_without_probes_refuses_them_at_the_probe(tmp_path):
    text = source("probe anon { filter allow anon }")
    rc, out = check_cli(tmp_path, text, "--kernel", "7.1")
    assert rc == 2
    assert out.splitlines()[0] == "F:3:5: error: Linux 7.1 lacks probes (first in Linux 7.2)"
    assert out.splitlines()[1].strip() == "probe anon { filter allow anon }"
    rc, out = check_cli(tmp_path, text, "--kernel", "7.2")
    assert rc == 0, out
    assert "needs Linux >= 7.2: probes" in out


def test_a_kernel_without_weights_refuses_a_weight_at_the_weight(tmp_path):
    rc, out = check_cli(tmp_path, TWO, "--kernel", "7.2")
    assert rc == 2
    assert out.splitlines()[0] == "F:4:19: error: Linux 7.2 lacks probe weight (first in Linux 7.3)"
    assert check_cli(tmp_path, TWO, "--kernel", "7.3")[0] == 0
    # weight 0 is the kernel's default: no 7.3 needed
    rc, out = check_cli(tmp_path, source("probe { weight 0; filter allow anon }"))
    assert "needs Linux >= 7.2: probes" in out


def test_a_weight_needs_hits_that_fit_eight_bits(tmp_path):
    # damon_valid_probe_params(): more than 255 samples per aggregation is EINVAL
    text = source("probe { weight 1; filter allow anon }", extra="    sample 1ms\n    aggr 256ms\n")
    rc, out = check_cli(tmp_path, text)
    assert rc == 2
    assert "a probe weight needs at most 255 samples per aggregation interval" in out
    assert out.splitlines()[0].startswith("F:5:13: error:")
    ok = text.replace("aggr 256ms", "aggr 255ms")
    assert check_cli(tmp_path, ok)[0] == 0
    # the weighted sum is a u32
    big = source("probe { weight 4294967295; filter allow anon }")
    rc, out = check_cli(tmp_path, big)
    assert rc == 2 and "sum to 85899345900, above 4294967295" in out
    # without a weight the kernel takes it, and the 8-bit hits wrap: a warning
    rc, out = check_cli(tmp_path, text.replace("weight 1; ", ""))
    assert rc == 0 and "counts probe hits in 8 bits: above 255 they wrap" in out


# -- the sysfs plan, the stand-in, read-back and status ---------------------------------

def test_the_plan_writes_each_probe_in_table_order():
    writes = [(w.path, w.value) for w in plan_for(unit_from_text(TWO), Options())]
    got = [(p[len(P) + 1:], v) for p, v in writes if p.startswith(P)]
    assert got == [
        ("nr_probes", "2"),
        ("0/filters/nr_filters", "1"), ("0/filters/0/type", "anon"),
        ("0/filters/0/matching", "Y"), ("0/filters/0/allow", "Y"),
        ("1/weight", "3"),
        ("1/filters/nr_filters", "1"), ("1/filters/0/type", "memcg"),
        ("1/filters/0/matching", "N"), ("1/filters/0/allow", "N"),
        ("1/filters/0/path", "/a b")]
    paths = [p for p, _ in writes]
    # probes before targets and schemes, as the table lists them
    assert paths.index(f"{P}/nr_probes") < paths.index(f"{C}/targets/nr_targets")


def test_a_file_without_probes_writes_none():
    writes = [w.path for w in plan_for(unit_from_text(source()), Options(kernel=(7, 3)))]
    assert not any("probes" in p for p in writes)


def started(tmp_path, text, version=(7, 3), memcgs=("/", "/a b")):
    root = str(tmp_path / "admin")
    fs = StandIn.create(root, version, pids={os.getpid()}, memcgs=memcgs)
    from damos_lang.live import apply as A
    A.apply(unit_from_text(text), root=root, module_root=str(tmp_path / "module"),
            sleep=lambda s: None)
    return fs, root


def raw(root, rel) -> str:
    with open(os.path.join(root, rel)) as f:
        return f.read()


def test_apply_writes_them_and_reads_them_back(tmp_path):
    fs, root = started(tmp_path, TWO)
    assert raw(root, f"{P}/nr_probes") == "2\n"
    assert raw(root, f"{P}/1/weight") == "3\n"
    assert raw(root, f"{P}/0/filters/0/type") == "anon\n"
    assert raw(root, f"{P}/0/filters/0/allow") == "Y\n"
    # the kernel keeps a path as written, newline and all, and shows it with one more
    # (path_store/path_show); the memcg lookup ignores one trailing newline
    assert raw(root, f"{P}/1/filters/0/path") == "/a b\n\n"
    ctx = unit_from_text(TWO).context
    assert read_context(fs, C).probes == normalize(ctx).probes == ctx.probes


def test_the_stand_in_refuses_what_the_kernel_refuses(tmp_path):
    fs = StandIn.create(str(tmp_path / "admin"), (7, 3))
    fs.write(L.NR_KDAMONDS, "1")
    fs.write(L.nr_contexts_path(0), "1")
    for value, code in (("5", errno.EINVAL), ("-1", errno.EINVAL), ("x", errno.EINVAL)):
        with pytest.raises(OSError) as e:
            fs.write(f"{P}/nr_probes", value)              # nr_probes_store
        assert e.value.errno == code
    fs.write(f"{P}/nr_probes", "4\n")
    assert sorted(d for d in fs.listdir(P) if d.isdigit()) == ["0", "1", "2", "3"]
    # a fresh probe: weight 0, no filters; a fresh filter: anon, N, N, no path
    fs.write(f"{P}/0/filters/nr_filters", "1")
    assert [raw(fs.root, f"{P}/0/{f}") for f in ("weight", "filters/nr_filters")] == ["0\n", "1\n"]
    assert [raw(fs.root, f"{P}/0/filters/0/{f}") for f in ("type", "matching", "allow", "path")
            ] == ["anon\n", "N\n", "N\n", "\n"]
    for rel, value, code in (("filters/0/type", "young", errno.EINVAL),     # not a probe type
                             ("filters/0/type", "addr", errno.EINVAL),
                             ("weight", str(1 << 32), errno.ERANGE),      # kstrtouint
                             ("filters/0/allow", "maybe", errno.EINVAL)):
        with pytest.raises(OSError) as e:
            fs.write(f"{P}/0/{rel}", value)
        assert e.value.errno == code, rel
    fs.write(f"{P}/0/filters/0/type", "memcg\n")
    assert raw(fs.root, f"{P}/0/filters/0/type") == "memcg\n"
    # the 7.2 tree has probes but no weight file
    fs72 = StandIn.create(str(tmp_path / "v72"), (7, 2))
    fs72.write(L.NR_KDAMONDS, "1")
    fs72.write(L.nr_contexts_path(0), "1")
    fs72.write(f"{P}/nr_probes", "1")
    assert fs72.exists(f"{P}/0/filters/nr_filters") and not fs72.exists(f"{P}/0/weight")
    fs71 = StandIn.create(str(tmp_path / "v71"), (7, 1))
    fs71.write(L.NR_KDAMONDS, "1")
    fs71.write(L.nr_contexts_path(0), "1")
    assert not fs71.exists(P)


def test_a_memcg_path_no_cgroup_has_fails_at_on_with_einval(tmp_path):
    # damon_sysfs_memcg_path_to_id(): EINVAL, where a scheme filter's path is ENOMEM
    with pytest.raises(DamosError) as e:
        started(tmp_path, TWO, memcgs=("/",))
    assert "Invalid argument" in str(e.value) and "state" in str(e.value)


def test_a_weight_s_limits_are_checked_at_commit_only(tmp_path):
    # the front end refuses the file; a hand-written tree shows what the kernel does
    text = source("probe { filter allow anon }", extra="    sample 1ms\n    aggr 300ms\n")
    fs, root = started(tmp_path, text)
    fs.write(f"{P}/0/weight", "1")
    with pytest.raises(OSError) as e:
        fs.write(L.state_path(0), L.COMMIT)
    assert e.value.errno == errno.EINVAL
    fs.write(L.state_path(0), L.OFF)
    fs.write(L.state_path(0), L.ON)                       # 'on' does not check it
    assert raw(root, L.state_path(0)) == "on\n"


def test_tried_regions_show_each_probe_s_hits_and_status_prints_them(tmp_path):
    fs, root = started(tmp_path, TWO)
    fs.write(L.state_path(0), L.UPDATE_TRIED_REGIONS)
    tb = f"{L.scheme_dir(0, 0)}/tried_regions/0/probes"
    assert raw(root, f"{tb}/0/hits") == "5\n" and raw(root, f"{tb}/1/hits") == "12\n"
    regions = read_tried_regions(fs, L.scheme_dir(0, 0))
    assert [r.probe_hits for r in regions] == [[5, 12]]
    from damos_lang.live import status as S
    kds = S.snapshot(root, regions=True)
    assert kds[0]["schemes"][0]["tried_regions"][0]["probe_hits"] == [5, 12]
    text = S.render(kds)
    assert "age 12, probe hits 0:5 1:12" in text
    assert "    probe {\n        filter allow anon\n    }" in text
    assert 'weight 3\n        filter reject not memcg "/a b"' in text
    json.loads(S.to_json(kds))
    # and what status prints is the same context again
    src = kds[0]["source"]
    assert unit_from_text(src).context.probes == read_context(fs, C).probes


def test_without_probes_the_kernel_still_makes_an_empty_probes_directory(tmp_path):
    fs, root = started(tmp_path, source())
    fs.write(L.state_path(0), L.UPDATE_TRIED_REGIONS)
    tb = f"{L.scheme_dir(0, 0)}/tried_regions/0"
    assert fs.listdir(f"{tb}/probes") == []
    assert read_tried_regions(fs, L.scheme_dir(0, 0))[0].probe_hits == []
    from damos_lang.live import status as S
    assert "probe hits" not in S.render(S.snapshot(root, regions=True))
    # 7.1 has no such directory: no hits at all
    fs71, root71 = started(tmp_path / "v71", source(), version=(7, 1))
    fs71.write(L.state_path(0), L.UPDATE_TRIED_REGIONS)
    assert read_tried_regions(fs71, L.scheme_dir(0, 0))[0].probe_hits is None


def test_update_without_probes_writes_nr_probes_0(tmp_path):
    fs, root = started(tmp_path, TWO)
    from damos_lang.live import apply as A
    A.update(unit_from_text(source()), root=root, sleep=lambda s: None)
    assert raw(root, f"{P}/nr_probes") == "0\n"
    assert read_context(fs, C).probes == ()
    # and back: a weight the new file drops is a fresh probe's 0
    A.update(unit_from_text(TWO), root=root, sleep=lambda s: None)
    A.update(unit_from_text(TWO.replace("weight 3; ", "")), root=root, sleep=lambda s: None)
    assert raw(root, f"{P}/1/weight") == "0\n"


# -- damo JSON, explain, the targets that refuse them ----------------------------------

def test_damo_json_carries_them_under_damo_s_names_and_reads_them_back():
    c = json.loads(run_target(damo_json, parse(TWO), Options()))["kdamonds"][0]["contexts"][0]
    assert c["probes"] == [
        {"filters": [{"filter_type": "anon", "matching": True, "allow": True, "path": None}],
         "weight": 0},
        {"filters": [{"filter_type": "memcg", "matching": False, "allow": False,
                      "path": "/a b"}], "weight": 3}]
    back = parse_damo_json(json.dumps({"kdamonds": [{"contexts": [c]}]}))
    assert unit_from_text(format_program(back)).context.probes == \
        unit_from_text(TWO).context.probes


@pytest.mark.parametrize("probe, path, message", [
    ({"filters": [{"filter_type": "young", "matching": True, "allow": True, "path": None}]},
     "probes[0].filters[0].filter_type", "unknown probe filter type 'young'"),
    ({"filters": [{"filter_type": "memcg", "matching": True, "allow": True, "path": None}]},
     "probes[0].filters[0].path", "expected a string"),
    ({"filters": [{"filter_type": "anon", "allow": True, "path": None}]},
     "probes[0].filters[0]", "matching"),
    ({"filters": [], "weight": -2}, "probes[0].weight", ""),
])
def test_damo_json_probe_errors_name_the_field(probe, path, message):
    c = {"ops": "paddr", "targets": [{"pid": None, "regions": [{"start": 4096, "end": 8192}]}],
         "probes": [probe]}
    with pytest.raises(DamosError) as e:
        parse_damo_json(json.dumps({"kdamonds": [{"contexts": [c]}]}))
    assert path in str(e.value.diagnostic.path or "") + str(e.value), str(e.value)
    assert message in str(e.value)


def test_explain_says_what_a_hit_is_and_what_a_weight_does():
    text = explain(unit_from_text(TWO))
    assert ("Probe 0 (anon): a sampled page is a hit if the first filter it matches allows it "
            "(allow pages that are anonymous)") in text
    assert "reject pages that are not in cgroup /a b" in text
    assert "0..20 per aggregation interval" in text
    assert "Weight 3: the kernel stops checking accesses" in text
    assert "Needs Linux >= 7.3: probe weight." in text


@pytest.mark.parametrize("target, words", [
    (debugfs, "debugfs cannot express probes"),
    (reclaim, "DAMON_RECLAIM cannot express probes"),
    (lru_sort, "DAMON_LRU_SORT cannot express probes"),
])
def test_targets_without_probes_refuse_them_at_the_probe(target, words):
    with pytest.raises(DamosError, match=words) as e:
        run_target(target, parse(TWO), Options())
    assert e.value.loc is not None and e.value.loc.line == 3


def test_c_module_emits_them_from_7_2_and_damos_run_refuses_them(tmp_path):
    """c-module: an older --kernel refuses probes (and 7.2 a weight) at the
    probe with the version; 7.2+ emits them, memcg filters too
    (tests/test_c_module.py has the emitted C and compiles it)."""
    def compile_(text, kernel):
        path = tmp_path / "f.damos"
        path.write_text(text)
        out = tmp_path / f"out{kernel}"
        r = CliRunner().invoke(app, ["compile", str(path), "-t", "c-module", "--kernel", kernel,
                                     "-o", str(out)])
        c = out / "samples" / "damon" / "damos_f.c"
        return r.exit_code, r.output, c.read_text() if c.is_file() else None

    anon = source("probe anon { filter allow anon }", "probe w { weight 3 }")
    rc, out, _ = compile_(anon, "7.1")
    assert rc == 2 and out.splitlines()[0].endswith(
        "f.damos:3:5: error: Linux 7.1 lacks probes (first in Linux 7.2)"), out
    rc, out, _ = compile_(anon, "7.2")
    assert rc == 2 and out.splitlines()[0].endswith(
        "f.damos:4:15: error: Linux 7.2 lacks probe weight (first in Linux 7.3)"), out
    rc, out, c = compile_(anon.replace("weight 3", ""), "7.2")
    assert rc == 0 and c.count("damon_new_probe()") == 2 and "weight" not in c.split(" */", 1)[1]
    rc, out, c = compile_(anon, "7.3")
    assert rc == 0, out
    assert "damon_new_filter(DAMON_FILTER_TYPE_ANON, true, true);" in c
    assert "\tprobe->weight = 3;\n" in c
    # a memcg filter: the module finds the path's memcg id as sysfs does, at start
    rc, out, c = compile_(TWO, "7.3")
    assert rc == 0, out
    assert ('damos_f_memcg_id("/a b", &filter->memcg_id);' in c
            and "damon_new_filter(DAMON_FILTER_TYPE_MEMCG, false, false);" in c)
    from damos_lang.features import blockers
    why = {f.name: f.why for f in blockers(unit_from_text(TWO).context, catalog.USERSPACE)}
    assert why["probes"] == "damos run samples accesses only, not data attributes"


def test_damos_target_prints_them():
    path_text = run_target(__import__("damos_lang.targets.damos", fromlist=["x"]), parse(TWO),
                           Options())
    assert "probe anon {" in path_text and 'filter reject not memcg "/a b"' in path_text


# -- generated probes: fmt, the plan through the stand-in, and damo JSON agree --------------

_paths = st.from_regex(r"/[a-z]{1,6}( [a-z]{1,3})?", fullmatch=True)
_filters = st.one_of(
    st.builds(ProbeFilter, st.booleans(), st.just("anon"), st.booleans()),
    st.builds(ProbeFilter, st.booleans(), st.just("memcg"), st.booleans(), _paths))
_probes = st.builds(Probe, st.none() | st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True),
                    st.none() | st.integers(0, 10_000),
                    st.lists(_filters, max_size=3).map(tuple))


def _text(probes) -> str:
    base = parse(source())
    return format_program(type(base)(base.monitor.__class__(
        ops="paddr", probes=tuple(probes)), base.targets, base.schemes))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(_probes, min_size=1, max_size=catalog.MAX_PROBES))
def test_generated_probes_round_trip_through_fmt_the_stand_in_and_damo_json(tmp_path, probes):
    text = _text(probes)
    assert parse(text).monitor.probes == tuple(probes)
    assert format_source(text) == text
    ctx = unit_from_text(text).context
    memcgs = {"/"} | {f.memcg_path for p in probes for f in p.filters if f.memcg_path}
    root = tmp_path / f"r{abs(hash(text))}"
    fs, _ = started(root, text, memcgs=tuple(memcgs))
    assert read_context(fs, C).probes == normalize(ctx).probes
    back = parse_damo_json(run_target(damo_json, parse(text), Options()))
    assert unit_from_text(format_program(back)).context.probes == ctx.probes
