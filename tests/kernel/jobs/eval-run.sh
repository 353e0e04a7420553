# damos eval --via run in the custom 6.12 kernel (page_idle; busybox sh, one
# boot): zram swap, then
#   damos eval /out/prcl-eval.damos --via run --repeat 1 --dilate $DILATE
#       --json /out/eval.json -- $PY /out/workload.py $WL_MIB $WL_HOT_MIB $WL_PASSES
# Afterwards: how many 'damos run' processes are left (must be none).
# Results: result.txt (KEY=VALUE), eval.json, eval.out, eval.err.
. /lib/rig.sh
HOSTRUN_ENV="PYTHONPATH=$PROJ"; export HOSTRUN_ENV
R=/out/result.txt; O=$RIG_OUTHOST
: > $R
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no page_idle"; exit 2; }
zram_swap || exit 3
damos eval $O/prcl-eval.damos --via run --repeat 1 --dilate $DILATE --drop-caches \
    --json $O/eval.json -- $PY $O/workload.py $WL_MIB $WL_HOT_MIB $WL_PASSES \
    > /out/eval.out 2> /out/eval.err
echo "eval_rc=$?" >> $R
n=0
for c in /proc/[0-9]*/cmdline; do
  tr '\0' ' ' < $c 2>/dev/null | grep -q "damos_lang run" && n=$((n+1))
done
echo "damos_run_left=$n" >> $R
cat $R
cat /out/eval.out
