"""The front end finishes in time linear in its input, whatever the input
(issue 14): long runs of every kind of blank, then a character no token
starts with, used to make the scanner quadratic (16 KB took 12-16 s).

Work is counted, never timed: the scanner reports how many match attempts
it made and how many characters they read (``parser.scan_work``), and the
whole front end, lark's error path included, is bounded by the Python
function calls it makes.  A test also shows the count sees a quadratic
scanner, so these tests can fail."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from call_count import count_calls
from damos_lang import parser
from damos_lang.errors import DamosError
from damos_lang.lower import parse

# what the lexer may meet between tokens: its own blanks, blanks it refuses
# (every Unicode space and line break Python knows), line ends, comments
BLANK_RUNS = {
    "space": " ", "tab": "\t", "cr": "\r", "ff": "\f", "mixed": " \t\r\f",
    "vt": "\v", "nbsp": "\xa0", "ideographic space": "\u3000", "zero width space": "\u200b",
    "line separator": "\u2028", "next line": "\x85", "file separator": "\x1c",
    "crlf": "\r\n", "lf": "\n", "semicolon": ";", "comment": "# c\n",
    "comment crlf": "  # c\r\n", "blank then lf": "  \t\n",
}
# characters no token starts with (or that start one that never ends)
BAD = ["@", "\x00", "$", "'", "\u00e9", "\xa0", '"', ".", "\x7f"]

SIZES = (4096, 8192)  # n and 2n


def scan(text: str) -> tuple[int, int]:
    """(attempts, chars) the scanner spent on text, which must not parse."""
    with pytest.raises(DamosError):
        parser.parse_nodes(text)
    return parser.scan_work.attempts, parser.scan_work.chars


def linear(f) -> None:
    """f(2n) <= 2.2 f(n) + c: the work doubles, at most, when the input does."""
    small, large = (f(n) for n in SIZES)
    for a, b in zip(small, large):
        assert b <= 2.2 * a + 16, (small, large)


@pytest.mark.parametrize("bad", BAD, ids=repr)
@pytest.mark.parametrize("kind", sorted(BLANK_RUNS))
def test_scanner_work_is_linear_in_a_blank_run(kind, bad):
    run = BLANK_RUNS[kind]

    def work(n):
        text = run * (n // len(run)) + bad + "\n"
        attempts, chars = scan(text)
        # each attempt reads its own characters once: never more than the text
        assert attempts <= len(text) + 1 and chars <= len(text) + 1, (attempts, chars)
        return attempts, chars

    linear(work)


@pytest.mark.parametrize("kind", sorted(BLANK_RUNS))
def test_blank_run_inside_a_statement_then_a_bad_character(kind):
    run = BLANK_RUNS[kind]
    linear(lambda n: scan("scheme {\n  action" + run * (n // len(run)) + "@\n}\n"))


def test_the_count_sees_a_quadratic_scanner(monkeypatch):
    """The scanner as it was (the blanks optional before a token, and no
    match for a bad character, so finditer retried at every offset): the
    count grows with the square of the blank run.  Without this, a count
    that could not fail would prove nothing."""
    grammar = parser.grammar_text()

    def pattern(head):
        return re.search(rf"^{head}\s*/(.*)/\s*$", grammar, re.M).group(1)

    groups = [("NL", pattern("_NL:")), ("COMMENT", pattern("COMMENT:"))]
    groups += [(t, pattern(t + ":")) for t in ("WORD", "QTY", "STRING", "PATH")]
    groups += [("LBRACE", r"\{"), ("RBRACE", r"\}"), ("DOTS", r"\.\.")]
    old = re.compile(f"(?:{pattern('%ignore')})?(?:"
                     + "|".join(f"(?P<{n}>{p})" for n, p in groups) + ")")
    monkeypatch.setattr(parser, "_scanner_cache", [old])
    small, large = (scan(" " * n + "@\n")[1] for n in (256, 512))
    assert large > 3.5 * small, (small, large)


# -- the scanner's regex matches at every offset -------------------------------------

texts = st.lists(st.one_of(st.sampled_from(sorted(BLANK_RUNS.values())).map(lambda r: r * 7),
                           st.sampled_from(BAD),
                           st.sampled_from(["scheme", "4K", "max", "{", "}", "..", '"s"',
                                            "/p", "0x1f", "1,000", "#", "\n"]),
                           st.text(max_size=3)),
                 max_size=30).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_scanner_matches_everywhere_keeping_the_whole_blank_run(text):
    """At every offset the regex matches, and its match takes every blank
    there: finditer never has to search, and no attempt backtracks over a
    blank run (a match that kept the whole run was the first one tried)."""
    scanner = parser._scanner()
    for i in range(len(text) + 1):
        m = scanner.match(text, i)
        assert m is not None, (text, i)
        j = i
        while j < len(text) and text[j] in " \t\r\f":
            j += 1
        assert m.start(m.lastgroup) == j, (text, i, m)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.sampled_from(sorted(BLANK_RUNS.values())),
                          st.integers(0, 3000), st.sampled_from(BAD + ["x", "1", "{", "}"])),
                min_size=1, max_size=6))
def test_fuzzed_blank_runs_cost_at_most_their_length(chunks):
    text = "".join(run * count + tail for run, count, tail in chunks)
    try:
        parser.parse_nodes(text)
    except DamosError:
        pass
    assert parser.scan_work.attempts <= len(text) + 2
    assert parser.scan_work.chars <= len(text) + 1


# -- the whole front end, lark's error path included -----------------------------------

def calls(text: str) -> int:
    """Python and C function calls made to read text (which must not parse)."""
    def read():
        try:
            parse(text)
        except DamosError:
            return
        raise AssertionError("the text parsed")
    return count_calls(read)


@pytest.mark.parametrize("kind", ["space", "tab", "crlf", "comment", "nbsp", "mixed"])
def test_front_end_calls_are_linear(kind):
    run = BLANK_RUNS[kind]
    with pytest.raises(DamosError):
        parse("@\n")                          # builds lark's parser once, outside the count
    small, large = (calls(run * (n // len(run)) + "@\n") for n in SIZES)
    assert large <= 2.2 * small + 50, (small, large)


@pytest.mark.parametrize("make", [
    lambda n: "4K max " + "1_" * (n // 2) + " max 5s max pageout\n",       # damo's reading
    lambda n: "4K max +" + "1" * n + " max 5s max pageout\n",
    lambda n: "4K max 0 0 5s max pageout 1G 1s 0 3 " + "\u00a0" * n + "7\n",
    lambda n: "4K" + " \t" * (n // 2) + "max 0 0 5s max pageout 1G 1s 0 3 \v7\n",
    lambda n: "4K max 0 0 5s max " + "x" * n + "@\n",
], ids=["underscores", "signed digits", "nbsp run", "blanks then vt", "long word"])
def test_legacy_errors_are_linear(make):
    """The legacy-line errors that say how damo reads a field look at the
    line once: their work is linear too."""
    with pytest.raises(DamosError):
        parse("@\n")
    small, large = (calls(make(n)) for n in SIZES)
    assert large <= 2.2 * small + 50, (small, large)


def test_damos_check_reports_the_bad_character_after_16k_blanks(tmp_path):
    path = tmp_path / "blanks.damos"
    path.write_text(" " * 16384 + "@\n")
    r = subprocess.run([sys.executable, "-m", "damos_lang", "check", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    first = r.stderr.splitlines()[0]
    assert first == f"{path}:1:16385: error: unexpected character '@'"
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("char,name", [("\xa0", "U+00A0 (NO-BREAK SPACE)"),
                                       ("\v", "U+000B (LINE TABULATION)"),
                                       ("\u3000", "U+3000 (IDEOGRAPHIC SPACE)"),
                                       ("\u200b", "U+200B (ZERO WIDTH SPACE)")])
def test_invisible_blanks_are_named(char, name):
    with pytest.raises(DamosError) as e:
        parse(f"scheme {{\n  action{char}pageout\n}}\n")
    assert e.value.message == f"unexpected blank character {name}"
    assert (e.value.loc.line, e.value.loc.col) == (2, 9)
    assert "spaces or tabs" in e.value.diagnostic.hint
    # in a legacy line, where damo's str.split() would take it for a space, it says so
    with pytest.raises(DamosError) as e:
        parse(f"4K max{char}min min 5s max pageout\n")
    assert e.value.message.startswith(f"unexpected blank character {name}")
    assert e.value.loc.col == 7
    if char.isspace():
        assert "damo (Python's str.split) reads it as a space between fields" in e.value.message
