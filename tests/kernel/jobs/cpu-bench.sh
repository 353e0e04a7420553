# Benchmark figures measured in the custom 6.12 kernel (page_idle, DAMON
# sysfs); boot with pti=on.  On the rig workload (64 MiB, first 8 MiB hot),
# one after the other (they share the idle bits):
#  a. a kdamond from /out/scheme.sh (compiled from the scheme that b runs:
#     stat, 5 ms / 100 ms / 1 s, nr_regions 10..1000) for $SECS s: its
#     utime+stime from /proc/PID/stat before and after;
#  b. `damos run` with the same scheme against the same pid for $SECS s:
#     the CPU time and wall time of its summary line;
#  c. the monitor alone on page_idle at 10, 100 and 1000 regions for
#     $MON_SECS s each, and after the 10-region run the full-scan baseline
#     (idle_scan.py: every page of the workload marked idle and read back
#     every 100 ms) for $MON_SECS s too (cpu_bench.py, which also writes
#     every figure to cpu-bench.json).
# Results: result.txt (KEY=VALUE), run.out/run.err, cpu-bench.json.
. /lib/rig.sh
R=/out/result.txt
O=$RIG_OUTHOST
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no /sys/kernel/mm/page_idle/bitmap"; exit 2; }
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
echo "pid=$pid" > $R; echo "addr=$addr" >> $R; echo "len=$len" >> $R
# the guest's timekeeping, to tell runs apart: the light figures (kdamond,
# 10-region monitor, damos run) come in two modes 20-40x apart between boots
CS=/sys/devices/system/clocksource/clocksource0/current_clocksource
CE=/sys/devices/system/clockevents/clockevent0/current_device
echo "cpus=$(nproc)" >> $R
echo "clocksource=$(cat $CS)" >> $R; echo "clockevent=$(cat $CE)" >> $R
echo "hrtimer_handlers=$(grep -c hrtimer_interrupt /proc/timer_list)" >> $R
K=/sys/kernel/mm/damon/admin/kdamonds/0
# a. the kdamond
sh /out/scheme.sh $pid || { echo "scheme.sh failed"; exit 4; }
kp=$(cat $K/pid)
[ "$kp" -gt 0 ] 2>/dev/null || { echo "no kdamond pid ($kp)"; exit 5; }
echo "kdamond_pid=$kp" >> $R
ticks() { awk -v s=$1 '{print "kd_utime" s "=" $14; print "kd_stime" s "=" $15}' /proc/$kp/stat; }
echo "kd_up0=$(cut -d' ' -f1 /proc/uptime)" >> $R; ticks 0 >> $R
sleep ${SECS:-8}
echo "kd_up1=$(cut -d' ' -f1 /proc/uptime)" >> $R; ticks 1 >> $R
echo off > $K/state
echo "kdamond_state_after=$(cat $K/state)" >> $R
# b. damos run, same scheme, same pid (SIGTERM after 2x the duration if its
#    sampling falls behind the wall clock: it then prints its summary).  The
#    guard adds a minute for the interpreter's start: on a busy host (load 3-4
#    on 2 cores) the guest took over 16 s to start Python and import the
#    project, and a SIGTERM before the handler is set leaves no summary
timeout -s TERM $((${SECS:-8} * 2 + 60)) hostrun $PY -m damos_lang run $O/scheme.damos --pid $pid --duration ${SECS:-8}s -q \
    > /out/run.out 2> /out/run.err
echo "run_rc=$?" >> $R
# c. the monitor alone, then cpu-bench.json
hostrun $PY $KDIR/cpu_bench.py $pid ${MON_SECS:-5} $O > /out/bench.out 2> /out/bench.err
echo "bench_rc=$?" >> $R
echo "alive_after=$(kill -0 $pid 2>/dev/null && echo yes || echo no)" >> $R
kill $pid
cat $R; cat /out/run.out /out/run.err /out/bench.out /out/bench.err
