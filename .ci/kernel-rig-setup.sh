#!/bin/sh
# Prepare the real-kernel test rig before pytest runs (called by .ci/run as
# root with CI=true).  Idempotent, and fast when everything is in place:
#   1. apt-get install the rig's packages if any is missing
#      (tests/kernel/rig/install-prereqs.sh; no apt-get update when none is)
#   2. download Debian's stock 6.12 kernel once, Debian's stock 7.2 and 7.3
#      kernels once per package version (through the rig's own source list in
#      the cache: about 20 s each from nothing, 125 MB of packages), and build
#      the custom 6.12 kernel when rig.config or the linux-source-6.12 version
#      changed (4 to 20 minutes on 2 cores, depending on what else runs, with a
#      progress line every 45 s; cached under ${DAMOS_RIG_CACHE:-~/.cache/damos-lang})
# A warm run takes about a second and touches no network.  Exits non-zero on
# any failure.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIG=$ROOT/tests/kernel/rig
t0=$(date +%s)
if [ "$(id -u)" = 0 ]; then
  sh "$RIG/install-prereqs.sh"
else
  sh "$RIG/install-prereqs.sh" || { echo "kernel-rig-setup: not root, cannot install the missing packages" >&2; exit 1; }
fi
sh "$RIG/setup.sh" all
echo "kernel-rig-setup: ready in $(( $(date +%s) - t0 ))s (cache ${DAMOS_RIG_CACHE:-$HOME/.cache/damos-lang})" >&2
