"""damo 3.4.3's reading of legacy one-line schemes, field by field.

:mod:`damo_oracle` answers with damo's debugfs lines, which only lines damo
can also write give.  This asks damo's deprecated parser
(``_damo_deprecated.damo_single_line_schemes_to_damos``) for what it read --
every field of every scheme, as damo holds it before any unit conversion --
and then, where damo can, its 18-field debugfs line.  So a line damo accepts
but could not write (an action debugfs lacks, a word it passes on to the
kernel) still shows how damo read it.

It runs in the same guarded process as :mod:`damo_oracle` (its runner's
prologue: the audit hook that refuses /sys and new processes, the private
mount namespace when there is one), never against the host kernel.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

from damo_oracle import PYTHON, RUNNER, require_damo, sandbox_prefix

_MARK = "answers = []"
assert RUNNER.count(_MARK) == 1, "damo_oracle.RUNNER changed: its prologue ends at " + _MARK

LEGACY_RUNNER = RUNNER[:RUNNER.index(_MARK)] + r'''
def read(s):
    p, q, w = s.access_pattern, s.quotas, s.watermarks
    return {"sz": p.sz_bytes, "nr_accesses": [n.percent for n in p.nr_acc_min_max],
            "age": [a.usec for a in p.age_min_max],
            "action": s.action,
            "quota": [q.time_ms, q.sz_bytes, q.reset_interval_ms],
            "weights": [q.weight_sz_permil, q.weight_nr_accesses_permil, q.weight_age_permil],
            "wmarks": [w.metric, w.interval_us, w.high_permil, w.mid_permil, w.low_permil]}


_damo_deprecated.avoid_crashing_single_line_scheme_for_testing = True
_damo_deprecated.avoid_crashing_v1_v3_schemes_for_testing = True
answers = []
for item in req["items"]:
    schemes, err = _damo_deprecated.damo_single_line_schemes_to_damos(item["text"])
    if err is not None:
        answers.append({"error": err})
        continue
    iv = _damon.DamonIntervals(item["sample_us"], item["aggr_us"], 1000000)
    out = []
    for s in schemes:
        got = read(s)
        try:
            got["debugfs"] = _damon_dbgfs.damos_to_debugfs_input(s, iv, True)
        except Exception as e:
            got["debugfs_error"] = "%s: %s" % (type(e).__name__, e)
        out.append(got)
    answers.append({"schemes": out})

sys.stdout.write(json.dumps(answers))
'''


def damo_reads(texts: list[str], sample_us: int = 5000, aggr_us: int = 100000) -> list[dict]:
    """For each legacy-lines text: ``{"error": damo's message}`` or
    ``{"schemes": [{"sz", "nr_accesses", "age", "action", "quota", "weights",
    "wmarks", and "debugfs" or "debugfs_error"}]}``."""
    require_damo()
    items = [{"text": t, "sample_us": sample_us, "aggr_us": aggr_us} for t in texts]
    with tempfile.TemporaryDirectory(prefix="damos-oracle-") as work:
        req = json.dumps({"workdir": work, "items": items})
        cmd = sandbox_prefix() + (PYTHON, "-I", "-c", LEGACY_RUNNER)
        r = subprocess.run(cmd, input=req, capture_output=True, text=True, timeout=120,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                "HOME": work, "LC_ALL": "C.UTF-8"})
        if r.returncode != 0:
            raise RuntimeError(f"damo oracle failed ({r.returncode}): {r.stderr[-2000:]}")
        return json.loads(r.stdout)
