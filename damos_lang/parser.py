"""Text -> syntax nodes, for the language of grammar/damos.lark.

The grammar is the definition of the language.  Reading a file goes
through a scanner and a small hand-written parser that accept exactly the
grammar's language and build the nodes lark's parse tree would give:

* the scanner's token patterns are the grammar's own terminals, read from
  the grammar file;
* the parser is a loop over tokens with an explicit stack of open blocks,
  so any nesting depth works, and it costs about a microsecond per token
  (lark's LALR parser, building its tree, costs about ten);
* tests/test_frontend.py checks, on generated and mutated text, that it
  accepts what lark accepts, rejects what lark rejects, and builds the
  nodes lark's tree turns into.

A syntax error is reported by lark itself from the grammar: the statement
at fault is parsed again with lark (imported only then) and lark's
exception becomes a :class:`DamosError` with a line, a column and a
message a person can act on.  :mod:`damos_lang.lower` then gives the nodes
their meaning."""
from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import DamosError, Loc, character_name, shorten

GRAMMAR_PATHS = (
    Path(__file__).resolve().parent / "grammar" / "damos.lark",          # installed
    Path(__file__).resolve().parent.parent / "grammar" / "damos.lark",   # checkout
)

BOM = "\ufeff"

_TOKEN_WORDS = {
    "WORD": "a word", "QTY": "a number", "STRING": "a quoted string", "PATH": "a path",
    "_NL": "end of line", "LBRACE": "'{'", "RBRACE": "'}'", "__ANON_0": "'..'",
    "SCHEME": "'scheme'", "MONITOR": "'monitor'", "TARGET": "'target'", "$END": "end of file",
}


# -- syntax nodes -------------------------------------------------------------

@dataclass
class Atom:
    __slots__ = ("kind", "text", "loc")
    kind: str  # WORD QTY STRING PATH
    text: str
    loc: Loc

    @property
    def value(self) -> str:
        if self.kind == "STRING":
            return unquote(self.text)
        return self.text


@dataclass
class RangeNode:
    __slots__ = ("lo", "hi", "loc")
    lo: Atom
    hi: Atom
    loc: Loc


@dataclass
class Setting:
    __slots__ = ("key", "values", "body", "loc", "key_loc")
    key: str
    values: list
    body: list | None
    loc: Loc
    key_loc: Loc


@dataclass
class Statement:
    __slots__ = ("kind", "loc", "values", "body", "name")
    kind: str  # legacy scheme monitor target
    loc: Loc
    values: list          # legacy and target: the values
    body: list | None     # scheme and monitor: the settings
    name: Atom | None     # scheme: its name, if any


def unquote(text: str) -> str:
    """The value of a STRING token: quotes removed, ``\\n`` ``\\t`` ``\\x`` unescaped."""
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


# -- the scanner: the grammar's terminals ----------------------------------------

def grammar_text() -> str:
    for path in GRAMMAR_PATHS:
        if path.is_file():
            return path.read_text()
    raise RuntimeError("grammar/damos.lark not found")  # a packaging bug, not user input


_scanner_cache: list = []

BLANK_CLASS = "[ \\t\\r\\f]"   # the grammar's %ignore, checked in _scanner


def _scanner():
    """One regex with a named group per terminal of the grammar (their
    first characters differ, so the order of the alternatives is moot).

    The regex matches at every offset, so ``finditer`` never searches: the
    blanks before a token are part of its match (fewer matches, faster),
    and after them comes a terminal, a character no terminal takes (BAD)
    or the end of the text (END).  No terminal starts with a blank, so a
    match always keeps the whole blank run: each match costs the length of
    what it takes.  (Without BAD, a blank run before a bad character was
    read again from every one of its offsets: quadratic.)"""
    if not _scanner_cache:
        grammar = grammar_text()

        def pattern(head: str) -> str:
            m = re.search(rf"^{head}\s*/(.*)/\s*$", grammar, re.M)
            if m is None:
                raise RuntimeError(f"grammar/damos.lark has no {head} /regex/")
            return m.group(1)

        if pattern("%ignore") != BLANK_CLASS + "+":
            raise RuntimeError("grammar/damos.lark: %ignore is not the scanner's blanks")
        groups = [("NL", pattern("_NL:")), ("COMMENT", pattern("COMMENT:"))]
        groups += [(t, pattern(t + ":")) for t in ("WORD", "QTY", "STRING", "PATH")]
        groups += [("LBRACE", r"\{"), ("RBRACE", r"\}"), ("DOTS", r"\.\.")]
        groups += [("BAD", "."), ("END", r"\Z")]
        _scanner_cache.append(re.compile(f"{BLANK_CLASS}*(?:"
                                         + "|".join(f"(?P<{n}>{p})" for n, p in groups) + ")"))
    return _scanner_cache[0]


class ScanWork:
    """What the last :func:`parse_nodes` scan cost, for tests that bound the
    work by a count, not a time: ``attempts`` is how many times the regex
    engine started a match, ``chars`` how many characters those attempts
    read at least.  Each match reads its blanks and its token; an offset
    ``finditer`` had to skip (never, with a regex that matches everywhere)
    counts as a failed attempt that read its whole blank run and the
    character after it -- which is how a quadratic scanner shows."""
    __slots__ = ("attempts", "chars")

    def __init__(self) -> None:
        self.attempts = self.chars = 0


scan_work = ScanWork()

_BLANKS = frozenset(" \t\r\f")


def _failed_reads(text: str, start: int, stop: int) -> int:
    """Characters read by failed match attempts at the offsets [start, stop)."""
    reads, run_end = 0, stop
    for j in range(stop - 1, start - 1, -1):
        if text[j] not in _BLANKS:
            run_end = j
        reads += run_end - j + 1
    return reads


class Token:
    """A token with its place, for fmt: ``kind`` is a terminal name
    (WORD QTY STRING PATH COMMENT NL LBRACE RBRACE DOTS)."""
    __slots__ = ("kind", "text", "line", "col")

    def __init__(self, kind: str, text: str, line: int, col: int):
        self.kind, self.text, self.line, self.col = kind, text, line, col


def tokens(text: str) -> list[Token]:
    """Every token of ``text`` (which parses) but blanks, comments included."""
    if text.startswith(BOM):
        text = text[1:]
    out = []
    line, line_start = 1, 0
    for m in _scanner().finditer(text):
        kind = m.lastgroup
        if kind == "BAD" or kind == "END":
            continue
        tok = m[kind]
        start = m.end() - len(tok)
        out.append(Token(kind, tok, line, start - line_start + 1))
        if tok == "\n":
            line, line_start = line + 1, start + 1
    return out


# -- the parser ---------------------------------------------------------------------

_KEYWORDS = ("scheme", "monitor", "target")

# parser states
_TOP, _VALUES, _NAME, _BRACE, _AFTER, _BODY, _SKIP = range(7)


class _Reject(Exception):
    """The text is not in the grammar's language; ``start`` is the offset of
    the top-level statement at fault."""

    def __init__(self, start: int):
        self.start = start


class Recovery:
    """What a recovering parse (:func:`parse_nodes_recovering`) found: the
    statements it read, which of them hold a syntax error (``bad``: their
    indices; they are not lowered), the syntax errors in the order found,
    and whether it stopped at its limit before the end of the text."""
    __slots__ = ("statements", "bad", "errors", "stopped")

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.bad: set = set()
        self.errors: list[DamosError] = []
        self.stopped = False


_PENDING = object()   # the owner of the block a header without its '{' was taken to open


def _parse(text: str, recovery: Recovery | None = None,
           limit: int | None = None) -> list[Statement]:
    """The nodes of ``text`` (which ends with a newline); raises _Reject.

    With ``recovery``, a syntax error is recorded there instead (lark's
    account of it, see :func:`syntax_error`) and the parser goes on:

    * at the statement: the tokens up to the end of the statement or setting
      at fault (its line end or ';') are skipped -- a '{' among them opens a
      block whose settings are read (so their errors are reported too) and
      dropped, and a '}' closing the enclosing block ends the skip;
    * at the block: a block keyword starting a line inside a block means the
      block was left open (lark's reading too): the blocks are closed and
      the keyword starts the next statement; a block header ending without
      its '{', before an indented line, is taken to open its block;

    and stops after ``limit`` errors.  Every error is found by lark parsing
    from the last place known good -- the start of the statement or setting
    at fault, or where the parser last resumed, whichever is later -- so
    each part of the text is read by lark at most once: linear."""
    statements: list[Statement] = recovery.statements if recovery is not None else []
    stack: list = []            # open blocks: (owner, its settings, braces, owner's unit)
    state = _TOP
    cur = None                  # the statement or setting being read
    cur_line = cur_col = 0      # where it starts
    end_line = end_col = 0      # where its last token ends
    st_line = st_col = 0        # where the top-level statement starts
    stmt_start = 0              # its offset
    values: list = []           # cur's values
    dots = False                # a '..' waits for its upper bound
    after_nl = False            # the last token was a line end
    line, line_start, pos = 1, 0, 0
    attempts = 0                # matches the scanner made
    skipped = None              # (from, to): offsets finditer skipped
    # recovery: the statement or setting being read and where the parser last
    # resumed after an error, each as (offset, line, braces): braces is the
    # chain (its '{', the enclosing braces) of the blocks it is in, or None;
    # top is the index of the top-level statement being read
    unit = resumed = (0, 1, None)
    top = None
    try:
        for attempts, m in enumerate(_scanner().finditer(text), 1):
            if m.start() != pos:            # never: the scanner regex matches everywhere
                skipped = (pos, m.start())
                raise _Reject(stmt_start)
            pos = m.end()
            kind = m.lastgroup
            if kind == "COMMENT":
                continue
            tok = m[kind]
            if state == _SKIP:
                # -- recovery: skipping the rest of a statement or setting at fault
                if kind == "NL":
                    state = _BODY if stack else _TOP
                    if tok == "\n":
                        line, line_start = line + 1, pos
                    if state == _TOP:
                        stmt_start = pos
                    after_nl = True
                    resumed = (pos, line, stack[-1][2] if stack else None)
                    continue
                after_nl = False
                if kind == "LBRACE":        # a block: its settings are read, then dropped
                    brace = Loc(line, pos - line_start, pos - line_start + 1)
                    stack.append((None, [], (brace, stack[-1][2] if stack else None), None))
                    state = _BODY
                    resumed = (pos, line, stack[-1][2])
                    continue
                if kind != "RBRACE" or not stack:
                    continue                # the rest of the bad statement (a stray '}' too)
                state = _BODY               # the '}' closes the enclosing block
                resumed = (pos - 1, line, stack[-1][2])
            try:
                if kind == "NL":
                    if state == _AFTER or (state == _VALUES and not dots
                                           and (values or type(cur) is Setting)):
                        cur.loc = Loc(cur_line, cur_col,
                                      end_col if end_line == cur_line else None)
                        cur = None
                        state = _BODY if stack else _TOP
                    elif state != _TOP and state != _BODY:
                        raise _Reject(stmt_start)
                    if tok == "\n":
                        line, line_start = line + 1, pos
                    if state == _TOP:
                        stmt_start = pos
                    after_nl = True
                    continue
                line_began, after_nl = after_nl, False
                start = pos - len(tok)
                col = start - line_start + 1
                if kind == "WORD" or kind == "QTY" or kind == "STRING" or kind == "PATH":
                    if state == _VALUES:
                        pass
                    elif state == _TOP:
                        stmt_start, st_line, st_col = start, line, col
                        cur_line, cur_col = line, col
                        unit = (start, line, None)
                        top = len(statements)
                        values = []
                        if kind == "WORD" and tok in _KEYWORDS:
                            cur = Statement(tok, None, values, None, None)
                            statements.append(cur)
                            end_line, end_col = line, col + len(tok)
                            state = _NAME if tok == "scheme" else _BRACE if tok == "monitor" \
                                else _VALUES
                            continue
                        cur = Statement("legacy", None, values, None, None)
                        statements.append(cur)
                        state = _VALUES
                    elif state == _BODY and kind == "WORD" \
                            and not (line_began and tok in _KEYWORDS):
                        # (lark lexes a keyword at the start of a line as the keyword, which
                        # then cannot start a setting: a block left open before the next
                        # statement)
                        values = []
                        cur = Setting(tok, values, None, None, Loc(line, col, col + len(tok)))
                        stack[-1][1].append(cur)
                        cur_line, cur_col, end_line, end_col = line, col, line, col + len(tok)
                        unit = (start, line, stack[-1][2])
                        state = _VALUES
                        continue
                    elif state == _NAME and (kind == "WORD" or kind == "STRING"):
                        end = col + len(tok.splitlines()[0] if kind == "STRING" else tok)
                        cur.name = Atom(kind, tok, Loc(line, col, end))
                        state = _BRACE
                        continue
                    else:
                        raise _Reject(stmt_start)
                    # lark's tree ends a token after its last character; its token
                    # locations (and ours) after its first line as str.splitlines() sees it
                    end_line, end_col = line, col + len(tok)
                    end = col + len(tok.splitlines()[0]) if kind == "STRING" else end_col
                    atom = Atom(kind, tok, Loc(line, col, end))
                    if dots:
                        lo = values[-1]
                        values[-1] = RangeNode(lo, atom, Loc(lo.loc.line, lo.loc.col, end))
                        dots = False
                    else:
                        values.append(atom)
                elif kind == "DOTS":
                    if state != _VALUES or dots or not values or type(values[-1]) is not Atom:
                        raise _Reject(stmt_start)
                    dots = True
                elif kind == "LBRACE":
                    if not (state == _NAME or state == _BRACE
                            or (state == _VALUES and not dots and type(cur) is Setting)):
                        raise _Reject(stmt_start)
                    cur.body = []
                    stack.append((cur, cur.body,
                                  (Loc(line, col, col + 1), stack[-1][2] if stack else None),
                                  unit))
                    cur = None
                    state = _BODY
                elif kind == "RBRACE":
                    if not stack or not (state == _BODY or state == _AFTER
                                         or (state == _VALUES and not dots
                                             and type(cur) is Setting)):
                        raise _Reject(stmt_start)
                    if cur is not None:     # the last setting of the block ends here
                        cur.loc = Loc(cur_line, cur_col,
                                      end_col if end_line == cur_line else None)
                    cur, _, _, owner_unit = stack.pop()
                    if cur is None or cur is _PENDING:   # a block recovery opened: dropped
                        cur, state = None, _SKIP
                        continue
                    unit = owner_unit
                    if stack:
                        cur_line, cur_col = cur.key_loc.line, cur.key_loc.col
                    else:
                        cur_line, cur_col = st_line, st_col
                    end_line, end_col = line, col + 1
                    state = _AFTER
                elif kind == "BAD":                 # a character no terminal takes
                    raise _Reject(stmt_start)
                # else END, the empty match at the end of the text
            except _Reject:
                if recovery is None:
                    raise
                # -- recovery: record lark's account, then resume
                if kind == "LBRACE" and state == _BODY and stack[-1][0] is _PENDING \
                        and not stack[-1][1]:
                    # the '{' of a header that ended its line: the block it was taken to open
                    stack[-1] = (None, stack[-1][1], (Loc(line, col, col + 1), None), None)
                    continue
                if state != _TOP or stack:
                    recovery.bad.add(top)
                else:               # no statement: lark starts at the token
                    top = None
                    unit = (pos - len(tok), line, None)
                _record(recovery, text, unit if unit[0] >= resumed[0] else resumed,
                        pos - len(tok))
                if limit is not None and len(recovery.errors) >= limit:
                    recovery.stopped = True
                    break
                dots, cur = False, None
                if kind == "WORD" and line_began and tok in _KEYWORDS and stack:
                    # a block left open before the next statement: it starts here
                    stack.clear()
                    stmt_start, st_line, st_col = start, line, col
                    cur_line, cur_col, end_line, end_col = line, col, line, col + len(tok)
                    unit = resumed = (start, line, None)
                    top = len(statements)
                    values = []
                    cur = Statement(tok, None, values, None, None)
                    statements.append(cur)
                    state = _NAME if tok == "scheme" else _BRACE if tok == "monitor" \
                        else _VALUES
                    continue
                if kind == "NL":
                    if tok == "\n":
                        line, line_start = line + 1, pos
                    after_nl = True
                    if state in (_NAME, _BRACE) and not stack \
                            and text[pos:pos + 1] in (" ", "\t", "{"):
                        # a block header without its '{' before an indented line: the
                        # settings that follow are its block's
                        stack.append((_PENDING, [], (None, None), None))
                        state = _BODY
                    else:
                        state = _BODY if stack else _TOP
                        if state == _TOP:
                            stmt_start = pos
                    resumed = (pos, line, stack[-1][2] if stack else None)
                    continue
                state = _SKIP
                if kind == "LBRACE":
                    stack.append((None, [], (Loc(line, col, col + 1),
                                             stack[-1][2] if stack else None), None))
                    state = _BODY
                    resumed = (pos, line, stack[-1][2])
                elif kind == "RBRACE" and stack:
                    # a '}' where the statement cannot end: it closes the block it is in
                    resumed = (start, line, stack[-1][2])
                    cur, _, _, owner_unit = stack.pop()
                    if cur is None or cur is _PENDING:
                        cur = None
                    else:
                        unit = owner_unit
                        if stack:
                            cur_line, cur_col = cur.key_loc.line, cur.key_loc.col
                        else:
                            cur_line, cur_col = st_line, st_col
                        end_line, end_col = line, col + 1
                        state = _AFTER
        else:
            if pos != len(text):                    # never: END matches at the end
                skipped = (pos, len(text))
            if pos != len(text) or state != _TOP:
                if recovery is None:
                    raise _Reject(stmt_start)
                if state != _SKIP:
                    recovery.bad.add(top)
                    _record(recovery, text, unit if unit[0] >= resumed[0] else resumed, pos)
                elif stack:
                    # the end of the file inside blocks: the innermost '{' is never closed
                    brace = stack[-1][2][0]
                    if brace is not None:   # (None: its missing '{' is reported already)
                        recovery.bad.add(top)
                        recovery.errors.append(DamosError("this '{' is never closed", brace,
                                                          hint="add the missing '}'"))
    finally:
        scan_work.attempts, scan_work.chars = attempts, pos
        if skipped is not None:
            scan_work.attempts += skipped[1] - skipped[0]
            scan_work.chars += _failed_reads(text, *skipped)
    return statements


def _record(recovery: Recovery, text: str, since: tuple, at: int) -> None:
    """Record lark's account of the syntax error at offset ``at``, parsing from
    ``since`` (offset, line, braces: the last place known good).  Of the blocks
    it is in, lark needs only as many as '}' it can meet before ``at``: so
    the text lark reads is never longer than the part of the file it reads."""
    start, line, chain = since
    braces = []
    while chain is not None and len(braces) <= at - start:
        braces.append(chain[0])
        chain = chain[1]
    braces.reverse()
    err = syntax_error(text, start, line - 1, braces)
    if err is not None:     # None: it names a '{' the user never wrote, reported already
        recovery.errors.append(err)


@contextmanager
def gc_paused():
    """Run a block with the cyclic garbage collector paused.  Reading a file
    builds hundreds of thousands of small objects that form no cycles, and
    the collector's repeated passes over them cost more than the reading
    (10,000 schemes: 0.9 s of 1.4 s)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse_nodes(text: str) -> list[Statement]:
    """Parse text into statements; raises DamosError on a syntax error."""
    if text.startswith(BOM):
        text = text[1:]
    if not text.endswith("\n"):
        text += "\n"
    try:
        with gc_paused():
            return _parse(text)
    except _Reject as e:
        raise syntax_error(text, e.start) from None


def parse_nodes_recovering(text: str, limit: int | None = None) -> Recovery:
    """Parse text into statements, recording every syntax error (up to
    ``limit``) instead of stopping at the first; see :func:`_parse`."""
    if text.startswith(BOM):
        text = text[1:]
    if not text.endswith("\n"):
        text += "\n"
    recovery = Recovery()
    with gc_paused():
        _parse(text, recovery, limit)
    return recovery


# -- syntax errors, from lark and the grammar ---------------------------------------------

_lark_cache: list = []


def lark_parser():
    """lark's LALR parser for grammar/damos.lark (built on first use: only
    syntax errors need it)."""
    if not _lark_cache:
        import lark
        _lark_cache.append(lark.Lark(grammar_text(), parser="lalr", propagate_positions=True,
                                     maybe_placeholders=False))
    return _lark_cache[0]


def _tok_loc(tok) -> Loc:
    end = tok.column + len(str(tok).splitlines()[0] if str(tok) else "")
    return Loc(tok.line, tok.column, end)


def _unclosed(text: str) -> DamosError:
    """Point at the '{' that is never closed, or at the end of the file."""
    loc = _open_brace(text)
    if loc is not None:
        return DamosError("this '{' is never closed", loc, hint="add the missing '}'")
    return DamosError("unexpected end of file", Loc(max(1, text.count("\n")), 1))


def _open_brace(text: str) -> Loc | None:
    """The last '{' of ``text`` that is not closed (outside strings and comments)."""
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
    return stack[-1] if stack else None


_PREFIX_HEAD, _PREFIX_STEP = "scheme{", "x{"   # a text that leaves lark inside blocks


def syntax_error(text: str, start: int = 0, line0: int | None = None,
                 braces: list = ()) -> DamosError | None:
    """lark's account of the syntax error in ``text`` (ending with a newline),
    whose statements before offset ``start`` are known to be good: only the
    rest is parsed, so an error near the end of a large file costs no more
    than one near its start.  ``line0`` is the number of line ends before
    ``start``, when known.

    ``braces``: ``start`` is inside that many blocks (where a setting may
    start), opened by these '{' (a Loc, or None for a '{' the user left
    out).  lark is put there by a first line that opens as many blocks; an
    error naming one of its '{' names the user's instead, and is None when
    that '{' was left out (its error is reported already)."""
    if line0 is None:
        line0 = text.count("\n", 0, start)
    line_start = text.rfind("\n", 0, start) + 1
    head = _PREFIX_HEAD + _PREFIX_STEP * (len(braces) - 1) + "\n" if braces else ""
    # blanks keep the columns of the statement's first line; its line number is added back
    rest = head + " " * (start - line_start) + text[start:]
    shift = line0 - (1 if head else 0)    # lark's line n is the file's line n + shift

    def line_text(n: int) -> str:   # line n of rest, as the file has it
        at = line_start
        for _ in range(n - 1 - (1 if head else 0)):
            at = text.index("\n", at) + 1
        return text[at:text.find("\n", at)]

    err = _lark_error(rest, line_text)
    if err is None:
        raise AssertionError("the parser rejected text the grammar accepts: please report")
    loc = err.diagnostic.loc
    if loc is not None and head and loc.line == 1:      # one of the blocks it is inside
        brace = braces[(loc.col - len(_PREFIX_HEAD)) // len(_PREFIX_STEP)]
        return None if brace is None else DamosError(err.message, brace,
                                                     hint=err.diagnostic.hint)
    if loc is not None and shift:
        err = DamosError(err.message, Loc(loc.line + shift, loc.col, loc.end_col),
                         hint=err.diagnostic.hint)
    return err


def _bad_character(ch: str) -> tuple[str, str | None]:
    """The message (and hint) for a character no terminal takes.  Invisible
    ones (a no-break space, a vertical tab, a zero-width space) are named,
    since the caret alone cannot show them."""
    if ch.isprintable() and not ch.isspace():
        return f"unexpected character {ch!r}", None
    import unicodedata
    shown = character_name(ch)
    if ch.isspace() or unicodedata.category(ch) in ("Zs", "Cf"):
        return (f"unexpected blank character {shown}",
                "separate fields with spaces or tabs, and end lines with a newline or ';'")
    return f"unexpected character {shown}", None


def _legacy_note(text: str, pos: int):
    """damo's reading of the field at ``pos`` (damo_fields.damo_syntax_note), as
    (message, hint, start, end) offsets, when ``pos`` is in a legacy line --
    a top-level statement that no keyword starts -- else None."""
    line_start = text.rfind("\n", 0, pos) + 1
    start = max(line_start, text.rfind(";", line_start, pos) + 1)
    words = text[start:pos + 1].split(None, 1)
    if not words or words[0] in _KEYWORDS or "{" in words[0] or "}" in words[0] \
            or _open_brace(text[:start]) is not None:
        return None
    end = len(text)
    for stop in ("\n", ";", "#"):
        at = text.find(stop, pos)
        if at != -1:
            end = min(end, at)
    from .damo_fields import damo_syntax_note
    note = damo_syntax_note(text[start:end], pos - start)
    if note is None:
        return None
    msg, hint, a, b = note
    return msg, hint, start + a, start + b


_NUMBER_BEFORE = re.compile(r"(?<![0-9A-Za-z_.])([0-9][0-9A-Za-z.]*)([ \t]*)\Z")


def _misspelt_quantity(text: str, pos: int) -> tuple[str, str] | None:
    """'10-1000' for a range, '5 %' with its unit apart: say how to write them."""
    before = _NUMBER_BEFORE.search(text, max(0, pos - 40), pos)
    if before is None:
        return None
    after = re.match(r"[-%]([0-9][0-9A-Za-z.%]*)?", text[pos:])
    if text[pos] == "-" and not before.group(2) and after and after.group(1):
        return (f"unexpected '-' in '{before.group(1)}{after.group(0)}'",
                f"ranges are written lo..hi: write '{before.group(1)}..{after.group(1)}'")
    if text[pos] == "%" and before.group(2):
        return ("a number and its unit are one word",
                f"write '{before.group(1)}%', not '{before.group(0)}%'")
    return None


def _lark_error(text: str, line_text) -> DamosError | None:
    import lark
    try:
        lark_parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        note = _legacy_note(text, e.pos_in_stream) if ch and ch != "\"" else None
        if note is not None:
            msg, hint, start, end = note
            line_start = text.rfind("\n", 0, e.pos_in_stream) + 1
            return DamosError(msg, Loc(e.line, start - line_start + 1, end - line_start + 1),
                              hint=hint)
        hint = None
        if ch == '"':
            msg = "unterminated string"
        elif ch == ".":
            msg = "unexpected '.'"
            hint = "ranges are written lo..hi, with two dots"
        elif (said := _misspelt_quantity(text, e.pos_in_stream)) is not None:
            msg, hint = said
        else:
            msg, hint = _bad_character(ch)
        return DamosError(msg, Loc(e.line, e.column), hint=hint)
    except lark.exceptions.UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            return _unclosed(text)
        if tok.type in ("SCHEME", "MONITOR", "TARGET") and "RBRACE" in e.expected:
            loc = _open_brace(text[:tok.start_pos])
            if loc is not None:
                return DamosError("this '{' is never closed", loc, hint="add the missing '}'")
            e.expected.discard("RBRACE")  # a keyword after a block on its line: '}' is no help
        if tok.type == "RBRACE" and "RBRACE" not in e.expected:
            return DamosError("unexpected '}' with no open '{'", _tok_loc(tok))
        if tok.type == "LBRACE" and "LBRACE" not in e.expected:
            source_line = line_text(tok.line)
            words = source_line.split()
            first = words[0] if words else ""
            col = source_line.find(first) + 1
            from .errors import did_you_mean
            return DamosError(did_you_mean(first, ("scheme", "monitor"), "block keyword"),
                              Loc(tok.line, col, col + len(first)))
        expected = sorted({_TOKEN_WORDS.get(t, t.lower()) for t in e.expected})
        shown = "end of line" if tok.type == "_NL" else repr(shorten(str(tok)))
        msg = f"unexpected {shown}"
        if expected and len(expected) <= 3:
            msg += f"; expected {' or '.join(expected)}"
        return DamosError(msg, _tok_loc(tok) if tok.type != "_NL" else Loc(tok.line, tok.column))
    except lark.exceptions.UnexpectedEOF:
        return _unclosed(text)
    return None
