"""process_madvise on a real child process of this test: only inside its
mappings (a hole is never advised), the advice takes effect, and the child
stays healthy.  Needs CAP_SYS_NICE (the tests run as root); skipped otherwise."""
import os
import subprocess
import sys
import textwrap

import pytest

from damos_lang.run import actions
from damos_lang.run.actions import MadviseActuator, intersect, read_vmas

P = 4096
MB = 1 << 20

CHILD = textwrap.dedent(r'''
    import mmap, os, sys, zlib
    path = sys.argv[1]
    with open(path, "wb") as f:                       # a clean file: pageout can drop it
        f.write(bytes(range(256)) * (8 * 1024 * 1024 // 256))
        f.flush(); os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY)
    fmap = mmap.mmap(fd, 8 << 20, mmap.MAP_SHARED, mmap.PROT_READ)
    anon = mmap.mmap(-1, 3 * 4096, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    anon.write(b"x" * 3 * 4096)
    total = sum(fmap[i] for i in range(0, 8 << 20, 4096))   # fault every page in
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    # the anonymous mapping's address, through a ctypes array over its buffer
    aaddr = ctypes.addressof((ctypes.c_char * (3 * 4096)).from_buffer(anon))
    libc.munmap(ctypes.c_void_p(aaddr + 4096), ctypes.c_size_t(4096))   # a hole in the middle
    with open("/proc/self/maps") as m:
        lines = [l for l in m if path in l]
    fstart = int(lines[0].split("-")[0], 16)
    print(fstart, aaddr, flush=True)
    sys.stdin.readline()
    ok = zlib.crc32(fmap[:]) == zlib.crc32(bytes(range(256)) * (8 * 1024 * 1024 // 256))
    ok = ok and ctypes.string_at(aaddr, 4096) == b"x" * 4096
    ok = ok and ctypes.string_at(aaddr + 8192, 4096) == b"x" * 4096
    print("ok" if ok else "corrupt", flush=True)
''')


def _rss_file_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    return 0


def _cap_sys_nice():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16) >> 23 & 1
    return False


@pytest.fixture
def child(tmp_path):
    if not hasattr(os, "pidfd_open"):
        pytest.skip("os.pidfd_open needs Python 3.9 and Linux 5.3")
    if not _cap_sys_nice():
        pytest.skip("process_madvise on another process needs CAP_SYS_NICE (run the tests as root)")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "data")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    fstart, astart = map(int, p.stdout.readline().split())
    yield p, fstart, astart
    if p.poll() is None:
        p.kill()
    p.wait()


def test_pageout_on_a_child_advises_only_its_mappings_and_it_stays_healthy(child, monkeypatch):
    p, fstart, astart = child
    sent = []
    real = actions.process_madvise

    def spy(pidfd, ranges, advice):
        sent.extend(ranges)
        return real(pidfd, ranges, advice)
    monkeypatch.setattr(actions, "process_madvise", spy)

    vmas = read_vmas(p.pid)
    act = MadviseActuator([p.pid])
    act.open()
    act.begin_pass(0)
    before = _rss_file_kb(p.pid)
    # the file mapping, and the anonymous one with its hole (middle page unmapped)
    done = act.apply("pageout", 0, p.pid, [(fstart, fstart + 8 * MB), (astart, astart + 3 * P)], 0)
    after = _rss_file_kb(p.pid)
    assert done == 8 * MB + 2 * P, done                # the hole is not counted: no -ENOMEM
    assert (astart + P, astart + 2 * P) not in sent
    for s, e in sent:                                  # every iovec inside one mapping
        assert any(vs <= s and e <= ve for vs, ve in vmas), (hex(s), hex(e))
    assert not any(s < astart + 2 * P and astart + P < e for s, e in sent), "the hole was advised"
    assert before - after >= 6 * 1024, (before, after)   # the clean file pages left memory
    # cold on the same ranges also succeeds; ranges with no mapping at all are never sent
    n_sent = len(sent)
    assert act.apply("cold", 0, p.pid, [(astart, astart + 3 * P)], 0) == 2 * P
    assert act.apply("cold", 0, p.pid, [(astart + P, astart + 2 * P)], 0) == 0
    assert len(sent) == n_sent + 2
    act.close()
    p.stdin.write("go\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() == "ok"
    assert p.wait(10) == 0


def test_dry_run_sends_nothing(child, monkeypatch):
    p, fstart, astart = child
    monkeypatch.setattr(actions, "process_madvise", lambda *a: pytest.fail("dry run advised"))
    act = MadviseActuator([p.pid], dry_run=True)
    act.begin_pass(0)
    assert act.apply("pageout", 0, p.pid, [(astart, astart + 3 * P)], 0) == 2 * P


def test_a_pidfd_keeps_pointing_at_the_process_it_was_opened_for(child):
    p, fstart, astart = child
    act = MadviseActuator([p.pid])
    act.open()
    p.kill()
    p.wait()
    act.begin_pass(0)
    act._vmas[p.pid] = [(astart, astart + P)]          # as if the maps were read before it died
    assert act.apply("cold", 0, p.pid, [(astart, astart + P)], 0) == 0
    assert act.gone
    act.close()


def test_intersect_cuts_at_vma_boundaries_and_drops_holes():
    vmas = [(0x1000, 0x3000), (0x3000, 0x5000), (0x8000, 0x9000)]
    assert intersect([(0x0, 0x10000)], vmas) == [(0x1000, 0x3000), (0x3000, 0x5000), (0x8000, 0x9000)]
    assert intersect([(0x2000, 0x8800)], vmas) == [(0x2000, 0x3000), (0x3000, 0x5000)]
    assert intersect([(0x5000, 0x8000)], vmas) == []
    assert intersect([(0x2800, 0x4800)], vmas) == [(0x3000, 0x4000)]   # page-aligned inwards
