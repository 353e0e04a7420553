# Proof and benchmark: how well kernel DAMON and `damos run` see the working
# set of masim's stairs and zigzag workloads (their 30 s variants, run by
# /bin/phases, which logs where each region is and when each phase began).
# Each workload runs twice, under a kdamond (our compiled sysfs script, the
# damon_aggregated trace on the mono clock) and then under `damos run --pid`
# with --record (the workload stopped until it is ready): never both at once
# (they share the accessed bits).  ASLR is
# off so both runs of a workload have the same addresses.
# Inputs in /out: stairs.cfg, zigzag.cfg, stat.damos, stat.sh (stat.damos
# compiled to the sysfs target).  Results: result.txt (KEY=VALUE), and per
# workload W: W-kernel.phases, W-kernel.trace, W-damos.phases, W-damos.jsonl.
R=/out/result.txt
O=$RIG_OUTHOST
T=/sys/kernel/tracing
D=/sys/kernel/mm/damon/admin
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no page_idle"; exit 2; }
[ -d $T/events/damon/damon_aggregated ] || { echo "no damon tracepoints"; exit 2; }
echo 0 > /proc/sys/kernel/randomize_va_space
echo mono > $T/trace_clock || { echo "no mono trace clock"; exit 3; }
echo 0 > $T/options/record-cmd
echo 32768 > $T/buffer_size_kb
: > $R
# start_phases W RUN: runs W.cfg, sets pid once its regions are mapped
start_phases() {
  /bin/phases /out/$1.cfg > /out/$1-$2.phases &
  i=0
  while ! grep -q '^phase ' /out/$1-$2.phases 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.05; i=$((i+1))
  done
  pid=$(awk '$1=="pid"{print $2}' /out/$1-$2.phases)
  [ -n "$pid" ] || { echo "$1 did not start"; exit 4; }
}
for w in stairs zigzag; do
  echo > $T/trace
  echo 1 > $T/events/damon/damon_aggregated/enable
  start_phases $w kernel
  sh /out/stat.sh $pid > /out/$w-kernel.out 2>&1
  echo "${w}_kernel_rc=$?" >> $R
  wait
  # the kdamond stops by itself when its only target exits
  echo off > $D/kdamonds/0/state 2>/dev/null
  echo 0 > $T/events/damon/damon_aggregated/enable
  cp $T/trace /out/$w-kernel.trace
  echo "${w}_kernel_lines=$(grep -c damon_aggregated /out/$w-kernel.trace)" >> $R
  echo 0 > $D/kdamonds/nr_kdamonds

  start_phases $w damos
  # held (SIGSTOP) until damos run is monitoring (its record has a header):
  # Python's start takes 2 s idle and took 29 s at load 4, most of the
  # workload's 30 s; the kdamond's shell script needs no such wait
  kill -STOP $pid
  hostrun $PY -m damos_lang run $O/stat.damos --pid $pid --record $O/$w-damos.jsonl -q \
      > /out/$w-damos.out 2>&1 &
  runner=$!
  i=0; while [ ! -s /out/$w-damos.jsonl ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
  echo "${w}_damos_ready_s=$((i / 10))" >> $R
  kill -CONT $pid
  wait $runner
  echo "${w}_damos_rc=$?" >> $R
  wait
done
cat $R
