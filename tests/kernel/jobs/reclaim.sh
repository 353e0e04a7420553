# Proof: `damos apply --target reclaim` makes DAMON_RECLAIM act.  Runs on the
# custom kernel, which carries the upstream fix 6.12 lacks
# (rig/patches/0001-*).  Input: /out/reclaim.damos.in
# (@REGION@: the biggest System RAM range).  zram swap, the workload
# (64 MiB, first 8 MiB written continuously); the module's stats are read
# twice, then the workload's VmSwap.  Results: result.txt (KEY=VALUE),
# reclaim.out/.err, reclaim-params.txt.
. /lib/rig.sh
R=/out/result.txt
P=/sys/module/damon_reclaim/parameters
stats() {
  for f in nr_reclaim_tried_regions bytes_reclaim_tried_regions nr_reclaimed_regions \
           bytes_reclaimed_regions nr_quota_exceeds; do echo "$f$1=$(cat $P/$f)"; done >> $R
}
[ -d $P ] || { echo "no $P"; exit 2; }
zram_swap || exit 3
start_workload 64 8 0 || { echo "workload did not start"; exit 5; }
echo "pid=$pid" > $R
echo "kdamond_pid_before=$(cat $P/kdamond_pid)" >> $R
echo "rss_before_kb=$(kb VmRSS)" >> $R
sed -e "s/@REGION@/$(system-ram)/" /out/reclaim.damos.in > /out/reclaim.damos
damos apply $RIG_OUTHOST/reclaim.damos --target reclaim > /out/reclaim.out 2> /out/reclaim.err
echo "apply_rc=$?" >> $R
echo "enabled=$(cat $P/enabled)" >> $R
echo "kdamond_pid=$(cat $P/kdamond_pid)" >> $R
for f in $P/*; do printf '%s=%s\n' "${f##*/}" "$(cat $f)"; done > /out/reclaim-params.txt
sleep ${WAIT1:-3}
stats _1
sleep ${WAIT2:-3}
stats _2
# the quota may go to idle regions that hold nothing reclaimable first: give
# it up to 20 s more to page out part of the workload
i=0
while [ "$(kb VmSwap)" = 0 ] && [ $i -lt 40 ]; do sleep 0.5; i=$((i+1)); done
# the module copies its scheme's stats into its parameters once per
# aggregation (100 ms): let a few pass before reading them
sleep 1
stats ""
echo "rss_after_kb=$(kb VmRSS)" >> $R
echo "swap_after_kb=$(kb VmSwap)" >> $R
echo N > $P/enabled
echo "enabled_after=$(cat $P/enabled)" >> $R
kill $pid
cat $R
