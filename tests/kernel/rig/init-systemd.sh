#!/bin/busybox sh
# PID 1 of the initramfs for a systemd boot (rdinit=/init-systemd; appended to
# the stock kernel's rig initramfs by kernelrig.ensure_systemd_root()): it
# mounts the Debian tree of rootfs.sh as the root and hands over to systemd.
# Kernel command line parameters:
#   (rig.out=, set by runvm.sh: the run directory, 9p tag "out", /out in the VM, writable)
#   rig.root=/abs/host/path  the tree on the host (DIR/root of rootfs.sh, with DIR/rw.tar),
#                            reached through the 9p host root
#   rig.proj=/abs/host/path  the checkout, bound read-only at /srv/damos-lang
# The tree is read-only (it is the cache's); /etc, /var and /root are tmpfs
# copies of it, so a boot changes nothing in the cache and starts from the
# same state.  Before systemd starts, /out/setup.sh (if any) runs in the tree
# (chroot: systemd not running, so `systemctl enable` works on the files);
# its output goes to /out/setup.sh.log.  Then systemd boots rig.target, which is
# multi-user.target and, after it, rig-job.service: `sh /out/run.sh` with cwd
# /out, output to /out/run.sh.log, its exit status to /out/rc, then `systemctl
# poweroff` (qemu exits 0; runvm.sh reads /out/rc).
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
O=/out   # where the run directory is mounted (moved into the tree below)
fail() {  # no systemd: report status 60 through /out/rc and isa-debug-exit as init.sh does
  echo "RIG: $*"; echo "RIG: $*" >> $O/setup.sh.log 2>/dev/null
  echo 60 > $O/rc 2>/dev/null; sync
  printf '\075' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null   # 61 = 60 + 1
  reboot -f
}
ROOT='' PROJ=''
# shellcheck disable=SC2013  # the command line is words
for a in $(cat /proc/cmdline); do
  case "$a" in
    rig.root=*) ROOT=${a#rig.root=} ;;
    rig.proj=*) PROJ=${a#rig.proj=} ;;
  esac
done
if [ -f /lib/modules/load.order ]; then
  while read -r m; do insmod "/lib/modules/$m" || echo "RIG: insmod $m failed"; done < /lib/modules/load.order
fi
mkdir -p /host /out /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || fail "hostroot mount failed"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || fail "no out share"
[ -x "/host$ROOT/usr/lib/systemd/systemd" ] || fail "no systemd in rig.root=$ROOT"
N=/newroot
mount --bind "/host$ROOT" $N
# writable /etc, /var and /root: tmpfs, filled from the rw.tar rootfs.sh
# packed next to the tree (one read over 9p)
for d in etc var root; do mount -t tmpfs "$d" $N/$d || fail "cannot mount /$d"; done
tar -xf "/host${ROOT%/*}/rw.tar" -C $N || fail "cannot unpack /etc, /var and /root"
[ -n "$PROJ" ] && { mount --bind "/host$PROJ" $N/srv/damos-lang || fail "cannot bind the checkout"; }
mount --move /out $N/out && O=$N/out

# what this boot has no use for: the tree has no modules of this kernel (the
# initramfs loaded the rig's), and nobody logs in (the job is the only user)
for u in systemd-modules-load.service getty-static.service serial-getty@ttyS0.service \
         getty@tty1.service; do
  ln -sf /dev/null "$N/etc/systemd/system/$u"
done
# the job: a oneshot service after multi-user.target (rig.target pulls both)
mkdir -p $N/etc/rig
cat > $N/etc/rig/job.sh <<'EOS'
#!/bin/sh
cd /out || exit 1
sh /out/run.sh > /out/run.sh.log 2>&1
rc=$?
echo "$rc" > /out/rc
journalctl -b --no-pager -o short-monotonic > /out/journal.log 2>&1
systemctl list-units --all --failed --no-pager --plain > /out/failed-units.txt 2>&1
sync
echo "RIG-EXIT: rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)" > /dev/console
systemctl poweroff --no-block
EOS
cat > $N/etc/systemd/system/rig-job.service <<'EOS'
[Unit]
Description=the rig's job (/out/run.sh)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh /etc/rig/job.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
EOS
cat > $N/etc/systemd/system/rig.target <<'EOS'
[Unit]
Description=multi-user.target, then the rig's job
Requires=multi-user.target
After=multi-user.target
Wants=rig-job.service
AllowIsolate=yes
EOS
# the API file systems go with the root (systemd takes them as they are)
for d in proc sys dev; do mount --move /$d $N/$d || fail "cannot move /$d"; done
if [ -f $N/out/setup.sh ]; then
  chroot $N /bin/sh /out/setup.sh > $N/out/setup.sh.log 2>&1 || fail "setup.sh failed ($?)"
fi
echo "RIG: kernel $(uname -r) switching to systemd at uptime=$(cut -d' ' -f1 $N/proc/uptime)"
exec switch_root $N /usr/lib/systemd/systemd
