#!/bin/sh
# Install the host packages the kernel test rig needs (Debian 12, as root).
# Idempotent: when every package is already installed it does nothing and
# takes well under a second (no apt-get update).
# The 6.12 packages (linux-source-6.12, linux-image-6.12-amd64) come from
# bookworm-security, which is in the default apt sources.  The stock 7.2 and
# 7.3 kernels are not installed: setup.sh fetches them through its own source
# list, whose signatures debian-archive-keyring verifies.  mmdebstrap builds
# the Debian tree of the systemd boots (rootfs.sh) from the same mirror.
set -eu
PKGS="qemu-system-x86 busybox-static cpio build-essential bc bison flex libelf-dev libssl-dev xz-utils kmod linux-source-6.12 debian-archive-keyring mmdebstrap"
missing=
for p in $PKGS; do
  s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || s=
  [ "$s" = installed ] || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "rig-prereqs: all installed" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "rig-prereqs: missing:$missing (needs root to install)" >&2
  exit 1
fi
echo "rig-prereqs: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
