"""The README's main command (`./dev demo`) works and shows what the README
says it shows."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_dev_demo_runs_every_example_without_error():
    r = subprocess.run(["sh", "./dev", "demo"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stdout + r.stderr
    examples = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".damos"))
    assert examples
    for name in examples:
        assert f"=== examples/{name}" in r.stdout
        assert os.path.exists(os.path.join(ROOT, "build", "examples", name[:-6] + ".sh"))
    # the README's debugfs lines for ethp
    assert ("0\t18446744073709551615\t1\t4294967295\t0\t4294967295\t3\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0"
            in r.stdout)
    assert "examples/ethp.damos: 2 schemes, needs Linux >= 5.18: DAMON sysfs interface" in r.stdout
    # the main job: prcl applied from user space to the simulated stairs workload
    assert "damos run: stopped" in r.stdout and "scheme 0 (pageout): tried" in r.stdout
    resident = [line for line in r.stdout.splitlines() if line.strip().startswith("resident:")]
    assert resident, r.stdout[-3000:]
    start, end = (float(x.split()[0]) for x in resident[0].split("resident:")[1].split(",")[:2])
    assert end < start / 2, resident   # the idle buffers left memory


def test_readme_tour_lines_are_true():
    readme = open(os.path.join(ROOT, "README.md")).read()
    # the interpreter running the tests: any environment the package is installed in
    r = subprocess.run([sys.executable, "-m", "damos_lang", "explain", "examples/prcl.damos"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr
    tour = r.stdout.splitlines()[4:9]
    assert len(tour) == 5, r.stdout
    for line in tour:
        assert line in readme, line
