# Proof: page_idle from a second process (custom kernel, pti=on).
# The workload maps 64 MiB and keeps writing the first 32 MiB; idlecheck.py
# (host Python, run in the chroot) reads its pagemap, marks all its pages idle
# through /sys/kernel/mm/page_idle/bitmap, waits, and reads the bits back.
# Results: idle.json in the run directory.
. /lib/rig.sh
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no /sys/kernel/mm/page_idle/bitmap"; exit 2; }
start_workload 64 32 0 || { echo "workload did not start"; exit 3; }
echo "workload pid=$pid addr=$addr len=$len"
HOSTRUN_ENV="IDLE_WAIT=${IDLE_WAIT:-1}" hostrun $PY $KDIR/idlecheck.py $pid $addr $len $((32<<20)) "$RIG_OUTHOST/idle.json"
rc=$?
kill $pid
exit $rc
