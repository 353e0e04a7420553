"""Bad input gets a precise message and the exact location of the token at
fault; the rendered diagnostic shows the source line and a caret under it.
Also: the legacy-format extras (trailing comments, N% frequencies, CRLF,
tabs) parse."""
from __future__ import annotations

import pytest

from call_count import count_calls
from damos_lang.errors import DamosError
from damos_lang.ir import Value
from damos_lang.lower import parse


def error(src: str) -> DamosError:
    with pytest.raises(DamosError) as info:
        parse(src)
    return info.value


def check(src, line, col, token, *fragments, hint=None):
    """The error is at line:col, spans `token` (when the location has an
    end), mentions every fragment, and renders with a caret under it."""
    e = error(src)
    assert (e.loc.line, e.loc.col) == (line, col), (e.loc, e.message)
    for f in fragments:
        assert f in e.message, e.message
    if hint is not None:
        assert e.diagnostic.hint and hint in e.diagnostic.hint, e.diagnostic.hint
    source_line = src.split("\n")[line - 1].rstrip("\r")
    assert source_line[col - 1:col - 1 + len(token)] == token  # the location is the token
    if e.loc.end_col is not None:
        assert e.loc.end_col - e.loc.col == len(token)
    shown = e.diagnostic.render("x.damos", src).split("\n")
    assert shown[0] == f"x.damos:{line}:{col}: error: {e.message}"
    assert shown[1] == "  " + source_line.replace("\t", " ")
    caret = shown[2]
    assert caret.index("^") == 2 + col - 1
    if e.loc.end_col is not None:
        assert caret.strip() == "^" + "~" * (len(token) - 1)
    return e


# -- legacy lines -------------------------------------------------------------

def test_unknown_action_suggests_the_closest():
    check("4K max 0 0 5s max pagout\n", 1, 19, "pagout", "unknown action 'pagout'",
          "did you mean 'pageout'")


def test_lowercase_size_unit_suggests_uppercase():
    check("4k max 0 0 5s max pageout\n", 1, 1, "4k", "unknown size unit 'k'",
          "did you mean 'K'", hint="case-sensitive")


def test_eight_fields_points_at_the_field_past_a_complete_line():
    e = check("# prcl\n4K max 0 0 5s max pageout 1G\n", 2, 27, "1G",
              "7, 9, 12, 17 or 18 fields", "has 8")
    assert "min_sz max_sz" in e.diagnostic.hint


def test_too_many_fields():
    src = "4K max 0 0 5s max pageout 1G 1s 7 8 9 free_mem_rate 1s 5 4 3 2 1 0\n"
    # the fields past the 18th are underlined
    check(src, 1, src.index(" 1 0") + 2, "1 0", "has 20")


def test_frequency_above_100():
    check("4K max 0 101 5s max pageout\n", 1, 10, "101", "above 100")
    check("4K max 0 100.5% 5s max pageout\n", 1, 10, "100.5%", "above 100")


def test_range_in_a_legacy_line():
    check("4K..8K max 0 0 5s max pageout\n", 1, 1, "4K..8K", "no ranges")
    check("4K max 0 0 5s..10s max pageout\n", 1, 12, "5s..10s", "no ranges")


def test_unknown_character_and_single_dot():
    check("4K max 0 0 5s max pageout @\n", 1, 27, "@", "unexpected character '@'")
    check("scheme {\n    action stat\n    size 4K.8K\n}\n", 3, 12, ".", "unexpected '.'",
          hint="two dots")


def test_legacy_weight_must_be_whole():
    check("4K max 0 0 5s max pageout 1G 1s 1.5 3 7\n", 1, 33, "1.5", "whole number")


def test_legacy_watermark_metric_misspelt():
    check("4K max 0 0 5s max pageout 1G 1s 0 3 7 free_mem 5s 500 400 200\n", 1, 39,
          "free_mem", "unknown watermark metric", "did you mean 'free_mem_rate'")


def test_a_number_glued_to_more_characters_is_one_bad_field():
    """'1e5' and '5s5' are one field each (the user wrote 12 and 7 fields);
    the error must point at that field, not count it as two."""
    e = error("4K max 0 0 5s max pageout 1G 1e5 0 3 7\n")
    assert (e.loc.line, e.loc.col, e.loc.end_col) == (1, 30, 33), (e.loc, e.message)
    e = error("4K max 0 0 5s5 max pageout\n")
    assert (e.loc.line, e.loc.col, e.loc.end_col) == (1, 12, 15), (e.loc, e.message)


# -- blocks ---------------------------------------------------------------------

def test_missing_closing_brace_points_at_the_open_brace():
    check("scheme {\n    action stat\n", 1, 8, "{", "never closed", hint="'}'")
    # the '}' closes intervals_goal: the monitor's '{' is the unclosed one
    check("# c\nmonitor {\n    ops paddr\n    intervals_goal { access 4%\n}\n", 2, 9, "{",
          "never closed")


def test_missing_brace_before_next_statement():
    # the error names the '{' that was left open, not the statement after it
    e = error("scheme a {\n    action stat\n\nscheme b {\n    action stat\n}\n")
    assert (e.loc.line, e.loc.col) == (1, 10) and "never closed" in e.message


def test_stray_closing_brace():
    check("4K max 0 0 5s max pageout\n}\n", 2, 1, "}", "no open '{'")


def test_unterminated_string():
    check('scheme {\n    action stat\n    filter allow memcg "/a b\n}\n', 3, 24, '"',
          "unterminated string")


def test_unknown_setting_suggests_the_closest():
    check("scheme {\n    action stat\n    acess 0%..0%\n}\n", 3, 5, "acess",
          "unknown scheme setting 'acess'", "did you mean 'access'")
    check("monitor {\n\tsampel 5ms\n}\n", 2, 2, "sampel", "did you mean 'sample'")


def test_duplicated_setting_points_at_the_second():
    check("scheme {\n    action stat\n    size 4K..max\n    action pageout\n}\n", 4, 5,
          "action", "'action' is set twice")
    check("scheme { action stat; quota { size 1G; size 2G } }\n", 1, 40, "size",
          "'size' is set twice in this quota")


def test_bare_number_where_a_unit_is_required():
    check("scheme {\n    action stat\n    age 5..max\n}\n", 3, 9, "5", "needs a time unit",
          hint="5ms")
    check("scheme {\n    action stat\n    access 0..5\n}\n", 3, 12, "0", "needs a unit: %")
    check("scheme {\n    action stat\n    quota { time 10 }\n}\n", 3, 18, "10",
          "quota time needs a time unit")
    check("monitor {\n    sample 5\n}\n", 2, 12, "5", "sampling interval needs a time unit")


def test_percent_above_100_in_a_block():
    check("scheme {\n    action stat\n    access 0%..101%\n}\n", 3, 16, "101%", "above 100")


def test_unknown_unit_word_after_a_range():
    check("scheme {\n    action stat\n    access 0..3 sample\n}\n", 3, 17, "sample",
          "only the unit word 'samples'")


def test_unknown_time_unit_suggests():
    check("scheme {\n  action stat\n  age 5sec..max\n}\n", 3, 7, "5sec",
          "unknown time unit 'sec'", "did you mean 's'")


def test_value_of_the_wrong_kind():
    check("scheme {\n    action stat\n    apply_interval fast\n}\n", 3, 20, "fast",
          "must be a number")


def test_missing_action():
    e = error("\nscheme x {\n    size 4K..max\n}\n")
    assert (e.loc.line, e.loc.col) == (2, 1) and "no action" in e.message


def test_watermarks_missing_settings():
    check("scheme {\n    action stat\n    watermarks { metric none }\n}\n", 3, 5,
          "watermarks", "need interval, high, mid, low")


def test_goal_metric_misspelt():
    check("scheme {\n action stat\n quota { goal node_mem_fre_bp 50% }\n}\n", 3, 15,
          "node_mem_fre_bp", "did you mean 'node_mem_free_bp'")


def test_duplicate_scheme_name():
    check("scheme a { action stat }\nscheme a { action stat }\n", 2, 8, "a",
          "already defined on line 1")


def test_two_monitor_blocks():
    e = error("monitor { ops vaddr }\nmonitor { ops paddr }\n")
    assert (e.loc.line, e.loc.col) == (2, 1) and "only one monitor" in e.message


def test_target_errors():
    check("target pid 0\n", 1, 12, "0", "at least 1")
    check("target region 0x2000..0x1000\n", 1, 15, "0x2000..0x1000", "above its start")
    check("target pdi 3\n", 1, 8, "pdi", "did you mean 'pid'")


# -- locations stay right whatever the line ends and blanks -----------------------

def test_error_location_after_crlf_and_tabs():
    src = "4K max 0 0 5s max pageout\r\n4K\tmax\t0\t0\t5s\tmax\tpagout\r\n"
    check(src, 2, 19, "pagout", "did you mean 'pageout'")


@pytest.mark.parametrize("odd", ["\x0c", "\x0b", "\u2028", "\x85", "\x1c"])
def test_render_shows_the_right_line_after_odd_characters(odd):
    """Python's str.splitlines() also breaks at \\f, \\v, U+2028, ...; the
    parser counts only '\\n'.  The rendered line must be the one the error is
    on (Diagnostic.render must split on '\\n' only)."""
    src = f"# a{odd}b\n4K max 0 0 5s max pagout\n"
    check(src, 2, 19, "pagout", "did you mean 'pageout'")


# -- legacy extras that must parse ---------------------------------------------

def test_trailing_comment_on_a_legacy_line():
    p = parse("4K max 0 0 5s max pageout # idle pages\n")
    assert p.schemes[0].action == "pageout" and p.schemes[0].legacy_fields == 7


def test_percent_frequencies_in_a_legacy_line():
    (s,) = parse("4K max 5% 10% 5s max pageout\n").schemes
    assert (s.pattern.access.lo, s.pattern.access.hi) == (Value("5", "%"), Value("10", "%"))


def test_crlf_and_tabs_parse_like_lf_and_spaces():
    lf = parse("4K max 0 0 5s max pageout\n2M max min min 7s max nohugepage\n")
    crlf = parse("4K\tmax\t0\t0\t5s\tmax\tpageout\t# c\r\n2M max\tmin min 7s max nohugepage\r\n")
    assert crlf == lf and len(lf.schemes) == 2
    blocks = parse("scheme {\r\n\taction stat\r\n\tsize 4K..max\t# c\r\n}\r\n")
    assert blocks.schemes[0].pattern.size.lo == Value("4", "K")


def test_commas_and_hex_in_legacy_fields():
    (s,) = parse("1,024K 0x1000 min max min max stat\n").schemes
    # the IR keeps the user's hex (so fmt writes it back); the kernel value is 4096
    assert s.pattern.size.lo == Value("1024", "K") and s.pattern.size.hi == Value("0x1000")
    from damos_lang.convert import size_bytes
    assert (size_bytes(s.pattern.size.lo), size_bytes(s.pattern.size.hi)) == (1 << 20, 4096)


# -- what users type for ranges and units ------------------------------------------

@pytest.mark.parametrize("src, col, token, words", [
    ("scheme { action pageout; age 5 s..max }", 30, "5 s..max", "write '5s..max'"),
    ("scheme { action pageout; size 4 K..max }", 31, "4 K..max", "write '4K..max'"),
    ("scheme { action pageout; quota { size 1G; reset 1 s } }", 49, "1 s", "write '1s'"),
])
def test_a_unit_apart_from_its_number_says_how_to_write_it(src, col, token, words):
    check(src, 1, col, token, words, "one word")


@pytest.mark.parametrize("src, col, hint", [
    ("monitor { nr_regions 10-1000 }", 24, "write '10..1000'"),
    ("scheme { action pageout; size 4K-8K }", 33, "write '4K..8K'"),
    ("scheme { action pageout; filter reject addr 0x1000-0x2000 }", 51,
     "write '0x1000..0x2000'"),
    ("scheme { action pageout; access 5 %..10% }", 35, "write '5%', not '5 %'"),
])
def test_a_dash_range_or_a_spaced_percent_says_how_to_write_it(src, col, hint):
    check(src, 1, col, src[col - 1], hint=hint)


def test_count_units_stay_words_of_their_own():
    # 'samples' after a number is the count unit, not a unit glued wrongly
    e = error("scheme { action pageout; age 5 samples }")
    assert "one word" not in e.message and "aggr_intervals" in e.message


# -- every error in one run (damos check) ---------------------------------------------

import contextlib  # noqa: E402
import io  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from damos_lang import commands, parser  # noqa: E402
from damos_lang.lower import parse_all  # noqa: E402

# 14 typos, each in its own setting, across blocks and top-level lines, and
# where each one is (line, col, what the message says); a statement with a
# syntax error is not lowered, so no other typo shares one with it
FOURTEEN = """\
monitor {
    ops vadr
    sampel 5ms
    aggr 100ms
}
scheme {
    action pagout
    size 4K..max
    acess 0%..0%
    age 5sec..max
    quota { size 1G; reset 1 s }
    watermarks { metric none; interval 5s; high 50%; mid 40%; lo 20% }
}
scheme @ {
    action stat
}
4K max 0 0 5s max pageout 1G
scheme c {
    action stat
    size 4K..8K..16K
    filter reject anon
}
schem {
    action stat
}
target pdi 3
scheme {
    action stat; filter rejct anon
}
scheme {
    action stat
    quota { size 1G; goal node_mem_fre_bp 50% }
}
"""
FOURTEEN_ERRORS = [
    (2, 9, "unknown operations set 'vadr'"),
    (3, 5, "unknown monitor setting 'sampel'"),
    (7, 12, "unknown action 'pagout'"),
    (9, 5, "unknown scheme setting 'acess'"),
    (10, 9, "unknown time unit 'sec'"),
    (11, 28, "one word"),
    (12, 63, "unknown watermarks setting 'lo'"),
    (14, 8, "unexpected character '@'"),
    (17, 27, "has 8"),
    (20, 16, "unexpected '..'"),
    (23, 1, "unknown block keyword 'schem'"),
    (26, 8, "unknown target word 'pdi'"),
    (28, 25, "unknown filter verdict 'rejct'"),
    (32, 27, "unknown goal metric 'node_mem_fre_bp'"),
]


def damos_check(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "damos_lang", "check", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def error_lines(stderr: str, name: str) -> list[tuple[int, int, str]]:
    """(line, col, message) of each 'name:line:col: error: message' line."""
    out = []
    for ln in stderr.splitlines():
        if ln.startswith(name + ":") and ": error: " in ln:
            where, msg = ln[len(name) + 1:].split(": error: ", 1)
            line, col = where.split(":")
            out.append((int(line), int(col), msg))
    return out


def test_fourteen_typos_give_exactly_their_fourteen_errors_in_order(tmp_path):
    (tmp_path / "typos.damos").write_text(FOURTEEN)
    r = damos_check("typos.damos", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    got = error_lines(r.stderr, "typos.damos")
    assert [(ln, col) for ln, col, _ in got] == [(ln, col) for ln, col, _ in FOURTEEN_ERRORS], \
        r.stderr
    for (_, _, msg), (_, _, words) in zip(got, FOURTEEN_ERRORS):
        assert words in msg, (msg, words)
    # each in the one-line form with its source line and caret, as a single error is shown
    lines = r.stderr.splitlines()
    src = FOURTEEN.split("\n")
    for ln, col, _ in FOURTEEN_ERRORS:
        i = next(i for i, x in enumerate(lines) if x.startswith(f"typos.damos:{ln}:{col}: "))
        assert lines[i + 1] == "  " + src[ln - 1]
        assert lines[i + 2].index("^") == 2 + col - 1
    assert "stopping" not in r.stderr


def test_the_same_errors_in_process_and_each_the_first_of_its_own():
    """parse_all finds the 14; 'parse' (compile, apply...) stops at the first
    syntax error, as it always did."""
    _, errors = parse_all(FOURTEEN)
    assert [(e.loc.line, e.loc.col) for e in errors] == [(a, b) for a, b, _ in FOURTEEN_ERRORS]
    first = error(FOURTEEN)
    assert (first.loc.line, first.loc.col) == (14, 8)
    # and without a syntax error, the first bad statement's first error as before
    # (a block's misspelt setting names first)
    first = error(FOURTEEN.replace("scheme @ {", "scheme {").replace("..16K", "")
                  .replace("schem {", "scheme {"))
    assert (first.loc.line, first.loc.col) == (3, 5)


def test_compile_still_prints_exactly_one_error(tmp_path):
    (tmp_path / "typos.damos").write_text(FOURTEEN)
    r = subprocess.run([sys.executable, "-m", "damos_lang", "compile", "typos.damos",
                        "-t", "damos"], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert len(error_lines(r.stderr, "typos.damos")) == 1, r.stderr
    assert r.stderr.startswith("typos.damos:14:8: error: unexpected character '@'")


def test_every_file_is_reported_in_order(tmp_path):
    (tmp_path / "a.damos").write_text("4K max 0 0 5s max pagout\nscheme { action stat @ }\n")
    (tmp_path / "good.damos").write_text("scheme { action stat }\n")
    (tmp_path / "b.damos").write_text("scheme {\n  acton stat\n}\ntarget pid 0\n")
    r = damos_check("a.damos", "good.damos", "b.damos", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errs = [ln.split(": error: ")[0] for ln in r.stderr.splitlines() if ": error: " in ln]
    assert errs == ["a.damos:1:19", "a.damos:2:22", "b.damos:2:3", "b.damos:4:12"], r.stderr
    # the good file between them is checked as ever
    assert r.stdout.startswith("good.damos: 1 scheme, needs Linux")
    # an unreadable file is one more error, and the others are still checked
    r = damos_check("missing.damos", "b.damos", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("missing.damos: error: cannot read missing.damos")
    assert len(error_lines(r.stderr, "b.damos")) == 2


def test_max_errors_stops_and_says_so(tmp_path):
    (tmp_path / "typos.damos").write_text(FOURTEEN)
    r = damos_check("--max-errors", "3", "typos.damos", cwd=tmp_path)
    assert r.returncode == 2
    got = error_lines(r.stderr, "typos.damos")
    assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in FOURTEEN_ERRORS[:3]]
    assert r.stderr.rstrip().splitlines()[-1] == \
        "damos check: 3 errors shown; stopping (use --max-errors N for more, 0 for all)"
    # the limit counts over the files: the second file is not read
    (tmp_path / "b.damos").write_text("target pid 0\n")
    r = damos_check("--max-errors", "14", "typos.damos", "b.damos", cwd=tmp_path)
    assert len(error_lines(r.stderr, "typos.damos")) == 14
    assert "b.damos" not in r.stderr.replace("typos.damos", "") and "stopping" in r.stderr
    # exactly as many errors as the limit: all shown, no stopping line
    r = damos_check("--max-errors", "14", "typos.damos", cwd=tmp_path)
    assert len(error_lines(r.stderr, "typos.damos")) == 14 and "stopping" not in r.stderr
    # 0: no limit
    many = "".join(f"target pid {i % 2}\n" for i in range(60))   # 30 bad lines
    (tmp_path / "many.damos").write_text(many)
    r = damos_check("--max-errors", "0", "many.damos", cwd=tmp_path)
    assert len(error_lines(r.stderr, "many.damos")) == 30 and "stopping" not in r.stderr
    r = damos_check("many.damos", cwd=tmp_path)    # the default: 20
    assert len(error_lines(r.stderr, "many.damos")) == 20 and "20 errors shown" in r.stderr
    r = damos_check("--max-errors", "-1", "many.damos", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.parametrize("src, errors", [
    # a header without its '{': its settings are its block's, its '}' closes it
    ("scheme a\n  action stat\n}\ntarget pdi 3\n", [(1, 9), (4, 8)]),
    ("scheme a\n{\n  action stat\n}\ntarget pdi 3\n", [(1, 9), (5, 8)]),
    # a block left open before the next statement: one error, the next statement read
    ("scheme a {\n  action stat\n\nscheme b {\n  action x\n}\n", [(1, 10), (5, 10)]),
    # an error in a nested block, then more on the same line
    ("monitor { ops paddr; intervals_goal { access 4% @ } x }\nscheme { action y }\n",
     [(1, 49), (1, 53), (2, 17)]),
    # a '{' at the top: its block is read and dropped
    ("{ action @ }\nscheme { action stat }\n", [(1, 1), (1, 10)]),
    # the end of the file inside a block whose line had an error
    ("scheme {\n  quota { size 1G @\n", [(2, 9), (2, 19)]),
    ("scheme {\n  quota { size 1G\n", [(2, 9)]),
    # a stray '}' after a good block
    ("scheme { action stat }\n}\ntarget pdi 3\n", [(2, 1), (3, 8)]),
])
def test_recovery_resumes_without_cascades(src, errors):
    _, found = parse_all(src)
    assert [(e.loc.line, e.loc.col) for e in found] == errors, [
        (e.loc, e.message) for e in found]
    for e in found:
        e.diagnostic.render("x.damos", src)


# -- the property: k corrupted statements of a valid program give >= k errors ----------

GOOD_STATEMENTS = [
    ["4K max 0 0 5s max pageout"],
    ["2M max min min 7s max nohugepage 1G 1s 0 3 7"],
    ["scheme { action stat; size 4K..max }"],
    ["target pid 42"],
    ["scheme {", "    action pageout", "    access 0%..5%", "    age 5s..max", "}"],
    ["scheme {", "    action lru_prio", "    quota {", "        size 1G", "        reset 1s",
     "    }", "    filter reject anon", "}"],
    ["# a comment", "scheme { action stat }  # trailing"],
]
MONITOR = ["monitor {", "    ops vaddr", "    sample 5ms", "    aggr 100ms", "}"]
# statement-level corruptions of one line: (what is done, how)
CORRUPTIONS = {
    "bad character": lambda ln, r: ln[:r] + "@" + ln[r:],
    "misspelt word": lambda ln, r: _misspell(ln, r),
    "stray dots": lambda ln, r: _append(ln, " .."),
    "bad unit": lambda ln, r: _bad_unit(ln),
}


def _code_end(ln):
    return len(ln.split("#")[0].rstrip())


def _append(ln, what):
    """``what`` after the line's last token (before its comment)."""
    return ln[:_code_end(ln)] + what + ln[_code_end(ln):]


def _words(ln):
    import re
    return [m for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", ln.split("#")[0])]


def _misspell(ln, r):
    words = [w for w in _words(ln) if w.group() not in ("scheme", "monitor", "target",
                                                        "max", "min")]
    if not words:
        return ln[:r] + "@" + ln[r:]
    w = words[r % len(words)]
    return ln[:w.start()] + w.group() + "qz" + ln[w.end():]


def _bad_unit(ln):
    import re
    m = re.search(r"\b(\d+)(s|ms|K|M|G|%)", ln)
    if m is None:
        return _append(ln, " @")
    return ln[:m.end()] + "x" + ln[m.end():]


@st.composite
def corrupted_programs(draw):
    stmts = [list(s) for s in draw(st.lists(st.sampled_from(GOOD_STATEMENTS), min_size=1,
                                            max_size=12))]
    if draw(st.booleans()):
        stmts.insert(draw(st.integers(0, len(stmts))), list(MONITOR))
    k = draw(st.integers(1, len(stmts)))
    chosen = draw(st.lists(st.integers(0, len(stmts) - 1), min_size=k, max_size=k,
                           unique=True))
    spans, lines, bad_lines = [], [], set()
    for i, s in enumerate(stmts):
        first = len(lines) + 1
        if i in chosen:
            candidates = [j for j, ln in enumerate(s) if not ln.startswith("#")
                          and ln.strip() not in ("}",)]
            j = draw(st.sampled_from(candidates))
            how = draw(st.sampled_from(sorted(CORRUPTIONS)))
            r = draw(st.integers(0, 200))
            new = CORRUPTIONS[how](s[j], r % (_code_end(s[j]) + 1))   # (not in a comment)
            if new == s[j]:
                new = _append(s[j], " @")
            s = s[:j] + [new] + s[j + 1:]
            bad_lines.add(first + j)
        lines += s
        spans.append((first, len(lines), i in chosen))
    return "\n".join(lines) + "\n", bad_lines, spans


def check_in_process(text: str) -> tuple[int, str]:
    """The check command's body on a file holding text: (status, stderr)."""
    import os
    import tempfile
    fd, path = tempfile.mkstemp(suffix=".damos")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        stderr, stdout = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            status = commands.check([path], max_errors=0)
        return status, stderr.getvalue().replace(path, "f.damos")
    finally:
        os.unlink(path)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_programs())
def test_each_corrupted_statement_is_reported_in_order(case):
    text, bad_lines, spans = case
    status, stderr = check_in_process(text)
    assert status == 2, (text, stderr)
    assert "Traceback" not in stderr
    lines = [ln for ln, _, _ in error_lines(stderr, "f.damos")]
    assert lines == sorted(lines), stderr
    for b in bad_lines:
        assert b in lines, (b, text, stderr)
    # and nothing cascades: every error is inside a corrupted statement
    for ln in lines:
        assert any(a <= ln <= z and bad for a, z, bad in spans), (ln, text, stderr)


# -- recovery stays linear -------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda n: "scheme {\n" + "  action @\n" * n + "}\n",                 # in one block
    lambda n: "4K max 0 0 5s max pageout @\n" * n,                       # top-level lines
    lambda n: "scheme {\n" + "  q {\n" * n + "  a @\n" * n + "  }\n" * n + "}\n",   # deep
    lambda n: "scheme { " + "x { a @ } y; " * n + "}\n",                 # one long line
    lambda n: "scheme {\n  action stat\n" + "  size 4K.." * n + "\n}\n",  # one long setting
    lambda n: "scheme {\n" + "  acess 0%\n" * n + "}\n",                 # lowering errors
], ids=["block", "lines", "deep", "long line", "long setting", "lowering"])
def test_finding_every_error_is_linear(make):
    """Each error's lark parse starts where the last one left off: twice the
    input (and twice the errors) is at most about twice the work."""
    parse_all("@\n")                      # builds lark's parser outside the count
    small, large = (count_calls(lambda: parse_all(make(n))) for n in (200, 400))
    assert large <= 2.3 * small + 100, (small, large)
    _, errors = parse_all(make(200))
    assert len(errors) >= 1
    assert parser.scan_work.attempts <= len(make(200)) + 2


def test_damo_json_reports_each_bad_scheme_and_target(tmp_path):
    """damo JSON: the first bad field of each scheme and target (not every
    field of one scheme); a bad monitor hides the schemes, whose access counts
    are read at its intervals."""
    import json
    kd = {"kdamonds": [{"contexts": [{
        "ops": "vaddr",
        "targets": [{"pid": 0, "regions": []}, {"pid": 5, "regions": []}],
        "schemes": [{"action": "pagout"}, {"action": "stat"},
                    {"action": "stat", "target_nid": -1}],
    }]}]}
    (tmp_path / "k.json").write_text(json.dumps(kd))
    r = damos_check("k.json", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    where = [ln.split(": error: ")[0] for ln in r.stderr.splitlines()]
    p = "k.json:kdamonds[0].contexts[0]"
    assert where == [f"{p}.targets[0].pid", f"{p}.schemes[0].action",
                     f"{p}.schemes[2].target_nid"], r.stderr
    kd["kdamonds"][0]["contexts"][0]["intervals"] = {"sample_us": 0, "aggr_us": 100000,
                                                      "ops_update_us": 1000000}
    (tmp_path / "k.json").write_text(json.dumps(kd))
    r = damos_check("k.json", cwd=tmp_path)
    where = [ln.split(": error: ")[0] for ln in r.stderr.splitlines()]
    assert where == [f"{p}.targets[0].pid", f"{p}.intervals.sample_us"], r.stderr
