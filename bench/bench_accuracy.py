"""Working-set accuracy measured in the rig's VM (never boots one itself).

tests/kernel/test_kernel_accuracy.py (jobs/accuracy.sh) runs masim's
stairs and zigzag (30 s variants) in the custom 6.12 kernel, once under a
kdamond and once under `damos run --pid`, both at DAMON's default
attributes, scores each record against the workload's ground truth
(tests/kernel/accuracy.py) and compares the two with `damos report compare`;
it writes build/vm-accuracy.json, which run(quick) reports.  Without that
file: one row saying how to produce it."""
import datetime
import functools
import json
import os
from typing import Dict, List

from bench import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = os.path.join(ROOT, "build", "vm-accuracy.json")
HOWTO = "./dev test -m kernel tests/kernel/test_kernel_accuracy.py"
MONITORS = {"kernel": "kernel DAMON", "damos": "damos run"}


# every row of this module has these fields, empty when there is nothing to say
row = functools.partial(common.row, baseline=None, ratio=None, note="")


def run(quick: bool) -> List[Dict]:
    if not os.path.exists(RESULT):
        return [row("vm.accuracy", "n/a", "", note=f"no {os.path.relpath(RESULT, ROOT)}: run "
                                                   f"{HOWTO} (boots the rig's custom 6.12 VM)")]
    with open(RESULT) as f:
        data = json.load(f)
    when = datetime.datetime.fromtimestamp(os.path.getmtime(RESULT), datetime.timezone.utc)
    where = (f"rig VM (custom 6.12, qemu/TCG), {data['attrs']}; "
             f"tests/kernel/test_kernel_accuracy.py at {when:%Y-%m-%d %H:%M UTC}")
    rows = []
    for w, entry in data["workloads"].items():
        for m, label in MONITORS.items():
            s = entry[m]
            truth = s["truth_wss_bytes"][0]
            rows.append(row(f"vm.accuracy.{w}.{m}.median_wss", round(s["median_wss_bytes"] / 1e6, 2),
                            "MB", baseline=round(truth / 1e6, 2),
                            ratio=round(s["median_wss_bytes"] / truth, 3),
                            note=f"{label}: median WSS over {s['scored']} aggregations vs the "
                                 f"truth (ratio); within ±10 % in {100 * s['within_10pct']:.0f} % "
                                 f"of them; hot-byte precision {s['precision']:.2f}, recall "
                                 f"{s['recall']:.2f}, F1 {s['f1']:.2f}; {where}"))
        c = entry["compare"]
        rows.append(row(f"vm.accuracy.{w}.agreement", round(100 * c["hot_set_agreement"], 1), "%",
                        ratio=c["median_wss_ratio"],
                        note=f"damos report compare, kernel trace vs damos run record: bytes hot "
                             f"in both / hot in either over {c['pairs']} paired aggregations; "
                             f"ratio: damos run's median WSS / the kernel's; {where}"))
    return rows


if __name__ == "__main__":
    for r in run(False):
        ratio = f"{r['ratio']}x" if r["ratio"] is not None else ""
        print(f"{r['name']:40} {r['value']:>8} {r['unit']:2} {ratio:>7}  {r['note']}")
