"""The access heatmap: time on x, address on y (the gaps between mappings
collapsed), access frequency as colour; where and when each scheme acted,
overlaid.

The grid is computed in plain Python (the terminal rendering needs nothing
else); the PNG needs matplotlib (``pip install 'damos-lang[report]'``).

What a record says about the schemes: cumulative per-scheme stats per
aggregation, not which regions an action was applied to.  So the overlay
shows *when* exactly (the aggregations in which ``sz_applied`` grew, and by
how much, in a strip above the map) and *where* as an inference: the
regions that were in the scheme's access pattern in that aggregation (the
regions are recorded before the engine acts).  A quota can make the engine
apply to only some of them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from .plot import pyplot
from .records import Record, applied_deltas, matches_pattern
from .spans import merge
from .wss import clip, select

CMAP = "viridis"        # luminance grows with the value: readable in grey, and testable


def segments(rec: Record, positions, addr_range=None) -> List[Tuple[int, int]]:
    """The address ranges the regions cover, merged: the gaps between them
    (unmapped address space) are collapsed in the picture."""
    return merge({(s, e) for i in positions
                  for s, e, _, _ in clip(rec.aggregations[i].regions(), addr_range)})


@dataclass
class Grid:
    """``values[row][col]``: byte-weighted mean nr_accesses of address band
    ``row`` (row 0 = lowest addresses) in time column ``col``; None where no
    region covered the band."""
    values: List[List[Optional[float]]]
    segments: List[Tuple[int, int]]
    total: int                       # collapsed bytes
    col_times_us: List[Tuple[int, int]]   # (start, end] of each column
    col_positions: List[List[int]]        # aggregation positions in each column
    max_nr_accesses: int

    @property
    def rows(self) -> int:
        return len(self.values)

    def address_at(self, offset: float) -> int:
        """The address at a collapsed offset."""
        base = 0
        for s, e in self.segments:
            if offset < base + (e - s):
                return s + int(offset - base)
            base += e - s
        return self.segments[-1][1] - 1

    def offset_of(self, addr: int) -> Optional[int]:
        base = 0
        for s, e in self.segments:
            if s <= addr < e:
                return base + addr - s
            base += e - s
        return None


def grid(rec: Record, rows: int, max_cols: int, addr_range=None, time_range=None) -> Grid:
    positions = select(rec, time_range)
    if not positions:
        raise ValueError("no aggregation in the time window")
    segs = segments(rec, positions, addr_range)
    if not segs:
        raise ValueError("no region in the address range")
    bases, base = [], 0
    for s, e in segs:
        bases.append(base)
        base += e - s
    total = base
    rows = max(1, min(rows, total // 4096 or 1))
    band = total / rows
    step = max(1, -(-len(positions) // max_cols))
    cols = [positions[i:i + step] for i in range(0, len(positions), step)]
    values: List[List[Optional[float]]] = [[None] * len(cols) for _ in range(rows)]
    col_times = []
    for c, chunk in enumerate(cols):
        first, last = rec.aggregations[chunk[0]], rec.aggregations[chunk[-1]]
        col_times.append((first.time_us - rec.aggr_us_of(first), last.time_us))
        acc_sum = [0.0] * rows
        cov = [0.0] * rows
        for pos in chunk:
            for s, e, acc, _ in clip(rec.aggregations[pos].regions(), addr_range):
                k = _segment_index(segs, s)
                if k is None:
                    continue
                o0, o1 = bases[k] + s - segs[k][0], bases[k] + e - segs[k][0]
                r0, r1 = int(o0 // band), min(rows - 1, int((o1 - 1) // band))
                for r in range(r0, r1 + 1):
                    ov = min(o1, (r + 1) * band) - max(o0, r * band)
                    if ov > 0:
                        acc_sum[r] += acc * ov
                        cov[r] += ov
        for r in range(rows):
            if cov[r] > 0:
                values[r][c] = acc_sum[r] / cov[r]
    return Grid(values, segs, total, col_times, cols, rec.max_nr_accesses)


def _segment_index(segs, addr: int) -> Optional[int]:
    lo, hi = 0, len(segs)
    while lo < hi:
        mid = (lo + hi) // 2
        if segs[mid][1] <= addr:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(segs) and segs[lo][0] <= addr < segs[lo][1] else None


# --- the terminal -------------------------------------------------------------
CHARS = ".:-=+*#%@"      # nr_accesses 0 is '.', the maximum '@'; no region is ' '


def _char(v: Optional[float], top: int) -> str:
    if v is None:
        return " "
    if v <= 0:
        return CHARS[0]
    return CHARS[1 + min(len(CHARS) - 2, int(v / top * (len(CHARS) - 1)))]


def terminal(rec: Record, rows: int = 24, cols: int = 72, addr_range=None, time_range=None) -> str:
    g = grid(rec, rows, cols, addr_range, time_range)
    top = g.max_nr_accesses
    ncols = len(g.col_times_us)
    out = [f"{rec.path}: {rec.kind}; address (gaps collapsed) by time; "
           f"access frequency '{CHARS[0]}' 0 .. '{CHARS[-1]}' {top} samples"]
    for r in reversed(range(g.rows)):
        addr = g.address_at(r * g.total / g.rows)
        out.append(f"{addr:#16x} |" + "".join(_char(v, top) for v in g.values[r]) + "|")
    t0, t1 = g.col_times_us[0][0] / 1e6, g.col_times_us[-1][1] / 1e6
    left, right = f"{t0:.1f} s", f"{t1:.1f} s"
    out.append(" " * 18 + left + " " * max(1, ncols - len(left) - len(right)) + right)
    deltas = applied_deltas(rec)
    for idx in sorted(deltas):
        hit = {p for p, _ in deltas[idx]}
        marks = "".join("^" if hit.intersection(chunk) else " " for chunk in g.col_positions)
        out.append(f"{'applied':>16} |{marks}| {rec.scheme_label(idx)}")
    if deltas:
        out.append(" " * 18 + "(^: the aggregations in which the scheme's sz_applied grew)")
    return "\n".join(out) + "\n"


# --- the PNG -----------------------------------------------------------------
@dataclass
class Layout:
    """Where the map is in the PNG, for reading the pixels back: the axes'
    box in image pixels (left, top, right, bottom; y grows downward)."""
    box: Tuple[int, int, int, int]
    width: int
    height: int
    t0_s: float
    t1_s: float
    grid: Grid

    def time_at(self, x: float) -> float:
        l, _, r, _ = self.box
        return self.t0_s + (x + 0.5 - l) / (r - l) * (self.t1_s - self.t0_s)

    def address_at(self, y: float) -> int:
        _, t, _, b = self.box
        return self.grid.address_at((b - y - 0.5) / (b - t) * self.grid.total)


def draw_map(ax, g: Grid):
    """The grid into ``ax``: colours, a white line at each collapsed gap
    between mappings, addresses at even steps.  Returns the image."""
    from matplotlib.colors import Normalize
    top = g.max_nr_accesses
    data = [[float("nan") if v is None else 100.0 * v / top for v in row] for row in g.values]
    t0, t1 = g.col_times_us[0][0] / 1e6, g.col_times_us[-1][1] / 1e6
    im = ax.imshow(data, origin="lower", aspect="auto", interpolation="nearest", cmap=CMAP,
                   norm=Normalize(0, 100), extent=(t0, t1, 0, g.total))
    base = 0
    for s_, e_ in g.segments[:-1]:
        base += e_ - s_
        ax.axhline(base, color="white", lw=0.8)
    ticks = [g.total * i / 10 for i in range(11)]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{g.address_at(min(t, g.total - 1)):#x}" for t in ticks], fontsize=7)
    ax.set_ylim(0, g.total)
    ax.set_xlim(t0, t1)
    ax.set_ylabel("address (gaps between mappings collapsed)")
    return im


def png(rec: Record, output: str, addr_range=None, time_range=None, rows: int = 256,
        max_cols: int = 1200, dpi: int = 100) -> Layout:
    plt = pyplot()
    from matplotlib.patches import Rectangle
    g = grid(rec, rows, max_cols, addr_range, time_range)
    t0, t1 = g.col_times_us[0][0] / 1e6, g.col_times_us[-1][1] / 1e6
    deltas = applied_deltas(rec)
    fig = plt.figure(figsize=(10, 6.2), dpi=dpi)
    strip_h = 0.10 if deltas else 0.0
    ax = fig.add_axes([0.14, 0.12, 0.70, 0.78 - strip_h])
    cax = fig.add_axes([0.86, 0.12, 0.02, 0.78 - strip_h])
    im = draw_map(ax, g)
    cb = fig.colorbar(im, cax=cax)
    cb.set_label("access frequency (% of samples)")
    ax.set_xlabel("time (s)")
    colours = ["#ff3b30", "#ff9500", "#ff2d95", "#00c7be"]
    handles = []
    exact = any(agg.acted for agg in rec.aggregations)
    if deltas:
        sax = fig.add_axes([0.14, 0.91 - strip_h, 0.70, strip_h - 0.01], sharex=ax)
        for idx in sorted(deltas):
            colour = colours[idx % len(colours)]
            scheme = rec.schemes[idx] if idx < len(rec.schemes) else {}
            xs, hs, ws = [], [], []
            for pos, nbytes in deltas[idx]:
                agg = rec.aggregations[pos]
                t = agg.time_us / 1e6
                if not (t0 < t <= t1):
                    continue
                aggr = rec.aggr_us_of(agg) / 1e6     # retuned intervals: its own
                xs.append(t - aggr / 2)
                hs.append(nbytes / (1 << 20))
                ws.append(max(aggr, (t1 - t0) / 1000))
                for s, e, acc, age in where_acted(agg, idx, scheme, addr_range):
                    o = g.offset_of(s)
                    if o is None:
                        continue
                    ax.add_patch(Rectangle((t - max(aggr, 1e-9), o), max(aggr, 1e-9), e - s,
                                           fill=False, edgecolor=colour, lw=0.6))
            sax.bar(xs, hs, width=ws, color=colour)
            handles.append(Rectangle((0, 0), 1, 1, fill=False, edgecolor=colour,
                                     label=f"{rec.scheme_label(idx)} applied: "
                                           + ("the regions it acted on" if exact else
                                              "regions in its pattern then")))
        sax.set_ylabel("MiB\napplied", fontsize=7)
        sax.tick_params(labelbottom=False, labelsize=7)
        sax.set_title(_title(rec), fontsize=9)
        sax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
        if exact:
            fig.text(0.14, 0.015, "The bars are the bytes applied per aggregation (sz_applied "
                     "growth); the outlines, the regions the kernel's damos_before_apply event "
                     "named.", fontsize=7)
        else:
            fig.text(0.14, 0.015, "The record has per-scheme stats, not per-region actions: the "
                     "bars are the bytes applied per aggregation (sz_applied growth); the "
                     "outlines, the regions\nin the scheme's access pattern in those aggregations "
                     "(a quota may have limited the action to some of them).", fontsize=7)
    else:
        ax.set_title(_title(rec), fontsize=9)
    fig.canvas.draw()
    w, h = fig.canvas.get_width_height()
    bb = ax.get_window_extent()
    box = (int(round(bb.x0)), int(round(h - bb.y1)), int(round(bb.x1)), int(round(h - bb.y0)))
    fig.savefig(output, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return Layout(box, w, h, t0, t1, g)


def where_acted(agg, idx: int, scheme: dict, addr_range=None):
    """The regions scheme ``idx`` acted on in ``agg``: exactly, when the
    record names them (a trace's damos_before_apply), else those in its
    access pattern (the candidates: a quota may have cut the action short)."""
    acted = [(a.start, a.end, a.nr_accesses, a.age) for a in agg.acted if a.scheme == idx]
    if agg.acted:
        return clip(acted, addr_range)
    return [r for r in clip(agg.regions(), addr_range) if matches_pattern(scheme, r)]


def _title(rec: Record) -> str:
    what = f" ({rec.workload})" if rec.workload else ""
    return f"{rec.path}: {rec.kind}{what}"
