"""What ``damos run`` shows: a live table (rich) on a terminal, a progress
line every few seconds of monitored time otherwise, and a summary at the end."""
from __future__ import annotations

import time
from typing import List, Optional

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..units import format_bytes


def size(n: Optional[int]) -> str:
    return "-" if n is None else format_bytes(n)


def secs(us: int) -> str:
    return f"{us / 1e6:.1f} s"


def interval(us: int) -> str:
    """A monitoring interval: '5 ms', '37.5 ms', '1.2 s'."""
    if us < 1000:
        return f"{us} us"
    if us < 1_000_000:
        return f"{us / 1000:.4g} ms"
    return f"{us / 1e6:.4g} s"


def _heat_bar(snapshot, samples: int, width: int = 60) -> Text:
    """The address space of the first target as a strip: each cell coloured by
    the size-weighted nr_accesses of the regions under it."""
    t = snapshot.targets[0]
    if not t.regions:
        return Text("")
    total = sum(r.size for r in t.regions)
    cells = [0.0] * width
    weight = [0] * width
    pos = 0
    for r in t.regions:
        first = pos * width // total
        last = max(first, (pos + r.size - 1) * width // total)
        for c in range(first, min(last, width - 1) + 1):
            cells[c] += r.nr_accesses * r.size
            weight[c] += r.size
        pos += r.size
    out = Text()
    for c in range(width):
        v = cells[c] / weight[c] / max(1, samples) if weight[c] else 0.0
        out.append("█" if v > 0.5 else "▓" if v > 0.2 else "▒" if v > 0 else "░",
                   style="red" if v > 0.5 else "yellow" if v > 0.2 else "green" if v > 0
                   else "blue")
    return out


class LiveView:
    """A rich Live table, refreshed at most 4 times a second."""

    def __init__(self, console: Optional[Console] = None) -> None:
        self.console = console or Console()
        self.live: Optional[Live] = None
        self._last = 0.0
        self._pending = None

    def start(self, session) -> None:
        self.session = session
        self.live = Live(Text("starting..."), console=self.console, refresh_per_second=4,
                         transient=False)
        self.live.start()

    def update(self, session, snapshot, stats: List[dict], resident) -> None:
        self._pending = (session, snapshot, stats, resident)
        now = time.monotonic()
        if now - self._last < 0.25 or self.live is None:
            return
        self._last = now
        self.live.update(self.render(*self._pending))
        self._pending = None

    def render(self, session, snapshot, stats, resident):
        cpu = time.process_time() - session.cpu0
        cpu_pct = 100.0 * cpu / (snapshot.time_us / 1e6) if snapshot.time_us else 0.0
        regions = [r for t in snapshot.targets for r in t.regions]
        hot = snapshot.bytes_with_accesses()
        total = sum(r.size for r in regions)
        head = Table.grid(padding=(0, 2))
        head.add_row("time", secs(snapshot.time_us), "regions", str(len(regions)),
                     "monitor CPU", f"{cpu_pct:.1f} %")
        res = sum(r for r in resident if r is not None) if all(r is not None for r in resident) else None
        head.add_row("hot", size(hot), "cold", size(total - hot), "resident", size(res))
        m = getattr(session, "monitor", None)
        if m is not None and (m.tuner is not None or m.cpu_budget is not None):
            head.add_row("sample", interval(m.attrs.sample_us), "aggr", interval(m.attrs.aggr_us),
                         "tunings", str(len(m.tunings)))
        schemes = Table(title=None, expand=False)
        for col in ("scheme", "action", "tried", "applied", "qt_exceeds"):
            schemes.add_column(col, justify="right" if col not in ("scheme", "action") else "left")
        for s in stats:
            schemes.add_row(s["name"], s["action"], f"{s['nr_tried']} / {size(s['sz_tried'])}",
                            f"{s['nr_applied']} / {size(s['sz_applied'])}", str(s["qt_exceeds"]))
        return Group(head, _heat_bar(snapshot, session.attrs.samples_per_aggr), schemes)

    def stop(self) -> None:
        if self.live is not None:
            if self._pending is not None:            # the last state, not one 0.25 s old
                self.live.update(self.render(*self._pending))
            self.live.stop()
            self.live = None


class PlainView:
    """One line every ``every_us`` of monitored time (for logs and pipes)."""

    def __init__(self, print_fn=print, every_us: int = 5_000_000) -> None:
        self.print = print_fn
        self.every_us = every_us
        self._next = every_us

    def start(self, session) -> None:
        pass

    def update(self, session, snapshot, stats, resident) -> None:
        if snapshot.time_us < self._next:
            return
        self._next = snapshot.time_us // self.every_us * self.every_us + self.every_us
        res = sum(resident) if all(r is not None for r in resident) else None
        applied = " ".join(f"{s['action']}:{size(s['sz_applied'])}" for s in stats)
        self.print(f"{secs(snapshot.time_us):>8}  regions {sum(len(t.regions) for t in snapshot.targets):4}"
                   f"  hot {size(snapshot.bytes_with_accesses()):>10}"
                   f"  resident {size(res):>10}  applied {applied}")

    def stop(self) -> None:
        pass


def interval_lines(s) -> List[str]:
    """What intervals_goal and --max-cpu did to the intervals."""
    out = []
    g = getattr(s, "intervals_goal", None)
    if g:
        n = sum(1 for t in s.tunings if t["by"] == "intervals_goal")
        out.append(f"  intervals_goal (access {g['access_bp'] / 100:g} %, every {g['aggrs']} "
                   f"aggregations, sampling {interval(g['min_sample_us'])}.."
                   f"{interval(g['max_sample_us'])}): sampling {interval(s.sample_us)} -> "
                   f"{interval(s.final_sample_us)}, aggregation {interval(s.aggr_us)} -> "
                   f"{interval(s.final_aggr_us)} ({n} tunings)")
    c = getattr(s, "max_cpu", None)
    if c:
        cpu = ("no full window measured" if c["last_cpu_percent"] is None
               else f"CPU {c['last_cpu_percent']:.1f} % in the last window")
        if c["widest_sample_us"] > c["file_sample_us"]:
            did = (f"sampling widened {interval(c['file_sample_us'])} -> "
                   f"{interval(c['widest_sample_us'])}")
            if c["final_floor_us"] < c["widest_sample_us"]:
                did += f", then back to {interval(c['final_floor_us'])}"
        else:
            did = f"sampling not widened ({interval(c['file_sample_us'])})"
        out.append(f"  --max-cpu {c['percent']:g}%: {did}; {cpu}")
    return out


def summary_lines(s) -> List[str]:
    """The summary as plain lines."""
    out = [f"damos run: stopped: {s.reason}"]
    what = f"simulated workload {s.workload}" if s.mode == "sim" else f"{s.mode} mode"
    out.append(f"  monitored {secs(s.time_us)} ({what}) in {s.wall_s:.1f} s wall, "
               f"{s.aggregations} aggregations, damos run CPU {s.cpu_s:.2f} s "
               f"({s.cpu_percent:.1f} % of the monitored time)")
    if s.fell_behind:
        due = max(1, s.samples_due)
        out.append(f"  fell behind: took {s.samples_taken} of {s.samples_due} samples "
                   f"({100.0 * s.samples_taken / due:.1f} %) the sampling interval asked for; "
                   f"each aggregation's nr_accesses scaled to its {s.samples_per_aggr} samples")
    out.extend(interval_lines(s))
    if s.mode != "sim" and s.targets:
        out.extend(target_lines(s))
    if s.crossings:
        c = s.crossings
        out.append(f"  page_idle: {c['total']:.2f} kernel crossings per region-sample "
                   f"(pagemap reads {c['pagemap_reads']:.2f}, bitmap writes "
                   f"{c['bitmap_writes']:.2f}, bitmap reads {c['bitmap_reads']:.2f}, "
                   f"kpageflags reads {c['kpageflags_reads']:.2f})")
    if s.regions:
        out.append(f"  last aggregation: {s.regions} regions, {size(s.hot_bytes)} accessed "
                   f"of {size(s.total_bytes)} monitored")
    if s.resident_start is not None or s.resident_end is not None:
        line = f"  resident: {size(s.resident_start)} at start, {size(s.resident_end)} at the end"
        if s.resident_min is not None:
            line += f", lowest {size(s.resident_min)}"
        out.append(line)
    if s.paged_out:
        out.append(f"  paged out: {size(s.paged_out)} (pages leave memory until touched again)")
    for st in s.schemes:
        out.append(f"  {st['name']} ({st['action']}): tried {st['nr_tried']} regions / "
                   f"{size(st['sz_tried'])}, applied {st['nr_applied']} / {size(st['sz_applied'])}"
                   f", qt_exceeds {st['qt_exceeds']}")
    if s.refused:
        out.append("  pieces the kernel refused: " +
                   ", ".join(f"{k} {v}" for k, v in sorted(s.refused.items())))
    if s.dry_run:
        out.append("  dry run: nothing was advised; 'applied' is what would have been")
    if s.record:
        out.append(f"  record: {s.record} ({s.record_lines} lines)")
    return out


MAX_TARGET_LINES = 12


def target_lines(s) -> List[str]:
    """One line per target (the first MAX_TARGET_LINES): pid, why it was one,
    its command line, when it was monitored, how it ended."""
    ts = s.targets
    ended = sum(1 for t in ts if t.end is not None)
    head = (f"  targets: {len(ts)} processes, {len(ts) - ended} to the end"
            if len(ts) > 1 else "  target:")
    out = [head]
    for t in ts[:MAX_TARGET_LINES]:
        end = "to the end" if t.end is None else t.end
        span = f"{secs(t.start_us)} to {secs(t.end_us if t.end_us is not None else s.time_us)}"
        out.append(f"    pid {t.pid} ({t.origin}) {t.name}: {span}, {end}")
    if len(ts) > MAX_TARGET_LINES:
        out.append(f"    ... and {len(ts) - MAX_TARGET_LINES} more (the record names every one)")
    if s.skipped:
        out.append(f"  not monitored: {len(s.skipped)} processes ("
                   + "; ".join(f"{p}: {why}" for p, why in list(s.skipped.items())[:3])
                   + ("; ..." if len(s.skipped) > 3 else "") + ")")
    return out
