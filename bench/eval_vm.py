"""``./dev eval``: the fuller ``damos eval`` run in the rig's VM (Debian's
stock 7.3 under qemu/TCG, zram swap), written to bench/results/eval.json.

The same job and files as tests/kernel/test_kernel_eval.py (the CI proof,
--repeat 2 on a short workload), here with --repeat 3 and a workload that
runs longer; not part of CI (about 3-4 minutes of VM time).  The figures are
of emulated CPUs: comparable with each other, not with DAMON's evaluation
page (docs/eval.md)."""
from __future__ import annotations

import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "kernel"))

import kernelrig  # noqa: E402
import test_kernel_eval as proof  # noqa: E402

RESULT = os.path.join(ROOT, "bench", "results", "eval.json")
COMMAND = "./dev eval"
REPEAT, PASSES, DILATE = 3, 1000, 2


def main() -> int:
    kernel = kernelrig.ensure_stock73()
    out = tempfile.mkdtemp(prefix="damos-eval-vm-")
    env = {**proof.vm_env(DILATE, PASSES), "REPEAT": str(REPEAT)}
    r = kernelrig.run_vm(kernel, kernelrig.job("stock73-eval.sh"), timeout=900,
                         files=proof.vm_files(), env=env, out=out)
    print(r.text("eval.out") if (r.out / "eval.out").exists() else "")
    if r.rc != 0:
        print(r.describe(), file=sys.stderr)
        return 1
    res = kernelrig.parse_kv(r.text("result.txt"))
    if res.get("eval_rc") != "0":
        print(r.text("eval.err"), file=sys.stderr)
        return 1
    doc = json.loads(r.text("eval.json"))
    doc["produced_by"] = {"command": COMMAND, "rig_kernel": "stock73", "repeat": REPEAT,
                          "workload": {"mib": proof.WL_MIB, "hot_mib": proof.WL_HOT_MIB,
                                       "passes": PASSES},
                          "scheme": proof.PRCL, "vm_secs": r.duration,
                          "after": {k: v for k, v in res.items() if not k.startswith("eval_")}}
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    with open(RESULT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(RESULT, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
