"""The context and kdamond settings of the monitor block: ``pause`` (7.2),
``addr_unit`` (6.18, paddr) and ``refresh`` (6.17, the kdamond's refresh_ms),
through every layer: parse and fmt, check with kernel versions, the sysfs plan,
the stand-in's files and read-back, damo JSON both ways (damo 3.4.3's names:
the context's ``pause`` and ``addr_unit``, the kdamond's ``refresh_ms``, a
target's ``obsolete``), explain and status.  ``damos update`` dropping a target
is in tests/live/test_update_targets.py."""
from __future__ import annotations

import json
import os

import pytest

from damos_lang import catalog
from damos_lang.damo_input import parse_damo_json
from damos_lang.errors import DamosError
from damos_lang.explain import explain
from damos_lang.features import features_of, require
from damos_lang.fmt import format_program, format_source
from damos_lang.ir import Monitor, Value
from damos_lang.lower import parse
from damos_lang.pipeline import unit_from_text, unit_of
from damos_lang.sysfs import layout as L
from damos_lang.sysfs.plan import plan, plan_for
from damos_lang.sysfs.read import kdamonds, read_context
from damos_lang.sysfs.standin import StandIn
from damos_lang.targets import Options, damo_json, run_target

import damo_oracle
from cli_check import check_cli

C = "kdamonds/0/contexts/0"
ALL = """monitor {
    ops paddr
    pause yes
    addr_unit 4K
    refresh 100ms
}

target region 4G..8G

scheme {
    action stat
}
"""


def source(*settings, ops="paddr") -> str:
    body = "".join(f"    {s}\n" for s in settings)
    region = "target region 4G..8G\n\n" if ops == "paddr" else ""
    return f"monitor {{\n    ops {ops}\n{body}}}\n\n{region}scheme {{\n    action stat\n}}\n"


def writes_of(text: str, **kw) -> dict[str, str]:
    return {w.path: w.value for w in plan_for(unit_from_text(text), Options(), **kw)}


# -- parse and fmt -------------------------------------------------------------

def test_the_settings_parse_into_the_monitor_block():
    m = parse(ALL).monitor
    assert m.pause is True
    assert (m.addr_unit.number, m.addr_unit.unit) == ("4", "K")
    assert (m.refresh.number, m.refresh.unit) == ("100", "ms")
    assert parse(source("pause no")).monitor.pause is False
    assert parse(source()).monitor == Monitor("paddr")      # none set: all None


def test_fmt_keeps_them_and_is_idempotent():
    assert format_source(ALL) == ALL
    shuffled = "monitor {\n refresh 100ms\n addr_unit 4K\n ops paddr\n pause yes\n}\n" \
               "target region 4G..8G\nscheme {\n action stat\n}\n"
    assert format_source(shuffled) == ALL
    for text in (ALL, source("pause no"), source("refresh 2s", ops="vaddr")):
        once = format_program(parse(text))
        assert parse(once) == parse(text) and format_source(once) == once


@pytest.mark.parametrize("setting, message, col", [
    ("pause maybe", "unknown pause value 'maybe'; expected one of: yes, no", 11),
    ("addr_unit 0", "addr_unit must be at least 1 (the kernel refuses 0)", 15),
    ("addr_unit 1.5", "addr_unit must be a whole number of bytes", 15),
    ("addr_unit max", "'max' is not allowed here", 15),
    ("refresh 500us", "refresh must be at least 1ms", 13),
    ("refresh 1.5ms", "refresh must be a whole number of milliseconds", 13),
    ("refresh 50d", "refresh must be at most 4294967295ms", 13),
    ("refresh 100", "refresh interval needs a time unit", 13),
])
def test_bad_values_are_errors_at_the_value(setting, message, col):
    with pytest.raises(DamosError) as e:
        parse(source(setting))
    assert message in e.value.message
    assert (e.value.loc.line, e.value.loc.col) == (3, col)


def test_addr_unit_is_for_paddr_only_at_the_setting():
    for text in (source("addr_unit 4K", ops="vaddr"),
                 "monitor {\n    addr_unit 4K\n}\nscheme {\n    action stat\n}\n"):
        with pytest.raises(DamosError) as e:
            parse(text)
        assert e.value.message == "addr_unit applies to physical memory only: write 'ops paddr'"
        assert e.value.loc.col == 5 and text.splitlines()[e.value.loc.line - 1].strip() \
            == "addr_unit 4K"
    # a misspelt ops is its own error: addr_unit is not judged against it
    with pytest.raises(DamosError) as e:
        parse(source("addr_unit 4K", ops="padr"))
    assert "unknown operations set 'padr'" in e.value.message and \
        not getattr(e.value, "errors", None)


def test_each_setting_is_lowered_on_its_own(tmp_path):
    """Three bad settings in one block: three errors, each at its line."""
    text = source("addr_unit 4K", "refresh 1us", "pause maybe", ops="vaddr")
    rc, out = check_cli(tmp_path, text)
    assert rc == 2
    errors = [line.split(" (")[0] for line in out.splitlines() if ": error: " in line]
    assert errors == [
        "F:3:5: error: addr_unit applies to physical memory only: write 'ops paddr'",
        "F:4:13: error: refresh must be at least 1ms",
        "F:5:11: error: unknown pause value 'maybe'; expected one of: yes, no"]


def test_set_twice_is_an_error():
    with pytest.raises(DamosError, match="'pause' is set twice in this monitor"):
        parse(source("pause yes", "pause no"))


# -- check with kernel versions ----------------------------------------------------

@pytest.mark.parametrize("setting, line, col, name, since, before", [
    ("pause yes", 3, 5, "pause", "7.2", "7.1"),
    ("addr_unit 4K", 3, 15, "addr_unit", "6.18", "6.17"),
    ("refresh 100ms", 3, 13, "refresh_ms", "6.17", "6.16"),
])
def test_a_kernel_without_the_setting_refuses_it_at_the_setting(tmp_path, setting, line, col,
                                                               name, since, before):
    text = source(setting)
    rc, out = check_cli(tmp_path, text, "--kernel", before)
    assert rc == 2
    assert out.splitlines()[0] == (f"F:{line}:{col}: error: Linux {before} lacks {name} "
                                   f"(first in Linux {since})")
    assert text.splitlines()[line - 1].strip() in out       # the caret's line
    rc, out = check_cli(tmp_path, text, "--kernel", since)
    assert rc == 0, out
    assert f"needs Linux >= {since}: {name}" in out


def test_pause_no_asks_for_no_kernel():
    unit = unit_from_text(source("pause no"))
    assert unit.context.pause is False
    require(unit.context, catalog.SYSFS, (6, 12))          # nothing versioned: no raise


def test_sysfs_expresses_all_three_the_c_api_two_debugfs_none():
    ctx = unit_from_text(ALL).context
    with pytest.raises(DamosError) as e:
        require(ctx, catalog.DEBUGFS)
    assert "pause" in e.value.message
    # the C API has ctx->pause and ctx->addr_unit (the c-module families store
    # them), but no refresh_ms: that is a sysfs kdamond's file
    with pytest.raises(DamosError) as e:
        require(ctx, catalog.C_API)
    assert "refresh_ms" in e.value.message
    without_refresh = unit_from_text(ALL.replace("    refresh 100ms\n", "")).context
    assert without_refresh.refresh_ms == 0
    require(without_refresh, catalog.C_API)
    names = {f.name for f in features_of(ctx, catalog.SYSFS)}
    assert {"pause", "addr_unit", "refresh_ms"} <= names


# -- the sysfs plan --------------------------------------------------------------

def test_the_plan_writes_each_file_with_the_kernel_s_value():
    w = writes_of(ALL)
    assert w[f"{C}/pause"] == "Y"                        # kstrtobool; reads back Y/N
    assert w[f"{C}/addr_unit"] == "4096"                 # bytes per address unit
    assert w["kdamonds/0/refresh_ms"] == "100"           # the kdamond's, in ms
    assert writes_of(source("refresh 2s"))["kdamonds/0/refresh_ms"] == "2000"
    paths = [x.path for x in plan_for(unit_from_text(ALL), Options())]
    # refresh_ms before the kdamond starts; state 'on' last
    assert paths.index("kdamonds/0/refresh_ms") < paths.index("kdamonds/0/state") \
        == len(paths) - 1


def test_a_fresh_kdamond_gets_no_write_for_a_default():
    w = writes_of(source("pause no"))
    assert not {f"{C}/pause", f"{C}/addr_unit", "kdamonds/0/refresh_ms"} & set(w)


def test_writing_over_a_running_kdamond_puts_the_defaults_back_where_the_kernel_has_them():
    ctx = unit_from_text(source()).context
    over = {w.path: w.value for w in plan(ctx, Options(kernel=(7, 3)), create=False,
                                          final=L.COMMIT)}
    assert (over[f"{C}/pause"], over[f"{C}/addr_unit"], over["kdamonds/0/refresh_ms"]) == \
        ("N", "1", "0")
    old = {w.path for w in plan(ctx, Options(kernel=(6, 17)), create=False, final=L.COMMIT)}
    assert "kdamonds/0/refresh_ms" in old and not {f"{C}/pause", f"{C}/addr_unit"} & old
    unknown = {w.path for w in plan(ctx, Options(), create=False, final=L.COMMIT)}
    assert not {f"{C}/pause", f"{C}/addr_unit", "kdamonds/0/refresh_ms"} & unknown


# -- the layout table, the stand-in and read-back ---------------------------------------

def test_one_layout_row_each():
    rows = {"pause": (L.CONTEXT, "pause", (7, 2), "N"),
            "addr_unit": (L.CONTEXT, "addr_unit", (6, 18), "1"),
            "refresh_ms": (L.KDAMOND, "refresh_ms", (6, 17), None)}
    for feature, (entity, path, since, default) in rows.items():
        hits = [f for f in entity.files if f.path == path]
        assert len(hits) == 1 and hits[0].since == since and hits[0].feature == feature
        if default is not None:
            assert hits[0].default == default
    assert L.TARGET.file("obsolete").since == (6, 19)
    assert L.first_version("pause") == (7, 2)
    assert L.first_version("addr_unit") == (6, 18)
    assert L.first_version("refresh_ms") == (6, 17)


def started(tmp_path, text, version=(7, 3), pids=()) -> tuple[StandIn, str]:
    root = str(tmp_path / "admin")
    fs = StandIn.create(root, version, pids=set(pids) | {os.getpid()})
    from damos_lang.live import apply as A
    A.apply(unit_from_text(text, pid=os.getpid()), root=root,
            module_root=str(tmp_path / "module"), sleep=lambda s: None)
    return fs, root


def raw(root, rel) -> str:
    with open(os.path.join(root, rel)) as f:
        return f.read()


def test_the_stand_in_has_the_files_where_the_kernel_has_them(tmp_path):
    for version, present in (((7, 3), True), ((6, 16), False)):
        fs = StandIn.create(str(tmp_path / f"v{version[1]}"), version)
        fs.write(L.NR_KDAMONDS, "1")
        fs.write(L.nr_contexts_path(0), "1")
        assert fs.exists("kdamonds/0/refresh_ms") == present
        assert fs.exists(f"{C}/addr_unit") == present
        assert fs.exists(f"{C}/pause") == (version >= (7, 2))


def test_the_stand_in_parses_them_as_the_kernel_does(tmp_path):
    fs = StandIn.create(str(tmp_path / "admin"), (7, 3))
    fs.write(L.NR_KDAMONDS, "1")
    fs.write(L.nr_contexts_path(0), "1")
    for word, shown in (("on", "Y"), ("1", "Y"), ("n", "N"), ("Y\n", "Y")):
        fs.write(f"{C}/pause", word)
        assert raw(fs.root, f"{C}/pause") == shown + "\n"
    with pytest.raises(OSError) as e:
        fs.write(f"{C}/pause", "maybe")
    assert e.value.errno == 22
    with pytest.raises(OSError) as e:
        fs.write(f"{C}/addr_unit", "0")                  # addr_unit_store: 0 is EINVAL
    assert e.value.errno == 22
    with pytest.raises(OSError) as e:
        fs.write("kdamonds/0/refresh_ms", str(1 << 32))  # kstrtouint: ERANGE
    assert e.value.errno == 34
    fs.write("kdamonds/0/refresh_ms", "4294967295\n")
    assert raw(fs.root, "kdamonds/0/refresh_ms") == "4294967295\n"


def test_apply_writes_them_and_reads_them_back(tmp_path):
    fs, root = started(tmp_path, ALL)
    assert raw(root, f"{C}/pause") == "Y\n"
    assert raw(root, f"{C}/addr_unit") == "4096\n"
    assert raw(root, "kdamonds/0/refresh_ms") == "100\n"
    ctx = read_context(fs, C)
    assert (ctx.pause, ctx.addr_unit, ctx.refresh_ms) == (True, 4096, 100)
    assert kdamonds(fs)[0].refresh_ms == 100
    from damos_lang.live import status as S
    src = S.snapshot(root)[0]["source"]
    assert "pause yes" in src and "addr_unit 4096" in src and "refresh 100ms" in src
    # and what status prints back is the same context again
    assert unit_from_text(src).context.addr_unit == 4096


def test_update_without_them_puts_the_defaults_back(tmp_path):
    fs, root = started(tmp_path, ALL)
    from damos_lang.live import apply as A
    A.update(unit_from_text(source()), root=root, sleep=lambda s: None)
    assert (raw(root, f"{C}/pause"), raw(root, f"{C}/addr_unit"),
            raw(root, "kdamonds/0/refresh_ms")) == ("N\n", "1\n", "0\n")


# -- damo JSON both ways ------------------------------------------------------------

def json_of(text: str) -> dict:
    return json.loads(run_target(damo_json, parse(text), Options()))


def test_damo_json_carries_them_under_damo_s_names():
    kd = json_of(ALL)["kdamonds"][0]
    ctx = kd["contexts"][0]
    assert kd["refresh_ms"] == 100                       # Kdamond.to_kvpairs: ms
    assert ctx["addr_unit"] == 4096 and ctx["pause"] is True   # DamonCtx.to_kvpairs
    # defaults are left out (damo reads a missing key as its default)
    plain = json_of(source())["kdamonds"][0]
    assert "refresh_ms" not in plain
    assert "addr_unit" not in plain["contexts"][0] and "pause" not in plain["contexts"][0]


def test_damo_json_round_trip():
    again = parse_damo_json(run_target(damo_json, parse(ALL), Options()))
    assert unit_of(again).context == unit_of(parse(ALL)).context
    ctx = unit_of(again).context
    assert (ctx.pause, ctx.addr_unit, ctx.refresh_ms) == (True, 4096, 100)


def damo_text(kd_extra=None, ctx_extra=None, target_extra=None) -> str:
    """damo's kdamonds JSON as 'damo args' writes it, with human strings."""
    target = {"pid": None, "regions": [{"start": "4 GiB", "end": "8 GiB"}]}
    target.update(target_extra or {})
    ctx = {"ops": "paddr", "targets": [target],
           "intervals": {"sample_us": "5 ms", "aggr_us": "100 ms", "ops_update_us": "1 s"},
           "nr_regions": {"min": 10, "max": 1000}, "schemes": [{"action": "stat"}]}
    ctx.update(ctx_extra or {})
    kd = {"state": None, "pid": None, "contexts": [ctx]}
    kd.update(kd_extra or {})
    return json.dumps({"kdamonds": [kd]})


def test_damo_s_own_forms_are_read():
    # damo writes addr_unit with format_sz_accurate ('4.000000 KiB', '1 B'),
    # refresh_ms as a number of ms, pause and obsolete as booleans
    p = parse_damo_json(damo_text({"refresh_ms": 250},
                                  {"addr_unit": "4.000000 KiB", "pause": True},
                                  {"obsolete": False}))
    ctx = unit_of(p).context
    assert (ctx.pause, ctx.addr_unit, ctx.refresh_ms) == (True, 4096, 250)
    # damo's defaults are no setting at all
    p = parse_damo_json(damo_text({"refresh_ms": 0}, {"addr_unit": "1 B", "pause": False}))
    m = p.monitor
    assert (m.pause, m.addr_unit, m.refresh) == (None, None, None)
    assert parse_damo_json(damo_text({"refresh_ms": "1 s"})).monitor.refresh == Value("1000", "ms")


@pytest.mark.parametrize("kd, ctx, target, path, message", [
    ({"refresh_ms": 1 << 32}, None, None, "kdamonds[0].refresh_ms",
     "refresh_ms must be at most 4294967295"),
    (None, {"addr_unit": 0}, None, "kdamonds[0].contexts[0].addr_unit",
     "addr_unit must be at least 1"),
    (None, {"ops": "vaddr", "addr_unit": 4096}, {"pid": 42, "regions": []},
     "kdamonds[0].contexts[0].addr_unit", "addr_unit applies to physical memory only"),
    (None, None, {"obsolete": True}, "kdamonds[0].contexts[0].targets[0].obsolete",
     "an obsolete target is one to drop"),
])
def test_damo_json_errors_name_the_field(kd, ctx, target, path, message):
    with pytest.raises(DamosError) as e:
        parse_damo_json(damo_text(kd, ctx, target))
    d = e.value.diagnostic
    assert d.path == path and message in d.message


def test_damo_writes_our_json_as_our_plan_does():
    """damo 3.4.3's own sysfs writer on our JSON: the same three files and values."""
    if not damo_oracle.damo_available():
        pytest.skip("damo is not importable")
    texts = [run_target(damo_json, parse(t), Options()) for t in (ALL, source())]
    got = damo_oracle.damo_writes(texts)
    assert all("error" not in g for g in got), got
    files = got[0]["files"]
    ours = writes_of(ALL)
    for rel in (f"{C}/pause", f"{C}/addr_unit", "kdamonds/0/refresh_ms"):
        assert files[rel] == ours[rel]                  # damo writes without a newline
    assert (files[f"{C}/pause"], files[f"{C}/addr_unit"], files["kdamonds/0/refresh_ms"]) \
        == ("Y", "4096", "100")
    plain = got[1]["files"]
    assert (plain[f"{C}/pause"], plain[f"{C}/addr_unit"], plain["kdamonds/0/refresh_ms"]) \
        == ("N", "1", "0")


# -- explain -------------------------------------------------------------------------

def test_explain_says_what_each_does():
    text = explain(unit_from_text(ALL))
    assert ("Paused: the kdamond starts (or is committed) paused and neither monitors nor "
            "applies schemes until a 'damos update' without 'pause yes'.") in text
    assert ("Address unit: 4096 bytes (addr_unit): region addresses are in units of 4 KiB "
            "of physical memory.") in text
    assert ("Stats refresh: the kernel refreshes the stats files every 100 ms itself "
            "(refresh_ms 100).") in text
    plain = explain(unit_from_text(source()))
    assert "Paused" not in plain and "Address unit" not in plain and "Stats refresh" not in plain


# -- status leaves the stats to a kernel that refreshes them ------------------------------

def status_writes(tmp_path, text) -> list[list[str]]:
    root = str(tmp_path / "admin")
    log = tmp_path / "writes.jsonl"
    StandIn.create(root, (7, 3), pids={os.getpid()}, write_log=str(log))
    from damos_lang.live import apply as A, status as S
    A.apply(unit_from_text(text, pid=os.getpid()), root=root,
            module_root=str(tmp_path / "module"), sleep=lambda s: None)
    log.write_text("")
    kds = S.snapshot(root)
    return [json.loads(x) for x in log.read_text().splitlines()], kds


def test_status_does_not_write_update_schemes_stats_when_the_kernel_refreshes(tmp_path):
    writes, kds = status_writes(tmp_path, source("refresh 100ms", ops="vaddr"))
    cmds = [v for p, v in writes if p == "kdamonds/0/state"]
    assert L.UPDATE_SCHEMES_STATS not in cmds and L.UPDATE_EFFECTIVE_QUOTAS not in cmds
    assert kds[0]["refreshed"] and kds[0]["refresh_ms"] == 100
    from damos_lang.live import status as S
    assert "(refreshed by the kernel every 100 ms)" in S.render(kds)


def test_status_writes_update_schemes_stats_otherwise(tmp_path):
    writes, kds = status_writes(tmp_path, source(ops="vaddr"))
    cmds = [v for p, v in writes if p == "kdamonds/0/state"]
    assert L.UPDATE_SCHEMES_STATS in cmds
    assert kds[0]["refresh_ms"] == 0


# -- regions in address units ---------------------------------------------------------

def paddr_regions(unit, *regions) -> str:
    words = " ".join(f"region {a}..{b}" for a, b in regions)
    setting = f"    addr_unit {unit}\n" if unit else ""
    return (f"monitor {{\n    ops paddr\n{setting}}}\n\ntarget {words}\n\n"
            "scheme {\n    action stat\n}\n")


def test_regions_may_share_a_page_only_as_the_kernel_s_least_region_allows():
    # bytes: two regions in one 4 KiB page are refused (the kernel widens them to pages)
    with pytest.raises(DamosError, match="share a 4 KiB page"):
        unit_from_text(paddr_regions(None, (0, 2048), (2048, 8192)))
    # addr_unit 4K: a unit is a page (min_region_sz = max(4096 / 4096, 1) = 1)
    unit_from_text(paddr_regions("4K", (0, 1), (1, 5)))
    # addr_unit 2K: a page is two units
    with pytest.raises(DamosError, match=r"share a 2-unit page \(addr_unit 2048\)"):
        unit_from_text(paddr_regions("2K", (0, 3), (3, 8)))
    unit_from_text(paddr_regions("2K", (0, 2), (2, 8)))
