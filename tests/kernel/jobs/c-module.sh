# c-module proof: a DAMOS file compiled to a DAMON sample module built into the
# custom kernel, driven through its own module parameters against the workload
# (64 MiB, first 8 MiB written continuously), with zram swap for pageout.
# Env: MOD (module name), TAKES_PID (1: write the workload's pid to
# target_pid), MIN_AGE_US (optional: written to min_age_us before enabling).
# Results: result.txt (KEY=VALUE), dmesg.txt.
. /lib/rig.sh
P=/sys/module/damon_sample_$MOD/parameters
R=/out/result.txt
stats() { for f in nr_tried sz_tried nr_applied sz_applied qt_exceeds; do echo "$f$1=$(cat $P/$f)"; done >> $R; }
[ -d $P ] || { echo "no $P"; ls /sys/module | grep damon; exit 2; }
zram_swap || exit 3
start_workload 64 8 0 || { echo "workload did not start"; exit 6; }
echo "pid=$pid" > $R
echo "params=$(ls $P | tr '\n' ' ')" >> $R
echo "enabled_before=$(cat $P/enabled)" >> $R
echo "min_age_us_file=$(cat $P/min_age_us)" >> $R
[ -e $P/quota_sz ] && echo "quota_sz=$(cat $P/quota_sz)" >> $R
echo "rss_before_kb=$(kb VmRSS)" >> $R
[ -n "${MIN_AGE_US:-}" ] && echo "$MIN_AGE_US" > $P/min_age_us
[ "${TAKES_PID:-0}" = 1 ] && echo $pid > $P/target_pid
if [ "${BUSY_FIRST:-0}" = 1 ]; then
    # DAMON_RECLAIM holds DAMON exclusively, as DAMON_STAT does on Debian 7.x:
    # the module's start must fail with EBUSY, say why, and stay disabled
    RP=/sys/module/damon_reclaim/parameters
    echo Y > $RP/enabled; echo "busy_holder_rc=$?" >> $R
    sleep 1
    echo "busy_holder_kdamond=$(cat $RP/kdamond_pid)" >> $R
    err=$( { echo Y > $P/enabled; } 2>&1 ); echo "busy_enable_rc=$?" >> $R
    echo "busy_enable_err=$err" >> $R
    echo "busy_enabled=$(cat $P/enabled)" >> $R
    echo "busy_log=$(dmesg | grep -c 'damon_sample_'"$MOD"': DAMON is held exclusively')" >> $R
    echo N > $RP/enabled; echo "busy_holder_off_rc=$?" >> $R
    i=0; while [ "$(cat $RP/kdamond_pid)" != -1 ] && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done
fi
t0=$(cut -d' ' -f1 /proc/uptime)
echo Y > $P/enabled; echo "enable_rc=$?" >> $R
echo "enabled_after=$(cat $P/enabled)" >> $R
sleep ${WAIT1:-3}
stats _1
t_1=$(cut -d' ' -f1 /proc/uptime)
sleep ${WAIT2:-3}
# a paddr quota can go for a while to regions its filter then rejects: give the
# scheme up to UNTIL_APPLIED more seconds to apply something (the quota bound
# the test checks scales with the seconds measured)
i=0
while [ "$(cat $P/sz_applied)" = 0 ] && [ $i -lt $(( ${UNTIL_APPLIED:-0} * 2 )) ]; do
    sleep 0.5; i=$((i+1))
done
stats ""
t1=$(cut -d' ' -f1 /proc/uptime)
echo "seconds=$(awk -v a=$t0 -v b=$t1 'BEGIN{printf "%.1f", b-a}')" >> $R
echo "seconds_1=$(awk -v a=$t0 -v b=$t_1 'BEGIN{printf "%.1f", b-a}')" >> $R
echo "rss_after_kb=$(kb VmRSS)" >> $R
echo "swap_after_kb=$(kb VmSwap)" >> $R
echo N > $P/enabled; echo "disable_rc=$?" >> $R
echo "enabled_off=$(cat $P/enabled)" >> $R
s1=$(cat $P/nr_tried); sleep 1
echo "frozen_after_off=$([ "$s1" = "$(cat $P/nr_tried)" ] && echo yes || echo no)" >> $R
dmesg | grep -i damon > /out/dmesg.txt
kill $pid
cat $R
