#!/bin/sh
# usage: runvm.sh KERNEL INITRD OUTDIR [extra kernel cmdline...]
# OUTDIR/run.sh (or rig.job=NAME) is executed inside the VM (busybox sh,
# cwd=/out); OUTDIR is writable from the VM.  Console goes to OUTDIR/console.log.
# Exit status: the job's exit status (0..61, 61 = "61 or more"); 124 on timeout;
# 200 if the VM ended without reporting one (kernel panic, crash, bad qemu args).
# Environment: VM_TIMEOUT (s, default 300), VM_MEM (MiB, 1024), VM_SMP (2),
# VM_ACCEL (tcg), VM_NUMA (NUMA nodes, default 1: none; N > 1 splits VM_MEM
# and VM_SMP evenly over N nodes, node i gets CPUs i*SMP/N..).  Add pti=on to
# the command line for anything that measures accesses (see docs/kernel-rig.md).
kernel=$1; initrd=$2; out=$(realpath "$3"); shift 3
: "${VM_TIMEOUT:=300}" "${VM_MEM:=1024}" "${VM_SMP:=2}" "${VM_ACCEL:=tcg}" "${VM_NUMA:=1}"
rm -f "$out/rc" "$out/console.log"
# -numa: one RAM backend per node (qemu 7.2 refuses "-numa node,mem=" on pc machines)
numa=
if [ "$VM_NUMA" -gt 1 ]; then
  if [ $((VM_MEM % VM_NUMA)) != 0 ] || [ $((VM_SMP % VM_NUMA)) != 0 ]; then
    echo "runvm: VM_NUMA=$VM_NUMA must divide VM_MEM=$VM_MEM and VM_SMP=$VM_SMP" >&2
    exit 200
  fi
  mem=$((VM_MEM / VM_NUMA)) cpus=$((VM_SMP / VM_NUMA)) i=0
  while [ $i -lt "$VM_NUMA" ]; do
    lo=$((i * cpus)) hi=$((i * cpus + cpus - 1))
    numa="$numa -object memory-backend-ram,id=ram$i,size=${mem}M -numa node,nodeid=$i,memdev=ram$i,cpus=$lo-$hi"
    i=$((i + 1))
  done
fi
# shellcheck disable=SC2086  # $numa: words without blanks, split on purpose
timeout --foreground -k 5 "$VM_TIMEOUT" qemu-system-x86_64 \
  -accel "$VM_ACCEL" -cpu max -m "$VM_MEM" -smp "$VM_SMP" $numa \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 quiet panic=-1 rig.out=$out $*" \
  -nographic -no-reboot -nic none \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$out",mount_tag=out,security_model=none,multidevs=remap \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  </dev/null > "$out/console.log" 2>&1
q=$?
if [ $q -eq 124 ] || [ $q -eq 137 ]; then echo "runvm: timeout after ${VM_TIMEOUT}s" >&2; exit 124; fi
if [ $q -ge 3 ] && [ $((q % 2)) -eq 1 ]; then exit $(( (q >> 1) - 1 )); fi  # isa-debug-exit: ((rc+1)<<1)|1
if [ $q -eq 0 ] && [ -f "$out/rc" ]; then exit "$(cat "$out/rc")"; fi   # kernel without /dev/port
echo "runvm: VM ended without a result (qemu status $q)" >&2
exit 200
