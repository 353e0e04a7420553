# Proof: `damos run` (the host's Python in the chroot) on the rig workload in
# the custom kernel (page_idle).  Boot with pti=on.  Two parts in one boot:
#  1. damos run starts the workload itself (-- CMD: 64 MiB, first 8 MiB
#     written, exits after $WL_SECS s) with a stat scheme and --record: the
#     run must stop by itself when the target exits, with a summary;
#  2. zram swap and the workload started by the job; a kdamond traces it
#     (damon_aggregated) for $TRACE_SECS s, then damos run --pid records it
#     for as long; then damos run --pid with prcl (age 1 s) for $PRCL_SECS s:
#     VmRSS before/after, then which pages of the hot and cold parts are
#     still present (residency.py).
#  3. an idle workload (written once) under damos run --pid with an
#     intervals_goal (the file test_kernel_stock73.py runs on stock 7.3).
# Results: result.txt (KEY=VALUE), stat.jsonl, trace.txt, stat-pid.jsonl,
# prcl.jsonl, residency.json, intervals.damos, intervals.jsonl, *.out/*.err
# of each damos run.
. /lib/rig.sh
R=/out/result.txt
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no /sys/kernel/mm/page_idle/bitmap"; exit 2; }
cp /bin/workload /out/workload || exit 3
O=$RIG_OUTHOST
t0=$(cut -d' ' -f1 /proc/uptime)
hostrun $PY -m damos_lang run $O/stat.damos --record $O/stat.jsonl -q -- $O/workload 64 8 ${WL_SECS:-8} \
    > /out/stat.out 2> /out/stat.err
echo "stat_rc=$?" > $R
echo "stat_secs=$(awk -v a=$t0 -v b=$(cut -d' ' -f1 /proc/uptime) 'BEGIN{print b-a}')" >> $R

zram_swap || exit 4
start_workload 64 8 0 || { echo "workload did not start"; exit 7; }
echo "pid=$pid" >> $R; echo "addr=$addr" >> $R; echo "len=$len" >> $R
# 2a. the same process under a kdamond with the damon_aggregated trace, then
#     under damos run --record (never both at once: they share the idle bits)
T=/sys/kernel/tracing
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0; C=$K/contexts/0
echo 0 > $T/options/record-cmd
echo 8192 > $T/buffer_size_kb
echo > $T/trace
echo 1 > $T/events/damon/damon_aggregated/enable || exit 8
echo 1 > $D/kdamonds/nr_kdamonds; echo 1 > $K/contexts/nr_contexts
echo vaddr > $C/operations
echo 5000 > $C/monitoring_attrs/intervals/sample_us
echo 100000 > $C/monitoring_attrs/intervals/aggr_us
echo 1000000 > $C/monitoring_attrs/intervals/update_us
echo 1 > $C/targets/nr_targets; echo $pid > $C/targets/0/pid_target
echo on > $K/state || exit 9
sleep ${TRACE_SECS:-5}
echo off > $K/state
echo 0 > $T/events/damon/damon_aggregated/enable
cp $T/trace /out/trace.txt
echo "kdamond_state_after=$(cat $K/state)" >> $R
hostrun $PY -m damos_lang run $O/stat.damos --pid $pid --duration ${TRACE_SECS:-5}s \
    --record $O/stat-pid.jsonl -q > /out/stat-pid.out 2> /out/stat-pid.err
echo "stat_pid_rc=$?" >> $R
# 2b. prcl
echo "rss_before_kb=$(kb VmRSS)" >> $R
hostrun $PY -m damos_lang run $O/prcl.damos --pid $pid --duration ${PRCL_SECS:-8}s \
    --record $O/prcl.jsonl -q > /out/prcl.out 2> /out/prcl.err
echo "prcl_rc=$?" >> $R
echo "rss_after_kb=$(kb VmRSS)" >> $R
echo "swap_after_kb=$(kb VmSwap)" >> $R
hostrun $PY $KDIR/residency.py $pid $addr $len $((8<<20)) $O/residency.json
echo "residency_rc=$?" >> $R
echo "alive_after=$(kill -0 $pid 2>/dev/null && echo yes || echo no)" >> $R
kill $pid
# 3. intervals_goal: damos run --pid with test_kernel_stock73.py's "intervals"
#    file on its workload (64 MiB written once, then idle), ${IG_SECS:-5} s
#    (tunings at 0.3, 0.9, 2.1 and 4.5 s of a 5 ms start): the record's
#    sample_us per aggregation, to compare with stock 7.3's kdamond
cat > /out/intervals.damos <<'EOF'
monitor {
    sample 5ms
    aggr 100ms
    intervals_goal {
        access 4%
        aggrs 3
        min_sample 5ms
        max_sample 1s
    }
}
scheme {
    action stat
}
EOF
rm -f /tmp/wl.out      # else start_workload may read the last workload's line
start_workload 64 0 0 || { echo "idle workload did not start"; exit 10; }
hostrun $PY -m damos_lang run $O/intervals.damos --pid $pid --duration ${IG_SECS:-5}s \
    --record $O/intervals.jsonl -q > /out/intervals.out 2> /out/intervals.err
echo "intervals_rc=$?" >> $R
kill $pid
cat $R; cat /out/*.out /out/*.err
