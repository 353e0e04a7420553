# The context and kdamond settings on Debian's stock 7.3 (busybox sh, one boot),
# each applied by damos apply / damos update (the host's Python in the chroot)
# from files written here with the pids of three idle workloads P1 P2 P3.
# DAMON_STAT runs from boot: the first apply stops it (--stop-damon-stat).
# Every file: ops fvaddr, each target's one region its workload's 16 MiB mapping
# (vaddr's own layout would merge it with unmapped gaps, whose fresh regions pull
# the ages down), sample 1ms, aggr 20ms, update 100ms, one stat scheme.
#   pause     apply with 'pause yes', read nr_tried twice (update_schemes_stats
#             between), then update without it: nr_tried moves again
#   nocmd     stats files read 1 s apart with no state command: they stay
#   refresh   update with 'refresh 100ms': nr_tried moves with no state command
#   obsolete  update dropping P2 from the middle of P1 P2 P3: the age of the
#             tried region holding the middle of each workload's mapping
#             (KEY.aN for PN, -1 when no region holds it), before and after
#             (the kept targets keep theirs); then the control: P2 back at the
#             end, and P3 dropped from the middle by hand without
#             obsolete_target (P2 takes P3's place and loses its own ages:
#             P3's regions are set to P2's range, which they do not overlap)
#   exited    P1 exits; staging it obsolete by hand fails the commit (the kernel
#             looks the pid up); damos update dropping it still converges
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
age_at() {  # age_at MID: age of the tried region holding address MID, or -1
  for d in $S0/tried_regions/[0-9]*; do
    [ -d $d ] || continue
    if [ $(( $(cat $d/start) <= $1 && $1 < $(cat $d/end) )) = 1 ]; then
      cat $d/age; return
    fi
  done
  echo -1
}
ages() {  # ages KEY: each workload's age, and the count of tried regions, after a fresh update
  cmd update_schemes_tried_regions
  put T.$1 "$(now)"
  for i in 1 2 3; do eval put $1.a$i "\$(age_at \$M$i)"; done
  put $1.nr "$(ls -d $S0/tried_regions/[0-9]* | wc -l)"
}
for i in 1 2 3; do
  rm -f /tmp/wl.out
  start_workload 16 0 0 || { echo "workload did not start"; exit 3; }
  eval P$i=$pid
  eval S$i=$(( addr )) E$i=$(( addr + len )) M$i=$(( addr + len / 2 ))
done
put pids "$P1 $P2 $P3"
file() {  # file NAME EXTRA I...: a .damos in /out with workloads I...
  name=$1; extra=$2; shift 2
  { printf 'monitor {\n    ops fvaddr\n    sample 1ms\n    aggr 20ms\n    update 100ms\n'
    printf '%b}\n' "$extra"
    for i in "$@"; do eval printf "'target pid %s region %s..%s\\n'" \$P$i \$S$i \$E$i; done
    printf 'scheme {\n    action stat\n}\n'; } > /out/$name.damos
}
target() {  # target T I: write workload I as target T by hand
  echo $(eval echo \$P$2) > $C/targets/$1/pid_target
  echo 1 > $C/targets/$1/regions/nr_regions
  echo $(eval echo \$S$2) > $C/targets/$1/regions/0/start
  echo $(eval echo \$E$2) > $C/targets/$1/regions/0/end
}
file paused '    pause yes\n' 1 2 3
file running '' 1 2 3
file refresh '    refresh 100ms\n' 1 2 3
file dropped '' 1 3
file readded '' 1 3 2
file exited '' 2
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
sleep 3
ages cbefore
# P3 (index 1) dropped by hand, without obsolete_target: P2 takes P3's place
echo 2 > $C/targets/nr_targets
target 0 1
target 1 2
cmd commit
put T.ccommit "$(now)"
sleep 0.5
ages cafter
echo "=== exited"
# running: P1, P2 (files alike); P1 exits and is reaped, so its pid is gone
kill $P1; wait $P1 2>/dev/null
ages ebefore
echo Y > $C/targets/0/obsolete_target
if echo commit > $K/state 2>/dev/null; then put hand.commit ok; else put hand.commit failed; fi
put hand.state "$(cat $K/state)"
up exit exited
put exit.nr_targets "$(cat $C/targets/nr_targets)"
put exit.pids "$(cat $C/targets/[0-9]*/pid_target | tr '\n' ' ')"
sleep 0.5
ages eafter
damos stop > /out/stop.out 2> /out/stop.err
put stop.rc $?
