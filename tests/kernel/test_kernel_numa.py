"""A second NUMA node through qemu -numa (run_vm(numa_nodes=2)): the stock
kernels see two nodes of 512 MiB with one CPU each."""
import pytest

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("kind", ["stock", "stock73"])
def test_two_numa_nodes_of_512_mib_and_one_cpu_each(kernel_rig, rig_kernel, vm_out, kind):
    r = kernel_rig.run_vm(rig_kernel(kind), kernel_rig.job("numa-nodes.sh"), timeout=120, cmdline=(),
                          out=vm_out, numa_nodes=2)
    assert r.rc == 0, r.describe()
    lines = r.text("nodes.txt").splitlines()
    nodes = {}
    for line in lines[:-1]:
        name, cpus, mem = line.split()
        nodes[name] = (cpus.split("=")[1], int(mem.split("=")[1]))
    assert lines[-1] == "online=0-1", lines
    assert sorted(nodes) == ["node0", "node1"], lines
    assert [nodes[n][0] for n in ("node0", "node1")] == ["0", "1"], lines
    for name, (_, mem_kb) in nodes.items():
        # 512 MiB each, less what firmware and the kernel keep back
        assert 400 * 1024 < mem_kb <= 512 * 1024, (name, mem_kb)
