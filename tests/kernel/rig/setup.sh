#!/bin/sh
# Build or refresh the kernel test rig's cache.
#
# usage: sh setup.sh [stock] [custom] [all]     (default: all)
#
# Cache root: $DAMOS_RIG_CACHE, default ~/.cache/damos-lang.  Layout:
#   stock/<abi-package>/vmlinuz           Debian's stock 6.12 kernel
#   stock/<abi-package>/stage/lib/modules 9p + zram modules (+ load.order)
#   stock/current                         name of the ABI package last resolved
#   linux-source-6.12/                    custom kernel tree, kept for incremental builds
#   custom/<key>/bzImage                  custom kernel; <key> = sha256(rig.config +
#                                         linux-source-6.12 package version + patches/*),
#                                         16 hex digits
#   initrd/<kind>-<hash>.gz               busybox + init + workload + phases (+ stock
#                                         modules), <hash> over init.sh, workload.c,
#                                         phases.c, busybox, modules
#
# Each step is skipped when its result for the current inputs is cached, so a
# warm run takes about a second.  For every kernel it prepares, the script
# prints one machine-readable line on stdout:
#   RIG_RESULT <stock|custom> <kernel image> <initrd> <description>
# Progress goes to stderr.  Needs (see docs/kernel-rig.md): busybox-static,
# cpio, gcc, make, bc, bison, flex, libelf-dev, libssl-dev, xz-utils, kmod,
# linux-source-6.12 (custom only), apt (stock only).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${DAMOS_RIG_CACHE:-$HOME/.cache/damos-lang}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
log() { echo "rig-setup: $*" >&2; }

# one setup at a time per cache (CI setup script and pytest fixtures may race)
if [ -z "${RIG_SETUP_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
  RIG_SETUP_LOCKED=1 exec flock "$CACHE/.setup.lock" sh "$0" "$@"
fi

want_stock= want_custom=
[ $# -eq 0 ] && set -- all
for a in "$@"; do
  case "$a" in
    stock) want_stock=1 ;;
    custom) want_custom=1 ;;
    all) want_stock=1 want_custom=1 ;;
    *) echo "usage: $0 [stock] [custom] [all]" >&2; exit 2 ;;
  esac
done

sha() { sha256sum | cut -c1-16; }

# ---------------------------------------------------------------- stock kernel
STOCK_DIR=
stock() {
  resolve() { apt-cache depends linux-image-6.12-amd64 2>/dev/null | awk '/Depends: linux-image-6/{print $2; exit}'; }
  pkg=$(resolve) || pkg=
  if [ -z "$pkg" ] && [ ! -s "$CACHE/stock/current" ] && [ "$(id -u)" = 0 ]; then
    log "apt lists do not know linux-image-6.12-amd64: apt-get update"
    apt-get update -qq >&2 || true
    pkg=$(resolve) || pkg=
  fi
  if [ -z "$pkg" ]; then
    # no apt lists (or no network): fall back to what was resolved last time
    pkg=$(cat "$CACHE/stock/current" 2>/dev/null) || pkg=
    [ -n "$pkg" ] || { log "cannot resolve linux-image-6.12-amd64 (run apt-get update)"; exit 3; }
    log "apt-cache could not resolve linux-image-6.12-amd64; using cached $pkg"
  fi
  STOCK_DIR=$CACHE/stock/$pkg
  if [ ! -f "$STOCK_DIR/vmlinuz" ]; then
    log "downloading and unpacking $pkg"
    tmp=$CACHE/stock/.tmp-$pkg
    rm -rf "$tmp"; mkdir -p "$tmp"
    ( cd "$tmp"
      apt-get download "$pkg" >&2
      dpkg-deb -x ./*.deb root
      kver=$(ls root/lib/modules)
      depmod -b root "$kver"
      cp root/boot/vmlinuz-"$kver" vmlinuz
      cp root/boot/config-"$kver" config
      echo "$kver" > kver
      mkdir -p stage/lib/modules
      for m in 9p 9pnet_virtio zram; do
        modprobe -d root -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
      done | awk '!seen[$0]++' > mods.txt
      while read -r f; do
        b=$(basename "$f" .xz)
        case "$f" in *.xz) xz -dc "$f" > stage/lib/modules/"$b" ;; *) cp "$f" stage/lib/modules/"$b" ;; esac
        echo "$b" >> stage/lib/modules/load.order
      done < mods.txt
      [ -s stage/lib/modules/load.order ] || { echo "no modules staged" >&2; exit 1; }
      rm -rf root ./*.deb mods.txt )
    rm -rf "$STOCK_DIR"; mv "$tmp" "$STOCK_DIR"
  fi
  echo "$pkg" > "$CACHE/stock/current"
}

# --------------------------------------------------------------- custom kernel
CUSTOM_DIR=
custom_key() {
  srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) || srcver=
  [ -n "$srcver" ] || { log "linux-source-6.12 is not installed"; exit 4; }
  KEY=$( { cat "$HERE/rig.config"; echo "linux-source-6.12=$srcver"; patches_sha; } | sha)
}
# upstream fixes the rig's kernel carries (patches/*.patch, applied in name order)
patches_sha() { cat "$HERE"/patches/*.patch 2>/dev/null | sha; }
built() { find "$KSRC" -name '*.o' -newer "$KSRC/.rig-build-start" 2>/dev/null | wc -l | tr -d ' '; }
progress() {  # a line every RIG_PROGRESS_SECS while make runs (killed when it ends)
  while :; do
    # the sleep holds no pipe, so killing this loop ends it at once
    sleep "${RIG_PROGRESS_SECS:-45}" >/dev/null 2>&1
    log "building: $(( $(date +%s) - t0 ))s elapsed, $(built) of about $expect objects built"
  done
}
custom() {
  custom_key
  CUSTOM_DIR=$CACHE/custom/$KEY
  [ -f "$CUSTOM_DIR/bzImage" ] && return 0
  KSRC=$CACHE/linux-source-6.12
  psha=$(patches_sha)
  # a tree patched with another set of patches cannot be unpatched reliably:
  # start again from the source (a full build; only when the patches change)
  if [ "$(cat "$KSRC/.rig-srcver" 2>/dev/null)" != "$srcver" ] ||
     { [ -f "$KSRC/.rig-patches-sha" ] && [ "$(cat "$KSRC/.rig-patches-sha")" != "$psha" ]; }; then
    log "extracting /usr/src/linux-source-6.12.tar.xz ($srcver)"
    rm -rf "$KSRC"
    tar -C "$CACHE" -xf /usr/src/linux-source-6.12.tar.xz
    echo "$srcver" > "$KSRC/.rig-srcver"
  fi
  if [ ! -f "$KSRC/.rig-patches-sha" ]; then
    for p in "$HERE"/patches/*.patch; do
      [ -f "$p" ] || continue
      log "applying patches/${p##*/}"
      patch -d "$KSRC" -p1 -s -f -N < "$p" || { log "patch ${p##*/} does not apply"; exit 5; }
    done
    echo "$psha" > "$KSRC/.rig-patches-sha"
  fi
  cfgsha=$(sha < "$HERE/rig.config")
  if [ "$(cat "$KSRC/.rig-config-sha" 2>/dev/null)" != "$cfgsha" ]; then
    log "configuring: tinyconfig + rig.config"
    rm -f "$KSRC/.rig-config-sha"
    ( cd "$KSRC"
      make -s tinyconfig
      scripts/kconfig/merge_config.sh -m .config "$HERE/rig.config" >/dev/null
      make -s olddefconfig
      grep -E '^CONFIG_' "$HERE/rig.config" | while IFS= read -r l; do
        grep -qx "$l" .config || { echo "rig-setup: config: $l did not stick" >&2; exit 1; }
      done )
    echo "$cfgsha" > "$KSRC/.rig-config-sha"
  fi
  # a clean build took 3.5 min on an idle 2-core machine, 5.5 and 19 min with
  # other work beside it: say so, and show progress while it runs
  expect=$(cat "$CACHE/.rig-custom-objects" 2>/dev/null) || expect=
  : "${expect:=1200}"
  log "building bzImage with -j$JOBS: a clean build takes 4 to 20 minutes on 2 cores" \
      "(about $expect objects), depending on what else runs; progress every ${RIG_PROGRESS_SECS:-45}s"
  t0=$(date +%s)
  touch -d "@$(( t0 - 1 ))" "$KSRC/.rig-build-start"   # before anything make writes
  progress &
  progress_pid=$!
  st=0
  make -C "$KSRC" -s -j"$JOBS" bzImage >&2 || st=$?
  kill "$progress_pid" 2>/dev/null || true
  wait "$progress_pid" 2>/dev/null || true
  [ "$st" = 0 ] || { log "build failed ($st) after $(( $(date +%s) - t0 ))s"; exit "$st"; }
  find "$KSRC" -name '*.o' | wc -l | tr -d ' ' > "$CACHE/.rig-custom-objects"
  log "build took $(( $(date +%s) - t0 ))s ($(built) objects built)"
  mkdir -p "$CUSTOM_DIR.tmp"
  cp "$KSRC/arch/x86/boot/bzImage" "$CUSTOM_DIR.tmp/bzImage"
  cp "$KSRC/.config" "$CUSTOM_DIR.tmp/config"
  make -C "$KSRC" -s kernelrelease > "$CUSTOM_DIR.tmp/kver"
  rm -rf "$CUSTOM_DIR"; mv "$CUSTOM_DIR.tmp" "$CUSTOM_DIR"
}

# -------------------------------------------------------------------- initrds
# busybox + init + static workload; the stock variant also carries the modules
mkinitrd() {  # kind extra_dir -> sets INITRD
  inputs=$( { sha256sum "$HERE/init.sh" "$HERE/workload.c" "$HERE/phases.c" /bin/busybox | cut -d' ' -f1
              [ -n "$2" ] && (cd "$2" && find . -type f | sort | xargs sha256sum); true; } | sha)
  INITRD=$CACHE/initrd/$1-$inputs.gz
  [ -f "$INITRD" ] && return 0
  log "building initramfs $INITRD"
  mkdir -p "$CACHE/initrd"
  d=$(mktemp -d)
  mkdir -p "$d"/bin "$d"/dev "$d"/proc "$d"/sys "$d"/tmp "$d"/host "$d"/out "$d"/lib/modules
  cp /bin/busybox "$d"/bin/busybox
  gcc -O2 -static -o "$d"/bin/workload "$HERE/workload.c"
  gcc -O2 -static -o "$d"/bin/phases "$HERE/phases.c"
  cp "$HERE/init.sh" "$d"/init; chmod 755 "$d"/init
  [ -n "$2" ] && cp -a "$2"/. "$d"/
  (cd "$d" && find . | cpio -o -H newc --quiet | gzip -1 > "$INITRD.tmp")
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$d"
}

if [ -n "$want_stock" ]; then
  stock
  mkinitrd stock "$STOCK_DIR/stage"
  echo "RIG_RESULT stock $STOCK_DIR/vmlinuz $INITRD $(basename "$STOCK_DIR")"
fi
if [ -n "$want_custom" ]; then
  custom
  mkinitrd custom ""
  echo "RIG_RESULT custom $CUSTOM_DIR/bzImage $INITRD custom-6.12-$KEY"
fi
exit 0
