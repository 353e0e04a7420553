# Benchmark (not a CI test): the cost of a kdamond, of `damos run` and of a
# full idle-page scan as the workload grows, in the custom 6.12 kernel
# (page_idle, DAMON sysfs) with a 3 GiB guest; boot with pti=on.  For each
# size in $SIZES (MiB; default 64 512 2048) the rig workload of that size
# with its first eighth hot, and cpu_scale.py measures the three monitors
# $SECS s each (and, at the first size, kdamond and damos run at nr_regions
# fixed to each of $REGIONS).  Results: cpu-scale.json (a list), result.txt.
. /lib/rig.sh
R=/out/result.txt
O=$RIG_OUTHOST
[ -e /sys/kernel/mm/page_idle/bitmap ] || { echo "no page_idle"; exit 2; }
echo "cpus=$(nproc)" > $R
echo "mem_total_kb=$(awk '$1=="MemTotal:"{print $2}' /proc/meminfo)" >> $R
rm -f /out/cpu-scale.json
first=yes
for mib in ${SIZES:-64 512 2048}; do
  # (not start_workload: writing 2 GiB under TCG takes longer than its 10 s)
  rm -f /tmp/wl.out; pid=
  /bin/workload $mib $((mib / 8)) 0 > /tmp/wl.out &
  i=0; while [ ! -s /tmp/wl.out ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done
  read pid addr len < /tmp/wl.out
  echo "size_${mib}_setup_s=$((i / 10))" >> $R
  [ -n "$pid" ] || { echo "workload $mib did not start"; exit 3; }
  echo "size_${mib}_pid=$pid" >> $R
  regions=
  [ $first = yes ] && regions=${REGIONS:-10 100 1000}
  hostrun $PY $KDIR/cpu_scale.py $pid $addr $mib $((mib / 8)) ${SECS:-5} $O/scheme.damos \
      $O/cpu-scale.json $regions > /out/scale-$mib.out 2>&1
  echo "size_${mib}_rc=$?" >> $R
  kill $pid; wait $pid 2>/dev/null
  first=no
done
cat $R; cat /out/scale-*.out
