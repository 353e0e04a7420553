# Proof 1: a sysfs script compiled from the language (/out/scheme.sh, a `stat`
# scheme) sets up a kdamond for the workload (64 MiB, first 8 MiB hot) under
# busybox sh.  Results: result.txt (KEY=VALUE) and regions.txt (tried regions:
# start end nr_accesses age) in the run directory.
. /lib/rig.sh
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0; C=$K/contexts/0; S=$C/schemes/0
R=/out/result.txt
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
echo "pid=$pid" > $R; echo "addr=$addr" >> $R; echo "len=$len" >> $R
sh /out/scheme.sh $pid
echo "script_rc=$?" >> $R
echo "state_after_script=$(cat $K/state)" >> $R
echo "kdamond_pid=$(cat $K/pid)" >> $R
echo "action=$(cat $S/action)" >> $R
for a in sz nr_accesses age; do
  echo "$a=$(cat $S/access_pattern/$a/min) $(cat $S/access_pattern/$a/max)" >> $R
done
sleep ${DAMON_WAIT:-5}
echo update_schemes_stats > $K/state || echo "update_schemes_stats failed" >&2
for f in nr_tried sz_tried nr_applied sz_applied; do echo "$f=$(cat $S/stats/$f)" >> $R; done
echo update_schemes_tried_regions > $K/state || echo "update_schemes_tried_regions failed" >&2
for r in $(ls $S/tried_regions | grep '^[0-9]' | sort -n); do
  T=$S/tried_regions/$r; echo "$(cat $T/start) $(cat $T/end) $(cat $T/nr_accesses) $(cat $T/age)"
done > /out/regions.txt
echo off > $K/state
echo "state_after_off=$(cat $K/state)" >> $R
kill $pid
cat $R
