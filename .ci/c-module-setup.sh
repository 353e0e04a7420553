#!/bin/sh
# Host tools for the c-module target's tests (tests/test_c_module.py), as root
# on Debian 12; idempotent, and about a second when everything is in place:
#   1. Debian's linux-headers for 6.12 (bookworm-security/backports, the
#      linux-headers-6.12-amd64 meta package) and for 6.1 (Debian 12's own
#      kernel, the newest linux-headers-6.1.0-N-amd64 the apt lists know):
#      the emitted modules are compiled against them (object only);
#   2. scripts/checkpatch.pl with its data files, taken from Debian's
#      linux-source-6.12 tarball (installed by the kernel rig's prerequisites)
#      into ${DAMOS_RIG_CACHE:-~/.cache/damos-lang}/checkpatch/<source version>/.
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
log "ready in $(( $(date +%s) - t0 ))s"
