"""Reading a record from a file: a ``damos run --record`` file or a kernel
trace, told apart by their first line (records.py and trace.py parse each)."""
from __future__ import annotations

from .records import Record, RecordError, parse_record
from .trace import parse_trace


def load(path: str) -> Record:
    """A record file or a kernel trace, told apart by the first line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise RecordError(path, None, f"cannot read: {e.strerror}") from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("{"):
        return parse_record(text, path)
    return parse_trace(text, path)
