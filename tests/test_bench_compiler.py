"""bench/bench_compiler.py and bench/bench_damo.py produce their rows, and
write nothing outside their temporary directories.  No timing is asserted:
only the rows' names and shape (small sizes keep the test short)."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_compiler, bench_damo  # noqa: E402
from damos_lang.targets import names  # noqa: E402

import damo_oracle  # noqa: E402

SKIP_DIRS = {".git", ".venv", "build", "__pycache__", ".pytest_cache", ".hypothesis",
             "damos_lang.egg-info"}


def tree(root: Path) -> set[str]:
    """Every file under root, but caches and build output."""
    out = set()
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
        out.update(os.path.relpath(os.path.join(d, f), root) for f in files)
    return out


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """TMPDIR pointed at an empty directory for the run, checked after it:
    empty again (every temporary directory removed), and no new file in the
    checkout."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    before = tree(ROOT)
    yield tmp
    assert list(tmp.iterdir()) == []
    assert tree(ROOT) - before == set()


def check_shape(rows: list[dict]) -> None:
    for row in rows:
        assert set(row) <= {"name", "value", "unit", "goal", "baseline", "ratio", "note"}, row
        assert row["name"] and "value" in row and "unit" in row, row
        if row["value"] == "n/a":
            assert row["note"], row
        else:
            assert isinstance(row["value"], float) and row["value"] > 0, row
            assert row["unit"] in ("s", "ms"), row
        if row.get("ratio") is not None:
            assert row["ratio"] > 0 and row["baseline"] > 0, row


def test_bench_compiler_rows(private_tmp):
    rows = bench_compiler.run(True, m=20)
    check_shape(rows)
    by_name = {r["name"]: r for r in rows}
    assert "CLI start-up: compile ethp.damos -t sysfs" in by_name
    for target in names():           # every target has its row
        assert f"compile 20 schemes -t {target}" in by_name
    for target in ("sysfs", "sysfs-plan", "damo-json", "damos", "c-module", "debugfs"):
        assert isinstance(by_name[f"compile 20 schemes -t {target}"]["value"], float)
    for target, says in (("reclaim", "DAMON_RECLAIM cannot express 20 schemes"),
                         ("lru-sort", "DAMON_LRU_SORT cannot express")):
        row = by_name[f"compile 20 schemes -t {target}"]
        assert row["value"] == "n/a"
        assert "big20.damos:" in row["note"] and ": error: " in row["note"]
        assert says in row["note"] and "\n" not in row["note"]


def test_bench_compiler_debugfs_limit_is_a_row(private_tmp):
    """Past debugfs's 256 schemes, the row carries the compiler's error."""
    rows = bench_compiler.run(True, m=300)
    row = {r["name"]: r for r in rows}["compile 300 schemes -t debugfs"]
    assert row["value"] == "n/a"
    assert "error: debugfs cannot express more than 256 schemes" in row["note"]


def test_bench_damo_rows(private_tmp):
    rows = bench_damo.run(True, n=20)
    check_shape(rows)
    assert [r["name"] for r in rows] == bench_damo.row_names(20)
    if not damo_oracle.damo_available():
        assert all(r["value"] == "n/a" and r["note"].startswith("n/a: ") for r in rows)
        return
    measured = [r for r in rows if r["value"] != "n/a"]
    assert [r["name"] for r in measured] == [bench_damo.row_names(20)[i] for i in (0, 1, 3)]
    for r in measured:
        assert r["ratio"] is not None and "damo" in r["note"]
    assert "n/a: not run in --quick" in rows[2]["note"]


def test_bench_damo_without_damo(private_tmp, monkeypatch):
    """No damo: every row says n/a and why, nothing fails."""
    monkeypatch.setattr(bench_damo, "oracle", lambda: (None, "damo is not installed"))
    rows = bench_damo.run(True, n=20)
    assert [r["name"] for r in rows] == bench_damo.row_names(20)
    assert all(r["value"] == "n/a" and r["note"] == "n/a: damo is not installed" for r in rows)
