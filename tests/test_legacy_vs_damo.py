"""Legacy one-line schemes against damo 3.4.3 itself (issue 14).

* Every row of the README's leniency table ("Legacy one-line schemes") is
  run against damo and against us: each side accepts or refuses as the row
  says; where we accept, we write what damo writes for the row's equivalent
  line; where damo accepts and we refuse, our error says how damo reads the
  field (its very value) and quotes the row's words.
* ``min``/``max`` in the quota size, quota time, reset interval and
  watermark interval: accepted with damo's meaning (the same debugfs line),
  or, for ``max`` where the kernel value is absurd, an error saying so.
* A differential test: seeded generated lines, from field spellings each
  tagged with the README row it belongs to (or none): every disagreement
  with damo is a row of the table, in its direction, or a line the kernel
  would take but make meaningless (below), and every line both accept is
  written as damo writes it.
* Lines damo accepts whose numbers the kernel takes but makes meaningless --
  watermarks above 1000 permil or not high >= mid >= low (with a metric),
  a quota reset interval of 0 with a limit -- we refuse (pipeline.validate),
  saying what the kernel would do, at the field: the tests decide which
  lines those are from damo's own reading of them (kernel_would).
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from damo_legacy_oracle import damo_reads
from damos_lang.errors import DamosError
from damos_lang.lower import parse
from damos_lang.targets import run_target
from damos_lang.targets import Options, debugfs

ROOT = Path(__file__).resolve().parent.parent
INTERVALS = [(5000, 100000), (1000, 200000)]


# -- the README table -------------------------------------------------------------------

def readme_rows() -> list[dict]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Legacy one-line schemes"):]
    section = section[:section.index("\n### ", 1)]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        example, damo, ours = cells
        rows.append({
            "example": unescape(re.findall(r"`([^`]+)`", example)[0]),
            "damo": damo.split(":")[0].split(",")[0],
            "ours": ours.split(":")[0].split(",")[0],
            "equivalent": "\n".join(unescape(t) for t in re.findall(r"`([^`]+)`",
                                                                     ours.split(":")[0])),
            "quotes": re.findall(r'"([^"]+)"', re.sub(r"`[^`]*`", "", ours)),
        })
    return rows


def unescape(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)


ROWS = readme_rows()


def test_the_table_has_both_directions():
    assert len(ROWS) >= 15
    assert {(r["damo"], r["ours"]) for r in ROWS} == {("refuses", "accepts"),
                                                      ("accepts", "refuses")}


def damo_accepts(answer: dict) -> bool:
    """damo reads every scheme and writes it, or would pass its action or
    metric on to the kernel (debugfs lacks it, or nobody has it)."""
    if "schemes" not in answer:
        return False
    return all("debugfs" in s or "is not supported" in s["debugfs_error"]
               for s in answer["schemes"])


def ours(text: str, sample_us: int = 5000, aggr_us: int = 100000):
    """Our debugfs lines for text (damo's max policy), or the DamosError."""
    monitor = f"monitor {{ sample {sample_us}us; aggr {aggr_us}us }}\n"
    try:
        program = parse(monitor + text + "\n")
        opts = Options(max_policy="damo", debugfs_file="schemes")
        return run_target(debugfs, program, opts).rstrip("\n").split("\n")
    except DamosError as e:
        return e


def kernel_would(answer: dict) -> str | None:
    """From damo's reading of a line it accepts: the words of our error when
    a scheme's numbers are ones the kernel takes but makes meaningless, or None."""
    for s in answer.get("schemes", ()):
        metric, _, high, mid, low = s["wmarks"]
        if metric != "none":
            if max(high, mid, low) > 1000:
                return "above 1000 permil"
            if not high >= mid >= low:
                return "the kernel accepts them"
        ms, sz, reset = s["quota"]
        if int(reset) == 0 and (ms or sz):
            return "reset interval is 0"
    return None


def assert_refused_as_the_kernel_would(line: str, answer: dict, err) -> None:
    """Our error says what the kernel would do, at a field of the scheme
    holding damo's very value."""
    words = kernel_would(answer)
    assert isinstance(err, DamosError), (line, err)
    assert words in err.message and "the kernel accepts" in err.message, (line, err.message)
    assert err.loc.line == 2, (line, err.loc)      # after the monitor line ours() puts first
    value = damo_value_at(line, err.loc.col, answer["schemes"][0])
    assert value is not None and str(int(value)) in err.message, (line, err.loc, err.message)


# where each field of an n-field line is in damo's answer
_V0 = [("sz", 0), ("sz", 1), ("nr_accesses", 0), ("nr_accesses", 1), ("age", 0), ("age", 1),
       ("action", None)]
_Q9 = [("quota", 1), ("quota", 2)]
_W = [("weights", 0), ("weights", 1), ("weights", 2)]
_M = [("wmarks", i) for i in range(5)]
FIELD_PLACES = {7: _V0, 9: _V0 + _Q9, 12: _V0 + _Q9 + _W, 17: _V0 + _Q9 + _W + _M,
                18: _V0 + [("quota", 0)] + _Q9 + _W + _M}


def damo_value_at(line: str, col: int, scheme: dict):
    """damo's value of the field of ``line`` at column ``col``, or None when
    the column is between fields."""
    fields = list(re.finditer(r"\S+", line))
    for i, m in enumerate(fields):
        if m.start() <= col - 1 < m.end():
            key, index = FIELD_PLACES[len(fields)][i]
            return scheme[key] if index is None else scheme[key][index]
    return None


@pytest.fixture(scope="module")
def answers():
    texts = [r["example"] for r in ROWS] + [r["equivalent"] for r in ROWS if r["equivalent"]]
    got = damo_reads(texts)
    return dict(zip(texts, got))


@pytest.mark.parametrize("row", ROWS, ids=[r["example"][:48] for r in ROWS])
def test_each_readme_row_against_damo(row, answers):
    example = row["example"]
    damo = answers[example]
    assert damo_accepts(damo) == (row["damo"] == "accepts"), damo
    got = ours(example)
    assert isinstance(got, list) == (row["ours"] == "accepts"), got
    if row["ours"] == "accepts":
        equivalent = answers[row["equivalent"]]
        assert damo_accepts(equivalent), equivalent
        assert got == [s["debugfs"] for s in equivalent["schemes"]]
        return
    message = f"{got.message} {got.diagnostic.hint or ''}"
    for quote in row["quotes"]:
        assert quote in message, (quote, message)
    assert "damo" in message or "kernel" in message, message
    loc = got.loc
    assert loc.line == 2            # after the monitor line ours() puts first
    value = damo_value_at(example, loc.col, damo["schemes"][0])
    if value is None:               # a blank damo splits at: the error is at it
        assert example[loc.col - 1].isspace() and "space between fields" in message
    else:
        assert str(value) in message, (value, message)


# -- min and max in the quota and watermark times --------------------------------------

ACCEPTED_KEYWORDS = [
    "4K max 0 0 5s max pageout max 1s",
    "4K max 0 0 5s max pageout min 1s",
    "4K max 0 0 5s max pageout min min 0 3 7",
    "4K max 0 0 5s max pageout min 1G 1s 0 3 7 none 5s 500 400 200",
    "4K max 0 0 5s max pageout 10ms max 1s 0 3 7 free_mem_rate min 500 400 200",
    "4K max 0 0 5s max pageout 1G 1s 0 3 7 free_mem_rate min 500 400 200",
]
# damo accepts them; a reset interval of min (0) with a size or time limit
# makes the kernel start a new charge window at every apply: we refuse them
REFUSED_KEYWORDS = [
    "4K max 0 0 5s max pageout 1G min",
    "4K max 0 0 5s max pageout 10ms max min 0 3 7 free_mem_rate min 500 400 200",
]


@pytest.mark.parametrize("sample_us, aggr_us", INTERVALS)
def test_min_and_max_in_quotas_convert_as_damo_converts_them(sample_us, aggr_us):
    got = damo_reads(ACCEPTED_KEYWORDS, sample_us, aggr_us)
    for text, damo in zip(ACCEPTED_KEYWORDS, got):
        assert damo_accepts(damo), (text, damo)
        assert ours(text, sample_us, aggr_us) == [s["debugfs"] for s in damo["schemes"]], text


def test_min_reset_with_a_limit_is_refused_saying_what_the_kernel_would_do():
    for text, damo in zip(REFUSED_KEYWORDS, damo_reads(REFUSED_KEYWORDS)):
        assert damo_accepts(damo) and kernel_would(damo) == "reset interval is 0", (text, damo)
        err = ours(text)
        assert_refused_as_the_kernel_would(text, damo, err)
        assert text[err.loc.col - 1:].startswith("min") and "per apply" in err.message


@pytest.mark.parametrize("text,field,what", [
    ("4K max 0 0 5s max pageout 1G max", "quota reset interval", "never be reset"),
    ("4K max 0 0 5s max pageout max 1G 1s 0 3 7 none 5s 500 400 200", "quota time",
     "overflows"),
    ("4K max 0 0 5s max pageout 1G 1s 0 3 7 free_mem_rate max 500 400 200",
     "watermark interval", "sleep"),
])
def test_max_where_the_kernel_value_is_absurd_says_so(text, field, what):
    damo = damo_reads([text])[0]
    assert damo_accepts(damo)
    err = ours(text)
    assert isinstance(err, DamosError)
    assert err.message.startswith(f"{field} 'max': damo reads it as 18446744073709551615 ")
    assert what in err.message and err.diagnostic.hint.startswith(("write", "for no"))
    assert text[err.loc.col - 1:].startswith("max")


# -- a differential test over generated lines -----------------------------------------------

# spellings of each kind of field: (text, the README row it belongs to, or None
# when damo and we read it alike); rows are named by a word of their example
SAME = None
SPELLINGS = {
    "bytes": [("4K", SAME), ("1.5G", SAME), ("1,024", SAME), ("4096", SAME), ("min", SAME),
              ("max", SAME), ("2MiB", SAME), ("10B", SAME), ("0x1000", "0x1000"),
              ("1e3", "1e3"), ("1E3K", "1e3"), ("1_000", "1_000M"), ("+4K", "+26"),
              ("-4K", "-5s"), (".5M", ".5"), ("5.", ".5"), ("\uff14K", "\uff14K"),
              (",5", ",5"), ("100000000000000000000", "100000000000000000000"),
              ("4k", "both refuse"), ("inf", "both refuse")],
    "percent": [("0", SAME), ("50%", SAME), ("7%", SAME), ("99.5", SAME), ("100", SAME),
                ("min", SAME), ("max", SAME), ("0x10", "0x1000"), ("150", "150"),
                ("150%", "150"), ("+5", "+26"), ("1e1", "1e3"), (".5", ".5"), ("-5", "-5s"),
                ("5x", "both refuse")],
    "us": [("5s", SAME), ("100ms", SAME), ("1m", SAME), ("1.5h", SAME), ("5000", SAME),
           ("min", SAME), ("max", SAME), ("1e3ms", "1e3"), ("+5s", "+26"), ("-5s", "-5s"),
           ("1_000", "1_000M"), ("0x10", "0x1000"), ("5M", "both refuse")],
    "ms": [("1s", SAME), ("10ms", SAME), ("100", SAME), ("min", SAME), ("1e3", "1e3"),
           ("0x10", "0x1000"), ("5sec", "both refuse")],
    "int": [("0", SAME), ("3", SAME), ("500", SAME), ("1,000", "1,000"), ("+1", "+26"),
            ("1_0", "1_000M"), ("0x10", "0x1000"), ("1.0", "both refuse"),
            ("max", "both refuse")],
    "action": [("pageout", SAME), ("stat", SAME), ("PAGEOUT", SAME), ("cold", SAME),
               ("pagout", "pagout"), ('"pageout"', '"pageout"')],
    "metric": [("none", SAME), ("free_mem_rate", SAME), ("FREE_MEM_RATE", SAME),
               ("foo", "foo")],
}
LAYOUTS = {
    7: ["bytes", "bytes", "percent", "percent", "us", "us", "action"],
    9: ["bytes", "bytes", "percent", "percent", "us", "us", "action", "bytes", "reset"],
    12: ["bytes", "bytes", "percent", "percent", "us", "us", "action", "bytes", "reset",
         "int", "int", "int"],
    17: ["bytes", "bytes", "percent", "percent", "us", "us", "action", "bytes", "reset",
         "int", "int", "int", "metric", "interval", "int", "int", "int"],
    18: ["bytes", "bytes", "percent", "percent", "us", "us", "action", "qtime", "bytes",
         "reset", "int", "int", "int", "metric", "interval", "int", "int", "int"],
}
SPELLINGS["reset"] = SPELLINGS["ms"] + [("max", "4K max 0 0 5s max pageout 1G max")]
SPELLINGS["qtime"] = SPELLINGS["ms"] + [("max", "4K max 0 0 5s max pageout max 1G")]
SPELLINGS["interval"] = [s for s in SPELLINGS["us"] if s[0] != "max"] + [
    ("max", "free_mem_rate max")]
SEPARATORS = [(" ", SAME), ("\t", SAME), ("  ", SAME), ("\u00a0", "\\u00a0"),
              ("\x0b", "\\u00a0"), ("\u2028", "\\u00a0")]
TAILS = [("", SAME), (" # cold", "# cold"), ("; 4K max 0 0 5s max stat", "; 4K")]


def row_for(tag: str) -> dict:
    """The README row whose example contains ``tag`` (rows of the table only)."""
    found = [r for r in ROWS if tag in r["example"] or unescape(tag) in r["example"]]
    assert len(found) >= 1, f"no README row for {tag!r}"
    return found[0]


def generated_lines(count: int, seed: int = 20250614):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        layout = LAYOUTS[rng.choice(sorted(LAYOUTS))]
        odd = rng.choice([0, 1, 1, 1, 2])           # fields spelt unlike the usual
        odd_at = set(rng.sample(range(len(layout) + 2), odd))
        fields, tags = [], []
        for i, kind in enumerate(layout):
            pool = SPELLINGS[kind]
            usual = [s for s in pool if s[1] is SAME]
            text, tag = rng.choice(pool if i in odd_at else usual)
            fields.append(text)
            tags.append(tag)
        sep, sep_tag = rng.choice(SEPARATORS if len(layout) in odd_at else SEPARATORS[:3])
        tail, tail_tag = rng.choice(TAILS if len(layout) + 1 in odd_at else TAILS[:1])
        line = fields[0] + "".join((sep if i == 1 else " ") + f
                                   for i, f in enumerate(fields[1:], start=1)) + tail
        out.append((line, [t for t in tags + [sep_tag, tail_tag] if t is not SAME]))
    return out


def test_generated_lines_differ_from_damo_only_as_the_table_says():
    lines = generated_lines(600)
    got = damo_reads([line for line, _ in lines])
    disagreements = both = for_the_kernel = 0
    for (line, tags), damo in zip(lines, got):
        mine = ours(line)
        damo_ok, our_ok = damo_accepts(damo), isinstance(mine, list)
        rows = [row_for(t) for t in tags if t != "both refuse"]
        if damo_ok and kernel_would(damo) and not any(r["damo"] == "accepts" and
                                                      r["ours"] == "refuses" for r in rows):
            # not a README row: damo's numbers themselves are what we refuse
            for_the_kernel += 1
            assert_refused_as_the_kernel_would(line, damo, mine)
            continue
        if damo_ok and our_ok:
            both += 1
            writable = [s for s in damo["schemes"] if "debugfs" in s]
            if len(writable) == len(damo["schemes"]):
                assert mine == [s["debugfs"] for s in damo["schemes"]], line
        elif damo_ok and not our_ok:
            disagreements += 1
            assert any(r["damo"] == "accepts" and r["ours"] == "refuses" for r in rows), \
                (line, tags, mine.message)
            said = f"{mine.message} {mine.diagnostic.hint or ''}"
            assert "damo" in said or "kernel" in said, (line, said)
        elif our_ok and not damo_ok:
            disagreements += 1
            assert any(r["damo"] == "refuses" and r["ours"] == "accepts" for r in rows), \
                (line, tags, damo)
        if not tags:
            assert damo_ok and our_ok, (line, damo, mine)
    assert both >= 100 and disagreements >= 100, (both, disagreements)
    assert for_the_kernel >= 50, for_the_kernel
