# Proof: damos apply / status / update / stop and --target reclaim on the
# stock Debian 6.12 kernel, the host's Python running damos in the chroot
# (hostrun), all in one boot.  Inputs in /out: prcl.damos, prcl2.damos (a new
# quota), second.damos, memcg.damos (a memcg path that does not exist),
# lru_sort.damos.in and reclaim.damos.in (@REGION@ is replaced by the
# biggest System RAM range).
# Results in /out: result.txt (KEY=VALUE), *.out/*.err of each command,
# status*.json/txt, tree-*.txt (every file of the admin tree), reclaim.damos
# and reclaim-params.txt.
. /lib/rig.sh
R=/out/result.txt
O=$RIG_OUTHOST
D=/sys/kernel/mm/damon/admin
dump() {   # every file of the admin tree with its content
  find $D -type f | sort | while read -r f; do printf '%s=%s\n' "$f" "$(cat "$f" 2>&1 | tr '\n' ' ')"; done
}
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
echo "pid=$pid" > $R
dump > /out/tree-0.txt

# 1. apply, then status twice (stats rising)
damos apply $O/prcl.damos --pid $pid > /out/apply.out 2> /out/apply.err
echo "apply_rc=$?" >> $R
echo "state=$(cat $D/kdamonds/0/state)" >> $R
echo "kdamond_pid=$(cat $D/kdamonds/0/pid)" >> $R
sleep ${LIVE_WAIT:-4}
damos status --json > /out/status1.json 2> /out/status1.err
echo "status1_rc=$?" >> $R
sleep 2
damos status > /out/status2.txt 2> /out/status2.err
damos status --json > /out/status2.json 2>> /out/status2.err
echo "status2_rc=$?" >> $R
# the kernel lists the regions tried during one apply interval: with the quota
# already used up in the current window that list is legitimately empty, so
# ask again until it holds some (a 64M quota with a 1 s window is spent in its
# first apply intervals, so about one ask in ten sees tried regions)
for try in $(seq 1 40); do
    damos status --regions > /out/status-regions.txt 2> /out/status-regions.err
    rc=$?
    grep -q '^#   tried 0x' /out/status-regions.txt && break
    sleep 0.3
done
echo "status_regions_rc=$rc" >> $R
echo "status_regions_tries=$try" >> $R

# 2. a second apply while the first runs: refused, the first untouched
dump | grep -v '/stats/' > /out/tree-1.txt
damos apply $O/second.damos --pid $pid > /out/second.out 2> /out/second.err
echo "second_rc=$?" >> $R
dump | grep -v '/stats/' > /out/tree-2.txt
cmp -s /out/tree-1.txt /out/tree-2.txt && echo "second_untouched=yes" >> $R || echo "second_untouched=no" >> $R

# 3. update the quota with commit: same kdamond pid
damos update $O/prcl2.damos > /out/update.out 2> /out/update.err
echo "update_rc=$?" >> $R
echo "kdamond_pid_after_update=$(cat $D/kdamonds/0/pid)" >> $R
echo "quota_bytes_after_update=$(cat $D/kdamonds/0/contexts/0/schemes/0/quotas/bytes)" >> $R
sleep 1
damos status --json > /out/status3.json 2> /out/status3.err
echo "status3_rc=$?" >> $R

# 4. stop
damos stop > /out/stop.out 2> /out/stop.err
echo "stop_rc=$?" >> $R
echo "nr_kdamonds_after_stop=$(cat $D/kdamonds/nr_kdamonds)" >> $R
dump > /out/tree-3.txt

# 5. a memcg path that does not exist fails at 'on' (ENOMEM): nothing left
damos apply $O/memcg.damos --pid $pid > /out/memcg.out 2> /out/memcg.err
echo "memcg_rc=$?" >> $R
dump > /out/tree-4.txt
cmp -s /out/tree-3.txt /out/tree-4.txt && echo "memcg_nothing_left=yes" >> $R || echo "memcg_nothing_left=no" >> $R

# 6. DAMON_RECLAIM from the language: the biggest System RAM range, age 1 s
best=$(system-ram)
echo "reclaim_region=$best" >> $R
sed -e "s/@REGION@/$best/" /out/reclaim.damos.in > /out/reclaim.damos
P=/sys/module/damon_reclaim/parameters
echo "reclaim_pid_before=$(cat $P/kdamond_pid)" >> $R
damos apply $O/reclaim.damos --target reclaim > /out/reclaim.out 2> /out/reclaim.err
echo "reclaim_rc=$?" >> $R
echo "reclaim_enabled=$(cat $P/enabled)" >> $R
echo "reclaim_kdamond_pid=$(cat $P/kdamond_pid)" >> $R
for f in $P/*; do printf '%s=%s\n' "${f##*/}" "$(cat $f)"; done > /out/reclaim-params.txt
sleep ${RECLAIM_WAIT:-3}
echo "reclaim_nr_tried=$(cat $P/nr_reclaim_tried_regions)" >> $R
echo "reclaim_bytes_tried=$(cat $P/bytes_reclaim_tried_regions)" >> $R
echo N > $P/enabled
echo "reclaim_enabled_after=$(cat $P/enabled)" >> $R

# 7. DAMON_LRU_SORT from the language (hot: 10 of 20 samples; cold: idle 1 s)
L=/sys/module/damon_lru_sort/parameters
if [ -d $L ]; then
  sed -e "s/@REGION@/$best/" /out/lru_sort.damos.in > /out/lru_sort.damos
  damos apply $O/lru_sort.damos --target lru_sort > /out/lru_sort.out 2> /out/lru_sort.err
  echo "lru_sort_rc=$?" >> $R
  echo "lru_sort_enabled=$(cat $L/enabled)" >> $R
  echo "lru_sort_kdamond_pid=$(cat $L/kdamond_pid)" >> $R
  for f in $L/*; do printf '%s=%s\n' "${f##*/}" "$(cat $f)"; done > /out/lru_sort-params.txt
  sleep ${RECLAIM_WAIT:-3}
  echo "lru_sort_cold_tried=$(cat $L/nr_lru_sort_tried_cold_regions)" >> $R
  echo "lru_sort_cold_bytes_tried=$(cat $L/bytes_lru_sort_tried_cold_regions)" >> $R
  echo N > $L/enabled
else
  echo "lru_sort=absent" >> $R
fi
kill $pid
cat $R
