# damos export on Debian's stock 7.3 (busybox sh, one boot), where DAMON_STAT
# runs from boot.  The loopback interface up, zram swap for pageout, the
# workload (64 MiB, 8 MiB hot), then /out/export_check.py in the host chroot
# does the rest (its doc): HTTP scrapes before and while prcl-1s runs, a
# textfile reader loop, the target's exit, damos stop.  Results:
# /out/export.json; /out/result.txt has check_rc.
. /lib/rig.sh
HOSTRUN_ENV="PYTHONPATH=$PROJ"; export HOSTRUN_ENV
R=/out/result.txt; O=$RIG_OUTHOST
: > $R
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
zram_swap || echo "zram=none" >> $R
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
echo "pid=$pid" >> $R
hostrun $PY $O/export_check.py $pid $O/prcl1s.damos $O/export.json \
  > /out/check.out 2> /out/check.err
echo "check_rc=$?" >> $R
kill $pid 2>/dev/null
cat $R
