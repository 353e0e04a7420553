# systemd as PID 1 on Debian's stock 7.3 (kernelrig.run_vm_systemd): the unit
# that `damos compile prcl.damos -t systemd --pid 1 --stop-damon-stat` emits,
# installed and enabled before this boot (setup, in the test), applied it at
# boot.  This job runs after multi-user.target and records, as TAG.KEY=VALUE
# lines in /out/result.txt:
#   boot     the unit's and the kernel's state as the boot left them
#   reload   after editing the file (age 5s -> 7s) and `systemctl reload`
#   stop     after `systemctl stop`
#   ansible  after examples/fleet/playbook.yml ran twice (/out/ansible.1.txt, .2.txt)
# and `systemctl show` of the unit after each (/out/show.TAG.txt), the
# metrics of damos-export.service (enabled in setup too) scraped after each
# (/out/scrape.TAG.txt), the
# damos lines of the journal (/out/journal.damos.txt: -o cat) and the unit's
# whole journal (/out/journal.unit.txt).  Debian's sh, the tree's tools.
U=damos-prcl.service
F=/etc/damos-lang/prcl.damos
D=/sys/kernel/mm/damon/admin/kdamonds
K=$D/0
S=/sys/module/damon_stat/parameters
C=$K/contexts/0
R=/out/result.txt
: > $R
kv() { echo "$1=$2" >> $R; }
snap() {  # snap TAG
  kv "$1.active" "$(systemctl is-active $U)"
  kv "$1.enabled" "$(systemctl is-enabled $U)"
  kv "$1.nr_kdamonds" "$(cat $D/nr_kdamonds)"
  kv "$1.state" "$(cat $K/state 2>/dev/null)"
  kv "$1.pid" "$(cat $K/pid 2>/dev/null)"
  kv "$1.ops" "$(cat $C/operations 2>/dev/null)"
  kv "$1.target_pid" "$(cat $C/targets/0/pid_target 2>/dev/null)"
  kv "$1.action" "$(cat $C/schemes/0/action 2>/dev/null)"
  kv "$1.age_min" "$(cat $C/schemes/0/access_pattern/age/min 2>/dev/null)"
  kv "$1.stat_enabled" "$(cat $S/enabled)"
  k=$(cat $S/kdamond_pid)
  kv "$1.stat_comm" "$(cat /proc/"$k"/comm 2>/dev/null)"
  systemctl show $U --no-pager > "/out/show.$1.txt" 2>&1
}
scrape() {  # scrape TAG: damos-export.service's metrics over HTTP (it may still be starting)
  python3 - > "/out/scrape.$1.txt" 2>&1 <<'EOS'
import sys, time, urllib.request
for _ in range(120):
    try:
        with urllib.request.urlopen("http://127.0.0.1:10142/metrics", timeout=30) as r:
            sys.stdout.write(r.read().decode())
        break
    except OSError as e:
        err = e
        time.sleep(0.5)
else:
    sys.exit(f"no scrape in 60 s: {err}")
EOS
  kv "$1.scrape_rc" $?
}
kv pid1 "$(cat /proc/1/comm)"
kv kernel "$(uname -r)"
kv uptime "$(cut -d' ' -f1 /proc/uptime)"
snap boot
boot_pid=$(cat $K/pid 2>/dev/null)
kv boot.pid_comm "$(cat /proc/"$boot_pid"/comm 2>/dev/null)"
scrape boot
scraped=$(cut -d. -f1 /proc/uptime)

sed -i 's/ 5s / 7s /' $F
kv edited "$(grep -c ' 7s ' $F)"
t0=$(cut -d' ' -f1 /proc/uptime)
systemctl reload $U; kv reload_rc $?
kv reload_secs "$(awk -v a="$t0" '{print $1 - a}' /proc/uptime)"
snap reload
# regions are tried once per 5 s at most (the scheme's age; pageout resets
# it): at least 15 s between the scrapes, for the tried counter to move
while [ $(( $(cut -d. -f1 /proc/uptime) - scraped )) -lt 15 ]; do sleep 1; done
scrape reload

systemctl stop $U; kv stop_rc $?
snap stop
kv stop.boot_pid_alive "$( [ -d /proc/"$boot_pid" ] && echo yes || echo no)"
scrape stop
kv export_active "$(systemctl is-active damos-export.service)"

# examples/fleet/playbook.yml run twice by Debian's ansible-core on the node
# itself (-c local, root, no become: no sudo in the tree).  It runs after the
# unit's stop and the scrapes, so every step above is the unit's alone and the
# playbook starts from what the stop left: no kdamond, DAMON_STAT running
# (hence --stop-damon-stat) and /etc/damos-lang/prcl.damos as the reload step
# edited it (7s).  The first run puts the checkout's file back (5s) and
# apply --ensure starts a kdamond (changed); the second writes nothing (ok).
# Output to /out/ansible.N.txt; its temp files and HOME under /tmp.
playbook() {  # playbook N
  t0=$(cut -d' ' -f1 /proc/uptime)
  HOME=/tmp/ansible-home LC_ALL=C.UTF-8 ANSIBLE_LOCAL_TEMP=/tmp/ansible/local \
  ANSIBLE_REMOTE_TEMP=/tmp/ansible/remote ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
  ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_PIPELINING=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
    ansible-playbook -c local -i localhost, "$PROJ/examples/fleet/playbook.yml" \
      -e damos_hosts=localhost -e damos_become=false \
      -e ansible_python_interpreter=/usr/bin/python3 \
      -e damos_source="$PROJ/examples/prcl.damos" \
      -e '{"damos_args": ["--pid", "1", "--stop-damon-stat"]}' > "/out/ansible.$1.txt" 2>&1
  kv "ansible$1.rc" $?
  kv "ansible$1.secs" "$(awk -v a="$t0" '{print $1 - a}' /proc/uptime)"
}
mkdir -p /tmp/ansible-home
playbook 1
playbook 2
snap ansible
kv ansible.pid_comm "$(cat /proc/"$(cat $K/pid 2>/dev/null)"/comm 2>/dev/null)"
kv ansible.file_age "$(grep -c ' 5s ' $F)"

journalctl -b -t damos-prcl -o cat --no-pager > /out/journal.damos.txt 2>&1
journalctl -b -u $U -o short-monotonic --no-pager > /out/journal.unit.txt 2>&1
journalctl -b -u damos-export.service -o short-monotonic --no-pager > /out/journal.export.txt 2>&1
kv uptime_end "$(cut -d' ' -f1 /proc/uptime)"
exit 0
