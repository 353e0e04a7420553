# Proof: the 7.x parameters of DAMON_RECLAIM and DAMON_LRU_SORT as
# `damos apply --target reclaim|lru-sort` writes them, in Debian's stock 7.3
# (DAMON_STAT runs from boot; --stop-damon-stat stops it).  For each module
# in turn: apply its file (@REGION@ = the biggest System RAM range), the
# damon_monitor_intervals_tune trace on, $SECS s, then every parameter and
# the trace, then enabled N.  Results: result.txt, M-params.txt, M-trace.txt.
. /lib/rig.sh
R=/out/result.txt
O=$RIG_OUTHOST
T=/sys/kernel/tracing
best=$(system-ram)
echo "region=$best" > $R
echo 0 > $T/options/record-cmd
for m in reclaim lru_sort; do
  sed -e "s/@REGION@/$best/" /out/$m.damos.in > /out/$m.damos
  P=/sys/module/damon_$m/parameters
  echo > $T/trace
  echo 1 > $T/events/damon/damon_monitor_intervals_tune/enable
  damos apply $O/$m.damos --target $(echo $m | tr _ -) --stop-damon-stat \
      > /out/$m.out 2> /out/$m.err
  echo "${m}_rc=$?" >> $R
  echo "${m}_enabled=$(cat $P/enabled)" >> $R
  echo "${m}_kdamond_pid=$(cat $P/kdamond_pid)" >> $R
  sleep ${SECS:-4}
  for f in $P/*; do printf '%s=%s\n' "${f##*/}" "$(cat $f)"; done > /out/$m-params.txt
  echo 0 > $T/events/damon/damon_monitor_intervals_tune/enable
  cp $T/trace /out/$m-trace.txt
  echo N > $P/enabled
  echo "${m}_enabled_after=$(cat $P/enabled)" >> $R
done
cat $R; cat /out/*.err
