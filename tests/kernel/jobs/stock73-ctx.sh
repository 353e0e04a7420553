# The context and kdamond settings on Debian's stock 7.3 (busybox sh, one boot),
# each applied by damos apply / damos update (the host's Python in the chroot)
# from files written here with the pids of three idle workloads P1 P2 P3.
# DAMON_STAT runs from boot: the first apply stops it (--stop-damon-stat).
# Every file: sample 1ms, aggr 20ms, update 100ms, one stat scheme.
#   pause     apply with 'pause yes', read nr_tried twice (update_schemes_stats
#             between), then update without it: nr_tried moves again
#   nocmd     stats files read 1 s apart with no state command: they stay
#   refresh   update with 'refresh 100ms': nr_tried moves with no state command
#   obsolete  update dropping P2 from the middle of P1 P2 P3: tried regions'
#             ages before and after (the kept targets keep theirs); then the
#             control: P2 back at the end, and the same drop written by hand
#             without obsolete_target (P3 takes P2's place: young regions)
# Results: /out/result.txt KEY=VALUE; T.* keys are uptimes.
. /lib/rig.sh
HOSTRUN_ENV="PYTHONPATH=$PROJ"; export HOSTRUN_ENV
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0; C=$K/contexts/0; S0=$C/schemes/0
R=/out/result.txt; O=$RIG_OUTHOST
: > $R
now() { cut -d' ' -f1 /proc/uptime; }
put() { echo "$1=$2" >> $R; }
cmd() { echo "$1" > $K/state || put "cmd_failed_$1" 1; }
tried() { cat $S0/stats/nr_tried; }
ages() {  # ages KEY: min age and count of the tried regions, after a fresh update
  cmd update_schemes_tried_regions
  put T.$1 "$(now)"
  put $1.min_age "$(cat $S0/tried_regions/[0-9]*/age | sort -n | head -1)"
  put $1.nr "$(ls -d $S0/tried_regions/[0-9]* | wc -l)"
}
for i in 1 2 3; do
  rm -f /tmp/wl.out
  start_workload 16 0 0 || { echo "workload did not start"; exit 3; }
  eval P$i=$pid
done
put pids "$P1 $P2 $P3"
file() {  # file NAME EXTRA PIDS...: a .damos in /out
  name=$1; extra=$2; shift 2
  { printf 'monitor {\n    sample 1ms\n    aggr 20ms\n    update 100ms\n%b}\n' "$extra"
    for p in "$@"; do printf 'target pid %s\n' $p; done
    printf 'scheme {\n    action stat\n}\n'; } > /out/$name.damos
}
file paused '    pause yes\n' $P1 $P2 $P3
file running '' $P1 $P2 $P3
file refresh '    refresh 100ms\n' $P1 $P2 $P3
file dropped '' $P1 $P3
file readded '' $P1 $P3 $P2
up() {  # up KEY FILE: damos update
  damos update $O/$2.damos > /out/$1.out 2> /out/$1.err
  put $1.rc $?
  put T.$1 "$(now)"
}

echo "=== pause"
damos apply --stop-damon-stat $O/paused.damos > /out/apply.out 2> /out/apply.err
put apply.rc $?
put apply.state "$(cat $K/state)"
put apply.pause "$(cat $C/pause)"
for i in 1 2; do
  sleep 1; cmd update_schemes_stats; put T.paused$i "$(now)"; put paused$i "$(tried)"
done
up resume running
put resume.pause "$(cat $C/pause)"
for i in 1 2; do
  sleep 1; cmd update_schemes_stats; put T.resumed$i "$(now)"; put resumed$i "$(tried)"
done
echo "=== nocmd"
sleep 1; put T.nocmd "$(now)"; put nocmd "$(tried)"
echo "=== refresh"
up refresh refresh
put refresh.refresh_ms "$(cat $K/refresh_ms)"
for i in 1 2 3; do sleep 1; put T.refreshed$i "$(now)"; put refreshed$i "$(tried)"; done
echo "=== obsolete"
ages before
up drop dropped
put drop.refresh_ms "$(cat $K/refresh_ms)"
put drop.nr_targets "$(cat $C/targets/nr_targets)"
put drop.pids "$(cat $C/targets/[0-9]*/pid_target | tr '\n' ' ')"
put drop.obsolete "$(cat $C/targets/[0-9]*/obsolete_target | tr '\n' ' ')"
sleep 0.5
ages after
echo "=== control"
up readd readded
sleep 2.5
ages cbefore
# P3 (index 1) dropped by hand, without obsolete_target: P2 takes P3's place
echo 2 > $C/targets/nr_targets
echo $P1 > $C/targets/0/pid_target
echo $P2 > $C/targets/1/pid_target
cmd commit
put T.ccommit "$(now)"
sleep 0.5
ages cafter
damos stop > /out/stop.out 2> /out/stop.err
put stop.rc $?
