"""``damos run --record FILE``: one JSON object per line.

* line 1, ``{"type": "header", ...}``: format version, the source file,
  ``clock_origin_s`` (CLOCK_MONOTONIC seconds at ``time_us`` 0 for a real
  process; null in simulated time), the monitoring attributes (µs and region counts), the targets, and each scheme
  in kernel units (the model: action, access pattern, apply interval, quota,
  watermarks, filters);
* one ``{"type": "aggregation", ...}`` per aggregation interval: ``time_us``
  (monitor time: the sampling schedule), ``wall_us`` (a real process only:
  µs since ``clock_origin_s`` when the aggregation ended; later than
  ``time_us`` when sampling fell behind), ``aggregation`` (1-based), ``targets`` with their
  ``regions`` (``start``, ``end``, ``nr_accesses``, ``age`` in aggregation
  intervals), cumulative per-scheme ``stats`` (the kernel's names), and
  ``resident_bytes`` per target (null when unknown);
* last, ``{"type": "summary", ...}``: why it stopped and the final stats.
Every line is written whole and flushed, so a SIGINT or a kill between two
lines leaves a file whose every line is valid JSON."""
from __future__ import annotations

import dataclasses
import json
import os
from typing import IO, List, Optional

FORMAT_VERSION = 1


def _plain(obj):
    """A model record as JSON-ready dicts (locations dropped)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.compare}          # source locations are not compared, nor recorded
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return obj


def header(ctx, attrs, *, source: str, mode: str, target_ids: List[int], dry_run: bool,
           workload: Optional[str] = None, clock_origin_s: Optional[float] = None) -> dict:
    return {
        "type": "header", "format": FORMAT_VERSION, "tool": "damos run",
        "source": source, "mode": mode, "workload": workload, "dry_run": dry_run,
        "clock_origin_s": clock_origin_s,
        "attrs": {"sample_us": attrs.sample_us, "aggr_us": attrs.aggr_us,
                  "update_us": attrs.update_us, "min_nr_regions": attrs.min_nr_regions,
                  "max_nr_regions": attrs.max_nr_regions, "min_region_sz": attrs.min_region_sz},
        "ops": ctx.ops,
        "targets": target_ids,
        "schemes": [dict(index=i, **_plain(s)) for i, s in enumerate(ctx.schemes)],
    }


def aggregation(snapshot, stats: List[dict], resident: List[Optional[int]],
                wall_us: Optional[int] = None) -> dict:
    out = {
        "type": "aggregation", "time_us": snapshot.time_us, "aggregation": snapshot.aggregation,
        "targets": [{"id": t.target_id, "resident_bytes": res,
                     "regions": [{"start": r.start, "end": r.end, "nr_accesses": r.nr_accesses,
                                  "age": r.age} for r in t.regions]}
                    for t, res in zip(snapshot.targets, resident)],
        "stats": [{k: v for k, v in s.items() if k not in ("name", "action")} for s in stats],
    }
    if wall_us is not None:
        out["wall_us"] = wall_us
    return out


class Recorder:
    """Writes lines to ``path``; each one whole, then flushed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._f: IO[str] = open(path, "w")
        self.lines = 0

    def write(self, obj: dict) -> None:
        line = json.dumps(obj, separators=(",", ":")) + "\n"
        # one write call per line and an immediate flush: a signal between two
        # lines cannot leave half a line behind
        self._f.write(line)
        self._f.flush()
        self.lines += 1

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            try:
                os.fsync(self._f.fileno())
            except OSError:
                pass
            self._f.close()


def read(path: str) -> List[dict]:
    """Every line of a record file, parsed (for tests and a report command)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
