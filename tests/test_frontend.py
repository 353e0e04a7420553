"""The front end (text -> syntax nodes -> IR) beyond single messages: that
the fast scanner/parser accepts exactly the language of grammar/damos.lark
and builds the same nodes lark's parse tree gives, that it takes any depth
and any size, that diagnostics render in linear time, BOMs, long tokens,
and that the front end neither needs the back end nor lark to read a valid
file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from damos_lang.errors import Diagnostic, DamosError, Loc
from damos_lang.lower import parse
from damos_lang.parser import (Atom, RangeNode, Setting, Statement, parse_nodes,
                               syntax_error)

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammar" / "damos.lark"
EXAMPLES = sorted((ROOT / "examples").glob("*.damos"))


def error(src: str) -> DamosError:
    with pytest.raises(DamosError) as info:
        parse(src)
    return info.value


def damos(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "damos_lang", *args], capture_output=True,
                          text=True, cwd=ROOT, input=stdin, timeout=120)


# -- the reference: lark's own parse tree of grammar/damos.lark, as nodes ------------

def _reference_parser():
    import lark
    return lark.Lark(GRAMMAR.read_text(), parser="lalr", propagate_positions=True,
                     maybe_placeholders=False)


_REF = []


def reference_nodes(text: str):
    """What grammar/damos.lark makes of ``text`` (None: a syntax error),
    turned into nodes the straightforward way, recursively."""
    import lark
    if not _REF:
        _REF.append(_reference_parser())
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = _REF[0].parse(text)
    except lark.exceptions.LarkError:
        return None

    def tok_loc(tok):
        return Loc(tok.line, tok.column, tok.column + len(str(tok).splitlines()[0]))

    def tree_loc(t):
        m = t.meta
        return Loc(m.line, m.column, m.end_column if m.end_line == m.line else None)

    def node(x):
        if isinstance(x, lark.Token):
            return Atom(x.type, str(x), tok_loc(x))
        lo, hi = (node(c) for c in x.children)
        return RangeNode(lo, hi, Loc(lo.loc.line, lo.loc.col, hi.loc.end_col))

    def body(t):
        out = []
        for s in t.children:
            key, *rest = s.children
            b = None
            if rest and isinstance(rest[-1], lark.Tree) and rest[-1].data == "body":
                b = body(rest.pop())
            out.append(Setting(str(key), [node(v) for v in rest], b, tree_loc(s), tok_loc(key)))
        return out

    statements = []
    for st_ in tree.children:
        loc = tree_loc(st_)
        if st_.data in ("legacy", "target"):
            statements.append(Statement(st_.data, loc, [node(c) for c in st_.children], None,
                                        None))
        else:
            name = b = None
            for c in st_.children:
                if c.data == "name":
                    name = node(c.children[0])
                else:
                    b = body(c)
            statements.append(Statement(st_.data, loc, [], b, name))
    return statements


def fast_nodes(text: str):
    """parse_nodes' nodes, or None on a syntax error, which must be the one lark
    reports when it parses the whole text (parse_nodes has lark parse only the
    statement at fault)."""
    try:
        return parse_nodes(text)
    except DamosError as e:
        whole = text[1:] if text.startswith("\ufeff") else text
        whole += "" if whole.endswith("\n") else "\n"
        ref = syntax_error(whole, 0)
        assert (e.message, e.loc, e.diagnostic.hint) == \
            (ref.message, ref.loc, ref.diagnostic.hint), repr(text)
        return None


PIECES = ["scheme", "monitor", "target", "a", "x_1", "max", "5", "0x1f", "0xg", "1.5G", "10%",
          "1,0", '"s p"', '"a\\"b"', '"#{}"', "/p/q", "/", "{", "}", "..", ".", "\n", ";", " ",
          "\t", "\r", "\x0c", "#c", "# x {", "@", "\u2028", "\x85", "\ufeff", "é", '"', "\\"]


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_fast_parser_is_the_grammar_on_token_soup(text):
    assert fast_nodes(text) == reference_nodes(text), repr(text)


def _structured():
    atom = st.sampled_from(["a", "scheme", "monitor", "target", "5", "4K", "0x10", '"q r"',
                            "/p", "max"])
    value = st.one_of(atom, st.tuples(atom, atom).map("..".join))
    sep = st.sampled_from([" ", "  ", "\t", " # c\n", "\n", ";", "\n\n", ""])

    def setting(children):
        return st.tuples(st.sampled_from(["action", "quota", "scheme", "x"]),
                         st.lists(value, max_size=3), children, sep).map(
            lambda t: " ".join([t[0], *t[1]]) + (" { " + t[2] + " }" if t[2] else "") + t[3])

    body = st.recursive(st.just(""), lambda inner: st.lists(setting(inner), max_size=3)
                        .map("".join), max_leaves=8)
    statement = st.one_of(
        st.tuples(st.sampled_from(["scheme", "scheme n", 'scheme "n m"', "monitor"]),
                  body).map(lambda t: f"{t[0]} {{{t[1]}}}"),
        st.lists(value, min_size=1, max_size=8).map(" ".join),
        st.lists(value, min_size=1, max_size=3).map(lambda v: "target " + " ".join(v)))
    return st.lists(st.tuples(statement, sep), max_size=5).map(
        lambda xs: "".join(s + e for s, e in xs))


@settings(max_examples=800, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_structured())
def test_fast_parser_is_the_grammar_on_nested_blocks(text):
    assert fast_nodes(text) == reference_nodes(text), repr(text)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_fast_parser_is_the_grammar_on_every_example_and_its_truncations(path):
    assert EXAMPLES
    text = path.read_text()
    assert parse_nodes(text) == reference_nodes(text)
    for i in range(0, len(text), 7):
        assert fast_nodes(text[:i]) == reference_nodes(text[:i]), repr(text[:i])


def test_statement_carries_no_dead_body_loc():
    st_ = parse_nodes("scheme { action stat }\n")[0]
    assert not hasattr(st_, "body_loc")


# -- depth and size --------------------------------------------------------------------

@pytest.mark.parametrize("depth", [979, 980, 5000])
def test_any_nesting_depth_gets_a_located_error(depth):
    src = "scheme{" + "a{" * depth + "}" * (depth + 1) + "\n"
    e = error(src)
    assert e.loc is not None and e.loc.line == 1


@pytest.mark.parametrize("depth", [980, 5000])
def test_any_unclosed_nesting_depth_gets_a_located_error(depth):
    e = error("scheme{" + "a{" * depth + "}" * depth + "\n")
    assert e.loc is not None and "never closed" in e.message


def test_deep_nesting_through_the_cli_exits_2_without_traceback(tmp_path):
    f = tmp_path / "deep.damos"
    f.write_text("scheme{" + "a{" * 20000 + "}" * 20001 + "\n")
    r = damos("check", str(f))
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.startswith(f"{f}:1:") and "Traceback" not in r.stderr


# -- long tokens are cut in messages ------------------------------------------------------

LONG = 1_000_000


@pytest.mark.parametrize("src", [
    "{" * LONG + "\n",                                   # unknown block keyword '{{{...'
    "x" * LONG + " {\n",
    "4K max 0 0 5s max " + "p" * LONG + "\n",            # unknown action
    "scheme { " + "k" * LONG + " 1 }\n",                 # unknown setting
    "4K max 0 0 5s " + "9" * LONG + " pageout\n",        # too large
    "4K max 0 0 5s 5" + "q" * LONG + " pageout\n",       # unknown unit
    "scheme { action stat; apply_interval " + "w" * LONG + " }\n",
    "target pid " + "1x" * LONG + "\n",
])
def test_an_error_message_cuts_a_long_token(src):
    e = error(src)
    assert len(e.message) < 300, e.message[:300]
    assert "\u2026" in e.message
    assert e.loc is not None
    shown = e.diagnostic.render("x.damos", src)
    assert len(shown.split("\n")[0]) < 400


def test_short_tokens_are_not_cut():
    assert "'pagout'" in error("4K max 0 0 5s max pagout\n").message


# -- byte-order mark ---------------------------------------------------------------------

def test_a_utf8_bom_is_accepted(tmp_path):
    text = "4K max 0 0 5s max pageout\n"
    assert parse("\ufeff" + text) == parse(text)
    e = error("\ufeff4K max 0 0 5s max pagout\n")
    assert (e.loc.line, e.loc.col) == (1, 19)
    f = tmp_path / "bom.damos"
    f.write_bytes(b"\xef\xbb\xbf" + b"4K max 0 0 5s max pagout\n")
    r = damos("check", str(f))
    assert r.returncode == 2 and f"{f}:1:19: error" in r.stderr
    assert r.stderr.splitlines()[1] == "  4K max 0 0 5s max pagout"
    f.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert damos("check", str(f)).returncode == 0
    from damos_lang.fmt import format_source
    assert format_source("\ufeff# c\n" + text) == format_source("# c\n" + text)


# -- messages that name every way to write a value ------------------------------------------

def test_a_bare_access_range_names_percent_and_samples():
    e = error("scheme {\n    action stat\n    access 0..5\n}\n")
    assert "%" in e.message and "samples" in e.message, e.message
    assert (e.loc.line, e.loc.col) == (3, 12)


def test_a_bare_age_range_names_time_units_and_aggr_intervals():
    e = error("scheme {\n    action stat\n    age 5..max\n}\n")
    assert "time unit" in e.message and "aggr_intervals" in e.message, e.message


# -- the front end validates with its own reading of values ------------------------------------

FRONT_END = ["lower", "values", "legacy", "parser"]


def _damos_imports(module: str) -> set[str]:
    """Every damos_lang module ``module`` imports, anywhere in its file."""
    import ast
    tree = ast.parse((ROOT / "damos_lang" / f"{module}.py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            out.add(node.module or "")
            out.update(a.name for a in node.names if not node.module)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("damos_lang."):
            out.add(node.module.split(".", 1)[1])
    return out


@pytest.mark.parametrize("module", FRONT_END)
def test_front_end_modules_do_not_import_the_kernel_converter(module):
    """The front end reads values with its own rules; it must not lean on the
    conversion to kernel units (convert) or the kernel-unit model."""
    found = _damos_imports(module)
    assert found, f"{module} imports nothing of damos_lang: the scan is broken"
    assert not found & {"convert", "model", "features"}, found


@pytest.mark.parametrize("value", ["0us", "0.5us", "999ns", "0.0001ms", "0s", "0d"])
def test_intervals_below_1us_are_refused(value):
    e = error(f"monitor {{\n    sample {value}\n}}\n")
    assert "sampling interval must be at least 1us" in e.message
    e = error(f"monitor {{\n    aggr {value}\n}}\n")
    assert "aggregation interval must be at least 1us" in e.message


@pytest.mark.parametrize("value", ["1us", "1000ns", "0.001ms", "1.5us", "1d"])
def test_intervals_of_1us_and_more_are_taken(value):
    assert parse(f"monitor {{\n    sample {value}\n}}\n").monitor.sample.text() == value


@pytest.mark.parametrize("region", ["0x2000..0x1000", "8K..8K", "1M..1023K", "1.5K..1536",
                                    "4G..4096M"])
def test_region_end_must_be_above_start(region):
    assert "above its start" in error(f"target region {region}\n").message


@pytest.mark.parametrize("region", ["0x1000..0x2000", "1023K..1M", "1.5K..1537", "4G..4097M"])
def test_region_above_start_is_taken(region):
    assert parse(f"target region {region}\n").targets[0].regions


# -- diagnostics render in linear time -------------------------------------------------------

def test_rendering_many_diagnostics_against_one_source_is_right():
    lines = [f"4K max {i % 7}% max {i}ms max pageout\t# l{i}" for i in range(3000)]
    source = "\r\n".join(lines) + "\r\n"
    diags = [Diagnostic("warning", f"w{i}", Loc(i % 3000 + 1, 8, 10)) for i in range(9000)]
    for d in diags:
        shown = d.render("f.damos", source).split("\n")
        n = d.loc.line
        assert shown[0] == f"f.damos:{n}:8: warning: {d.message}"
        assert shown[1] == "  " + lines[n - 1].replace("\t", " ")
        assert shown[2] == "  " + " " * 7 + "^~"
    # another source with the same lines object count is not confused with the first
    other = source.replace("pageout", "PAGEOUT")
    assert "PAGEOUT" in diags[0].render("f.damos", other)
    assert "PAGEOUT" not in diags[0].render("f.damos", source)
    # a location past the end still renders the header only
    assert Diagnostic("error", "e", Loc(99999, 1)).render("f", source) == "f:99999:1: error: e"


# -- start-up: a valid file needs neither lark nor difflib ------------------------------------

def test_reading_a_valid_file_imports_neither_lark_nor_difflib():
    code = ("import sys\n"
            "from damos_lang.source import load, read_source\n"
            "load(read_source('examples/everything.damos'))\n"
            "from damos_lang.fmt import format_source\n"
            "format_source(open('examples/everything.damos').read())\n"
            "print(sorted(m for m in ('lark', 'difflib', 'damos_lang.convert') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
