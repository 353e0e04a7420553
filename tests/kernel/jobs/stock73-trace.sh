# Proof: the kernel's newer DAMON tracepoints, as `damos report` reads them,
# in Debian's stock 7.3 (DAMON_STAT stopped first).  One kdamond on the rig
# workload (64 MiB, first 8 MiB hot) with intervals_goal, a stat scheme and
# a pageout scheme (age >= 3 aggregations, no access) with a size quota, every event of
# the damon trace system on, for $SECS s; then update_schemes_stats, so the
# schemes' stats in sysfs can be set beside the trace's last ones.
# Results: trace.txt, stats.txt (scheme N FIELD VALUE), events.txt, result.txt.
. /lib/rig.sh
R=/out/result.txt
T=/sys/kernel/tracing
D=/sys/kernel/mm/damon/admin
echo N > /sys/module/damon_stat/parameters/enabled
i=0; while [ -d /sys/kernel/mm/damon/admin/kdamonds/0 ] && [ "$(cat $D/kdamonds/nr_kdamonds)" != 0 ] \
    && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
zram_swap || exit 2
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
echo "pid=$pid" > $R; echo "addr=$addr" >> $R; echo "len=$len" >> $R
ls $T/events/damon > /out/events.txt
echo 0 > $T/options/record-cmd
echo 16384 > $T/buffer_size_kb
echo > $T/trace
echo 1 > $T/events/damon/enable || exit 4
echo 1 > $D/kdamonds/nr_kdamonds; K=$D/kdamonds/0
echo 1 > $K/contexts/nr_contexts; C=$K/contexts/0
echo vaddr > $C/operations
I=$C/monitoring_attrs/intervals
echo 5000 > $I/sample_us; echo 100000 > $I/aggr_us; echo 1000000 > $I/update_us
G=$I/intervals_goal
echo 400 > $G/access_bp; echo 3 > $G/aggrs; echo 5000 > $G/min_sample_us; echo 50000 > $G/max_sample_us
echo 1 > $C/targets/nr_targets; echo $pid > $C/targets/0/pid_target
echo 2 > $C/schemes/nr_schemes
# a fresh scheme's pattern bounds are all 0 (matches nothing): write all six
pattern() {  # DIR SZ_MIN NR_MIN NR_MAX AGE_MIN
  echo 18446744073709551615 > $1/access_pattern/sz/max; echo $2 > $1/access_pattern/sz/min
  echo $4 > $1/access_pattern/nr_accesses/max; echo $3 > $1/access_pattern/nr_accesses/min
  echo 4294967295 > $1/access_pattern/age/max; echo $5 > $1/access_pattern/age/min
}
echo stat > $C/schemes/0/action
pattern $C/schemes/0 0 0 4294967295 0
S=$C/schemes/1
echo pageout > $S/action
pattern $S 4096 0 0 3
echo 16777216 > $S/quotas/bytes; echo 1000 > $S/quotas/reset_interval_ms
echo on > $K/state || exit 5
sleep ${SECS:-5}
echo update_schemes_stats > $K/state
echo update_tuned_intervals > $K/state
for n in 0 1; do
  for f in $C/schemes/$n/stats/*; do echo "scheme $n $(basename $f) $(cat $f)"; done
done > /out/stats.txt
echo "tuned_sample_us=$(cat $I/sample_us)" >> $R
echo "tuned_aggr_us=$(cat $I/aggr_us)" >> $R
echo off > $K/state
echo 0 > $T/events/damon/enable
cp $T/trace /out/trace.txt
echo "trace_lines=$(grep -c . /out/trace.txt)" >> $R
kill $pid
cat $R /out/stats.txt /out/events.txt
