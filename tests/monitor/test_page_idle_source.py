"""The real source: its errors before the first sample, a whole monitor run
over a fake /proc + /sys tree, and a target that exits mid-run."""
import os
import shutil
import struct
import subprocess
import sys
from array import array

import pytest

from damos_lang.monitor import fastpath
from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.errors import MonitorError, TargetGone
from damos_lang.monitor.monitor import Monitor
from damos_lang.monitor.sources.page_idle import PageIdleSource

PID = 4321
PAGE = 4096
PRESENT = 1 << 63
# three VMAs with two big gaps, as /proc/PID/maps prints them
MAPS = ("00400000-00410000 r-xp 00000000 08:01 1 /bin/fake\n"
        "7f0000000000-7f0000100000 rw-p 00000000 00:00 0\n"
        "7ffff0000000-7ffff0020000 rw-p 00000000 00:00 0 [stack]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n")
VMAS = [(0x400000, 0x410000), (0x7F0000000000, 0x7F0000100000), (0x7FFFF0000000, 0x7FFFF0020000)]


def fake_root(tmp_path, pfns=True, page_idle=True, cap_eff="000001ffffffffff"):
    """A tree with proc/PID/{maps,pagemap}, proc/self/status and the bitmap.
    Every page of the VMAs is present, PFN = 1000 + its index (or 0)."""
    root = tmp_path / "root"
    proc = root / "proc" / str(PID)
    proc.mkdir(parents=True)
    (proc / "maps").write_text(MAPS)
    (root / "proc" / "self").mkdir()
    (root / "proc" / "self" / "status").write_text(f"Name:\ttest\nCapEff:\t{cap_eff}\n")
    entries = {}
    index = 0
    for start, end in VMAS:
        for page in range(start // PAGE, end // PAGE):
            entries[page] = PRESENT | ((1000 + index) if pfns else 0)
            index += 1
    with open(proc / "pagemap", "wb") as f:
        for page in sorted(entries):
            f.seek(8 * page)
            f.write(struct.pack("<Q", entries[page]))
    if page_idle:
        idle = root / "sys" / "kernel" / "mm" / "page_idle"
        idle.mkdir(parents=True)
        (idle / "bitmap").write_bytes(bytes(8 * ((1000 + index) // 64 + 1)))
    return str(root)


def test_missing_page_idle_is_named(tmp_path):
    source = PageIdleSource([PID], root=fake_root(tmp_path, page_idle=False))
    with pytest.raises(MonitorError, match="CONFIG_IDLE_PAGE_TRACKING"):
        source.validate()


def test_missing_cap_sys_admin_is_named(tmp_path):
    source = PageIdleSource([PID], root=fake_root(tmp_path, cap_eff="0000000000000000"))
    with pytest.raises(MonitorError, match="CAP_SYS_ADMIN"):
        source.validate()


def test_zero_pfns_are_recognised_as_missing_cap_sys_admin(tmp_path):
    root = fake_root(tmp_path, pfns=False)
    os.remove(os.path.join(root, "proc", "self", "status"))
    with pytest.raises(MonitorError, match="CAP_SYS_ADMIN"):
        PageIdleSource([PID], root=root).validate()


def test_missing_ptrace_right_is_named(tmp_path, monkeypatch):
    root = fake_root(tmp_path)
    real_open = os.open

    def refusing_open(path, flags, *args):
        if str(path).endswith("pagemap"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(MonitorError, match=f"no ptrace right on pid {PID}"):
        PageIdleSource([PID], root=root).validate()


def test_nonexistent_pid_is_named(tmp_path):
    with pytest.raises(MonitorError, match="no such process: pid 999999"):
        PageIdleSource([999999], root=fake_root(tmp_path)).validate()


def test_nonexistent_real_pid_is_named():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid no longer exists (until reused)
    with pytest.raises(MonitorError, match=f"no such process: pid {child.pid}"):
        PageIdleSource([child.pid]).validate()


def test_errors_are_one_line(tmp_path):
    for source in (PageIdleSource([PID], root=fake_root(tmp_path / "a", page_idle=False)),
                   PageIdleSource([PID], root=fake_root(tmp_path / "b", cap_eff="0"))):
        with pytest.raises(MonitorError) as info:
            source.validate()
        assert "\n" not in str(info.value)


HOT_PFNS = range(1016, 1080)  # the first 256 KiB of the middle VMA


class AccessingClock:
    """Between mkold and check, the "workload" touches the hot pages: as the
    kernel would, it clears their idle bits in the (fake) bitmap."""

    def __init__(self, bitmap_path):
        self.bitmap_path = bitmap_path
        self.now_us = 0

    def wait_until(self, t_us):
        data = bytearray(open(self.bitmap_path, "rb").read())
        for pfn in HOT_PFNS:
            data[pfn // 8] &= ~(1 << (pfn % 8)) & 0xFF
        open(self.bitmap_path, "wb").write(data)
        self.now_us = t_us


def run_fake(tmp_path, impl, **source_kw):
    root = fake_root(tmp_path / impl)
    fp = fastpath.get(impl)
    source = PageIdleSource([PID], root=root, fastpath=fp, **source_kw)
    attrs = MonitorAttrs(sample_us=5000, aggr_us=50_000, update_us=100_000, min_nr_regions=5)
    bitmap = os.path.join(root, "sys", "kernel", "mm", "page_idle", "bitmap")
    monitor = Monitor(attrs, source, seed=2, fastpath=fp, clock=AccessingClock(bitmap))
    snaps = monitor.run_until(2_000_000)
    return snaps, open(bitmap, "rb").read(), monitor, root


def test_monitor_over_fake_kernel_files_finds_the_hot_pages(tmp_path):
    snaps_c, words_c, _, _ = run_fake(tmp_path, "cython")
    snaps_p, words_p, monitor, root = run_fake(tmp_path, "python")
    assert snaps_c == snaps_p and words_c == words_p
    assert len(snaps_c) == 40
    assert any(words_c)  # idle bits were written for the sampled PFNs
    regions = snaps_c[-1].targets[0].regions
    assert regions[0].start == 0x400000 and regions[-1].end == 0x7FFFF0020000
    hot_start, hot_end = 0x7F0000000000, 0x7F0000000000 + 64 * PAGE
    for r in regions:
        if hot_start <= r.start and r.end <= hot_end:
            assert r.nr_accesses == attrs_samples(monitor)
        elif r.end <= hot_start or r.start >= hot_end:
            assert r.nr_accesses == 0
    assert sum(r.size for r in regions if r.nr_accesses) <= 2 * 64 * PAGE
    assert sum(r.size for r in regions if r.nr_accesses == attrs_samples(monitor)) >= 32 * PAGE
    # the target exits: the engine sees TargetGone, not a crash
    shutil.rmtree(os.path.join(root, "proc", str(PID)))
    with pytest.raises(TargetGone):
        monitor.run_until(2_100_000)
    monitor.close()


def test_kept_translations_change_the_reads_not_the_history(tmp_path):
    """Translations kept between samples (dropped every update interval):
    the same region history as reading them afresh, with a fraction of the
    pagemap reads."""
    kept, _, kept_monitor, _ = run_fake(tmp_path / "kept", "cython")
    fresh, _, fresh_monitor, _ = run_fake(tmp_path / "fresh", "cython", translation_cache=False)
    assert kept == fresh
    k, f = kept_monitor.source, fresh_monitor.source
    assert k.samples == f.samples > 0
    per = {name: (a / k.samples, b / f.samples)
           for name, a, b in zip(("pagemap", "write", "read", "kpageflags"), k.counts, f.counts)}
    # afresh: at least one pagemap read at prepare and one at check per
    # sample (nearby samples share one); kept: a chunk read now and then, and a
    # re-read for each hot sample (its check fails) or not present one
    assert per["pagemap"][1] >= 1.0 and per["pagemap"][0] < 0.25, per
    # the same PFNs sampled: the same bitmap I/O (no kpageflags in this tree)
    assert per["write"][0] == per["write"][1] and per["read"][0] == per["read"][1], per
    kept_monitor.close()
    fresh_monitor.close()


def test_a_translation_is_read_again_after_an_update_interval(tmp_path):
    """A page remapped to another PFN while its old PFN keeps the idle bit (the
    fake kernel allows it; the kernel frees the old page): the kept translation
    hides it until the next update interval, then the new PFN is sampled."""
    root = fake_root(tmp_path)
    source = PageIdleSource([PID], root=root)
    source.validate()
    addrs = array("Q", [0x7F0000000000 + 5 * PAGE])
    accessed = bytearray(1)
    source.prepare(PID, addrs, 0)
    pfns = list(source._pfns[PID][0])
    assert pfns == [1016 + 5]
    pagemap = os.path.join(root, "proc", str(PID), "pagemap")
    with open(pagemap, "r+b") as f:
        f.seek(8 * (0x7F0000000000 // PAGE + 5))
        f.write(struct.pack("<Q", PRESENT | 2000))
    source.check(PID, addrs, accessed, 0)
    assert accessed == bytearray(1)                  # the old PFN's bit is still set
    source.prepare(PID, addrs, 5000)
    assert list(source._pfns[PID][0]) == pfns        # kept between samples
    source.check(PID, addrs, accessed, 5000)
    source.refresh(1_000_000)                        # an update interval
    source.prepare(PID, addrs, 1_000_000)
    assert list(source._pfns[PID][0]) == [2000]
    source.close()


def attrs_samples(monitor):
    return monitor.attrs.samples_per_aggr


def test_real_target_exit_is_target_gone():
    """Against a real child process: mappings are read while it lives, and
    its exit surfaces as TargetGone (no page_idle needed for this part)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # started: its libraries are mapped
        source = PageIdleSource([child.pid])
        assert len(source.mappings(child.pid, 0)) > 3
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    with pytest.raises(TargetGone):
        source.mappings(child.pid, 0)
