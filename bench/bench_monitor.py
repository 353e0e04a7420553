"""Benchmark of the user-space DAMON monitor (damos_lang.monitor).

run(quick) -> rows of {name, value, unit, baseline, ratio, note}:
  * per region-sample cost of the Cython hot loop next to the plain-Python
    reference, in the same run (goal: >= 30x faster), on the simulator's loop
    and on the page_idle loop (real /proc/self/pagemap reads; the idle bitmap
    is a sparse temporary file, because this host has no page_idle);
  * the monitor's CPU share at 5 ms / 100 ms with 10, 100 and 1000 regions on
    the simulator (CPU seconds per simulated second);
  * kernel crossings (preads and pwrites) per region-sample of the page_idle
    source, by kind, on the host's stand-in: a Monitor over this process's own
    64 MiB (8 MiB of it "hot": between prepare and check the stand-in clears
    the idle bits of the hot pages sampled, as the kernel would), real
    /proc/self/pagemap and /proc/kpageflags, the bitmap a temporary file.
`python -m bench.bench_monitor` prints the table."""
import ctypes
import functools
import mmap
import os
import tempfile
import time
from array import array
from typing import Callable, Dict, List

from bench import common
from damos_lang.monitor import fastpath
from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.masim import load_masim
from damos_lang.monitor.monitor import Monitor
from damos_lang.monitor.reference import COUNT_KINDS
from damos_lang.monitor.regions import set_regions
from damos_lang.monitor.rng import MASK64
from damos_lang.monitor.sources.page_idle import PageIdleSource
from damos_lang.monitor.sources.simulator import SimulatorSource

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = 4096


# every row of this module has these fields, empty when there is nothing to say
row = functools.partial(common.row, baseline=None, ratio=None, note="")


def best_ns_per_item(fn: Callable[[], None], items: int, min_seconds: float) -> float:
    """Best of several timed batches, in ns per item (robust to noise)."""
    best = float("inf")
    deadline = time.perf_counter() + min_seconds
    runs = 0
    while runs < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return best * 1e9 / items


def regions_over(base: int, size: int, n: int):
    step = size // n // PAGE * PAGE
    starts = array("Q", [base + i * step for i in range(n)])
    ends = array("Q", [base + (i + 1) * step for i in range(n)])
    return starts, ends


def simulator_loop_rows(quick: bool) -> List[Dict]:
    """One sampling interval of the simulator source: pick addresses, check
    them against the interval's touched spans, count the accesses."""
    n = 1000
    starts, ends = regions_over(0x7F0000000000, 1 << 30, n)
    spans = [array("Q", v) for v in (
        [0x7F0000000000, 0x7F0010000000, 0x7F0020000000, 0x7F0030000000],
        [0x7F0001000000, 0x7F0011000000, 0x7F0028000000, 0x7F0031000000],
        [MASK64, MASK64, 1 << 62, MASK64], [1, 2, 3, 4])]
    cost = {}
    for impl_name in ("cython", "python"):
        impl = fastpath.get(impl_name)
        addrs, nr, flags, state = array("Q", bytes(8 * n)), array("I", bytes(4 * n)), bytearray(n), array("Q", [1])

        def one_sample():
            impl.pick_sampling_addresses(starts, ends, addrs, state)
            impl.accessed_in_spans(addrs, *spans, PAGE, flags)
            impl.count_accesses(nr, flags)
        cost[impl_name] = best_ns_per_item(one_sample, n, 0.05 if quick else 0.5)
    ratio = cost["python"] / cost["cython"]
    return [row("monitor.sim_loop.region_sample.cython", round(cost["cython"], 1), "ns",
                baseline=round(cost["python"], 1), ratio=round(ratio, 1),
                note=f"baseline: the Python reference in the same run; {ratio:.0f}x faster "
                     f"(goal >= 30x); 1000 regions, 4 spans")]


def page_idle_loop_rows(quick: bool) -> List[Dict]:
    """idle_prepare + idle_check per region-sample: real pagemap reads of this
    process's own memory, the bitmap a sparse temporary file."""
    n = 1000
    size = 64 << 20
    buf = mmap.mmap(-1, size)
    for off in range(0, size, PAGE):
        buf[off] = 1  # make every page present
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    starts, ends = regions_over(base, size, n)
    pagemap = os.open("/proc/self/pagemap", os.O_RDONLY)
    bitmap_file = tempfile.TemporaryFile()
    bitmap = bitmap_file.fileno()
    probe = array("Q", os.pread(pagemap, 8, 8 * (base // PAGE)))
    real_pfns = bool(probe[0] & ((1 << 55) - 1))
    cost = {}
    try:
        for impl_name in ("cython", "python"):
            impl = fastpath.get(impl_name)
            addrs, pfns, flags, state = array("Q", bytes(8 * n)), array("Q", bytes(8 * n)), bytearray(n), array("Q", [7])

            def one_sample():
                impl.pick_sampling_addresses(starts, ends, addrs, state)
                impl.idle_prepare(pagemap, bitmap, -1, addrs, pfns, PAGE)
                impl.idle_check(pagemap, bitmap, -1, addrs, pfns, PAGE, flags)
            cost[impl_name] = best_ns_per_item(one_sample, n, 0.05 if quick else 0.5)
    finally:
        os.close(pagemap)
        bitmap_file.close()
        del buf  # the exported ctypes view keeps nothing alive after this point
    ratio = cost["python"] / cost["cython"]
    pfn_note = ("real PFNs (CAP_SYS_ADMIN), bitmap words written and read in a temp file"
                if real_pfns else
                "PFNs read as 0 without CAP_SYS_ADMIN: pagemap reads only, no bitmap I/O")
    return [row("monitor.page_idle_loop.region_sample.cython", round(cost["cython"], 1), "ns",
                baseline=round(cost["python"], 1), ratio=round(ratio, 1),
                note=f"{ratio:.1f}x faster than the reference; /proc/self/pagemap, {pfn_note}; "
                     "no /sys/kernel/mm/page_idle on this host; syscalls bound both paths")]


def cpu_share_rows(quick: bool) -> List[Dict]:
    """CPU seconds the monitor (with the simulator as its source) spends per
    simulated second, at 5 ms / 100 ms, region count pinned by min = max."""
    rows = []
    config = load_masim(os.path.join(ROOT, "examples", "workloads", "zigzag.cfg"))
    simulated_us = 1_000_000 if quick else 5_000_000
    start_us = 10_000_000  # skip into the alternating phases
    for regions in (10, 100, 1000):
        attrs = MonitorAttrs(sample_us=5000, aggr_us=100_000, update_us=1_000_000,
                             min_nr_regions=regions, max_nr_regions=regions)
        monitor = Monitor(attrs, SimulatorSource(config, seed=1), seed=1)
        monitor.run_until(start_us - simulated_us // 5 if quick else start_us - 1_000_000)
        cpu0 = time.process_time()
        snaps = monitor.run_until(monitor.now_us + simulated_us)
        cpu = time.process_time() - cpu0
        mean_regions = sum(len(s.targets[0].regions) for s in snaps) / max(1, len(snaps))
        rows.append(row(f"monitor.cpu_share.sim.{regions}_regions", round(100 * cpu * 1e6 / simulated_us, 2),
                        "%", note=f"5 ms / 100 ms, {fastpath.IMPLEMENTATION} path, "
                                  f"{mean_regions:.0f} regions on average; includes simulating "
                                  "the workload, excludes any real page_idle syscalls"))
    return rows


class _OwnBuffer(PageIdleSource):
    """page_idle over this process, its only mapping the benchmark's buffer
    (the monitor's regions stay on it across update intervals)."""

    def __init__(self, span, **kw):
        super().__init__([os.getpid()], **kw)
        self.span = span

    def mappings(self, target_id, now_us):
        return [self.span]


class _HotClock:
    """Simulated time (no sleeping); while it "passes", the workload touches
    the hot pages: the idle bits of the sampled hot PFNs are cleared in the
    stand-in bitmap, as the kernel's page_idle would on an access."""

    def __init__(self, source, bitmap: mmap.mmap, hot_pfns):
        self.source, self.bitmap, self.hot = source, bitmap, hot_pfns
        self.now_us = 0

    def wait_until(self, t_us):
        pfns, _ = self.source._pfns.get(os.getpid(), (None, None))
        for pfn in pfns or ():
            if pfn in self.hot:
                self.bitmap[pfn >> 3] &= ~(1 << (pfn & 7)) & 0xFF
        self.now_us = t_us


def crossings(regions: int, simulated_us: int, **source_kw) -> Dict[str, float]:
    """Kernel crossings per region-sample of a monitor run on the stand-in."""
    size, hot = 64 << 20, 8 << 20
    buf = mmap.mmap(-1, size)
    for off in range(0, size, PAGE):
        buf[off] = 1
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    pagemap = os.open("/proc/self/pagemap", os.O_RDONLY)
    try:
        entries = array("Q", os.pread(pagemap, 8 * (size // PAGE), 8 * (base // PAGE)))
    finally:
        os.close(pagemap)
    pfns = [e & ((1 << 55) - 1) for e in entries]
    hot_pfns = set(pfns[:hot // PAGE])
    with tempfile.NamedTemporaryFile(prefix="bench-bitmap-") as f:
        f.truncate((max(pfns) // 64 + 2) * 8)
        bitmap = mmap.mmap(f.fileno(), 0)
        source = _OwnBuffer((base, base + size), bitmap_path=f.name, **source_kw)
        attrs = MonitorAttrs(sample_us=5000, aggr_us=100_000, update_us=1_000_000,
                             min_nr_regions=regions, max_nr_regions=regions)
        monitor = Monitor(attrs, source, target_ids=[os.getpid()], seed=3,
                          clock=_HotClock(source, bitmap, hot_pfns))
        set_regions(monitor.targets[0], [(base, base + size)], PAGE)
        try:
            monitor.run_until(simulated_us)
            out = source.crossings_per_sample()
            out["real_pfns"] = any(pfns)
        finally:
            monitor.close()
            bitmap.close()
    del buf
    return out


def crossing_rows(quick: bool) -> List[Dict]:
    """monitor.page_idle.syscalls_per_sample.<kind> at 100 regions: the source
    as it runs (translations kept between samples), next to reading them
    afresh at every prepare and check (translation_cache=False) in the same run."""
    simulated_us = 1_000_000 if quick else 3_000_000
    now = crossings(100, simulated_us)
    fresh = crossings(100, simulated_us, translation_cache=False)
    rows = []
    for kind in (*COUNT_KINDS, "total"):
        ratio = round(now[kind] / fresh[kind], 3) if fresh[kind] else None
        rows.append(row(f"monitor.page_idle.syscalls_per_sample.{kind}", round(now[kind], 3),
                        "calls", baseline=round(fresh[kind], 3), ratio=ratio,
                        note=f"preads/pwrites per region-sample, {fastpath.IMPLEMENTATION} path, "
                             "translations kept between samples; baseline: read afresh at "
                             f"every prepare and check; 100 regions over 64 MiB of this "
                             f"process (8 MiB hot), {simulated_us // 1_000_000} s at "
                             "5 ms / 100 ms / 1 s; /proc/self/pagemap, /proc/kpageflags, the "
                             "bitmap a temp file"
                             + ("" if now["real_pfns"] else " (PFNs read as 0: no bitmap I/O)")))
    return rows


def run(quick: bool) -> List[Dict]:
    return (simulator_loop_rows(quick) + page_idle_loop_rows(quick) + cpu_share_rows(quick)
            + crossing_rows(quick))


if __name__ == "__main__":
    import sys
    for r in run("--quick" in sys.argv):
        ratio = f"{r['ratio']}x" if r["ratio"] is not None else ""
        print(f"{r['name']:48} {r['value']:>10} {r['unit']:3} {ratio:>8}  {r['note']}")
