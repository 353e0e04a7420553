"""Which pages of another process are in memory (runs inside the VM).

usage: residency.py PID ADDR(hex) LEN HOT_BYTES OUT.json

Counts, from /proc/PID/pagemap, the present and the swapped pages of the
first HOT_BYTES of [ADDR, ADDR+LEN) and of the rest.  It judges nothing."""
import json
import os
import struct
import sys

pid, addr, length, hot, outfile = (int(sys.argv[1]), int(sys.argv[2], 16), int(sys.argv[3]),
                                   int(sys.argv[4]), sys.argv[5])
PS = os.sysconf("SC_PAGE_SIZE")
n, nhot = length // PS, hot // PS
with open(f"/proc/{pid}/pagemap", "rb") as f:
    f.seek(addr // PS * 8)
    ents = struct.unpack(f"{n}Q", f.read(n * 8))
present = [e >> 63 & 1 for e in ents]
swapped = [e >> 62 & 1 for e in ents]
res = {"npages": n, "nhot": nhot,
       "hot_present": sum(present[:nhot]), "cold_present": sum(present[nhot:]),
       "hot_swapped": sum(swapped[:nhot]), "cold_swapped": sum(swapped[nhot:])}
print(json.dumps(res))
with open(outfile, "w") as f:
    json.dump(res, f)
