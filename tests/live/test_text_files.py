"""Path files (a memcg filter's memcg_path, a goal's path) as the kernel keeps
them: the buffer as written, newline included, shown with one more
(sysfs-schemes.c memcg_path_store/_show; seen on stock 7.3).  The stand-in
does the same, and status prints the path without the newline, so what it
prints compiles and applies again."""
from __future__ import annotations

import os

from damos_lang.live import apply as A, status as S
from damos_lang.pipeline import unit_from_text
from damos_lang.sysfs import read as R, root as RT

from .helpers import make_tree

PID = os.getpid()
SRC = f"""target pid {PID}
scheme {{
    action stat
    filter allow memcg "/workloads/batch job"
    quota {{
        size 1G
        goal node_memcg_used_bp 50% nid 0 path /workloads
    }}
}}
"""
SB = "kdamonds/0/contexts/0/schemes/0"


def test_path_files_hold_the_written_newline_and_status_drops_it(tmp_path):
    root = make_tree(tmp_path, (7, 3), memcgs=("/", "/workloads", "/workloads/batch job"))
    unit = unit_from_text(SRC)
    A.apply(unit, root=root, sleep=lambda s: None)
    assert open(f"{root}/{SB}/filters/0/memcg_path").read() == "/workloads/batch job\n\n"
    assert open(f"{root}/{SB}/quotas/goals/0/path").read() == "/workloads\n\n"
    [entry] = S.snapshot(root)
    assert '"/workloads/batch job"' in entry["source"] and "\\n" not in entry["source"]
    back = unit_from_text(entry["source"], "<status>").context
    assert R.normalize(back) == R.normalize(unit.context)
    assert R.read_context(RT.tree(root), "kdamonds/0/contexts/0").schemes[0].filters[0] \
        .memcg_path == "/workloads/batch job"
