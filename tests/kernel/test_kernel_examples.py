"""The examples on the real kernel (Debian's stock 6.12): our compiled sysfs
script and damo 3.4.3 fed our damo JSON both set the kernel's files to the
values of our write plan.  This is the proof that the sysfs script runs on
a real kernel for every example 6.12 supports, and that damo accepts our
JSON and writes the same kernel numbers."""
from pathlib import Path

import pytest

from damos_lang.convert import to_context
from damos_lang.features import minimum_version
from damos_lang.pipeline import unit_of
from damos_lang.lower import parse
from damos_lang.sysfs.plan import PID_FROM_CALLER, plan_for
from damos_lang.targets import Options

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
STOCK = (6, 12)


def examples_for_stock_kernel():
    out = []
    for f in sorted((ROOT / "examples").glob("*.damos")):
        program = parse(f.read_text())
        if minimum_version(to_context(program)).since <= STOCK and all(t.pid is None for t in program.targets):
            out.append(f.stem)
    return out


def test_examples_are_covered():
    # the proof must not silently shrink to nothing
    assert {"ethp", "prcl", "reclaim"} <= set(examples_for_stock_kernel())


def test_examples_set_the_kernel_files_of_our_plan(kernel_rig, stock_kernel, vm_out):
    names = examples_for_stock_kernel()
    damo = kernel_rig.find_tool("damo")
    if damo is None:
        pytest.fail(f"damo is not installed in this environment ({', '.join(kernel_rig.tool_dirs())}) "
                    "nor on PATH (pip install '.[test]' installs it)")
    files, expected = {}, {}
    for name in names:
        program = parse((ROOT / "examples" / f"{name}.damos").read_text())
        writes = plan_for(unit_of(program, interface="sysfs"), Options(), pid_from_caller=True)
        leaves = {}
        for w in writes:
            if w.path.endswith("/state") or w.value == PID_FROM_CALLER:
                continue
            leaves[w.path] = w.value
        expected[name] = leaves
        files[f"{name}.paths"] = "\n".join(leaves) + "\n"
        files[f"{name}.sh"] = kernel_rig.compile_damos((ROOT / "examples" / f"{name}.damos").read_text())
    r = kernel_rig.run_vm(stock_kernel, kernel_rig.job("examples.sh"), timeout=240, files=files,
                          env={"EXAMPLES": " ".join(names), "DAMO": damo}, out=vm_out, keep=(damo,))
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    for name in names:
        ctx = f"{name}: {res}\n{r.describe()}"
        assert res[f"{name}.script_rc"] == "0" and res[f"{name}.script_state"] == "on", ctx
        assert kernel_rig.parse_kv(r.text(f"{name}.ours.txt")) == expected[name], ctx
        assert res[f"{name}.damo_rc"] == "0" and res[f"{name}.damo_state"] == "on", ctx
        damo_values = kernel_rig.parse_kv(r.text(f"{name}.damo.txt"))
        assert damo_values == expected[name], ctx
        assert res[f"{name}.damo_stop_rc"] == "0", ctx
