# Proof: `damos run`'s accuracy on a loaded guest, in the custom kernel
# (page_idle).  Boot with pti=on.  $HOGS busy loops (default 2: one per vCPU)
# run beside the workload and the monitor for the whole job:
#  1. damos run stat -- workload 64 8 $WL_SECS: the hot 8 MiB (as in
#     damos-run.sh, which runs it on an idle guest);
#  2. masim's stairs and zigzag (30 s variants, /bin/phases) under
#     damos run -- phases --record (as accuracy.sh, without the kdamond runs).
# Results: result.txt (KEY=VALUE), hot.jsonl, W.phases, W.jsonl, *.out.
. /lib/rig.sh
R=/out/result.txt
O=$RIG_OUTHOST
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no page_idle"; exit 2; }
echo 0 > /proc/sys/kernel/randomize_va_space
cp /bin/workload /out/workload || exit 3
hogs=
for i in $(seq ${HOGS:-2}); do
  sh -c 'while :; do :; done' &
  hogs="$hogs $!"
done
echo "hogs=$hogs" > $R
echo "up0=$(cut -d' ' -f1 /proc/uptime)" >> $R
hostrun $PY -m damos_lang run $O/stat.damos --record $O/hot.jsonl -q \
    -- $O/workload 64 8 ${WL_SECS:-8} > /out/hot.out 2> /out/hot.err
echo "hot_rc=$?" >> $R
# damos run starts each workload itself (-- CMD), so that its own start-up on
# the loaded guest takes none of the workload's 30 s
cp /bin/phases /out/phases || exit 3
for w in stairs zigzag; do
  # (not sh -c 'exec ...': a target that execs drops out) phases' log and
  # damos run's summary share stdout: the log reader skips the summary
  hostrun $PY -m damos_lang run $O/accuracy.damos --record $O/$w.jsonl -q \
      -- $O/phases $O/$w.cfg > /out/$w.phases 2> /out/$w.out
  echo "${w}_rc=$?" >> $R
done
echo "load_1min=$(cut -d' ' -f1 /proc/loadavg)" >> $R
echo "up1=$(cut -d' ' -f1 /proc/uptime)" >> $R
echo "cpus=$(nproc)" >> $R
# the hogs' CPU time (clock ticks of 10 ms), to show the guest was loaded
echo "hog_ticks=$(for h in $hogs; do awk '{print $14+$15}' /proc/$h/stat; done | awk '{s+=$1} END{print s}')" >> $R
kill $hogs
cat $R
