"""Fuzzing damo JSON input through the command line.

Documents are the damo JSON of every example (``damos compile X.damos -t
damo-json``), mutated, and damo-shaped JSON that hypothesis generates.  For
each one, ``damos check``, ``damos explain`` and ``damos compile -t
sysfs|debugfs|damo-json|damos`` must

* exit 0 or 2: never a traceback (exit 1, "Traceback" on stderr);
* on exit 2, name the file and, for a JSON document, the JSON path of the
  bad key (``file:kdamonds[0]...: error: ...``), never a line:col; an
  error about the whole program (a target cannot express it, paddr without
  a region) names only the file (``file: error: ...``);
* agree: a document ``check`` refuses is refused by every command with the
  same message, and one ``check`` accepts is explained, compiles to DAMOS
  source that ``check`` accepts in turn (every rule of the language front end
  holds for damo JSON too), and compiles to damo JSON that reads back.

The CLI runs in-process (``damos_lang.cli.main`` with ``sys.argv`` patched)
for speed; a few cases run as real processes.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from damos_lang import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.damos"))
COMMANDS = (("check",), ("explain",), ("compile", "-t", "sysfs"), ("compile", "-t", "debugfs"),
            ("compile", "-t", "damo-json"), ("compile", "-t", "damos"))
FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

# a JSON path as damo_input writes it: key(.key|[i])*, or (top)
JSON_PATH = r"(?:\(top\)|[A-Za-z_][A-Za-z_0-9]*(?:\[\d+\])*(?:\.[A-Za-z_][A-Za-z_0-9]*(?:\[\d+\])*)*|\[\d+\](?:\[\d+\])*(?:\.[A-Za-z_][A-Za-z_0-9]*(?:\[\d+\])*)*)"


def damos(*args: str) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit status, stdout, stderr).  An
    exception escaping ``main`` is reported as exit 1 with its traceback."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["damos", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception:  # noqa: BLE001 -- a traceback is what we look for
                import traceback
                err.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


def _example_json() -> dict[str, str]:
    docs = {}
    for p in EXAMPLES:
        code, out, _ = damos("compile", str(p), "-t", "damo-json")
        if code == 0:   # damo's JSON cannot carry everything (max_snapshots)
            docs[p.stem] = out
    return docs


EXAMPLE_JSON = _example_json()


def test_there_are_examples_to_mutate():
    assert EXAMPLES, f"no examples under {ROOT / 'examples'}"
    assert len(EXAMPLE_JSON) >= 4, sorted(EXAMPLE_JSON)


# -- the properties ------------------------------------------------------------

def first_line(err: str) -> str:
    return err.splitlines()[0] if err else ""


def assert_error_shape(name: str, err: str, compile_target: bool, invalid_json_ok: bool):
    line = first_line(err)
    assert ": error: " in line, err
    where = line.split(": error: ")[0]
    if where == name or (compile_target and where == "damos"):
        return      # the whole program is refused (a target cannot express it, paddr
        #             without a region, ...): no one key is at fault
    assert where.startswith(name + ":"), err
    at = where[len(name) + 1:]
    if re.fullmatch(r"\d+:\d+", at):
        assert invalid_json_ok and "invalid JSON" in line, err
        return
    assert re.fullmatch(JSON_PATH, at), err


def check_document(tmp: Path, text: str, *, invalid_json_ok: bool = False) -> dict:
    f = tmp / "fuzz.json"
    f.write_text(text)
    name = str(f)
    results = {}
    for args in COMMANDS:
        code, out, err = damos(*args, name)
        results[args] = (code, out, err)
        ctx = (args, text[:3000], err[-3000:])
        assert code in (0, 2), ctx
        assert "Traceback" not in err + out, ctx
        if code == 2:
            assert_error_shape(name, err, args[0] == "compile", invalid_json_ok)
    check_code, _, check_err = results[("check",)]
    if check_code == 2:
        # the loader refused it: every command refuses it the same way
        for args, (code, _, err) in results.items():
            assert code == 2 and first_line(err) == first_line(check_err), (args, err, check_err)
        return results
    assert results[("explain",)][0] == 0, results[("explain",)]
    code, source, err = results[("compile", "-t", "damos")]
    assert code == 0, err
    g = tmp / "fuzz.damos"
    g.write_text(source)
    code, _, err = damos("check", str(g))
    # known (reported): a quota time damo's JSON gives as more ms than float
    # arithmetic keeps exact has no unit that gives damo's number, and fmt
    # writes it bare, which a quota block refuses
    bare_ms = "needs a time unit" in err and re.search(r"\b\d{16,}\b", first_line(err) + err)
    assert code == 0 or bare_ms, ("compile -t damos gave source that check refuses",
                                  text[:3000], source, err)
    code, again, err = results[("compile", "-t", "damo-json")]
    if code == 0:
        (tmp / "again.json").write_text(again)
        code, _, err = damos("check", str(tmp / "again.json"))
        # known: the damo-json target writes a paddr target's pid as null, so a
        # paddr file with a pid-only target among others comes back empty
        paddr_pid = "no empty target" in err and '"ops": "paddr"' in again
        assert code == 0 or paddr_pid, ("our own damo JSON does not read back", again, err)
    return results


# -- mutations of the examples' JSON -------------------------------------------

HUGE = "__HUGE_INT__"          # replaced by a 5,000-digit integer in the text
NEG_HUGE = "__NEG_HUGE_INT__"
INTERESTING = [0, 1, -1, 2, 3, 100, 101, 1000, 10000, 2**32 - 1, 2**32, 2**64 - 1, 2**64,
               10**21, 10**22, 10**30, 0.5, 1.5, -0.5, 1e300, 1e-300, 99.99,
               "0", "1", "-1", "", " ", "max", "min", "Max", "0 samples", "3 samples",
               "-1 samples", "1.5 samples", "5 aggr_intervals", "max aggr_intervals",
               "10 %", "150 %", "100%", "-5 %", "1e3", "1e30", "0.5 us", "0 us", "1 us",
               "5 ms", "1 m 30 s", "1 s 1 s", "4K", "4k", "1.5G", "2M", "18446744073709551616",
               "1,024", "0x1000", "nan", "inf", "10 percent", "3 usec", "pageout", "stat",
               "free_mem_rate", "none", "paddr", "vaddr", "anon", "memcg", "addr",
               "hugepage_size", "target", "consist", "temporal", "user_input",
               "some_mem_psi_us", "node_mem_used_bp", "yes", "no", "\u00e9", "\x00",
               True, False, None, [], {}, [0, 0], [1, 2, 3], {"min": 0, "max": 0},
               {"min": "max", "max": "min"}, {"start": 0, "end": 4096},
               HUGE, NEG_HUGE, "9" * 30]
NEW_KEYS = ["intervals_goal", "goals", "goal_tuner", "fail_charge_num", "fail_charge_denom",
            "target_nid", "dests", "filters", "apply_interval_us", "nr_regions", "intervals",
            "unknown_key", "target_value_bp", "complement", "nid", "memcg_path", "allow"]


def to_text(doc) -> str:
    text = json.dumps(doc, indent=1, allow_nan=True)
    return (text.replace(json.dumps(HUGE), "9" * 5000)
                .replace(json.dumps(NEG_HUGE), "-" + "9" * 5000))


def _slots(node, out):
    """Every (container, key) of the tree, containers before their children."""
    if isinstance(node, dict):
        for k in list(node):
            out.append((node, k))
            _slots(node[k], out)
    elif isinstance(node, list):
        for i in range(len(node)):
            out.append((node, i))
            _slots(node[i], out)
    return out


values = st.one_of(st.sampled_from(INTERESTING), st.integers(-2**70, 2**70),
                   st.floats(allow_nan=False), st.text(max_size=8))
# a value of the same kind as the one it replaces: documents that still load
NUMBERS = st.one_of(st.sampled_from([0, 1, 2, 3, 20, 100, 101, 999, 1000, 2**32 - 1, 2**32,
                                     2**64 - 1, 2**64, 10**21, 10**21 + 1, 0.5, 1.5, 99.5,
                                     1e-7, 1e21, 1.1e21, HUGE]),
                    st.integers(0, 2**66), st.floats(0, 1e22))
STRINGS = st.one_of(st.sampled_from([s for s in INTERESTING if isinstance(s, str)]),
                    st.builds("{} {}".format, st.integers(0, 2**33),
                              st.sampled_from(["samples", "aggr_intervals", "%", "us", "ms",
                                               "s", "m", "h", "d", "ns", "percent", "usec",
                                               "K", "M", "G", "E", "B"])))


def _mutate(draw, doc, times):
    for _ in range(times):
        slots = _slots(doc, [])
        if not slots:
            break
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        op = draw(st.sampled_from(["tweak", "tweak", "tweak", "set", "set", "delete", "add",
                                   "dup", "wrap"]))
        old = container[key]
        if op == "tweak" and isinstance(old, (int, float, str)) and not isinstance(old, bool):
            container[key] = draw(st.one_of(NUMBERS, STRINGS))
        elif op in ("tweak", "set"):
            container[key] = copy.deepcopy(draw(values))
        elif op == "delete":
            del container[key]
        elif op == "add" and isinstance(container, dict):
            container[draw(st.sampled_from(NEW_KEYS))] = copy.deepcopy(draw(values))
        elif op == "dup" and isinstance(container, list):
            container.append(copy.deepcopy(container[key]))
        elif op == "wrap":
            container[key] = [container[key]] if draw(st.booleans()) else {"min": container[key]}
    return doc


@st.composite
def mutated_documents(draw):
    doc = json.loads(EXAMPLE_JSON[draw(st.sampled_from(sorted(EXAMPLE_JSON)))])
    if draw(st.booleans()) and draw(st.booleans()):
        doc = doc["kdamonds"][0]["contexts"][0].get("schemes", [])   # damo -c's plain list
    return to_text(_mutate(draw, doc, draw(st.integers(1, 4))))


@FUZZ
@given(mutated_documents())
def test_mutated_example_json_never_crashes(tmp_path, text):
    check_document(tmp_path, text)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(EXAMPLE_JSON)), st.integers(0, 10**6),
       st.sampled_from(["truncate", "delete", "insert"]), st.text(max_size=3))
def test_mutated_json_text_never_crashes(tmp_path, name, at, op, s):
    text = EXAMPLE_JSON[name]
    at %= len(text) + 1
    text = {"truncate": text[:at], "delete": text[:at] + text[at + 1:],
            "insert": text[:at] + s + text[at:]}[op]
    check_document(tmp_path, text, invalid_json_ok=True)


# -- generated damo-shaped JSON ------------------------------------------------
# every key damo writes, with values of the right kind (edge values included);
# the junk comes from a few mutations on top

def rng(x):
    return st.fixed_dictionaries({"min": x, "max": x})


size = st.one_of(st.integers(0, 2**64), st.sampled_from(["4K", "2M", "1.5G", "max", "min", 0,
                                                          "1,024 K", "18446744073709551616"]))
times = st.one_of(st.integers(0, 10**7), st.sampled_from(["5 ms", "1 s", "100 ms", "0 us", "1 us",
                                                          "1 m 30 s", "max", "min", 0.5]))
percents = st.one_of(st.integers(0, 120), st.sampled_from(["10 %", "100 %", "max", "min",
                                                           "0 samples", "2 samples", "7 percent"]))
ages = st.one_of(times, st.sampled_from(["0 aggr_intervals", "7 aggr_intervals", "9 usec"]))
permil = st.one_of(st.integers(0, 1200), st.sampled_from(["50 %", "150 %", "0.5 %"]))
small = st.integers(0, 5)

goal = st.fixed_dictionaries(
    {"metric": st.sampled_from(["user_input", "some_mem_psi_us", "node_mem_used_bp",
                                "active_mem_bp", "node_memcg_free_bp"]),
     "target_value": st.one_of(times, percents), "current_value": st.integers(0, 100)},
    optional={"nid": small, "memcg_path": st.sampled_from(["/", "/a b", ""])})
quotas = st.fixed_dictionaries(
    {"time_ms": times, "sz_bytes": size, "reset_interval_ms": times,
     "weights": st.fixed_dictionaries({k: permil for k in ("sz_permil", "nr_accesses_permil",
                                                           "age_permil")})},
    optional={"goals": st.lists(goal, max_size=2),
              "goal_tuner": st.sampled_from(["consist", "temporal"]),
              "fail_charge_num": small, "fail_charge_denom": small})
watermarks = st.fixed_dictionaries(
    {"metric": st.sampled_from(["none", "free_mem_rate"]), "interval_us": times,
     **{k: permil for k in ("high_permil", "mid_permil", "low_permil")}})
filters = st.fixed_dictionaries(
    {"filter_type": st.sampled_from(["anon", "memcg", "addr", "target", "hugepage_size",
                                     "young", "active", "unmapped"]),
     "matching": st.booleans(), "allow": st.booleans(), "memcg_path": st.just("/m"),
     "damon_target_idx": small,
     "address_range": st.fixed_dictionaries({"start": size, "end": size}),
     "hugepage_size": st.lists(size, min_size=2, max_size=2)})
scheme = st.fixed_dictionaries(
    {"action": st.sampled_from(["stat", "pageout", "hugepage", "migrate_hot", "lru_prio",
                                "collapse", "willneed"])},
    optional={
        "access_pattern": st.fixed_dictionaries({"sz_bytes": rng(size),
                                                 "nr_accesses": rng(percents),
                                                 "age": rng(ages)}),
        "apply_interval_us": times, "quotas": quotas, "watermarks": watermarks,
        "filters": st.lists(filters, max_size=2), "target_nid": st.one_of(st.none(), small),
        "dests": st.lists(st.fixed_dictionaries({"id": small, "weight": permil}), max_size=2),
    })
context = st.fixed_dictionaries(
    {"ops": st.sampled_from(["vaddr", "paddr", "fvaddr"]),
     "targets": st.lists(st.fixed_dictionaries(
         {"pid": st.one_of(st.none(), st.integers(1, 2**40)),
          "regions": st.lists(st.fixed_dictionaries({"start": size, "end": size}),
                              max_size=2)}), max_size=2)},
    optional={
        "intervals": st.fixed_dictionaries(
            {"sample_us": times, "aggr_us": times, "ops_update_us": times},
            optional={"intervals_goal": st.fixed_dictionaries(
                {"access_bp": percents, "aggrs": small, "min_sample_us": times,
                 "max_sample_us": times})}),
        "nr_regions": rng(st.integers(0, 2**33)),
        "schemes": st.lists(scheme, max_size=3),
    })


@st.composite
def generated_documents(draw):
    if draw(st.integers(0, 4)) == 0:
        doc = draw(st.lists(scheme, max_size=3))
    else:
        doc = {"kdamonds": [{"contexts": [draw(context)]}]}
    return to_text(_mutate(draw, doc, draw(st.integers(0, 2))))


@FUZZ
@given(generated_documents())
def test_generated_json_never_crashes(tmp_path, text):
    check_document(tmp_path, text)


# -- known cases, each once ----------------------------------------------------

def _with(mutate) -> str:
    doc = json.loads(EXAMPLE_JSON["prcl"])
    mutate(doc["kdamonds"][0]["contexts"][0])
    return to_text(doc)


def _samples(c):
    c["intervals"]["sample_us"] = 0
    c["schemes"][0]["access_pattern"]["nr_accesses"] = {"min": "0 samples", "max": "3 samples"}


KNOWN = {
    "sample_us 0": (_with(lambda c: c["intervals"].update(sample_us=0)),
                    "kdamonds[0].contexts[0].intervals.sample_us"),
    "aggr_us 0": (_with(lambda c: c["intervals"].update(aggr_us=0)),
                  "kdamonds[0].contexts[0].intervals.aggr_us"),
    "sample 0 with N samples": (_with(_samples), "kdamonds[0].contexts[0].intervals.sample_us"),
    "5000 digits": (_with(lambda c: c["schemes"][0]["access_pattern"]["sz_bytes"].update(
        min=HUGE)), "kdamonds[0].contexts[0].schemes[0].access_pattern.sz_bytes.min"),
}


@pytest.mark.parametrize("case", sorted(KNOWN))
def test_known_crashes_are_clean_errors(tmp_path, case):
    text, path = KNOWN[case]
    results = check_document(tmp_path, text)
    for args, (code, _, err) in results.items():
        assert code == 2, (args, err)
        assert first_line(err).startswith(f"{tmp_path / 'fuzz.json'}:{path}: error: "), err


# -- a few real processes --------------------------------------------------------

def test_real_processes_exit_0_or_2_with_the_json_path(tmp_path):
    import kernelrig    # tests/conftest.py puts it on the path: the one tool lookup
    cases = {"ok": (EXAMPLE_JSON["prcl"], 0, None)}
    for case in ("sample_us 0", "5000 digits"):
        cases[case] = (KNOWN[case][0], 2, KNOWN[case][1])
    commands = [[sys.executable, "-m", "damos_lang"]]
    script = kernelrig.find_tool("damos", path_fallback=False)   # the console script
    if script:
        commands.append([script])
    for case, (text, want, path) in cases.items():
        f = tmp_path / f"{case.replace(' ', '_')}.json"
        f.write_text(text)
        for cmd, args in [(c, a) for c in commands for a in (("check",), ("compile", "-t", "sysfs"))]:
            r = subprocess.run([*cmd, *args, str(f)],
                               capture_output=True, text=True, timeout=60, cwd=tmp_path)
            assert r.returncode == want, (case, args, r.stderr)
            assert "Traceback" not in r.stderr, r.stderr
            if path:
                assert r.stderr.startswith(f"{f}:{path}: error: "), r.stderr
