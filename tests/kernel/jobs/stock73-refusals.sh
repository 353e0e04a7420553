# What stock 7.3 refuses at 'on' (busybox sh, one boot).  DAMON_STAT is
# stopped first (echo N > .../damon_stat/parameters/enabled).  For each case
# of /out/cases.json ({NAME: [[PATH, VALUE], ...]}, in order) the job writes
# kdamond 0 from scratch with raw write(2)s: nr_kdamonds 1 (which wipes the
# last case's tree), a valid base context (vaddr on the workload's pid, one
# stat scheme over every region), then the case's writes, which override the
# base; then 'on'.  PATH is relative to /sys/kernel/mm/damon/admin, with C/
# for kdamonds/0/contexts/0/ and S/ for C/schemes/0/; VALUE "PID" is the
# workload's pid.  A case that turns on is turned off again.
# Results: /out/result.txt, NAME=ok or NAME=ERRNO (the errno name of the
# 'on' write); NAME.setup=... names a base or case write that failed
# (every one must succeed: the refusal is then the 'on's alone).
. /lib/rig.sh
start_workload 16 4 0 || { echo "workload did not start"; exit 3; }
# shellcheck disable=SC2154  # pid: set by start_workload
hostrun "$PY" - "$RIG_OUTHOST" "$pid" <<'PYEOF'
import errno, json, os, sys, time

out, pid = sys.argv[1], sys.argv[2]
ADMIN = "/sys/kernel/mm/damon/admin"
DSTAT = "/sys/module/damon_stat/parameters"
C = "kdamonds/0/contexts/0/"
S = C + "schemes/0/"
BASE = [
    ("kdamonds/nr_kdamonds", "1"),
    ("kdamonds/0/contexts/nr_contexts", "1"),
    ("C/operations", "vaddr"),
    ("C/monitoring_attrs/intervals/sample_us", "5000"),
    ("C/monitoring_attrs/intervals/aggr_us", "100000"),
    ("C/monitoring_attrs/intervals/update_us", "1000000"),
    ("C/monitoring_attrs/nr_regions/min", "10"),
    ("C/monitoring_attrs/nr_regions/max", "1000"),
    ("C/targets/nr_targets", "1"),
    ("C/targets/0/pid_target", "PID"),
    ("C/schemes/nr_schemes", "1"),
    ("S/action", "stat"),
    ("S/access_pattern/sz/max", "18446744073709551615"),
    ("S/access_pattern/nr_accesses/max", "4294967295"),
    ("S/access_pattern/age/max", "4294967295"),
]
results, log = [], []


def write(rel, value):
    """One write(2); "ok" or the errno name."""
    rel = rel.replace("C/", C, 1) if rel.startswith("C/") else rel
    rel = rel.replace("S/", S, 1) if rel.startswith("S/") else rel
    value = pid if value == "PID" else value
    try:
        fd = os.open(os.path.join(ADMIN, rel), os.O_WRONLY)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
        res = "ok"
    except OSError as e:
        res = errno.errorcode.get(e.errno, str(e.errno))
    log.append(f"{rel} <- {value!r}: {res}")
    return res


def state():
    with open(os.path.join(ADMIN, "kdamonds/0/state")) as f:
        return f.read().strip()


if os.path.isdir(DSTAT):
    with open(DSTAT + "/enabled", "w") as f:
        f.write("N")
    t0 = time.monotonic()
    while open(DSTAT + "/kdamond_pid").read().strip() not in ("-1", "0") \
            and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    results.append(f"damon_stat_enabled={open(DSTAT + '/enabled').read().strip()}")

with open(os.path.join(out, "cases.json")) as f:
    cases = json.load(f)
for name, writes in cases.items():
    failed = [f"{p}={r}" for p, v in BASE + [tuple(w) for w in writes]
              if (r := write(p, v)) != "ok"]
    if failed:
        results.append(f"{name}.setup={' '.join(failed)}")
    results.append(f"{name}={write('kdamonds/0/state', 'on')}")
    results.append(f"{name}.state={state()}")
    if state() == "on":
        write("kdamonds/0/state", "off")
write("kdamonds/nr_kdamonds", "0")
with open(os.path.join(out, "result.txt"), "w") as f:
    f.write("\n".join(results) + "\n")
with open(os.path.join(out, "writes.log"), "w") as f:
    f.write("\n".join(log) + "\n")
PYEOF
