# The debugfs target on a real kernel (custom 6.12 with DAMON_DBGFS_DEPRECATED).
#   1. our 18-field ethp lines (/out/ethp18.txt) installed into `schemes`, read back;
#   2. the 7-field lines (/out/ethp7.txt): the write succeeds, nothing is installed;
#   3. a compiled stat scheme (/out/stat18.txt) run against the workload.
# Results: result.txt (KEY=VALUE) and *.readback (what `schemes` reads back).
. /lib/rig.sh
mount -t debugfs none /sys/kernel/debug 2>/dev/null
DBG=/sys/kernel/debug/damon
[ -d $DBG ] || { echo "no DAMON debugfs"; exit 2; }
R=/out/result.txt
: > $R
cat /out/ethp18.txt > $DBG/schemes; echo "w18_rc=$?" >> $R
cat $DBG/schemes > /out/ethp18.readback
cat /out/ethp7.txt > $DBG/schemes; echo "w7_rc=$?" >> $R
cat $DBG/schemes > /out/ethp7.readback
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
echo "5000 100000 1000000 10 1000" > $DBG/attrs; echo "attrs_rc=$?" >> $R
echo $pid > $DBG/target_ids; echo "target_rc=$?" >> $R
cat /out/stat18.txt > $DBG/schemes; echo "wstat_rc=$?" >> $R
echo on > $DBG/monitor_on_DEPRECATED; echo "on_rc=$?" >> $R
sleep ${DAMON_WAIT:-4}
cat $DBG/schemes > /out/stat.readback
echo off > $DBG/monitor_on_DEPRECATED; echo "off_rc=$?" >> $R
kill $pid
cat $R /out/*.readback
