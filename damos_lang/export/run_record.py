"""A ``damos run`` session seen through its record file (``--record FILE``,
:mod:`damos_lang.run.record`): a running session has no other interface.
Each scrape reads the header (line 1) and the last whole line from the end
of the file: the last aggregation's cumulative stats, or the summary once
the session ended.  A line being written (no newline yet, or not JSON) is
skipped for the one before it."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

_BLOCK = 1 << 16


@dataclass
class RunReading:
    session: str
    running: bool
    aggregations: int
    sample_us: int | None
    aggr_us: int | None
    source: str | None
    schemes: list = field(default_factory=list)     # (index, action, stats dict)


def _header(f) -> dict | None:
    f.seek(0)
    line = f.readline()
    if not line.endswith(b"\n"):
        return None
    try:
        h = json.loads(line)
    except ValueError:
        return None
    return h if isinstance(h, dict) and h.get("type") == "header" else None


def _last_line(f, size: int):
    """The last whole line that parses as JSON (after the header), or None."""
    end = size
    tail = b""
    while end > 0:
        start = max(0, end - _BLOCK)
        f.seek(start)
        tail = f.read(end - start) + tail
        end = start
        lines = tail.split(b"\n")
        # lines[-1] is after the last newline (a line being written): never whole
        whole = lines[1:-1] if start > 0 else lines[:-1]
        for line in reversed(whole):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("type") in ("aggregation", "summary"):
                return obj
            if isinstance(obj, dict) and obj.get("type") == "header":
                return None
        if start == 0:
            return None
    return None


def read(path: str) -> RunReading | None:
    """None while the file has no header (or cannot be read)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            h = _header(f)
            if h is None:
                return None
            last = _last_line(f, size)
    except OSError:
        return None
    attrs = h.get("attrs") or {}
    actions = [s.get("action") for s in h.get("schemes", [])]
    out = RunReading(path, True, 0, attrs.get("sample_us"), attrs.get("aggr_us"),
                     h.get("source"))
    stats = [{} for _ in actions]
    if last is not None and last["type"] == "aggregation":
        out.aggregations = int(last.get("aggregation", 0))
        stats = last.get("stats") or stats
    elif last is not None:
        out.running = False
        out.aggregations = int(last.get("aggregations", 0))
        stats = last.get("stats") or stats
    for i, action in enumerate(actions):
        st = stats[i] if i < len(stats) else {}
        out.schemes.append((i, action, {k: v for k, v in st.items()
                                        if isinstance(v, int) and not isinstance(v, bool)}))
    return out
