"""Scoring monitoring records against a workload's ground truth (used on the
host by test_kernel_accuracy.py; workloads.md §2-3).

``/bin/phases`` (rig/phases.c) logs its pid, each region's address range and
the CLOCK_MONOTONIC time each phase began.  In every phase after the
initial one, the truth is binary: the regions the phase's patterns name are
hot, every other byte of the workload is cold.  A record's aggregation is
scored when its interval lies inside one such phase, leaving out the first
two intervals after the phase began (the monitor needs them to notice).

Per aggregation, the working set is the bytes of the workload's regions
covered by monitoring regions with ``nr_accesses > 0`` (damo's ``report
wss`` restricted to the workload's own memory: the program's stack and code
are not part of the truth)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from damos_lang.monitor.masim import parse_masim
from damos_lang.report.records import Record
from damos_lang.report.spans import Span, intersect, merge, size
from damos_lang.report.wss import percentiles


@dataclass
class PhaseLog:
    pid: int
    regions: Dict[str, Span]
    phases: List[Tuple[float, str]]      # (start, name), in order
    end: float

    @property
    def layout(self) -> List[Tuple[str, int, int]]:
        return sorted((n, s, e) for n, (s, e) in self.regions.items())


def parse_phase_log(text: str) -> PhaseLog:
    pid, regions, phases, end = None, {}, [], None
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "pid":
            pid = int(f[1])
        elif f[0] == "region":
            regions[f[1]] = (int(f[2], 16), int(f[3], 16))
        elif f[0] == "phase":
            phases.append((float(f[1]), " ".join(f[2:])))
        elif f[0] == "end":
            end = float(f[1])
    if pid is None or not regions or not phases or end is None:
        raise ValueError(f"incomplete phase log:\n{text[-2000:]}")
    return PhaseLog(pid, regions, phases, end)


def active_regions(cfg: str) -> Dict[str, List[str]]:
    """Phase name -> the regions its patterns access (weight > 0)."""
    return {p.name: [a.region for a in p.patterns if a.weight > 0]
            for p in parse_masim(cfg).phases}


@dataclass
class Score:
    scored: int                  # aggregations scored
    median_wss: int
    truth_wss: List[int]         # the distinct truths (one per workload kind)
    median_rel_error: float      # |wss - truth| / truth, median over scored aggregations
    within_10pct: float          # share of scored aggregations within ±10 % of the truth
    precision: float             # byte-weighted, hot classification
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"scored": self.scored, "median_wss_bytes": self.median_wss,
                "truth_wss_bytes": self.truth_wss, "median_rel_error": round(self.median_rel_error, 4),
                "within_10pct": round(self.within_10pct, 4), "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


def score(rec: Record, log: PhaseLog, cfg: str) -> Optional[Score]:
    """None when no aggregation could be scored."""
    if rec.origin_s is None or not rec.aggr_us:
        raise ValueError(f"{rec.path}: no clock origin or aggregation interval to line it up with")
    active = active_regions(cfg)
    lo = min(s for s, _ in log.regions.values())
    hi = max(e for _, e in log.regions.values())
    aggr = rec.aggr_us / 1e6
    bounds = [t for t, _ in log.phases[1:]] + [log.end]
    errors, wss_all, truths = [], [], set()
    tp = fp = fn = 0
    prev_end = None
    for agg in rec.aggregations:
        # a monitor that falls behind its sampling schedule makes longer
        # aggregations: each spans from the previous one's end
        end = rec.origin_s + agg.time_us / 1e6
        start = end - aggr if prev_end is None else min(prev_end, end - aggr)
        prev_end = end
        k = next((i for i in range(1, len(log.phases))
                  if log.phases[i][0] + 2 * aggr <= start and end <= bounds[i]), None)
        if k is None:
            continue
        hot_truth = merge(log.regions[n] for n in active[log.phases[k][1]])
        truth = size(hot_truth)
        hot = intersect(merge((s, e) for s, e, acc, _ in agg.regions() if acc > 0), [(lo, hi)])
        wss = size(hot)
        both = size(intersect(hot, hot_truth))
        tp += both
        fp += wss - both
        fn += truth - both
        errors.append(abs(wss - truth) / truth)
        wss_all.append(wss)
        truths.add(truth)
    if not errors:
        return None
    return Score(scored=len(errors), median_wss=percentiles(wss_all, (50,))[50],
                 truth_wss=sorted(truths),
                 median_rel_error=sorted(errors)[len(errors) // 2],
                 within_10pct=sum(e <= 0.10 for e in errors) / len(errors),
                 precision=tp / (tp + fp) if tp + fp else 0.0,
                 recall=tp / (tp + fn) if tp + fn else 0.0)


def thirty_seconds(cfg: str) -> str:
    """masim's *_30secs variant of a config: a 5 s initial phase, 2.5 s phases."""
    paras = cfg.rstrip("\n").split("\n\n")
    out = [paras[0]]
    for i, para in enumerate(paras[1:]):
        lines = para.split("\n")
        k = next(j for j, ln in enumerate(lines) if ln.strip() and not ln.startswith("#"))
        lines[k + 1] = "5000" if i == 0 else "2500"
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"
