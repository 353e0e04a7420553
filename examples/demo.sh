#!/bin/sh
# The damos run demo: prcl (examples/prcl.damos: page out regions idle for
# 5 s) on the simulated masim 'stairs' workload (ten 10 MB buffers, all
# touched for 10 s, then one at a time for 5 s each).  Runs anywhere, in
# about a second: the simulator runs in simulated time.  Watch 'resident'
# drop from ~95 MiB to ~20 MiB while the buffer being touched stays in.
# Usage: sh examples/demo.sh   (./dev demo runs it; DAMOS=path overrides the CLI)
set -eu
cd "$(dirname "$0")/.."
DAMOS=${DAMOS:-.venv/bin/damos}
mkdir -p build
echo "=== damos run examples/prcl.damos --sim examples/workloads/stairs.cfg --record build/prcl-stairs.jsonl"
# piped through cat: progress lines every 5 s of simulated time instead of the live view
"$DAMOS" run examples/prcl.damos --sim examples/workloads/stairs.cfg \
    --record build/prcl-stairs.jsonl | cat
echo "=== damos run refuses what user space cannot do:"
"$DAMOS" run examples/ethp.damos --duration 1s 2>&1 | head -3 || true
