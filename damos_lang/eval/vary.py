"""``--vary SETTING=V1,V2,...`` (one or two at a time): variants of the file,
each a scheme arm of its own, and the trade-off they make -- memory saved
against runtime lost, against baseline -- with the Pareto front marked.

A value is written in the language's own syntax and lowered by the
language's own parser (a one-scheme program with the file's monitoring
intervals, so an age in seconds becomes the same count of aggregation
intervals the file's would), and the lowered field replaces that field of
every scheme of the file."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Callable, List, Sequence, Tuple

from ..errors import DamosError
from ..model import Quota
from . import stats


def _age(s, t):
    return replace(s, pattern=replace(s.pattern, age_min=t.pattern.age_min))


def _size(s, t):
    return replace(s, pattern=replace(s.pattern, sz_min=t.pattern.sz_min))


def _quota(field):
    def put(s, t):
        q = s.quota or Quota(reset_interval_ms=t.quota.reset_interval_ms or 1000)
        return replace(s, quota=replace(q, **{field: getattr(t.quota, field)}))
    return put


# setting -> (the scheme text that says it, how its lowered field goes into a scheme)
SETTINGS: dict[str, Tuple[str, Callable]] = {
    "age": ("age {v}..max", _age),
    "size": ("size {v}..max", _size),
    "quota.size": ("quota {{\n        size {v}\n        reset 1s\n    }}", _quota("sz")),
    "quota.time": ("quota {{\n        time {v}\n        reset 1s\n    }}", _quota("ms")),
    "quota.reset": ("quota {{\n        size 1G\n        reset {v}\n    }}",
                    _quota("reset_interval_ms")),
}


@dataclass(frozen=True)
class Axis:
    setting: str
    values: Tuple[str, ...]


def parse_vary(specs: Sequence[str]) -> List[Axis]:
    """``['age=1s,5s', 'quota.size=64M,1G']`` -> axes (at most two)."""
    axes = []
    for spec in specs:
        name, eq, vals = spec.partition("=")
        name = name.strip()
        values = tuple(v.strip() for v in vals.split(",") if v.strip())
        if not eq or not values:
            raise DamosError(f"--vary {spec!r}: write SETTING=V1,V2,... (e.g. age=1s,5s,30s)")
        if name not in SETTINGS:
            raise DamosError(f"--vary {spec!r}: {name!r} is not a setting it can vary "
                             f"(one of {', '.join(SETTINGS)})")
        if any(a.setting == name for a in axes):
            raise DamosError(f"--vary {name} is given twice")
        axes.append(Axis(name, values))
    if len(axes) > 2:
        raise DamosError("--vary takes one or two settings at a time")
    return axes


def _lowered(setting: str, value: str, ctx):
    from ..pipeline import unit_from_text
    iv = ctx.intervals
    line = SETTINGS[setting][0].format(v=value)
    text = (f"monitor {{\n    ops {ctx.ops}\n    sample {iv.sample_us}us\n"
            f"    aggr {iv.aggr_us}us\n    update {iv.update_us}us\n}}\n"
            + ("target region 0x100000..0x40000000\n" if ctx.ops == "paddr" else "")
            + f"scheme {{\n    action stat\n    {line}\n}}\n")
    try:
        return unit_from_text(text, f"--vary {setting}={value}").context.schemes[0]
    except DamosError as e:
        raise DamosError(f"--vary {setting}={value}: {e.diagnostic.message}") from None


def variants(unit, axes: List[Axis]) -> List[Tuple[str, object]]:
    """(arm name, unit) of every combination of the axes' values, in order."""
    out = []
    ctx = unit.context
    for combo in itertools.product(*(a.values for a in axes)):
        schemes = list(ctx.schemes)
        for axis, value in zip(axes, combo):
            t = _lowered(axis.setting, value, ctx)
            schemes = [SETTINGS[axis.setting][1](s, t) for s in schemes]
        name = ",".join(f"{a.setting}={v}" for a, v in zip(axes, combo))
        out.append((name, replace(unit, context=replace(ctx, schemes=tuple(schemes)))))
    return out


def tradeoff(summaries: dict, arms: List[str], memory: str = "rss_mean_mib",
             runtime: str = "wall_s") -> List[dict]:
    """Per variant: memory saved and runtime lost in percent of baseline, and
    whether it is on the Pareto front."""
    base = summaries["baseline"]
    rows = []
    for a in arms:
        mem = stats.change(summaries[a][memory], base[memory])
        rt = stats.change(summaries[a][runtime], base[runtime])
        rows.append({"arm": a, "memory_saved_percent": -(mem.percent or 0.0),
                     "runtime_lost_percent": rt.percent or 0.0,
                     "memory_inside_spread": mem.inside_spread,
                     "runtime_inside_spread": rt.inside_spread})
    front = set(stats.pareto_front([(r["memory_saved_percent"], r["runtime_lost_percent"])
                                    for r in rows]))
    for i, r in enumerate(rows):
        r["pareto"] = i in front
    return rows


def text(rows: List[dict]) -> str:
    w = max([len(r["arm"]) for r in rows] + [7])
    out = [f"{'variant':<{w}}  memory saved  runtime lost  Pareto"]
    for r in rows:
        m = f"{r['memory_saved_percent']:+.1f} %" + (" ~" if r["memory_inside_spread"] else "")
        t = f"{r['runtime_lost_percent']:+.1f} %" + (" ~" if r["runtime_inside_spread"] else "")
        out.append(f"{r['arm']:<{w}}  {m:>12}  {t:>12}  {'*' if r['pareto'] else ''}")
    out.append("memory saved: RSS mean against baseline; runtime lost: wall time against "
               "baseline; *: on the Pareto front (no variant saves more for less)")
    return "\n".join(out) + "\n"


def plot(rows: List[dict], path: str, title: str) -> None:
    from ..report.plot import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    xs = [r["runtime_lost_percent"] for r in rows]
    ys = [r["memory_saved_percent"] for r in rows]
    ax.scatter(xs, ys, color="tab:blue", zorder=3)
    for r, x, y in zip(rows, xs, ys):
        ax.annotate(r["arm"], (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    front = sorted((x, y) for r, x, y in zip(rows, xs, ys) if r["pareto"])
    if front:
        ax.plot([p[0] for p in front], [p[1] for p in front], color="tab:red", marker="o",
                linestyle="--", zorder=4, label="Pareto front")
        ax.legend()
    ax.set_xlabel("runtime lost vs baseline (%)")
    ax.set_ylabel("memory saved vs baseline (RSS mean, %)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
