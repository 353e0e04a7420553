# The examples on Debian's stock 7.3 (busybox sh, one boot), where DAMON_STAT
# runs from boot.  For each NAME of EXAMPLES:
#   1. our compiled sysfs script, /out/NAME.sh --stop-damon-stat [PID]: it
#      stops DAMON_STAT and starts kdamond 0; every file of our write plan
#      (/out/NAME.paths) is read back into /out/NAME.script.txt;
#      then off, nr_kdamonds 0 and DAMON_STAT started again (echo Y);
#   2. damos apply --stop-damon-stat /out/NAME.damos [--pid PID] (the host's
#      Python in the chroot): the same read-back into /out/NAME.apply.txt;
#      then damos stop, which must start DAMON_STAT again.
# /out/NAME.pid exists when the example takes the workload's pid.  Around
# each step, DAMON_STAT's enabled and the comm of its kdamond_pid go to
# /out/result.txt (NAME.STEP.stat_enabled, NAME.STEP.stat_comm).
# The memcgs everything.damos names exist (cgroup2, memory controller).
. /lib/rig.sh
# damos in the chroot imports this checkout's damos_lang
HOSTRUN_ENV="PYTHONPATH=$PROJ"; export HOSTRUN_ENV
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0
S=/sys/module/damon_stat/parameters
R=/out/result.txt; O=$RIG_OUTHOST
: > $R
CG=/sys/fs/cgroup
mount -t cgroup2 none $CG || { echo "no cgroup2"; exit 3; }
echo +memory > $CG/cgroup.subtree_control
mkdir -p $CG/workloads && echo +memory > $CG/workloads/cgroup.subtree_control
mkdir -p "$CG/workloads/batch job"
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
echo "pid=$pid" >> $R
stat_of() {   # stat NAME.STEP: DAMON_STAT's enabled and what runs as its kdamond
  k=$(cat $S/kdamond_pid)
  echo "$1.stat_enabled=$(cat $S/enabled)" >> $R
  echo "$1.stat_comm=$(cat /proc/$k/comm 2>/dev/null)" >> $R
}
dump() {  # dump NAME OUT: every file of the plan, path=value
  while IFS= read -r p; do
    printf '%s=%s\n' "$p" "$(cat "$D/$p" 2>&1)"
  done < /out/$1.paths > "$2"
}
for name in $EXAMPLES; do
  arg=; parg=
  [ -e /out/$name.pid ] && { arg=$pid; parg="--pid $pid"; }
  echo "=== $name: sysfs script"
  stat_of $name.boot
  sh /out/$name.sh --stop-damon-stat $arg > /out/$name.script.out 2> /out/$name.script.err
  echo "$name.script_rc=$?" >> $R
  echo "$name.script_state=$(cat $K/state)" >> $R
  stat_of $name.script
  dump $name /out/$name.script.txt
  echo off > $K/state
  echo 0 > $D/kdamonds/nr_kdamonds
  echo Y > $S/enabled
  stat_of $name.restored
  echo "=== $name: damos apply"
  damos apply --stop-damon-stat $O/$name.damos $parg > /out/$name.apply.out 2> /out/$name.apply.err
  echo "$name.apply_rc=$?" >> $R
  echo "$name.apply_state=$(cat $K/state)" >> $R
  stat_of $name.apply
  dump $name /out/$name.apply.txt
  damos stop > /out/$name.stop.out 2> /out/$name.stop.err
  echo "$name.stop_rc=$?" >> $R
  echo "$name.stop_nr_kdamonds=$(cat $D/kdamonds/nr_kdamonds)" >> $R
  stat_of $name.stop
done
kill $pid
cat $R
