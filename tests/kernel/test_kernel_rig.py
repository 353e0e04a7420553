"""The rig itself: job status, output and result files come back; a hung guest
is killed at its timeout and no qemu process is left; the stock kernel has the
features the later proofs rely on."""
import json
import time

import pytest

pytestmark = pytest.mark.kernel

BASIC_JOB = r'''
echo "hello from $(uname -r)"
hostrun $PY -c "import json, os, sys; json.dump({'version': sys.version, 'uname': os.uname().release, 'cwd_ok': os.path.isdir('$PROJ/tests/kernel')}, open('$RIG_OUTHOST/fromvm.json', 'w'))" || exit 9
cat /out/input.txt
exit 7
'''


def test_job_status_output_and_result_files(kernel_rig, custom_kernel, vm_out):
    r = kernel_rig.run_vm(custom_kernel, BASIC_JOB, timeout=90, cmdline=(),
                          files={"input.txt": "file passed in\n"}, out=vm_out)
    assert r.rc == 7, r.describe()
    assert not r.timed_out
    assert "hello from 6.12" in r.log, r.describe()
    assert "file passed in" in r.log, r.describe()
    got = json.loads(r.text("fromvm.json"))
    assert got["uname"].startswith("6.12"), got
    assert got["version"].startswith("3."), got
    assert got["cwd_ok"] is True, got     # the checkout is visible inside the VM
    assert kernel_rig.vm_processes(r.out) == []


def test_hung_guest_is_killed_at_timeout(kernel_rig, custom_kernel, vm_out):
    timeout = 20
    t0 = time.monotonic()
    r = kernel_rig.run_vm(custom_kernel, "echo job started\nsleep 100000\n", timeout=timeout,
                          cmdline=(), out=vm_out)
    elapsed = time.monotonic() - t0
    assert r.timed_out, r.describe()
    assert r.rc is None
    # the guest really booted and hung in the job (not a boot failure)
    assert "RIG: kernel 6.12" in r.console, r.describe()
    assert "RIG-EXIT" not in r.console, r.describe()
    assert f"killed after its {timeout}s timeout" in r.console
    assert timeout <= elapsed < timeout + 15, elapsed
    # no qemu (or runvm.sh/timeout) of this run is left behind
    assert kernel_rig.vm_processes(r.out) == []


STOCK_FEATURES_JOB = r'''
D=/sys/kernel/mm/damon/admin
echo "ops=$(cat $D/kdamonds/nr_kdamonds >/dev/null && echo 1 > $D/kdamonds/nr_kdamonds && echo 1 > $D/kdamonds/0/contexts/nr_contexts && cat $D/kdamonds/0/contexts/0/avail_operations | tr "\n" " ")"
echo "reclaim=$([ -d /sys/module/damon_reclaim/parameters ] && echo yes || echo no)"
echo "page_idle=$([ -e /sys/kernel/mm/page_idle/bitmap ] && echo yes || echo no)"
echo "zram=$([ -e /sys/block/zram0 ] && echo yes || echo no)"
echo "tracepoint=$([ -d /sys/kernel/tracing/events/damon/damon_aggregated ] && echo yes || echo no)"
echo "python=$(hostrun $PY -c 'print(6*7)')"
'''


def test_stock_kernel_features(kernel_rig, stock_kernel, vm_out):
    r = kernel_rig.run_vm(stock_kernel, STOCK_FEATURES_JOB, timeout=90, cmdline=(), out=vm_out)
    assert r.rc == 0, r.describe()
    kv = dict(line.split("=", 1) for line in r.log.splitlines() if "=" in line)
    assert kv.get("ops", "").split() == ["vaddr", "fvaddr", "paddr"], r.describe()
    assert kv.get("reclaim") == "yes", r.describe()
    assert kv.get("page_idle") == "no", r.describe()
    assert kv.get("zram") == "yes", r.describe()
    assert kv.get("tracepoint") == "yes", r.describe()
    assert kv.get("python") == "42", r.describe()
