"""Reading a process's VMAs from /proc/PID/maps."""
from typing import List, Tuple


def parse_maps(text: str, skip=("[vsyscall]",)) -> List[Tuple[int, int]]:
    """(start, end) of every VMA, in address order, leaving out the mappings
    named in ``skip``: by default [vsyscall], the gate area, which maps lists
    but the VMA tree DAMON walks does not hold."""
    vmas = []
    for line in text.splitlines():
        fields = line.split(None, 5)
        if not fields:
            continue
        if len(fields) == 6 and fields[5].strip() in skip:
            continue
        start, _, end = fields[0].partition("-")
        vmas.append((int(start, 16), int(end, 16)))
    vmas.sort()
    return vmas
