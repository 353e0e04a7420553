"""Fuzzing the front end with mutated example files.

Whatever the input, ``parse`` returns a Program or raises DamosError whose
location is inside the file (or None); any other exception is a bug.  When
the input parses, ``fmt`` must give text that parses to the same Program and
is its own fixed point.  The CLI (``python -m damos_lang check``) exits 0 or
2, never with a traceback."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from damos_lang.errors import DamosError
from damos_lang.fmt import format_source
from damos_lang.lower import parse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.damos"))
TEXTS = {p.name: p.read_text() for p in EXAMPLES}

# characters to insert: syntax, digits, units, blanks, line ends, garbage, unicode
ALPHABET = list("{}.;#\"/\\%,0123456789xKMGsmhd_ \t\r\n\x00\x0b\x0c\x1c\x7f") + \
    ["\u00e9", "\u2028", "\u2029", "\x85", "\ufeff", "\u200b", "\U0001f600", "\ud7ff", "\u3000"]
WORDS = ["scheme", "monitor", "target", "quota", "watermarks", "filter", "max", "min", "..",
         "{", "}", "action", "pageout", "samples", "aggr_intervals", "intervals_goal", "not",
         "allow", "reject", "goal", "nid", "path", "weights", "0x", "100%", "1.5G", '"', "#"]


def assert_well_behaved(text: str) -> None:
    nlines = len(text.split("\n"))
    try:
        program = parse(text)
    except DamosError as e:
        loc = e.loc
        if loc is not None:
            assert 1 <= loc.line <= nlines, (loc, e.message, text)
            assert loc.col >= 1, (loc, e.message)
        assert e.message and "\n" not in e.message
        e.diagnostic.render("fuzz.damos", text)  # must not raise
        return
    # parsed: fmt keeps the meaning and is idempotent
    try:
        once = format_source(text)
    except DamosError as e:  # allowed only to refuse losing a comment
        assert "comment" in e.message, (e.message, text)
        return
    assert parse(once) == program, (text, once)
    assert format_source(once) == once, (text, once)


# -- hypothesis mutations --------------------------------------------------------

def _tokens(text):
    out, word = [], ""
    for ch in text:
        if ch.isspace():
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
    if word:
        out.append(word)
    return out


@st.composite
def mutated(draw):
    text = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "swap", "dup", "truncate",
                                   "word", "bytes"]))
        n = len(text)
        i = draw(st.integers(0, n))
        if op == "delete" and n:
            j = draw(st.integers(i, min(n, i + 8)))
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from(ALPHABET)) + text[i:]
        elif op == "replace" and i < n:
            text = text[:i] + draw(st.sampled_from(ALPHABET)) + text[i + 1:]
        elif op == "swap":
            toks = _tokens(text)
            if len(toks) > 2:
                a = draw(st.integers(0, len(toks) - 1))
                b = draw(st.integers(0, len(toks) - 1))
                toks[a], toks[b] = toks[b], toks[a]
                text = "".join(toks)
        elif op == "dup":
            lines = text.split("\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(k, lines[k])
            text = "\n".join(lines)
        elif op == "truncate":
            text = text[:i]
        elif op == "word":
            text = text[:i] + draw(st.sampled_from(WORDS)) + text[i:]
        elif op == "bytes":
            raw = draw(st.binary(min_size=1, max_size=6))
            text = text[:i] + raw.decode("latin-1") + text[i:]
    return text


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_examples_never_crash(text):
    assert_well_behaved(text)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(ALPHABET + WORDS + [" ", "\n"]), max_size=40).map("".join))
def test_random_texts_never_crash(text):
    assert_well_behaved(text)


# -- every truncation point, deterministically ------------------------------------

@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_truncation_of_every_example(name):
    assert EXAMPLES, "no examples/*.damos"
    text = TEXTS[name]
    for i in range(len(text) + 1):
        assert_well_behaved(text[:i])


def test_seeded_mutation_loop():
    """A fixed-seed loop (reproducible without hypothesis' database)."""
    rng = random.Random(20240611)
    for _ in range(300):
        name = rng.choice(sorted(TEXTS))
        text = TEXTS[name]
        i = rng.randrange(len(text) + 1)
        choice = rng.randrange(4)
        if choice == 0:
            text = text[:i] + rng.choice(ALPHABET + WORDS) + text[i:]
        elif choice == 1:
            text = text[:i] + text[i + rng.randrange(1, 6):]
        elif choice == 2:
            text = text[:i] + bytes(rng.randrange(256) for _ in range(3)).decode("latin-1") \
                + text[i:]
        else:
            lines = text.split("\n")
            k = rng.randrange(len(lines))
            j = rng.randrange(len(lines))
            lines[k], lines[j] = lines[j], lines[k]
            text = "\n".join(lines)
        assert_well_behaved(text)


HUGE = "9" * 400
HUGE_SOURCES = [
    f"{HUGE}.5G max 0 0 5s max pageout\n",                      # float overflow (size)
    f"4K max 0 0 {HUGE}s max pageout\n",                        # int too large for a float
    f"4K max 0 0 5s max pageout 1G {HUGE}.5ms\n",               # quota reset
    f"monitor {{ sample 1{HUGE}.5s }}\n4K max 0 0 5s max stat\n",  # intervals
    f"scheme {{ action stat; age {HUGE}d..max }}\n",
    f"scheme {{ action stat; apply_interval {HUGE}.1h }}\n",
]


@pytest.mark.parametrize("src", HUGE_SOURCES, ids=range(len(HUGE_SOURCES)))
def test_huge_numbers_are_clamped_or_rejected_never_crash(src):
    """Numbers too large for a float must be clamped to the kernel field or
    rejected with a DamosError at the number, not raise OverflowError."""
    from model_view import to_kernel
    try:
        program = parse(src)
    except DamosError as e:
        assert e.loc is not None and e.loc.line <= 2
        return
    to_kernel(program)
    to_kernel(program, max_policy="damo")


# -- the CLI, in a subprocess -------------------------------------------------------

def test_cli_check_exits_0_or_2_without_traceback(tmp_path):
    rng = random.Random(7)
    cases = [TEXTS[n] for n in sorted(TEXTS)[:2]]
    for _ in range(8):
        text = TEXTS[rng.choice(sorted(TEXTS))]
        i = rng.randrange(len(text) + 1)
        cases.append(text[:i] + rng.choice(ALPHABET + WORDS) + text[i + rng.randrange(3):])
    cases.append("4K max 0 0 5s max pagout\n")   # surely an error
    cases.append("\x00\xff\ud7ff{")
    cases.append(HUGE_SOURCES[0])
    seen = set()
    for k, text in enumerate(cases):
        f = tmp_path / f"case{k}.damos"
        f.write_text(text, encoding="utf-8")
        r = subprocess.run([sys.executable, "-m", "damos_lang", "check", str(f)],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert r.returncode in (0, 2), (text, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr + r.stdout, r.stderr
        if r.returncode == 2:
            assert f"{f}:" in r.stderr and ": error: " in r.stderr, r.stderr
            where = r.stderr.split(": error: ")[0].rsplit(":", 2)
            assert where[0].endswith(f.name) and where[1].isdigit() and where[2].isdigit(), \
                r.stderr
        seen.add(r.returncode)
    assert seen == {0, 2}  # both outcomes were exercised
