# Proof: `damos run`'s targets beyond one --pid, in the custom kernel
# (page_idle).  Boot with pti=on.  One boot, two parts:
#  1. --cgroup: a cgroup v2 holding only a sleeper; damos run --cgroup with
#     prcl (age 1 s) for $CG_SECS s; 1 s after its record's header, the
#     workload starts inside the cgroup (it was not there when damos run started): it must become a
#     target and its cold part be paged out (zram swap).
#  2. --include-children: damos run --include-children -- sh -c 'workload ...'
#     with a stat scheme: the shell forks the workload, which must become a
#     target ("child of" the shell) whose hot 8 MiB the record shows.
# Results: result.txt (KEY=VALUE), cg.jsonl, kids.jsonl, *.out/*.err.
. /lib/rig.sh
R=/out/result.txt
O=$RIG_OUTHOST
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no page_idle"; exit 2; }
mkdir -p /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup || { echo "no cgroup2"; exit 3; }
# the same hierarchy where damos run (in the chroot) looks for it
mount -t cgroup2 none /host/sys/fs/cgroup || { echo "no cgroup2 in /host"; exit 3; }
cp /bin/workload /out/workload || exit 3
zram_swap || exit 4
G=/sys/fs/cgroup/dl
mkdir $G || exit 5
sh -c "echo \$\$ > $G/cgroup.procs; exec sleep 600" &
sleeper=$!
sleep 0.2
echo "sleeper=$sleeper" > $R
echo "procs_at_start=$(cat $G/cgroup.procs | tr '\n' ' ')" >> $R
hostrun $PY -m damos_lang run $O/prcl.damos --cgroup $G --duration ${CG_SECS:-12}s \
    --record $O/cg.jsonl -q > /out/cg.out 2> /out/cg.err &
runner=$!
# damos run has started (its record has a header) before the workload exists
i=0; while [ ! -s /out/cg.jsonl ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo "header_after_s=$((i / 10))" >> $R
sleep 1
# the workload joins the cgroup before it maps anything (exec keeps the cgroup)
sh -c "echo \$\$ > $G/cgroup.procs; exec /bin/workload 64 8 0" > /tmp/wl.out &
i=0; while [ ! -s /tmp/wl.out ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
read pid addr len < /tmp/wl.out
echo "late_pid=$pid" >> $R; echo "late_addr=$addr" >> $R; echo "late_len=$len" >> $R
echo "late_cgroup=$(cat /proc/$pid/cgroup)" >> $R
wait $runner
echo "cg_rc=$?" >> $R
echo "late_rss_kb=$(kb VmRSS)" >> $R
echo "late_swap_kb=$(kb VmSwap)" >> $R
kill $pid $sleeper

hostrun $PY -m damos_lang run $O/stat.damos --include-children --record $O/kids.jsonl -q \
    -- sh -c "$O/workload 64 8 ${KIDS_SECS:-8}; echo shell-done" > /out/kids.out 2> /out/kids.err
echo "kids_rc=$?" >> $R
cat $R; cat /out/*.out /out/*.err
