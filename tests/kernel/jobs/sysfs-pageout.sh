# Proof 2: a `pageout` sysfs script compiled from the language (/out/scheme.sh)
# pages out the idle part of the workload (64 MiB, first 8 MiB hot) to zram
# swap.  Results: result.txt (KEY=VALUE) in the run directory.
. /lib/rig.sh
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0; C=$K/contexts/0; S=$C/schemes/0
R=/out/result.txt
zram_swap || exit 3
start_workload 64 8 0 || { echo "workload did not start"; exit 6; }
echo "pid=$pid" > $R; echo "addr=$addr" >> $R; echo "len=$len" >> $R
echo "zram_comp=$(cat /sys/block/zram0/comp_algorithm)" >> $R
echo "rss_before_kb=$(kb VmRSS)" >> $R
echo "swap_before_kb=$(kb VmSwap)" >> $R
sh /out/scheme.sh $pid
echo "script_rc=$?" >> $R
echo "state_after_script=$(cat $K/state)" >> $R
echo "action=$(cat $S/action)" >> $R
echo "age=$(cat $S/access_pattern/age/min) $(cat $S/access_pattern/age/max)" >> $R
sleep ${DAMON_WAIT:-3}
echo update_schemes_stats > $K/state || echo "update_schemes_stats failed" >&2
echo "sz_applied_1=$(cat $S/stats/sz_applied)" >> $R
sleep ${DAMON_WAIT2:-3}
echo update_schemes_stats > $K/state || echo "update_schemes_stats failed" >&2
for f in nr_tried sz_tried nr_applied sz_applied; do echo "$f=$(cat $S/stats/$f)" >> $R; done
echo "rss_after_kb=$(kb VmRSS)" >> $R
echo "swap_after_kb=$(kb VmSwap)" >> $R
echo off > $K/state
echo "state_after_off=$(cat $K/state)" >> $R
echo "zram_mm_stat=$(cat /sys/block/zram0/mm_stat)" >> $R
kill $pid
cat $R
