"""How systemd reads a unit's command lines back (systemd.service(5), "Command
lines"), for the tests: words split at white space, double-quoted words with
C escapes, then the specifiers (%%, %v) and variables ($$).  The tests check
the targets' quoting against this, and ``systemd-analyze verify`` checks that
systemd takes the same lines."""
from __future__ import annotations

import os
import re

ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "s": " "}


def words(line: str) -> list[str]:
    out, i, n = [], 0, len(line)
    while i < n:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            break
        w = []
        if line[i] == '"':
            i += 1
            while line[i] != '"':
                if line[i] == "\\":
                    w.append(ESCAPES[line[i + 1]])
                    i += 2
                else:
                    w.append(line[i])
                    i += 1
            i += 1
            assert i >= n or line[i].isspace(), f"text after a closing quote: {line!r}"
        else:
            while i < n and not line[i].isspace():
                assert line[i] not in "\"'\\", f"a quote or backslash inside a word: {line!r}"
                w.append(line[i])
                i += 1
        out.append("".join(w))
    return out


def specifiers(word: str, release: str | None = None) -> str:
    """%% and %v (the kernel release); any other specifier is a test failure."""
    release = release or os.uname().release

    def one(m):
        c = m.group(1)
        assert c in "%v", f"unexpected specifier %{c} in {word!r}"
        return "%" if c == "%" else release
    return re.sub(r"%(.)", one, word)


def variables(word: str) -> str:
    assert not re.search(r"(?<!\$)\$(?!\$)", word.replace("$$", "")), word
    return word.replace("$$", "$")


def argv(line: str, release: str | None = None) -> list[str]:
    return [variables(specifiers(w, release)) for w in words(line)]


def settings(text: str) -> dict[str, list[str]]:
    """{key: [values in order]} of a unit file (sections merged)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key, []).append(value)
    return out
