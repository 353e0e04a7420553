"""fmt: the canonical layout, comment keeping, quoting, and idempotence on
every example."""
from __future__ import annotations

from pathlib import Path

import pytest

from damos_lang.errors import DamosError
from damos_lang.fmt import format_program, format_source
from damos_lang.ir import (AccessPattern, AddrRange, Filter, Program, Range, Scheme, Target,
                           Value)
from damos_lang.lower import parse

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.damos"))

MESSY = """\
4K max 0 0 5s max pageout
target pid 1234
monitor { ops vaddr; sample 5ms; aggr 100ms; update 1s; nr_regions 10..1000
  intervals_goal { access 4%; aggrs 3; min_sample 5ms; max_sample 10s } }
target region 0x100000..0x200000
scheme cold_pages { action pageout; size 4K..max; access 0%..0%; age 5s..max; apply_interval 1s
 quota { time 10ms; size 128M; reset 1s; weights size 0 access 3 age 7; goal some_mem_psi_us 1ms; goal node_mem_free_bp 50% nid 0; tuner consist }
 watermarks { metric free_mem_rate; interval 5s; high 50%; mid 40%; low 20% }
 filter reject anon; filter allow not memcg "/system.slice/a b"
 filter reject addr 0x1000..0x2000; filter allow hugepage_size 2M..2M
 target_nid 1; dest 0 weight 30 }
"""

CANONICAL = """\
monitor {
    ops vaddr
    sample 5ms
    aggr 100ms
    update 1s
    nr_regions 10..1000
    intervals_goal {
        access 4%
        aggrs 3
        min_sample 5ms
        max_sample 10s
    }
}

target pid 1234
target region 0x100000..0x200000

4K  max  0  0  5s  max  pageout

scheme cold_pages {
    action pageout
    size 4K..max
    access 0%..0%
    age 5s..max
    apply_interval 1s
    quota {
        time 10ms
        size 128M
        reset 1s
        weights size 0 access 3 age 7
        goal some_mem_psi_us 1ms
        goal node_mem_free_bp 50% nid 0
        tuner consist
    }
    watermarks {
        metric free_mem_rate
        interval 5s
        high 50%
        mid 40%
        low 20%
    }
    filter reject anon
    filter allow not memcg "/system.slice/a b"
    filter reject addr 0x1000..0x2000
    filter allow hugepage_size 2M..2M
    target_nid 1
    dest 0 weight 30
}
"""


def test_canonical_layout():
    assert format_source(MESSY) == CANONICAL
    assert format_program(parse(MESSY)) == CANONICAL
    assert parse(CANONICAL) == parse(MESSY)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_idempotent_and_keep_their_meaning_and_comments(path):
    text = path.read_text()
    once = format_source(text)
    assert format_source(once) == once
    assert parse(once) == parse(text)
    comments = [line[line.index("#"):].rstrip() for line in text.splitlines()
                if "#" in line and '"' not in line]
    for c in comments:
        assert c in once, c


def test_legacy_lines_keep_their_field_count_and_values():
    src = ("4K max 5% 100% 5s max PAGEOUT 1,000M 1s\n"
           "2M\tmax\t90\t100\t100ms\tmax\thugepage 10ms 1G 1s 0 3 7 free_mem_rate 5s 500 400 200\n"
           "0x1000 max 0 0 0 max stat\n")
    assert format_source(src) == (
        "4K      max  5%  100%  5s     max  pageout         1000M  1s\n"
        "2M      max  90  100   100ms  max  hugepage  10ms  1G     1s  0  3  7"
        "  free_mem_rate  5s  500  400  200\n"
        "0x1000  max  0   0     0      max  stat\n")


def test_blank_lines_separate_groups_not_lines_of_a_group():
    src = "target pid 1\ntarget pid 2\n4K max 0 0 5s max pageout\n2M max 0 0 5s max stat\n" \
          "scheme a { action stat }\nscheme b { action stat }\n"
    assert format_source(src) == (
        "target pid 1\ntarget pid 2\n\n"
        "4K  max  0  0  5s  max  pageout\n2M  max  0  0  5s  max  stat\n\n"
        "scheme a {\n    action stat\n}\n\nscheme b {\n    action stat\n}\n")


def test_ranges_with_kernel_unit_words_and_single_values():
    src = "scheme { action stat; access 3 samples; age min..max aggr_intervals; size 4K }\n"
    assert format_source(src) == ("scheme {\n    action stat\n    size 4K..4K\n"
                                  "    access 3..3 samples\n    age min..max aggr_intervals\n}\n")


def test_names_quoted_only_when_needed_and_strings_escaped():
    src = 'scheme plain_1 { action stat }\nscheme "two words" { action stat }\n' \
          'scheme "q\\"b\\\\s\\tt\\nn" { action stat; filter allow memcg "/a b" }\n' \
          'scheme { action stat; filter reject memcg /sys.slice/x-1; filter allow memcg "rel" }\n'
    out = format_source(src)
    assert "scheme plain_1 {\n" in out
    assert 'scheme "two words" {\n' in out
    assert 'scheme "q\\"b\\\\s\\tt\\nn" {\n' in out
    assert 'filter allow memcg "/a b"\n' in out
    assert "filter reject memcg /sys.slice/x-1\n" in out
    assert 'filter allow memcg "rel"\n' in out
    assert parse(out).schemes[2].name == 'q"b\\s\tt\nn'
    assert format_source(out) == out


def test_comments_attach_to_what_follows_or_to_their_line():
    src = """\
# file header

# about the prcl line
4K max 0 0 5s max pageout   # trailing on legacy
scheme x {   # on the header
    # before action
    action stat
    quota { size 1G   # on the quota line
        # before reset
        reset 1s
        # before the quota's end
    }
    # before the scheme's end
}   # after the scheme
# a comment before the monitor
monitor { ops paddr }
# at the end
"""
    assert format_source(src) == """\
# file header

# a comment before the monitor
monitor {
    ops paddr
}

# about the prcl line
4K  max  0  0  5s  max  pageout  # trailing on legacy

scheme x {  # on the header
    # before action
    action stat
    quota {
        size 1G  # on the quota line
        # before reset
        reset 1s
        # before the quota's end
    }
    # before the scheme's end
}  # after the scheme

# at the end
"""


def test_comments_survive_crlf_and_semicolons():
    src = "# c1\r\n4K max 0 0 5s max pageout # c2\r\ntarget pid 1; target pid 2  # c3\r\n"
    # the comment ends the line of 'target pid 2', the last statement on it
    assert format_source(src) == ("target pid 1\ntarget pid 2  # c3\n\n"
                                  "# c1\n4K  max  0  0  5s  max  pageout  # c2\n")


def test_a_trailing_comment_of_a_joined_line_stays_with_its_last_statement():
    src = ("scheme { action pageout; age 1s..max  # old\n"
           "  size 4K..max; access 0..0 samples  # cold\n}\n")
    out = format_source(src)
    assert out == ("scheme {\n    action pageout\n    size 4K..max\n"
                   "    access 0..0 samples  # cold\n    age 1s..max  # old\n}\n")
    assert format_source(out) == out


def test_comment_only_and_empty_files():
    assert format_source("") == ""
    assert format_source("\n\n") == ""
    assert format_source("# only\n\n#  two  \n") == "# only\n#  two\n"
    assert format_program(Program()) == ""


def test_string_with_hash_is_not_a_comment():
    src = 'scheme { action stat; filter allow memcg "/a#b" }  # real\n'
    # the comment follows the scheme's '}', the last element of its line
    assert format_source(src) == ('scheme {\n    action stat\n'
                                  '    filter allow memcg "/a#b"\n}  # real\n')


def test_format_source_reports_errors_as_damos_errors():
    with pytest.raises(DamosError):
        format_source("4K max 0 0 5s max pagout\n")


def test_ir_a_legacy_line_cannot_hold_is_refused():
    s = Scheme("stat", AccessPattern(Range(Value("1"), Value("2")), Range(Value("0"), Value("0")),
                                     Range(Value("0"), Value("0"))),
               filters=(Filter(True, "anon"),), legacy_fields=7)
    with pytest.raises(ValueError, match="legacy line"):
        format_program(Program(schemes=(s,)))
    with pytest.raises(ValueError, match="pid or a region"):
        format_program(Program(targets=(Target(),)))


def test_target_regions_in_hex():
    p = Program(targets=(Target(7, (AddrRange(Value("0x1000"), Value("0x2000")),
                                    AddrRange(Value("0"), Value("0xffffffffffffffff")))),))
    assert format_program(p) == "target pid 7 region 0x1000..0x2000 region 0..0xffffffffffffffff\n"
    assert parse(format_program(p)) == p
