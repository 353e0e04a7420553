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
#   probes    a paddr file with two probes (filter allow anon; filter allow memcg
#             of an empty cgroup) over the biggest System RAM range, a 128 MiB
#             workload writing all its anonymous memory: damos status --regions
#             --json after 3 s (probes.status1.json), the workload's physical
#             ranges from its pagemap (probes.pfns.txt); then damos update with
#             'weight 1' on the anon probe (access checks off), status again
#             (probes.status2.json); then a weight whose weighted hits overflow
#             the u32, written by hand: the commit fails (probe.hand.commit)
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
echo "=== probes"
CG=/sys/fs/cgroup
mount -t cgroup2 none $CG || { echo "no cgroup2"; exit 3; }
echo +memory > $CG/cgroup.subtree_control
mkdir -p $CG/dprobe_empty
rm -f /tmp/wl.out
start_workload 128 128 0 || { echo "workload did not start"; exit 3; }
PW=$pid
put probe.pid "$PW"
put probe.cgroup "$(cat /proc/$PW/cgroup)"
pfile() {  # pfile NAME WEIGHT: the probes file
  { printf 'monitor {\n    ops paddr\n    probe anon {\n'
    [ "$2" = 0 ] || printf '        weight %s\n' "$2"
    printf '        filter allow anon\n    }\n'
    printf '    probe other {\n        filter allow memcg /dprobe_empty\n    }\n}\n'
    printf 'target region %s\n' "$(system-ram)"
    printf 'scheme {\n    action stat\n}\n'; } > /out/$1.damos
}
pfile probes 0
pfile probesw 1
damos apply --stop-damon-stat $O/probes.damos > /out/probes.apply.out 2> /out/probes.apply.err
put probe.apply.rc $?
put probe.nr_probes "$(cat $C/monitoring_attrs/probes/nr_probes)"
put probe.path "$(cat $C/monitoring_attrs/probes/1/filters/0/path)"
sleep 3
damos status --regions --json > /out/probes.status1.json 2> /out/probes.status1.err
put probe.status1.rc $?
put probe.hits_files "$(ls $S0/tried_regions/0/probes | tr '\n' ' ')"
cat > /out/pfns.py <<'EOP'
import struct, sys
pid, addr, length = int(sys.argv[1]), int(sys.argv[2], 0), int(sys.argv[3])
ps, runs = 4096, []
with open("/proc/%d/pagemap" % pid, "rb") as f:
    f.seek(addr // ps * 8)
    data = f.read(length // ps * 8)
for i in range(len(data) // 8):
    e, = struct.unpack_from("<Q", data, i * 8)
    if e >> 63 & 1:
        pfn = e & ((1 << 55) - 1)
        if runs and runs[-1][1] == pfn:
            runs[-1][1] = pfn + 1
        else:
            runs.append([pfn, pfn + 1])
for s, e in runs:
    print(s * ps, e * ps)
EOP
hostrun $PY $O/pfns.py $PW $addr $len > /out/probes.pfns.txt 2> /out/probes.pfns.err
put probe.pfns.rc $?
damos update $O/probesw.damos > /out/probes.update.out 2> /out/probes.update.err
put probe.update.rc $?
put probe.weight "$(cat $C/monitoring_attrs/probes/0/weight)"
sleep 3
damos status --regions --json > /out/probes.status2.json 2> /out/probes.status2.err
put probe.status2.rc $?
# 4294967295 x 20 samples does not fit the u32 of the weighted hits
echo 4294967295 > $C/monitoring_attrs/probes/0/weight
if echo commit > $K/state 2>/dev/null; then put probe.hand.commit ok; else put probe.hand.commit failed; fi
put probe.hand.state "$(cat $K/state)"
damos stop > /out/probes.stop.out 2> /out/probes.stop.err
put probe.stop.rc $?
