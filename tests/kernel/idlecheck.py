"""Mark another process's pages idle and read the bits back (runs inside the VM).

usage: idlecheck.py PID ADDR(hex) LEN HOT_BYTES OUT.json

Reads /proc/PID/pagemap for [ADDR, ADDR+LEN), sets the page_idle bits of the
PFNs through /sys/kernel/mm/page_idle/bitmap, sleeps $IDLE_WAIT seconds (the
workload keeps writing the first HOT_BYTES meanwhile), then reads the bits
again and writes the counts to OUT.json.  It judges nothing: the test does.
"""
import json
import os
import struct
import sys
import time

pid, addr, length, hot, outfile = (int(sys.argv[1]), int(sys.argv[2], 16), int(sys.argv[3]),
                                   int(sys.argv[4]), sys.argv[5])
PS = os.sysconf("SC_PAGE_SIZE")
npages, nhot = length // PS, hot // PS
BITMAP = "/sys/kernel/mm/page_idle/bitmap"


def pagemap():
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(addr // PS * 8)
        data = f.read(npages * 8)
    return struct.unpack(f"{npages}Q", data)


def pfns(ents):
    return [e & ((1 << 55) - 1) if e >> 63 & 1 else None for e in ents]


before = pfns(pagemap())
bm = os.open(BITMAP, os.O_RDWR)
words = sorted({p // 64 for p in before if p})
t0 = time.monotonic()
for w in words:                                   # mark every page of the buffer idle
    os.pwrite(bm, struct.pack("Q", (1 << 64) - 1), w * 8)
t_mark = time.monotonic() - t0
wait = float(os.environ.get("IDLE_WAIT", "1"))
time.sleep(wait)
after = pfns(pagemap())


def idle_bits(pfns_):
    out = []
    for p in pfns_:
        data = os.pread(bm, 8, p // 64 * 8) if p else b""
        if len(data) != 8:
            # not present, or in the last, partial 64-page word below max_pfn,
            # which the kernel's bitmap read skips (returns 0 bytes)
            out.append(None)
            continue
        (w,) = struct.unpack("Q", data)
        out.append(w >> (p % 64) & 1)
    return out


idle = idle_bits(after)
res = {
    "npages": npages, "nhot": nhot, "wait_s": wait, "mark_s": round(t_mark, 3),
    "present_before": sum(p is not None for p in before),
    "nonzero_pfn_before": sum(1 for p in before if p),
    "present_after": sum(p is not None for p in after),
    "pfns_unchanged": sum(1 for a, b in zip(before, after) if a and a == b),
    "hot_idle": sum(1 for i in idle[:nhot] if i),
    "cold_idle": sum(1 for i in idle[nhot:] if i),
    "unknown": sum(1 for i in idle if i is None),
}
print(json.dumps(res))
with open(outfile, "w") as f:
    json.dump(res, f)
