#!/bin/sh
# Host tools for the c-module target's tests (tests/test_c_module.py), as root
# on Debian 12; idempotent, and about a second when everything is in place:
#   1. Debian's linux-headers for 6.12 (bookworm-security/backports, the
#      linux-headers-6.12-amd64 meta package) and for 6.1 (Debian 12's own
#      kernel, the newest linux-headers-6.1.0-N-amd64 the apt lists know):
#      the emitted modules are compiled against them (object only);
#   2. scripts/checkpatch.pl with its data files, taken from Debian's
#      linux-source-6.12 tarball (installed by the kernel rig's prerequisites)
#      into ${DAMOS_RIG_CACHE:-~/.cache/damos-lang}/checkpatch/<source version>/;
#   3. Debian's linux-headers of the rig's stock 7.3 kernel (the ABI and
#      package version in stock/stock73.current, from tests/kernel/rig/setup.sh),
#      downloaded through the rig's own apt source list and unpacked (not
#      installed: Debian 12 cannot install them) into
#      $CACHE/headers/<abi>_<version>/ (about 15 MB of packages, a few seconds
#      from nothing; nothing when cached).  Its Makefile is pointed at the
#      unpacked tree.
# Prints nothing on stdout; progress on stderr.  Exit 0 also when not root
# (the tests then skip what is missing, or fail under CI=true).
set -eu
log() { echo "c-module-setup: $*" >&2; }
CACHE=${DAMOS_RIG_CACHE:-$HOME/.cache/damos-lang}
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
export INITRD=No     # the headers pull in a kernel image: it needs no initramfs here

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
newest_61() {
  apt-cache pkgnames linux-headers-6.1.0- 2>/dev/null |
    grep -E '^linux-headers-6\.1\.0-[0-9]+-amd64$' | sort -t- -k5,5n | tail -1
}

want=
ls -d /usr/src/linux-headers-6.12*-amd64 >/dev/null 2>&1 || want="$want linux-headers-6.12-amd64"
ls -d /usr/src/linux-headers-6.1.0-*-amd64 >/dev/null 2>&1 || want="$want 61"
installed linux-source-6.12 || want="$want linux-source-6.12"
if [ -n "$want" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing:$want (needs root to install)"
    exit 0
  fi
  pkg61=$(newest_61)
  if [ -z "$pkg61" ]; then
    apt-get update -qq >&2
    pkg61=$(newest_61)
  fi
  pkgs=$(echo "$want" | sed "s/ 61/ $pkg61/")
  log "installing:$pkgs"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >&2 ||
    { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $pkgs >&2; }
fi

# checkpatch.pl, keyed by the linux-source-6.12 version it comes from
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) || srcver=
if [ -n "$srcver" ] && [ ! -x "$CACHE/checkpatch/$srcver/scripts/checkpatch.pl" ]; then
  log "extracting checkpatch.pl from linux-source-6.12 $srcver"
  tmp=$CACHE/checkpatch/.tmp-$$
  rm -rf "$tmp"; mkdir -p "$tmp"
  tar -C "$tmp" --strip-components=1 -xf /usr/src/linux-source-6.12.tar.xz \
      linux-source-6.12/scripts/checkpatch.pl linux-source-6.12/scripts/spelling.txt \
      linux-source-6.12/scripts/const_structs.checkpatch
  rm -rf "$CACHE/checkpatch/$srcver"; mv "$tmp" "$CACHE/checkpatch/$srcver"
fi
# Debian's 7.3 headers, for the same kernel the rig boots (stock73)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
APT_DIR=$CACHE/apt
rig_apt() {  # the options of tests/kernel/rig/setup.sh's rig_apt: the rig's apt state only
  "$@" -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
    -o Acquire::Languages=none -o APT::Sandbox::User=root
}
headers73() {
  cur=$CACHE/stock/stock73.current
  if [ ! -s "$cur" ]; then
    log "no stock 7.3 kernel resolved yet: sh tests/kernel/rig/setup.sh stock73"
    sh "$ROOT/tests/kernel/rig/setup.sh" stock73 >/dev/null || return 1
  fi
  # shellcheck disable=SC2046  # "<package> <version>": two words on purpose
  set -- $(cat "$cur")
  abi=${1#linux-binary-} ver=$2
  dir=$CACHE/headers/${abi}_$ver
  [ -f "$dir/.complete" ] && return 0
  t1=$(date +%s)
  log "downloading linux-headers-$abi $ver (+ -common, linux-kbuild)"
  tmp=$CACHE/headers/.tmp-$$
  rm -rf "$tmp"; mkdir -p "$tmp"
  kb=linux-kbuild-${abi%-amd64}
  common=linux-headers-${abi%-amd64}-common
  ( cd "$tmp" && rig_apt apt-get -q download "linux-headers-$abi=$ver" "$common=$ver" "$kb=$ver" >&2 ) ||
    { rm -rf "$tmp"; log "cannot download the 7.3 headers"; return 1; }
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$tmp/root" || { rm -rf "$tmp"; return 1; }; done
  rm -f "$tmp"/*.deb
  mk=$tmp/root/usr/src/linux-headers-$abi/Makefile
  sed -i "s|/usr/src/|$dir/root/usr/src/|g" "$mk"
  touch "$tmp/.complete"
  rm -rf "$dir"; mv "$tmp" "$dir"
  log "7.3 headers ready in $(( $(date +%s) - t1 ))s: $dir"
}
if [ "$(id -u)" = 0 ] || [ -s "$CACHE/stock/stock73.current" ]; then
  headers73 || log "no 7.3 headers (the c-module 7.3 compile test fails under CI=true)"
fi
log "ready in $(( $(date +%s) - t0 ))s"
