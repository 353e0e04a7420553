#!/bin/sh
# A small Debian trixie root filesystem with systemd as PID 1, for the rig's
# systemd boots (kernelrig.ensure_systemd_root(), docs/kernel-rig.md).
#
# usage: sh rootfs.sh
# Prints on stdout:
#   RIG_ROOTFS <tree> <name>
# Cache (under $DAMOS_RIG_CACHE, default ~/.cache/damos-lang):
#   fleet/trixie-<key>/root/      the tree, shared read-only with the VM over 9p;
#                                 <key> = sha256 of the package list and this script
#   fleet/trixie-<key>/packages.txt   what dpkg installed (name version)
#   fleet/trixie-<key>/rw.tar     its /etc, /var and /root, for the VM's tmpfs copies
# (kernelrig writes the initramfs that boots it, fleet/initrd-<hash>.gz.)
# The tree is built once by mmdebstrap (224 MB, 144 packages with ansible-core, 65 s here) and never
# again while this script and its package list stay the same: a warm run
# touches no network.  Packages come from the Debian mirror of the rig's own
# source list (apt/sources.list in the cache, written by setup.sh stock73),
# or $DAMOS_RIG_DEBIAN_MIRROR; never from the machine's apt sources.
set -eu
CACHE=${DAMOS_RIG_CACHE:-$HOME/.cache/damos-lang}
mkdir -p "$CACHE/fleet"
CACHE=$(cd "$CACHE" && pwd)
log() { echo "rig-rootfs: $*" >&2; }
[ $# = 0 ] || { echo "usage: $0" >&2; exit 2; }

# what `python3 -m damos_lang apply/update/stop/check/export` imports
# (pyproject.toml's dependencies; rich for typer), systemd as PID 1, and
# Debian's ansible-core for examples/fleet/playbook.yml run on the node itself
# (-c local; test_kernel_systemd.py)
SUITE=trixie
PACKAGES="systemd systemd-sysv python3 python3-lark python3-typer python3-rich python3-jinja2 python3-prometheus-client ansible-core"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

if [ -z "${RIG_ROOTFS_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
  # -o: flock holds the lock until the script ends; the progress loop's last
  # sleep, which outlives the script by up to 30 s, does not
  RIG_ROOTFS_LOCKED=1 exec flock -o "$CACHE/fleet/.lock" sh "$0" "$@"
fi

sha() { sha256sum | cut -c1-16; }
KEY=$( { echo "$SUITE $PACKAGES"; cat "$0"; } | sha)
DIR=$CACHE/fleet/$SUITE-$KEY

mirror() {
  [ -n "${DAMOS_RIG_DEBIAN_MIRROR:-}" ] && { echo "$DAMOS_RIG_DEBIAN_MIRROR"; return; }
  # the first URI of the rig's own source list
  awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
    "$CACHE/apt/sources.list" 2>/dev/null
}

build() {
  command -v mmdebstrap >/dev/null || { log "mmdebstrap is missing (sh install-prereqs.sh)"; exit 4; }
  m=$(mirror)
  [ -n "$m" ] || { log "no Debian mirror: $CACHE/apt/sources.list is missing (sh setup.sh stock73) and DAMOS_RIG_DEBIAN_MIRROR is unset"; exit 3; }
  tmp=$DIR.tmp
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "building the Debian $SUITE root filesystem with mmdebstrap from $m" \
      "(once per package list: about 150 MB, a minute or two): $PACKAGES"
  t0=$(date +%s)
  # the sleep holds no pipe: the caller gets EOF when the script ends
  ( while sleep "${RIG_PROGRESS_SECS:-30}" >/dev/null 2>&1; do
      log "mmdebstrap: $(( $(date +%s) - t0 ))s elapsed, $(du -sm "$tmp" 2>/dev/null | cut -f1) MB written"
    done ) &
  progress=$!
  st=0
  # no documentation or translations: the tree is for running, not reading
  mmdebstrap --variant=minbase --include="$(echo "$PACKAGES" | tr ' ' ,)" \
    --keyring="$KEYRING" --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$tmp/root" "deb [signed-by=$KEYRING] $m $SUITE main" >"$tmp/mmdebstrap.log" 2>&1 || st=$?
  kill "$progress" 2>/dev/null || true
  wait "$progress" 2>/dev/null || true
  if [ "$st" != 0 ]; then
    tail -n 30 "$tmp/mmdebstrap.log" >&2
    log "mmdebstrap failed ($st) after $(( $(date +%s) - t0 ))s"; exit "$st"
  fi
  r=$tmp/root
  # a fixed machine id: no first-boot presets run over the units the job enables
  echo "$KEY$KEY" > "$r/etc/machine-id"
  echo damos-rig > "$r/etc/hostname"
  # mount points of the checkout (read-only) and the run directory (writable)
  mkdir -p "$r/srv/damos-lang" "$r/out" "$r/etc/damos-lang"
  # the unit's default --damos-bin: the checkout with the tree's Python
  cat > "$r/usr/local/bin/damos" <<'EOS'
#!/bin/sh
# the checkout at /srv/damos-lang is read-only: its bytecode goes to the
# tmpfs /var, so only the first command of a boot compiles it (as pip would
# have at install time); Python 3.13 under TCG takes 4 s for that
PYTHONPATH=/srv/damos-lang PYTHONPYCACHEPREFIX=/var/cache/damos-lang/pycache exec python3 -m damos_lang "$@"
EOS
  chmod 755 "$r/usr/local/bin/damos"
  rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/log/*.log
  # /usr is not newer than /etc and /var: no ldconfig and catalog rebuild at each boot
  touch "$r/etc/.updated" "$r/var/.updated"
  # what the VM unpacks into its tmpfs /etc, /var and /root at each boot: one
  # file over 9p instead of two thousand
  tar -C "$r" -cf "$tmp/rw.tar" etc var root
  chroot "$r" python3 -c 'import lark, typer, rich, jinja2, prometheus_client' ||
    { log "the tree's python3 cannot import the project's dependencies"; exit 5; }
  chroot "$r" ansible-playbook --version >/dev/null ||
    { log "the tree's ansible-playbook does not run"; exit 5; }
  # shellcheck disable=SC2016  # dpkg-query's own ${FIELD} placeholders
  chroot "$r" dpkg-query -W -f '${Package} ${Version}\n' > "$tmp/packages.txt"
  log "built in $(( $(date +%s) - t0 ))s: $(du -sm "$r" | cut -f1) MB, $(wc -l < "$tmp/packages.txt") packages"
  rm -rf "$DIR"; mv "$tmp" "$DIR"
}

[ -f "$DIR/packages.txt" ] || build

echo "RIG_ROOTFS $DIR/root $SUITE-$KEY"
