"""Text -> syntax nodes, with lark and the grammar in grammar/damos.lark.

Lark's exceptions become :class:`DamosError` with a line, a column and a
message a person can act on; :mod:`damos_lang.lower` then gives the nodes
their meaning."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import lark

from .errors import DamosError, Loc

_GRAMMAR_NAMES = (
    Path(__file__).resolve().parent / "grammar" / "damos.lark",          # installed
    Path(__file__).resolve().parent.parent / "grammar" / "damos.lark",   # checkout
)

_TOKEN_WORDS = {
    "WORD": "a word", "QTY": "a number", "STRING": "a quoted string", "PATH": "a path",
    "_NL": "end of line", "LBRACE": "'{'", "RBRACE": "'}'", "__ANON_0": "'..'",
    "SCHEME": "'scheme'", "MONITOR": "'monitor'", "TARGET": "'target'", "$END": "end of file",
}


@lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    for path in _GRAMMAR_NAMES:
        if path.is_file():
            return lark.Lark(path.read_text(), parser="lalr", propagate_positions=True,
                             maybe_placeholders=False)
    raise RuntimeError("grammar/damos.lark not found")  # a packaging bug, not user input


@dataclass
class Atom:
    kind: str  # WORD QTY STRING PATH
    text: str
    loc: Loc

    @property
    def value(self) -> str:
        if self.kind == "STRING":
            return _unquote(self.text)
        return self.text


@dataclass
class RangeNode:
    lo: Atom
    hi: Atom
    loc: Loc


@dataclass
class Setting:
    key: str
    values: list
    body: list | None
    loc: Loc
    key_loc: Loc


@dataclass
class Statement:
    kind: str  # legacy scheme monitor target
    loc: Loc
    values: list = field(default_factory=list)
    body: list | None = None
    name: Atom | None = None
    body_loc: Loc | None = None


def _unquote(text: str) -> str:
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _tok_loc(tok) -> Loc:
    end = tok.column + len(str(tok).splitlines()[0] if str(tok) else "")
    return Loc(tok.line, tok.column, end)


def _tree_loc(tree) -> Loc:
    meta = tree.meta
    if getattr(meta, "empty", True):
        return Loc(1, 1)
    end = meta.end_column if meta.end_line == meta.line else None
    return Loc(meta.line, meta.column, end)


def _node(x):
    if isinstance(x, lark.Token):
        return Atom(x.type, str(x), _tok_loc(x))
    if x.data == "range":
        lo, hi = (_node(c) for c in x.children)
        if not isinstance(lo, Atom) or not isinstance(hi, Atom):
            raise DamosError("a range bound must be a single value", _tree_loc(x))
        return RangeNode(lo, hi, Loc(lo.loc.line, lo.loc.col, hi.loc.end_col))
    raise AssertionError(x.data)


def _body(tree) -> list:
    settings = []
    for s in tree.children:
        key, *rest = s.children
        body = None
        if rest and isinstance(rest[-1], lark.Tree) and rest[-1].data == "body":
            body = _body(rest.pop())
        settings.append(Setting(str(key), [_node(v) for v in rest], body,
                                _tree_loc(s), _tok_loc(key)))
    return settings


def _unclosed(text: str) -> DamosError:
    """Point at the '{' that is never closed (outside strings and comments)."""
    stack = []
    line, col, i = 1, 1, 0
    in_str = in_comment = False
    while i < len(text):
        c = text[i]
        if c == "\n":
            line, col, in_comment, in_str = line + 1, 0, False, False
        elif in_comment:
            pass
        elif in_str:
            if c == "\\":
                i, col = i + 1, col + 1
            elif c == '"':
                in_str = False
        elif c == "#":
            in_comment = True
        elif c == '"':
            in_str = True
        elif c == "{":
            stack.append(Loc(line, col, col + 1))
        elif c == "}" and stack:
            stack.pop()
        i, col = i + 1, col + 1
    if stack:
        return DamosError("this '{' is never closed", stack[-1], hint="add the missing '}'")
    return DamosError("unexpected end of file", Loc(max(1, line - 1), 1))


def parse_nodes(text: str) -> list[Statement]:
    """Parse text into statements; raises DamosError on a syntax error."""
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = _lark().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        hint = None
        if ch == '"':
            msg = "unterminated string"
        elif ch == ".":
            msg = "unexpected '.'"
            hint = "ranges are written lo..hi, with two dots"
        else:
            msg = f"unexpected character {ch!r}"
        raise DamosError(msg, Loc(e.line, e.column), hint=hint) from None
    except lark.exceptions.UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            raise _unclosed(text) from None
        if tok.type in ("SCHEME", "MONITOR", "TARGET") and "RBRACE" in e.expected:
            raise _unclosed(text[:tok.start_pos]) from None
        if tok.type == "RBRACE" and "RBRACE" not in e.expected:
            raise DamosError("unexpected '}' with no open '{'", _tok_loc(tok)) from None
        if tok.type == "LBRACE" and "LBRACE" not in e.expected:
            words = text.split("\n")[tok.line - 1].split()
            first = words[0] if words else ""
            col = text.split("\n")[tok.line - 1].find(first) + 1
            from .errors import did_you_mean
            raise DamosError(did_you_mean(first, ("scheme", "monitor"), "block keyword"),
                             Loc(tok.line, col, col + len(first))) from None
        expected = sorted({_TOKEN_WORDS.get(t, t.lower()) for t in e.expected})
        shown = "end of line" if tok.type == "_NL" else repr(str(tok))
        msg = f"unexpected {shown}"
        if expected and len(expected) <= 3:
            msg += f"; expected {' or '.join(expected)}"
        raise DamosError(msg, _tok_loc(tok) if tok.type != "_NL" else Loc(tok.line, tok.column)) from None
    except lark.exceptions.UnexpectedEOF:
        raise _unclosed(text) from None

    statements = []
    for st in tree.children:
        loc = _tree_loc(st)
        if st.data == "legacy":
            statements.append(Statement("legacy", loc, [_node(c) for c in st.children]))
        elif st.data in ("scheme", "monitor"):
            name = None
            body = None
            for c in st.children:
                if isinstance(c, lark.Tree) and c.data == "name":
                    name = _node(c.children[0])
                elif isinstance(c, lark.Tree) and c.data == "body":
                    body = c
            statements.append(Statement(st.data, loc, [], _body(body), name, _tree_loc(body)))
        elif st.data == "target":
            statements.append(Statement("target", loc, [_node(c) for c in st.children]))
    return statements
