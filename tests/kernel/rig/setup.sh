#!/bin/sh
# Build or refresh the kernel test rig's cache.
#
# usage: sh setup.sh [stock] [custom] [stock72] [stock73] [all]
#   stock     Debian's stock 6.12 kernel (the machine's own apt lists: bookworm-security)
#   custom    the custom 6.12 kernel built from linux-source-6.12
#   stockNN   Debian's stock kernel of series N.N (stock73: 7.3 from
#             trixie-backports, stock72: 7.2 from sid), through the rig's own
#             source list (7.0 and 7.1 cannot be: the archive keeps only their
#             vmlinuz, not their linux-base and linux-modules packages)
#   all       stock custom stock72 stock73                      (default: all)
#
# Cache root: $DAMOS_RIG_CACHE, default ~/.cache/damos-lang.  Layout:
#   stock/<abi-package>/vmlinuz           Debian's stock 6.12 kernel
#   stock/<abi-package>/stage/lib/modules 9p + zram modules (+ load.order)
#   stock/current                         name of the ABI package last resolved
#   stock/linux-binary-<abi>_<version>/   a stockNN kernel, keyed by package version
#                                         (vmlinuz, config, kver, pkgver, stage/)
#   stock/<kind>.current                  "<abi-package> <version>" last resolved
#   apt/sources.list                      the rig's own source list for stockNN
#   apt/lists/, apt/cache/                its apt state (never the machine's)
#   linux-source-6.12/                    custom kernel tree, kept for incremental builds
#   custom/<key>/bzImage                  custom kernel; <key> = sha256(rig.config +
#                                         linux-source-6.12 package version + patches/*),
#                                         16 hex digits
#   initrd/<kind>-<hash>.gz               busybox + init + workload + phases (+ stock
#                                         modules), <hash> over init.sh, workload.c,
#                                         phases.c, busybox, modules
#
# Each step is skipped when its result for the current inputs is cached, so a
# warm run takes about a second and touches no network.  For every kernel it
# prepares, the script prints one machine-readable line on stdout:
#   RIG_RESULT <kind> <kernel image> <initrd> <description>
# Progress goes to stderr.  Needs (see docs/kernel-rig.md): busybox-static,
# cpio, gcc, make, bc, bison, flex, libelf-dev, libssl-dev, xz-utils, kmod,
# linux-source-6.12 (custom only), apt and debian-archive-keyring (stock kinds).
# DAMOS_RIG_APT_UPDATE=1 refreshes the rig's apt lists (otherwise they are
# fetched only when absent); DAMOS_RIG_DEBIAN_MIRROR overrides the Debian
# mirror, by default the one the machine's apt uses for its own release.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${DAMOS_RIG_CACHE:-$HOME/.cache/damos-lang}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
log() { echo "rig-setup: $*" >&2; }

# one setup at a time per cache (CI setup script and pytest fixtures may race);
# -o: flock holds the lock until the script ends, not the build progress
# loop's last sleep, which inherits no lock and outlives the script by <= 45 s
if [ -z "${RIG_SETUP_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
  RIG_SETUP_LOCKED=1 exec flock -o "$CACHE/.setup.lock" sh "$0" "$@"
fi

want_stock='' want_custom='' want_series=''
[ $# -eq 0 ] && set -- all
for a in "$@"; do
  case "$a" in
    stock) want_stock=1 ;;
    custom) want_custom=1 ;;
    stock72|stock73) want_series="$want_series $a" ;;
    all) want_stock=1 want_custom=1 want_series="$want_series stock72 stock73" ;;
    *) echo "usage: $0 [stock] [custom] [stock72] [stock73] [all]" >&2; exit 2 ;;
  esac
done

sha() { sha256sum | cut -c1-16; }

# ------------------------------------------------------------ stock kernels
# stage_kernel: in the current directory, unpack ./*.deb (a stock kernel's
# packages) and keep vmlinuz, config, kver and stage/lib/modules: the 9p and
# zram modules with their dependencies, decompressed, in load order
# (load.order).  6.12 packages put everything under /lib/modules and /boot,
# the 7.x ones under /usr/lib/modules/<kver>/.
stage_kernel() {
  for d in ./*.deb; do dpkg-deb -x "$d" root; done
  mb=root; [ -d root/usr/lib/modules ] && mb=root/usr
  kver=$(ls "$mb/lib/modules")
  depmod -b "$mb" "$kver"
  for f in vmlinuz config; do
    if [ -f "$mb/lib/modules/$kver/$f" ]; then cp "$mb/lib/modules/$kver/$f" "$f"
    else cp "root/boot/$f-$kver" "$f"; fi
  done
  echo "$kver" > kver
  mkdir -p stage/lib/modules
  for m in 9p 9pnet_virtio zram; do
    modprobe -d "$mb" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' > mods.txt
  while read -r f; do
    b=$(basename "$f" .xz)
    case "$f" in *.xz) xz -dc "$f" > stage/lib/modules/"$b" ;; *) cp "$f" stage/lib/modules/"$b" ;; esac
    echo "$b" >> stage/lib/modules/load.order
  done < mods.txt
  [ -s stage/lib/modules/load.order ] || { echo "no modules staged" >&2; exit 1; }
  rm -rf root ./*.deb mods.txt
}

# Debian's stock 6.12: the package linux-image-6.12-amd64 pins in the machine's apt lists
STOCK_DIR=
stock() {
  resolve() { apt-cache depends linux-image-6.12-amd64 2>/dev/null | awk '/Depends: linux-image-6/{print $2; exit}'; }
  pkg=
  # the machine's apt lists did not change since the last resolution: the same
  # answer, without apt-cache's half second
  lists=$(eval "$(apt-config shell L Dir::State::Lists/d 2>/dev/null)"; echo "${L:-}")
  if [ -s "$CACHE/stock/current" ] && [ -n "$lists" ] && [ -d "$lists" ] &&
     [ -f "$CACHE/stock/$(cat "$CACHE/stock/current")/vmlinuz" ] &&
     [ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -newer "$CACHE/stock/current" 2>/dev/null)" ]; then
    pkg=$(cat "$CACHE/stock/current")
  fi
  [ -n "$pkg" ] || pkg=$(resolve) || pkg=
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
      stage_kernel )
    rm -rf "$STOCK_DIR"; mv "$tmp" "$STOCK_DIR"
  fi
  echo "$pkg" > "$CACHE/stock/current"
}

# Debian's stock kernels of newer series (stockNN): reached only through the
# rig's own source list in the cache, never through the machine's apt sources.
# The newest ABI package of the series (linux-binary-7.3.4+deb13-amd64) is
# resolved from those lists; its vmlinuz comes from linux-binary-<abi>, the
# config from linux-base-<abi>, the modules from linux-modules-<abi>, all
# three of the same version.
APT_DIR=$CACHE/apt
APT_SUITES=${DAMOS_RIG_APT_SUITES:-trixie-backports sid}
APT_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
rig_apt() {  # apt-get/apt-cache ARGS with the rig's own sources and state
  "$@" -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
    -o Acquire::Languages=none -o APT::Sandbox::User=root
}
# the Debian mirror the machine's apt uses for its own release (bookworm)
debian_mirror() {
  [ -n "${DAMOS_RIG_DEBIAN_MIRROR:-}" ] && { echo "$DAMOS_RIG_DEBIAN_MIRROR"; return; }
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  # shellcheck disable=SC2016  # apt's own $(FIELD) placeholders
  apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 2>/dev/null |
    awk -v c="$codename" '$2 == c {sub(/\/$/, "", $1); print $1; exit}'
}
APT_UPDATED=
apt_update() {
  [ -f "$APT_KEYRING" ] || { log "$APT_KEYRING is missing (package debian-archive-keyring)"; return 1; }
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || { log "no Debian mirror in the machine's apt sources (set DAMOS_RIG_DEBIAN_MIRROR)"; return 1; }
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  for s in $APT_SUITES; do echo "deb [signed-by=$APT_KEYRING] $mirror $s main"; done > "$APT_DIR/sources.list.tmp"
  mv "$APT_DIR/sources.list.tmp" "$APT_DIR/sources.list"
  log "apt-get update of the rig's own source list ($APT_SUITES)"
  APT_UPDATED=1
  rig_apt apt-get -q update --error-on=any >&2
}
have_lists() { ls "$APT_DIR"/lists/*_Packages* >/dev/null 2>&1; }
# newest ABI package of series $1 and its newest version: "<package> <version>"
resolve_series() {
  re=$(echo "$1" | sed 's/\./\\./g')
  abi=$(rig_apt apt-cache pkgnames "linux-binary-$1." 2>/dev/null |
        grep -E "^linux-binary-$re\.[0-9]+\+deb[0-9]+-amd64\$" | sort -V | tail -n 1) || abi=
  [ -n "$abi" ] || return 1
  ver=$(rig_apt apt-cache madison "$abi" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2; exit}')
  [ -n "$ver" ] || return 1
  echo "$abi $ver"
}
stock_series() {  # kind series -> STOCK_DIR
  kind=$1 series=$2
  cur=$CACHE/stock/$kind.current
  mkdir -p "$CACHE/stock"
  if [ -n "${DAMOS_RIG_APT_UPDATE:-}" ] || ! have_lists; then
    apt_update || log "apt-get update of the rig's source list failed"
  fi
  for attempt in 1 2; do
    res=
    if [ -s "$cur" ] && [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*_Packages*' -newer "$cur" 2>/dev/null)" ]; then
      res=$(cat "$cur")      # the lists did not change since: the same answer, no apt call
    else
      res=$(resolve_series "$series") || res=
      if [ -z "$res" ]; then
        res=$(cat "$cur" 2>/dev/null) || res=
        [ -n "$res" ] || { log "cannot resolve Debian's $series kernel from the rig's apt lists"; exit 3; }
        log "the rig's apt lists do not know a $series kernel; using cached $res"
      fi
    fi
    # shellcheck disable=SC2086  # "<package> <version>": two words on purpose
    set -- $res
    abi=$1 ver=$2 k=${1#linux-binary-}
    STOCK_DIR=$CACHE/stock/${abi}_$ver
    [ -f "$STOCK_DIR/vmlinuz" ] && break
    log "downloading and unpacking $abi $ver (+ linux-base, linux-modules)"
    tmp=$CACHE/stock/.tmp-$kind
    rm -rf "$tmp"; mkdir -p "$tmp"
    if ( cd "$tmp" && rig_apt apt-get -q download "linux-binary-$k=$ver" "linux-base-$k=$ver" "linux-modules-$k=$ver" >&2 ); then
      ( cd "$tmp" && stage_kernel && echo "$ver" > pkgver )
      rm -rf "$STOCK_DIR"; mv "$tmp" "$STOCK_DIR"
      break
    fi
    rm -rf "$tmp"
    # the mirror no longer has that version: refresh the lists once and resolve again
    [ "$attempt" = 1 ] && [ -z "$APT_UPDATED" ] && apt_update && continue
    log "cannot download $abi $ver"; exit 3
  done
  echo "$abi $ver" > "$cur.tmp"; mv "$cur.tmp" "$cur"
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
for kind in $want_series; do
  case "$kind" in stock72) series=7.2 ;; stock73) series=7.3 ;; esac
  stock_series "$kind" "$series"
  mkinitrd "$kind" "$STOCK_DIR/stage"
  echo "RIG_RESULT $kind $STOCK_DIR/vmlinuz $INITRD $(basename "$STOCK_DIR")"
done
if [ -n "$want_custom" ]; then
  custom
  mkinitrd custom ""
  echo "RIG_RESULT custom $CUSTOM_DIR/bzImage $INITRD custom-6.12-$KEY"
fi
exit 0
