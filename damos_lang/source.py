"""Reading an input file: DAMOS source, or damo's JSON (kdamonds or a scheme
list), chosen by extension or by content."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import DamosError
from .ir import Program


@dataclass
class Source:
    name: str
    text: str
    kind: str  # "damos" | "damo-json"


def read_source(path: str) -> Source:
    try:
        if path == "-":
            import sys
            text = sys.stdin.read()
            name = "<stdin>"
        else:
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read()
            name = path
    except UnicodeDecodeError as e:
        raise DamosError(f"cannot read {path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise DamosError(f"cannot read {path}: {e.strerror}") from None
    if text.startswith("\ufeff"):  # a UTF-8 byte-order mark is no part of the text
        text = text[1:]
    stripped = text.lstrip()
    is_json = path.endswith(".json") or (stripped[:1] in ("{", "[") and not path.endswith(".damos"))
    return Source(name, text, "damo-json" if is_json else "damos")


def load(src: Source) -> Program:
    if src.kind == "damo-json":
        from .damo_input import parse_damo_json
        return parse_damo_json(src.text)
    from .lower import parse
    return parse(src.text)
