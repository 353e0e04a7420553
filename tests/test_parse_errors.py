"""Bad input gets a precise message and the exact location of the token at
fault; the rendered diagnostic shows the source line and a caret under it.
Also: the legacy-format extras (trailing comments, N% frequencies, CRLF,
tabs) parse."""
from __future__ import annotations

import pytest

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
