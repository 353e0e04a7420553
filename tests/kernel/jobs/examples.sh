# The examples on a real kernel, two ways (stock kernel, busybox sh):
#   1. our compiled sysfs script (/out/NAME.sh) against the workload;
#   2. damo 3.4.3 (host venv, run in the chroot) starting our damo JSON,
#      compiled inside the VM with the workload's pid.
# After each, every file of our write plan (/out/NAME.paths) is read back
# into /out/NAME.ours.txt and /out/NAME.damo.txt as "path=value" lines.
# EXAMPLES (names under examples/) comes from the test.
. /lib/rig.sh
D=/sys/kernel/mm/damon/admin; K=$D/kdamonds/0
start_workload 64 8 0 || { echo "workload did not start"; exit 3; }
dump() {  # dump NAME OUT
  while IFS= read -r p; do
    printf '%s=%s\n' "$p" "$(cat "$D/$p" 2>&1)"
  done < /out/$1.paths > "$2"
}
rc=0
for name in $EXAMPLES; do
  echo "=== $name: damos sysfs script"
  sh /out/$name.sh $pid; echo "$name.script_rc=$?" >> /out/result.txt
  echo "$name.script_state=$(cat $K/state)" >> /out/result.txt
  dump $name /out/$name.ours.txt
  echo off > $K/state
  echo "=== $name: damo start with our damo JSON"
  hostrun $PY -m damos_lang compile "$PROJ/examples/$name.damos" --target damo-json --pid $pid \
      -o "$RIG_OUTHOST/$name.json" || rc=4
  hostrun $PY "$DAMO" start "$RIG_OUTHOST/$name.json"; echo "$name.damo_rc=$?" >> /out/result.txt
  echo "$name.damo_state=$(cat $K/state)" >> /out/result.txt
  dump $name /out/$name.damo.txt
  hostrun $PY "$DAMO" stop; echo "$name.damo_stop_rc=$?" >> /out/result.txt
done
kill $pid
cat /out/result.txt
exit $rc
