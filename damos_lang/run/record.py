"""``damos run --record FILE``: one JSON object per line.

* line 1, ``{"type": "header", ...}``: format version, the source file,
  ``clock_origin_s`` (CLOCK_MONOTONIC seconds at ``time_us`` 0 for a real
  process; null in simulated time), the monitoring attributes (µs and region counts), the targets
  (``targets``: their ids; ``target_info``: each one's ``id``, ``name`` (its
  command line), ``origin`` (``--pid``, ``command``, ``cgroup PATH``,
  ``child of N``)), ``intervals_goal`` (the file's, or null) and ``max_cpu``
  (the --max-cpu percent, or null), and each scheme in kernel units (the model: action,
  access pattern, apply interval, quota, watermarks, filters);
* one ``{"type": "aggregation", ...}`` per aggregation interval: ``time_us``
  (monitor time: the sampling schedule), ``wall_us`` (a real process only:
  µs since ``clock_origin_s`` when the aggregation ended; later than
  ``time_us`` when sampling fell behind), ``aggregation`` (1-based), ``targets`` with their
  ``regions`` (``start``, ``end``, ``nr_accesses``, ``age`` in aggregation
  intervals), cumulative per-scheme ``stats`` (the kernel's names),
  ``resident_bytes`` per target (null when unknown), ``sample_us`` and
  ``aggr_us`` (the intervals this aggregation was sampled with: they move
  with ``intervals_goal`` or ``--max-cpu``), ``tuned`` when the intervals
  changed since the line before (at the end of the previous aggregation;
  this line's intervals are the result): a list of ``by`` (intervals_goal or
  max_cpu), ``old_sample_us``, ``sample_us``, ``aggr_us``, ``score_bp`` (the
  goal tuner's score) or ``cpu_percent`` (the budget's window), ``time_us``;
  ``samples`` when the
  monitor fell behind and took fewer than aggr_us / sample_us samples (the
  regions' ``nr_accesses`` are then scaled to the full count); when targets
  came or went since the line before, ``targets_added`` (``id``, ``name``,
  ``origin``, ``time_us``) and ``targets_gone`` (``id``, ``why``, ``time_us``);
* last, ``{"type": "summary", ...}``: why it stopped, the final stats,
  ``samples_taken`` of ``samples_due``, ``intervals`` (the file's and the
  final ``sample_us``/``aggr_us``, ``tunings`` made), ``max_cpu`` (with
  ``--max-cpu``: the budget, the widest sampling interval it set, the CPU of
  its last window), and every target of the run with
  when it came and went (``start_us``, ``end_us``) and why it ended (``end``,
  null for one monitored to the end).
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
           workload: Optional[str] = None, clock_origin_s: Optional[float] = None,
           target_info: Optional[List[dict]] = None, max_cpu: Optional[float] = None) -> dict:
    g = attrs.intervals_goal
    return {
        "type": "header", "format": FORMAT_VERSION, "tool": "damos run",
        "source": source, "mode": mode, "workload": workload, "dry_run": dry_run,
        "clock_origin_s": clock_origin_s,
        "attrs": {"sample_us": attrs.sample_us, "aggr_us": attrs.aggr_us,
                  "update_us": attrs.update_us, "min_nr_regions": attrs.min_nr_regions,
                  "max_nr_regions": attrs.max_nr_regions, "min_region_sz": attrs.min_region_sz},
        "intervals_goal": None if g is None else {
            "access_bp": g.access_bp, "aggrs": g.aggrs, "min_sample_us": g.min_sample_us,
            "max_sample_us": g.max_sample_us},
        "max_cpu": max_cpu,
        "ops": ctx.ops,
        "targets": target_ids,
        "target_info": target_info or [],
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
    if snapshot.sample_us is not None:
        out["sample_us"], out["aggr_us"] = snapshot.sample_us, snapshot.aggr_us
    if wall_us is not None:
        out["wall_us"] = wall_us
    if snapshot.samples is not None:
        out["samples"] = snapshot.samples
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
