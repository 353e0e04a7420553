# Tree listing: every file and directory of the kernel's DAMON sysfs tree
# (/sys/kernel/mm/damon/admin), with one of each sub-directory the kernel has.
#
# Inside the VM it creates one kdamond with one context, one target (the
# workload, vaddr, one region) and one scheme, then writes 1 to every
# writable nr_* file that still reads 0 until none is left: so every goal,
# filter (filters/, core_filters/, ops_filters/), dest, probe, probe filter and
# region directory the kernel has gets exactly one entry, whatever its version.
#
# Output files in the run directory:
#   tree-<uname -r>.txt   the listing (format below)
#   facts.txt             KEY=VALUE: what happened (DAMON_STAT, on, update...)
#   writes.log            every sysfs write and its result (ok or errno name)
#
# Listing format (version 1), one line per path, UTF-8:
#   # ...                              comment lines; "# section NAME" starts a section
#   PATH<TAB>TYPE<TAB>MODE<TAB>VALUE
# PATH   relative to /sys/kernel/mm/damon/admin, "/"-separated, sorted by
#        component (a directory before its contents)
# TYPE   dir | file | link
# MODE   permission bits in octal, 4 digits (0600)
# VALUE  -            a directory, or a file its owner may not read (mode)
#        "..."        the file's exact content as a JSON string: the trailing
#                     newline shows as \n, bytes that are not UTF-8 as \udcXX
#        ERRNO after an exclamation mark: reading failed (e.g. "!EINVAL")
# Sections:
#   defaults   right after the nr_* writes: every file at its default but the
#              nr_* counts, which read 1 (nothing else is written before)
#   running    the kdamond on (DAMON_STAT stopped first, where it runs), pid,
#              regions and access pattern set, after update_schemes_stats and
#              update_schemes_tried_regions returned: adds tried_regions/<R>/...
#              (and tried_regions/<R>/probes/<P>/hits, 7.2+)
# After the listing, facts.txt records a few checks of the running kdamond:
# DAMON_STAT's start beside it, filter types in the other filter directory,
# nr_kdamonds while it runs; update_schemes_stats before on and after off;
# nr_contexts 2.
. /lib/rig.sh
start_workload 16 4 0 || { echo "workload did not start"; exit 3; }
# shellcheck disable=SC2154  # pid addr len: set by start_workload
hostrun "$PY" - "$RIG_OUTHOST" "$pid" "$addr" "$len" <<'PYEOF'
import errno, json, os, stat, sys, time

out, pid, addr, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 16), int(sys.argv[4])
ADMIN = "/sys/kernel/mm/damon/admin"
DSTAT = "/sys/module/damon_stat/parameters"
K = "kdamonds/0"
C = K + "/contexts/0"
S = C + "/schemes/0"
release = os.uname().release
facts, writes = {}, []


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(rel, value, root=ADMIN):
    """One write(2) of value; returns "ok" or the errno name."""
    path = os.path.join(root, rel)
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
        res = "ok"
    except OSError as e:
        res = errno.errorcode.get(e.errno, str(e.errno))
    writes.append(f"{rel} <- {value!r}: {res}")
    return res


def walk(top):
    """Relative paths under top, a directory before its contents, names sorted."""
    for name in sorted(os.listdir(top)):
        full = os.path.join(top, name)
        yield name
        if os.path.isdir(full) and not os.path.islink(full):
            for sub in walk(full):
                yield name + "/" + sub


def listing():
    lines = []
    for rel in walk(ADMIN):
        full = os.path.join(ADMIN, rel)
        st = os.lstat(full)
        mode = stat.S_IMODE(st.st_mode)
        kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
        value = "-"
        if kind == "file" and mode & stat.S_IRUSR:
            try:
                value = json.dumps(read(full).decode("utf-8", "surrogateescape"))
            except OSError as e:
                value = "!" + errno.errorcode.get(e.errno, str(e.errno))
        lines.append(f"{rel}\t{kind}\t{mode:04o}\t{value}")
    return lines


def fill_counts():
    """Write 1 to each writable nr_* file that reads 0, until none is left.
    A count file makes a sibling directory 0 appear; any other nr_* file
    (quotas/weights/nr_accesses_permil) gets its 0 back and is left alone."""
    counts, others = [], set()
    while True:
        todo = []
        for rel in walk(ADMIN):
            full = os.path.join(ADMIN, rel)
            name = rel.rsplit("/", 1)[-1]
            if (name.startswith("nr_") and rel not in others and os.path.isfile(full)
                    and os.stat(full).st_mode & stat.S_IWUSR and read(full).strip() == b"0"):
                todo.append(rel)
        if not todo:
            return counts
        for rel in todo:
            if write(rel, 1) != "ok":
                facts["fill_failed"] = facts.get("fill_failed", "") + rel + " "
                return counts
            if os.path.isdir(os.path.join(ADMIN, os.path.dirname(rel), "0")):
                counts.append(rel)
            else:
                write(rel, 0)
                others.add(rel)


def damon_stat():
    if not os.path.isdir(DSTAT):
        return "absent", "absent"
    return read(DSTAT + "/enabled").decode().strip(), read(DSTAT + "/kdamond_pid").decode().strip()


facts["release"] = release
facts["damon_stat_enabled_at_boot"], facts["damon_stat_kdamond_pid_at_boot"] = damon_stat()
facts["uptime_at_job"] = read("/proc/uptime").split()[0].decode()

# one kdamond, one context, one target, one scheme, one of everything below
write("kdamonds/nr_kdamonds", 1)
write(K + "/contexts/nr_contexts", 1)
write(C + "/targets/nr_targets", 1)
write(C + "/schemes/nr_schemes", 1)
facts["counts_filled"] = " ".join(fill_counts())
facts["nr_files_not_counts"] = " ".join(sorted({w.split(" <- ")[0] for w in writes if w.endswith(" <- 0: ok")}))
sections = [("defaults", listing())]
facts["update_schemes_stats_never_on"] = write(K + "/state", "update_schemes_stats")

# make the kdamond run and try every region: the workload's range, any access pattern
write(C + "/operations", "vaddr")
write(C + "/targets/0/pid_target", pid)
write(C + "/targets/0/regions/0/start", addr)
write(C + "/targets/0/regions/0/end", addr + length)
for what, hi in (("sz", 2**64 - 1), ("nr_accesses", 2**32 - 1), ("age", 2**32 - 1)):
    write(f"{S}/access_pattern/{what}/min", 0)
    write(f"{S}/access_pattern/{what}/max", hi)

if facts["damon_stat_enabled_at_boot"] == "Y":
    facts["on_while_damon_stat_runs"] = write(K + "/state", "on")
    if facts["on_while_damon_stat_runs"] == "ok":
        write(K + "/state", "off")
    facts["damon_stat_stop"] = write("enabled", "N", root=DSTAT)
    t0 = time.monotonic()
    while damon_stat()[1] not in ("-1", "0") and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    facts["damon_stat_enabled_after_stop"], facts["damon_stat_kdamond_pid_after_stop"] = damon_stat()
    facts["damon_stat_stop_seconds"] = f"{time.monotonic() - t0:.2f}"
facts["on"] = write(K + "/state", "on")
facts["state_after_on"] = read(os.path.join(ADMIN, K, "state")).decode().strip()
facts["kdamond_pid"] = read(os.path.join(ADMIN, K, "pid")).decode().strip()
time.sleep(1)                    # a few aggregation intervals (100 ms each)
facts["update_schemes_stats"] = write(K + "/state", "update_schemes_stats")
t0 = time.monotonic()
facts["update_schemes_tried_regions"] = write(K + "/state", "update_schemes_tried_regions")
facts["update_schemes_tried_regions_seconds"] = f"{time.monotonic() - t0:.2f}"
facts["nr_tried_regions"] = str(sum(1 for n in os.listdir(os.path.join(ADMIN, S, "tried_regions")) if n.isdigit()))
sections.append(("running", listing()))

# what the reference says of a running kdamond, checked after the listing
if os.path.isdir(DSTAT):         # DAMON_STAT cannot start beside a sysfs kdamond
    facts["damon_stat_start_while_sysfs_runs"] = write("enabled", "Y", root=DSTAT)
    time.sleep(0.5)
    facts["damon_stat_enabled_after_start"], facts["damon_stat_kdamond_pid_after_start"] = damon_stat()
    if facts["damon_stat_enabled_after_start"] == "Y":
        write("enabled", "N", root=DSTAT)
for d, t in (("core_filters", "anon"), ("ops_filters", "addr"), ("core_filters", "addr"), ("ops_filters", "anon")):
    if os.path.isdir(os.path.join(ADMIN, S, d)):   # a filter type in the wrong directory
        facts[f"{d}_type_{t}"] = write(f"{S}/{d}/0/type", t)
facts["nr_kdamonds_while_on"] = write("kdamonds/nr_kdamonds", 1)
facts["off"] = write(K + "/state", "off")
facts["state_after_off"] = read(os.path.join(ADMIN, K, "state")).decode().strip()
facts["update_schemes_stats_right_after_off"] = write(K + "/state", "update_schemes_stats")
time.sleep(1)
facts["update_schemes_stats_1s_after_off"] = write(K + "/state", "update_schemes_stats")
facts["nr_contexts_2"] = write(K + "/contexts/nr_contexts", 2)

with open(os.path.join(out, f"tree-{release}.txt"), "w") as f:
    f.write("# DAMON sysfs tree listing, format 1: PATH<TAB>TYPE<TAB>MODE<TAB>VALUE (see jobs/tree-listing.sh)\n")
    f.write(f"# kernel {release}\n")
    for name, lines in sections:
        f.write(f"# section {name}\n")
        f.writelines(line + "\n" for line in lines)
with open(os.path.join(out, "facts.txt"), "w") as f:
    f.writelines(f"{k}={v}\n" for k, v in facts.items())
with open(os.path.join(out, "writes.log"), "w") as f:
    f.writelines(w + "\n" for w in writes)
print("\n".join(f"{k}={v}" for k, v in facts.items()))
ok = facts["on"] == "ok" and facts["update_schemes_tried_regions"] == "ok" and "fill_failed" not in facts
sys.exit(0 if ok else 1)
PYEOF
rc=$?
kill "$pid"
exit $rc
