# NUMA nodes the guest sees (boot with numa_nodes=N): one line per node,
# "node<N> cpus=<cpulist> mem_kb=<MemTotal>", to /out/nodes.txt.
for d in /sys/devices/system/node/node[0-9]*; do
  n=${d##*/}
  echo "$n cpus=$(cat "$d/cpulist") mem_kb=$(awk '/MemTotal/{print $4}' "$d/meminfo")"
done > /out/nodes.txt
echo "online=$(cat /sys/devices/system/node/online)" >> /out/nodes.txt
cat /out/nodes.txt
