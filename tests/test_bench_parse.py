"""The front-end bench's memory rows measure the load itself: a file ten times
larger costs more, and neither reads 0 (the README once showed 0 MiB for a load
that allocates tens of MiB)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_parse  # noqa: E402


def _memory(rows) -> tuple[float, str]:
    r = next(r for r in rows if r["name"].startswith("peak memory"))
    return r["value"], r["note"]


def test_peak_memory_of_a_load_grows_with_the_file():
    small, _ = _memory(bench_parse.load_rows("b", bench_parse.block_file(300), 300,
                                             "block schemes", "", 1))
    big, note = _memory(bench_parse.load_rows("b", bench_parse.block_file(3000), 3000,
                                              "block schemes", "", 1))
    assert small > 0.5, small
    assert big > 3 * small, (small, big)
    assert "tracemalloc" in note and "VmHWM" in note


def test_tracemalloc_sees_the_legacy_load_too():
    with_lines = Path(ROOT / "build")
    with_lines.mkdir(exist_ok=True)
    path = with_lines / "bench-legacy-2000.damos"
    path.write_text(bench_parse.legacy_file(2000))
    assert bench_parse.traced_peak_mib(str(path)) > 1.0
