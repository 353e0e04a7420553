"""The committed VM scale figures (bench/results/vm-cpu-scale.json, written
by `./dev bench bench_vm_scale`, which boots the rig's VM) are whole, and
the bench's rows come from them."""
import json
import math

from bench import bench_vm_scale as scale

PAGE = 4096


def data():
    with open(scale.RESULT) as f:
        return json.load(f)


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_every_size_has_all_three_monitors_and_every_figure():
    d = data()
    assert d["guest_mib"] == 3072 and d["cpus"] >= 1, d
    runs = d["runs"]
    for mib in scale.SIZES_MIB:
        k = scale.find(runs, "kdamond", mib, "10..1000")
        r = scale.find(runs, "damos_run", mib, "10..1000")
        s = scale.find(runs, "full_scan", mib, None)
        assert positive(k["wall_s"]) and k["ticks"] >= 0, k
        for key in ("cpu_s", "wall_s", "cpu_share_percent", "samples_taken", "samples_due"):
            assert positive(r[key]), (key, r)
        assert r["samples_taken"] <= r["samples_due"], r
        for key in ("cpu_s", "wall_s", "intervals", "cpu_per_interval_ms"):
            assert positive(s[key]), (key, s)
        # the scan really covered the workload: every page of it marked
        assert s["pages_marked"] >= (mib << 20) // PAGE, (mib, s)
        assert s["hot_wss_bytes_median"] >= 0.9 * (mib // 8 << 20), (mib, s)
    for n in scale.REGIONS:
        scale.find(runs, "kdamond", scale.SIZES_MIB[0], str(n))
        scale.find(runs, "damos_run", scale.SIZES_MIB[0], str(n))


def test_the_rows_come_from_the_file():
    rows = scale.run(quick=True)
    names = {r["name"] for r in rows}
    for mib in scale.SIZES_MIB:
        for m in ("kdamond", "damos_run", "full_scan"):
            assert f"vm.scale.{mib}MiB.{m}.cpu_share" in names, names
    for n in scale.REGIONS:
        assert f"vm.scale.regions.{n}.damos_run.cpu_share" in names, names
    d = data()
    r = next(r for r in rows if r["name"] == "vm.scale.2048MiB.full_scan.cpu_share")
    s = scale.find(d["runs"], "full_scan", 2048, None)
    assert r["value"] == round(s["cpu_share_percent"], 1), (r, s)
    assert d["date"] in r["note"], r
