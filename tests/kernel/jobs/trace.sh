# Proof: the damon:damon_aggregated tracepoint for a kdamond monitoring the
# workload (64 MiB, first 8 MiB written continuously).  Boot with pti=on.
# Tracing is set up before anything runs (no sched_switch comm hook; event
# enabled before the workload and the kdamond start: pitfall 5 of the recipe).
# Results: trace.txt and wl.out (pid addr len) in the run directory.
. /lib/rig.sh
T=/sys/kernel/tracing
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0; C=$K/contexts/0
[ -d $T/events/damon/damon_aggregated ] || { echo "no damon tracepoints"; exit 2; }
[ -d $D ] || { echo "no DAMON sysfs"; exit 2; }
echo 0 > $T/options/record-cmd
echo 8192 > $T/buffer_size_kb
echo > $T/trace
echo 1 > $T/events/damon/damon_aggregated/enable || exit 3
start_workload 64 8 0 || { echo "workload did not start"; exit 4; }
cp /tmp/wl.out /out/wl.out
echo "workload pid=$pid addr=$addr len=$len"
echo 1 > $D/kdamonds/nr_kdamonds; echo 1 > $K/contexts/nr_contexts
echo vaddr > $C/operations
echo 5000 > $C/monitoring_attrs/intervals/sample_us
echo 100000 > $C/monitoring_attrs/intervals/aggr_us
echo 1000000 > $C/monitoring_attrs/intervals/update_us
echo 1 > $C/targets/nr_targets; echo $pid > $C/targets/0/pid_target
echo on > $K/state || exit 5
echo "kdamond state=$(cat $K/state) pid=$(cat $K/pid)"
sleep ${TRACE_SECS:-4}
echo off > $K/state
echo 0 > $T/events/damon/damon_aggregated/enable
cp $T/trace /out/trace.txt
kill $pid
echo "trace lines: $(grep -c damon_aggregated /out/trace.txt)"
