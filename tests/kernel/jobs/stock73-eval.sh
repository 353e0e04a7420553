# damos eval on Debian's stock 7.3 (busybox sh, one boot; DAMON_STAT runs from
# boot): zram swap, then
#   damos eval /out/prcl-eval.damos --repeat ${REPEAT:-2} --dilate $DILATE --drop-caches
#       --stop-damon-stat --json /out/eval.json -- $PY /out/workload.py
# (the host's Python in the chroot; the workload allocates $WL_MIB MiB and
# touches $WL_HOT_MIB MiB of it $WL_PASSES times, and for at least
# $WL_MIN_SECS s).  Afterwards, what is left
# applied: nr_kdamonds, every kdamond's state, DAMON_STAT's enabled, the swaps.
# With $THP_ARMS, then in the same boot:
#   damos eval /out/ethp-eval.damos --thp $THP_ARMS --repeat ${THP_REPEAT:-1} --dilate $DILATE
#       --stop-damon-stat --json /out/thp.json -- $PY /out/thp_workload.py $THP_MIB $THP_HOT_MIB $THP_SECS
# and the THP mode (enabled, defrag) before and after it, what is left applied.
# Results: result.txt (KEY=VALUE), eval.json, eval.out, eval.err, thp.json, thp.out, thp.err.
. /lib/rig.sh
HOSTRUN_ENV="PYTHONPATH=$PROJ"; export HOSTRUN_ENV
D=/sys/kernel/mm/damon/admin
R=/out/result.txt; O=$RIG_OUTHOST
: > $R
zram_swap || exit 3
echo "swaps_before=$(tail -n +2 /proc/swaps | wc -l)" >> $R
echo "stat_before=$(cat /sys/module/damon_stat/parameters/enabled)" >> $R
t0=$(cut -d' ' -f1 /proc/uptime)
damos eval $O/prcl-eval.damos --repeat ${REPEAT:-2} --dilate $DILATE --drop-caches --stop-damon-stat \
    --json $O/eval.json -- $PY $O/workload.py $WL_MIB $WL_HOT_MIB $WL_PASSES ${WL_MIN_SECS:-0} \
    > /out/eval.out 2> /out/eval.err
echo "eval_rc=$?" >> $R
echo "eval_secs=$(awk -v a=$t0 -v b=$(cut -d' ' -f1 /proc/uptime) 'BEGIN{print b-a}')" >> $R
echo "nr_kdamonds=$(cat $D/kdamonds/nr_kdamonds)" >> $R
for k in $D/kdamonds/[0-9]*; do
  [ -e $k/state ] && echo "state_${k##*/}=$(cat $k/state)" >> $R
done
echo "stat_after=$(cat /sys/module/damon_stat/parameters/enabled)" >> $R
echo "swaps_after=$(tail -n +2 /proc/swaps | wc -l)" >> $R
if [ -n "${THP_ARMS:-}" ]; then
  T=/sys/kernel/mm/transparent_hugepage
  echo "thp_before=$(cat $T/enabled)" >> $R
  echo "thp_defrag_before=$(cat $T/defrag)" >> $R
  t0=$(cut -d' ' -f1 /proc/uptime)
  damos eval $O/ethp-eval.damos --thp $THP_ARMS --repeat ${THP_REPEAT:-1} --dilate $DILATE \
      --stop-damon-stat --json $O/thp.json -- $PY $O/thp_workload.py $THP_MIB $THP_HOT_MIB $THP_SECS \
      > /out/thp.out 2> /out/thp.err
  echo "thp_rc=$?" >> $R
  echo "thp_secs=$(awk -v a=$t0 -v b=$(cut -d' ' -f1 /proc/uptime) 'BEGIN{print b-a}')" >> $R
  echo "thp_after=$(cat $T/enabled)" >> $R
  echo "thp_defrag_after=$(cat $T/defrag)" >> $R
  echo "thp_nr_kdamonds=$(cat $D/kdamonds/nr_kdamonds)" >> $R
  echo "thp_stat_after=$(cat /sys/module/damon_stat/parameters/enabled)" >> $R
fi
cat $R
cat /out/eval.out
[ -z "${THP_ARMS:-}" ] || cat /out/thp.out
