"""The simulator's built-in workloads, so that ``damos run FILE`` works from an
installed package with no config file at hand (``--sim stairs``; stairs is the
default when no process is given).  Copies of examples/workloads/*.cfg (a
test keeps them identical), from masim's configs (workloads.md §1)."""
from __future__ import annotations

import os

from ..monitor.masim import MasimConfig, load_masim, parse_masim

DEFAULT = "stairs"

STAIRS = """#regions
s0, 10000000
s1, 10000000
s2, 10000000
s3, 10000000
s4, 10000000
s5, 10000000
s6, 10000000
s7, 10000000
s8, 10000000
s9, 10000000

#phases
initial phase
10000
s0, 0, 4096, 1
s1, 0, 4096, 1
s2, 0, 4096, 1
s3, 0, 4096, 1
s4, 0, 4096, 1
s5, 0, 4096, 1
s6, 0, 4096, 1
s7, 0, 4096, 1
s8, 0, 4096, 1
s9, 0, 4096, 1

phase 0
5000
s0, 0, 4096, 50

phase 1
5000
s1, 0, 4096, 50

phase 2
5000
s2, 0, 4096, 50

phase 3
5000
s3, 0, 4096, 50

phase 4
5000
s4, 0, 4096, 50

phase 5
5000
s5, 0, 4096, 50

phase 6
5000
s6, 0, 4096, 50

phase 7
5000
s7, 0, 4096, 50

phase 8
5000
s8, 0, 4096, 50

phase 9
5000
s9, 0, 4096, 50
"""

ZIGZAG = """#regions
a, 100000000
b, 100000000

#phases
initial phase
10000
a, 0, 4096, 1
b, 0, 4096, 1

low phase 0
5000
a, 0, 4096, 50

high phase 0
5000
b, 0, 4096, 50

low phase 1
5000
a, 0, 4096, 50

high phase 1
5000
b, 0, 4096, 50

low phase 2
5000
a, 0, 4096, 50

high phase 2
5000
b, 0, 4096, 50

low phase 3
5000
a, 0, 4096, 50

high phase 3
5000
b, 0, 4096, 50

low phase 4
5000
a, 0, 4096, 50

high phase 4
5000
b, 0, 4096, 50

low phase 5
5000
a, 0, 4096, 50

high phase 5
5000
b, 0, 4096, 50
"""

BUILTIN = {"stairs": STAIRS, "zigzag": ZIGZAG}


def load(name_or_path: str) -> MasimConfig:
    """A built-in workload by name (unless a file of that name exists), else a
    masim config file."""
    if name_or_path in BUILTIN and not os.path.exists(name_or_path):
        return parse_masim(BUILTIN[name_or_path], name_or_path)
    return load_masim(name_or_path)
