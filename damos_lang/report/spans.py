"""Address spans ``(start, end)``, end exclusive: merging, intersecting and
measuring sets of them (the heatmap's collapsed axis, compare's hot sets)."""
from __future__ import annotations

from typing import Iterable, List, Sequence, Tuple

Span = Tuple[int, int]


def merge(spans: Iterable[Span]) -> List[Span]:
    """Sorted, with overlapping and touching spans joined."""
    out: List[List[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def intersect(a: Sequence[Span], b: Sequence[Span]) -> List[Span]:
    """The bytes in both; a and b merged (see merge)."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def size(spans: Iterable[Span]) -> int:
    return sum(e - s for s, e in spans)
