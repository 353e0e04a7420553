#!/bin/busybox sh
# PID 1 of the test VM (busybox initramfs), from the shared kernel-test-rig recipe.
# Kernel command line parameters understood (all optional):
#   rig.out=/abs/host/path   host directory shared writable as 9p tag "out";
#                            it is bind-mounted at the same path inside the host chroot
#   rig.job=NAME             script to run: /out/NAME (default run.sh)
#   rig.cache=loose|none     9p cache mode for the read-only host root (default loose)
#   rig.keep=/tmp/a,/tmp/b   host paths under /tmp that stay visible (read-only)
#                            after /tmp of the chroot is replaced by a tmpfs
# The job runs as `sh /out/NAME` (busybox) with cwd /out; its output goes to
# /out/NAME.log, its exit status to /out/rc and to qemu's exit status through
# isa-debug-exit.
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
t0=$(cut -d' ' -f1 /proc/uptime)

OUTHOST=; JOB=run.sh; CACHE=loose; KEEP=
for a in $(cat /proc/cmdline); do
  case "$a" in
    rig.out=*) OUTHOST=${a#rig.out=} ;;
    rig.job=*) JOB=${a#rig.job=} ;;
    rig.cache=*) CACHE=${a#rig.cache=} ;;
    rig.keep=*) KEEP=$(echo ${a#rig.keep=} | tr , ' ') ;;
  esac
done

# modules for kernels that have 9p/zram as modules (stock distro kernel):
# /lib/modules/load.order lists decompressed .ko files in dependency order
if [ -f /lib/modules/load.order ]; then
  for m in $(cat /lib/modules/load.order); do insmod /lib/modules/$m || echo "RIG: insmod $m failed"; done
fi

if grep -q 9p /proc/filesystems; then
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=$CACHE hostroot /host || echo "RIG: hostroot mount failed"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out 2>/dev/null || echo "RIG: no out share"
fi

if [ -x /host/bin/sh ]; then
  # make the host tree usable as a chroot: the VM's own proc/sys/dev, writable tmp
  mount -t proc proc /host/proc
  mount -t sysfs sysfs /host/sys
  mount -t devtmpfs dev /host/dev
  for p in $KEEP; do mkdir -p /keep$p; mount --bind /host$p /keep$p; done
  mount -t tmpfs tmp /host/tmp
  for p in $KEEP; do mkdir -p /host$p; mount --bind /keep$p /host$p; done
  mount -t tmpfs run /host/run 2>/dev/null
  mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
  mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
  if [ -n "$OUTHOST" ] && grep -q ' /out ' /proc/mounts; then
    # OUTHOST may live under /tmp, which is now a tmpfs: create the mount point
    mkdir -p "/host$OUTHOST" 2>/dev/null
    mount --bind /out "/host$OUTHOST" || echo "RIG: bind of out dir failed"
  fi
fi
# hostrun CMD...: run a host program inside the chroot with a clean environment
# (the root is read-only: no bytecode caches).  Extra variables: HOSTRUN_ENV.
cat > /bin/hostrun <<'EOS'
#!/bin/sh
exec chroot /host /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp LANG=C.UTF-8 TMPDIR=/tmp PYTHONDONTWRITEBYTECODE=1 ${HOSTRUN_ENV} "$@"
EOS
chmod 755 /bin/hostrun
# system-ram: the biggest System RAM range of /proc/iomem as START..END (hex,
# END exclusive), what DAMON_RECLAIM and paddr schemes monitor
cat > /bin/system-ram <<'EOS'
#!/bin/sh
best=0 out=
while IFS= read -r line; do
  case "$line" in *" : System RAM") ;; *) continue ;; esac
  r=$(echo ${line%% : *})
  s=$((0x${r%-*})); e=$((0x${r#*-} + 1))
  [ $((e - s)) -gt $best ] && { best=$((e - s)); out=$(printf '0x%x..0x%x' $s $e); }
done < /proc/iomem
[ -n "$out" ] && echo "$out"
EOS
chmod 755 /bin/system-ram
# /lib/rig.sh: what jobs share, sourced by them (". /lib/rig.sh")
mkdir -p /lib
cat > /lib/rig.sh <<'EOS'
# start_workload ARGS...: /bin/workload ARGS in the background; sets pid,
# addr and len from its first line (fails if it did not start in 10 s)
start_workload() {
  /bin/workload "$@" > /tmp/wl.out &
  _i=0; while [ ! -s /tmp/wl.out ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i+1)); done
  read pid addr len < /tmp/wl.out
}
# zram_swap: 256 MiB of zram as swap, for pageout to have somewhere to go
zram_swap() {
  [ -e /sys/block/zram0 ] || { echo "no zram0"; return 1; }
  echo 256M > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
}
# kb FIELD: a field of the workload's /proc/PID/status in kB (VmRSS, VmSwap)
kb() { awk -v k="$1:" '$1==k{print $2}' /proc/$pid/status; }
# damos ARGS...: the project's CLI, the host's Python in the chroot
damos() { hostrun $PY -m damos_lang "$@"; }
EOS
t1=$(cut -d' ' -f1 /proc/uptime)
echo "RIG: kernel $(uname -r) setup done uptime=$t1 (init took $(awk "BEGIN{print $t1-$t0}")s)"

rc=0
if [ -f /out/$JOB ]; then
  cd /out
  RIG_OUTHOST=$OUTHOST sh /out/$JOB > /out/$JOB.log 2>&1
  rc=$?
  cat /out/$JOB.log
else
  echo "RIG: no job /out/$JOB"; rc=100
fi
echo $rc > /out/rc 2>/dev/null
sync
echo "RIG-EXIT: rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
umount "/host$OUTHOST" /out 2>/dev/null
# exit status to the host: writing V to the isa-debug-exit port 0xf4 makes
# qemu exit with status (V<<1)|1.  V=rc+1 keeps it apart from qemu's own error
# status 1; capping rc at 61 keeps it below timeout(1)'s 124/137.
if [ -c /dev/port ]; then
  v=$(( rc > 61 ? 62 : rc + 1 ))
  printf "\\$(printf %o $v)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
fi
reboot -f
