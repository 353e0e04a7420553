"""What ``damos eval`` prints and writes: per metric, mean ± spread of each
arm, and the change of the scheme against baseline and against monitoring
alone (and of monitoring against baseline), flagged when it is inside the
run-to-run spread (:mod:`.stats`)."""
from __future__ import annotations

import io
import json
from typing import List, Optional

from . import stats
from .runner import METRICS, Run

REFERENCES = ("baseline", "monitor")


def change_pairs(arms) -> list:
    """(arm, reference) pairs reported as changes: every scheme arm against
    baseline and against monitoring alone, then monitoring against baseline."""
    pairs = [(a, r) for a in arms if a not in REFERENCES for r in REFERENCES]
    return pairs + [("monitor", "baseline")]


def summaries(runs: List[Run]) -> dict:
    """arm -> metric -> Summary (None when no run measured it)."""
    out: dict = {}
    for arm in dict.fromkeys(r.arm for r in runs):
        mine = [r for r in runs if r.arm == arm]
        out[arm] = {}
        for m in METRICS:
            vals = [getattr(r, m) for r in mine if getattr(r, m) is not None]
            out[arm][m] = stats.summarize(vals) if vals else None
    return out


def changes(summ: dict, pairs=None) -> dict:
    """"arm_vs_ref" -> metric -> Change (None when either side lacks it);
    ``pairs`` (arm, reference) instead of :func:`change_pairs`'."""
    out = {}
    for arm, ref in (change_pairs(list(summ)) if pairs is None else pairs):
        if arm in summ and ref in summ:
            out[f"{arm}_vs_{ref}"] = {
                m: (stats.change(summ[arm][m], summ[ref][m])
                    if summ[arm][m] is not None and summ[ref][m] is not None else None)
                for m in METRICS}
    return out


def _s(x: Optional[stats.Summary]) -> Optional[dict]:
    return None if x is None else {"mean": x.mean, "spread": x.spread, "n": x.n}


def _c(x: Optional[stats.Change]) -> Optional[dict]:
    return None if x is None else {"delta": x.delta, "percent": x.percent,
                                   "inside_spread": x.inside_spread}


def to_dict(result, meta: dict, pairs=None) -> dict:
    summ = summaries(result.runs)
    return {
        **meta,
        "metrics": {m: {"unit": u, "what": w} for m, (u, w) in METRICS.items()},
        "order": [f"{r.arm}#{r.index + 1}" for r in result.runs],
        "runs": [{"arm": r.arm, "index": r.index, **r.metrics(),
                  "rss_series": [[round(t, 3), round(v, 2)] for t, v, *_ in r.samples]}
                 for r in result.runs],
        "arms": {a: {m: _s(v) for m, v in ms.items()} for a, ms in summ.items()},
        "changes": {k: {m: _c(v) for m, v in cs.items()}
                    for k, cs in changes(summ, pairs).items()},
        "notes": list(result.notes),
        "stopped": result.stopped,
    }


def to_json(result, meta: dict, pairs=None) -> str:
    return json.dumps(to_dict(result, meta, pairs), indent=1) + "\n"


def _fmt(v: float, unit: str) -> str:
    if unit == "s":
        return f"{v:.3f}"
    if unit == "MiB":
        return f"{v:.1f}"
    return f"{v:.0f}"


def _cell(s: Optional[stats.Summary], unit: str) -> str:
    if s is None:
        return "n/a"
    return f"{_fmt(s.mean, unit)} ± {_fmt(s.spread, unit)}" if s.n > 1 else _fmt(s.mean, unit)


def _change(c: Optional[stats.Change]) -> str:
    if c is None:
        return "n/a"
    text = f"{c.percent:+.1f} %" if c.percent is not None else f"{c.delta:+.3g}"
    if c.inside_spread:
        text += " ~"
    return text


SHORT = {"wall_s": "wall s", "cpu_s": "user+sys s", "rss_mean_mib": "RSS mean MiB",
         "rss_peak_mib": "RSS peak MiB", "sysmem_mean_mib": "sysmem MiB",
         "swap_mean_mib": "swap MiB", "major_faults": "majflt", "damon_cpu_s": "DAMON CPU s"}


def _render(t, width: int) -> str:
    from rich.console import Console
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=False, color_system=None).print(t)
    return buf.getvalue()


def arms_table(result, width: int = 170) -> str:
    """One row per arm, one column per metric (mean ± spread): for --vary,
    whose arms are too many for a column each; the changes are its trade-off
    table's."""
    from rich.table import Table
    summ = summaries(result.runs)
    t = Table()
    t.add_column("arm", no_wrap=True)
    t.add_column("n", justify="right")
    for m in METRICS:
        t.add_column(SHORT[m], justify="right", no_wrap=True)
    for a, ms in summ.items():
        n = max((s.n for s in ms.values() if s is not None), default=0)
        t.add_row(a, str(n), *(_cell(ms[m], METRICS[m][0]) for m in METRICS))
    return _render(t, width)


def table(result, width: int = 170, pairs=None) -> str:
    """The terminal table (plain text; rich draws it)."""
    from rich.table import Table
    summ = summaries(result.runs)
    if len(summ) > 3:
        return arms_table(result, width)
    ch = changes(summ, pairs)
    arms = list(summ)
    t = Table(title=None, show_lines=False)
    t.add_column("metric", no_wrap=True)
    for a in arms:
        n = max((s.n for s in summ[a].values() if s is not None), default=0)
        t.add_column(f"{a} (n={n})", justify="right", no_wrap=True)
    for k in ch:
        t.add_column(k.replace("_vs_", " vs "), justify="right", no_wrap=True)
    for m, (unit, what) in METRICS.items():
        row = [what + (f" [{unit}]" if unit else "")]
        row += [_cell(summ[a][m], unit) for a in arms]
        row += [_change(ch[k][m]) for k in ch]
        t.add_row(*row)
    out = _render(t, width)
    if ch:
        out += ("~: the change is inside the run-to-run spread (|Δmean| <= the two spreads); "
                "more repeats or a longer run may tell\n")
    return out


def rss_plot(result, path: str, title: str) -> None:
    """RSS over time: the first run of each arm."""
    from ..report.plot import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    seen = set()
    for r in result.runs:
        if r.arm in seen or not r.samples:
            continue
        seen.add(r.arm)
        ax.plot([s[0] for s in r.samples], [s[1] for s in r.samples], label=r.arm)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("workload RSS (MiB)")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
