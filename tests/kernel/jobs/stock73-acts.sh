# Features newer than 6.12 acting on Debian's stock 7.3 (busybox sh, one boot
# with two NUMA nodes, pti=on).  Each proof runs RUNS times (default 3) in
# this boot; every kdamond is started by our compiled sysfs script
# /out/NAME.sh --stop-damon-stat PID (compiled on the host from the test's
# NAME.damos), then turned off with nr_kdamonds 0.
#   intervals  intervals_goal: sample_us/aggr_us after update_tuned_intervals
#   snapshots  max_snapshots 5 beside an unlimited scheme: nr_snapshots, nr_tried
#   tuners     consist and temporal: effective_bytes over time, then with the
#              goal met (current_value written, commit_schemes_quota_goals)
#   filters    stat schemes with core/ops filters: sz_ops_filter_passed
#   dests      migrate_cold, dests 0 weight 30 / 1 weight 70: pages per node
#   nid        migrate_cold, target_nid 1: pages per node
#   collapse   collapse on /out/thp_workload.py's mapping: AnonHugePages
# Results: /out/result.txt, NAME.RUN.KEY=VALUE lines; T.* keys are uptimes.
. /lib/rig.sh
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0; C=$K/contexts/0; SC=$C/schemes
R=/out/result.txt; : > $R
THP=/sys/kernel/mm/transparent_hugepage/enabled
# no huge pages at fault time (Debian's default is always): only collapse makes them
echo madvise > $THP
echo "thp=$(cat $THP)" >> $R
echo "online_nodes=$(cat /sys/devices/system/node/online)" >> $R
now() { cut -d' ' -f1 /proc/uptime; }
put() { echo "$name.$run.$1=$2" >> $R; }
cmd() { echo "$1" > $K/state || put "cmd_failed_$1" 1; }
start() {  # start PID: this proof's compiled script
  sh /out/$name.sh --stop-damon-stat "$1" > /out/$name.$run.out 2> /out/$name.$run.err
  put rc $?
  put state "$(cat $K/state)"
}
finish() { echo off > $K/state; echo 0 > $D/kdamonds/nr_kdamonds; }
workload() {  # workload ARGS: /bin/workload on CPU 0 (node 0), so its pages are on node 0
  rm -f /tmp/wl.out
  taskset -p -c 0 $$ > /dev/null
  start_workload "$@"
  taskset -p -c 0-1 $$ > /dev/null
}
stopwl() { kill $pid; wait $pid 2>/dev/null; }
nodes() {  # pages of the workload's mapping on node 0 and node 1: "N0 N1"
  n0=0; n1=0
  for w in $(grep "^${addr#0x} " /proc/$pid/numa_maps); do
    case $w in N0=*) n0=${w#N0=} ;; N1=*) n1=${w#N1=} ;; esac
  done
  echo "$n0 $n1"
}
stat_of() { cat $SC/$1/stats/$2; }

for run in $(seq 1 ${RUNS:-3}); do
  echo "=== run $run"
  # -- an idle workload (written once) for the monitoring and stat proofs
  workload 64 0 0 || { echo "workload did not start"; exit 3; }

  name=intervals
  start $pid
  put T.start "$(now)"
  put sample0 "$(cat $C/monitoring_attrs/intervals/sample_us)"
  for i in 1 2; do
    sleep 2
    cmd update_tuned_intervals
    put T.$i "$(now)"
    put sample$i "$(cat $C/monitoring_attrs/intervals/sample_us)"
    put aggr$i "$(cat $C/monitoring_attrs/intervals/aggr_us)"
  done
  finish

  name=snapshots
  start $pid
  for i in 1 2; do
    sleep 1.5
    cmd update_schemes_stats
    put T.$i "$(now)"
    for s in 0 1; do
      for f in nr_snapshots max_nr_snapshots nr_tried; do put s$s.$f$i "$(stat_of $s $f)"; done
    done
  done
  finish

  name=tuners
  start $pid
  put T.start "$(now)"
  for i in 1 2 3 4; do
    sleep 0.5
    cmd update_schemes_effective_quotas
    put T.$i "$(now)"
    put consist$i "$(cat $SC/0/quotas/effective_bytes)"
    put temporal$i "$(cat $SC/1/quotas/effective_bytes)"
  done
  # the goal met beyond its target: current 400 of 300
  for s in 0 1; do echo 400 > $SC/$s/quotas/goals/0/current_value; done
  cmd commit_schemes_quota_goals
  sleep 1
  cmd update_schemes_effective_quotas
  put consist_met "$(cat $SC/0/quotas/effective_bytes)"
  put temporal_met "$(cat $SC/1/quotas/effective_bytes)"
  finish

  name=filters
  start $pid
  sleep 1.5
  cmd update_schemes_stats
  for s in 0 1 2 3 4; do
    for f in sz_ops_filter_passed nr_snapshots nr_tried sz_tried; do put s$s.$f "$(stat_of $s $f)"; done
  done
  finish
  stopwl

  # -- migrations: a fresh idle workload on node 0 each
  for name in dests nid; do
    workload 64 0 0 || { echo "workload did not start"; exit 3; }
    put before "$(nodes)"
    start $pid
    last=; same=0
    for i in $(seq 1 30); do
      sleep 0.5
      n=$(nodes)
      [ "$n" = "$last" ] && same=$((same + 1)) || same=0
      last=$n
      [ $same -ge 2 ] && [ "${n#* }" != 0 ] && break
    done
    put polls $i
    put after "$n"
    cmd update_schemes_stats
    put sz_applied "$(stat_of 0 sz_applied)"
    finish
    stopwl
  done

  # -- collapse: a process without MADV_NOHUGEPAGE (the C workload sets it)
  name=collapse
  rm -f /tmp/thp.out
  hostrun $PY $RIG_OUTHOST/thp_workload.py 32 > /tmp/thp.out &
  i=0; while [ ! -s /tmp/thp.out ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  read pid addr len < /tmp/thp.out
  ahp() { awk -v a="${addr#0x}-" 'index($0, a) == 1 {f = 1; next}
          f && /^AnonHugePages:/ {print $2; exit}' /proc/$pid/smaps; }
  put before "$(ahp)"
  start $pid
  for i in $(seq 1 30); do
    sleep 0.5
    a=$(ahp)
    [ "$a" -ge 16384 ] 2>/dev/null && break
  done
  put polls $i
  put after "$(ahp)"
  cmd update_schemes_stats
  put sz_applied "$(stat_of 0 sz_applied)"
  finish
  stopwl
done
cat $R
