"""POSIX sh script that starts one kdamond through the DAMON sysfs interface.

The script writes :func:`damos_lang.sysfs.plan.plan` in order.  It runs
under dash and busybox sh, takes the target pid as ``$1`` (overriding the
file's), and honours ``DAMOS_SYSFS_ROOT`` (instead of
/sys/kernel/mm/damon/admin) and ``DAMOS_SYS_MODULE_ROOT`` (instead of
/sys/module).  Every value is single-quoted, so no input can inject shell.
"""
from __future__ import annotations

from .. import __version__, catalog
from ..catalog import SYSFS, vstr
from ..features import minimum_version
from ..sysfs import layout as L
from ..sysfs.modules import DAMON_STAT, EXCLUSIVE_MODULES
from ..sysfs.plan import PID_FROM_CALLER, Write, plan_for, takes_pid_from_caller

NAME = "sysfs"
INTERFACE = SYSFS


def _retries(path: str) -> bool:
    """Written under the kernel's trylock, so -EBUSY means try again (§7 trap 10)."""
    found = L.locate(path)
    return found is not None and found.file.retry


def _is_count(path: str) -> bool:
    found = L.locate(path)
    return found is not None and found.file.kind == L.COUNT


def q(s: str) -> str:
    """Quote for sh: inside single quotes only ' is special."""
    return "'" + s.replace("'", "'\\''") + "'"


def _comment(s: str) -> str:
    """Text safe inside a # comment: no line breaks or control characters."""
    return "".join(c if c.isprintable() else "?" for c in s)


_BODY = r"""
root=${DAMOS_SYSFS_ROOT:-/sys/kernel/mm/damon/admin}
modroot=${DAMOS_SYS_MODULE_ROOT:-/sys/module}
started=0
stat_stopped=0
# the count files written, newest first, each with its old value: writing the
# old value back removes every directory the script created (sysfs.md §7 trap 3)
journal=''

die() {
    printf 'damos: %s\n' "$1" >&2
    exit 1
}

# put VALUE PATH: one write of VALUE; cat reports the kernel's error text
# (the shells' own printf does not: busybox says nothing, dash 'I/O error')
put() {
    printf '%s\n' "$1" | cat > "$2"
}

# undo what this script did: turn off what it turned on, write each count file
# back to its old value, and start DAMON_STAT again if it stopped it
undo() {
    if [ "$started" = 1 ]; then
        if put off "$root/$state_path" 2>/dev/null; then
            printf 'damos: turned kdamond 0 off again\n' >&2
        else
            printf 'damos: could not turn kdamond 0 off; write off to %s\n' \
                "$root/$state_path" >&2
        fi
    fi
    printf '%s\n' "$journal" | while IFS=' ' read -r path old; do
        [ -n "$path" ] || continue
        put "$old" "$root/$path" 2>/dev/null ||
            printf 'damos: could not write %s back to %s\n' "$old" "$root/$path" >&2
    done
    if [ "$stat_stopped" = 1 ]; then
        if put Y "$statf" 2>/dev/null; then
            printf 'damos: started DAMON_STAT again\n' >&2
        else
            printf 'damos: could not start DAMON_STAT again; write Y to %s\n' "$statf" >&2
        fi
    fi
}

# w VALUE PATH WHAT RETRY COUNT: write VALUE to $root/PATH, or report, undo and
# exit 1; a COUNT file's old value is kept for the undo
w() {
    if [ ! -e "$root/$2" ]; then
        printf "damos: failed to write '%s' to %s (%s): no such file; this kernel lacks the feature\n" \
            "$1" "$2" "$3" >&2
        undo
        exit 1
    fi
    if [ "$5" = 1 ]; then
        IFS= read -r old < "$root/$2" || old=0
        journal="$2 ${old:-0}
$journal"
    fi
    tries=1
    while ! err=$( { put "$1" "$root/$2"; } 2>&1 ); do
        # -EBUSY from the kernel's trylock: try again shortly
        if [ "$4" = 1 ] && [ "$tries" -lt 3 ] && [ -f "$root/$2" ]; then
            tries=$((tries + 1))
            sleep 1
            continue
        fi
        err=${err##*: }
        printf "damos: failed to write '%s' to %s (%s)%s\n" "$1" "$2" "$3" "${err:+: $err}" >&2
        if [ "$2" = "$state_path" ] && [ "$1" = on ]; then
            printf '%s\n' "damos: the kernel checks every value at 'on': a bad pid, sample > aggr," \
                "damos: nr_regions min < 3, a missing memcg, or another DAMON user (-EBUSY)" >&2
        fi
        undo
        printf 'damos: nothing is left of this run: the tree is as it was\n' >&2
        exit 1
    done
    if [ "$2" = "$state_path" ] && [ "$1" = on ]; then
        started=1
    fi
}

# the operations set must be registered (avail_operations exists from 5.19)
need_ops() {
    f="$root/__AVAIL_OPS__"
    [ -r "$f" ] || return 0
    while IFS= read -r o; do
        [ "$o" = "$1" ] && return 0
    done < "$f"
    undo
    die "this kernel has no '$1' operations set (see $f)"
}

stop_stat=0
case ${1-} in --stop-damon-stat) stop_stat=1; shift ;; esac
__ARGS__
# -- pre-flight: nothing is written before these pass
[ -d "$root" ] || die "no DAMON sysfs interface at $root (needs CONFIG_DAMON_SYSFS=y and sysfs mounted)"
statf="$modroot/__STAT__/parameters/enabled"
for m in __MODULES__; do
    f="$modroot/$m/parameters/enabled"
    if [ -r "$f" ] && IFS= read -r v < "$f" && [ "$v" = Y ]; then
        if [ "$m" = __STAT__ ]; then
            [ "$stop_stat" = 1 ] && continue
            die "$m is running DAMON exclusively (DAMON_STAT), so a sysfs kdamond cannot start; run this script with --stop-damon-stat to stop it while the kdamond runs, or stop it with: echo N > $f"
        fi
        die "$m is running DAMON exclusively, so a sysfs kdamond cannot start; stop it with: echo N > $f"
    fi
done
for f in "$root"/__KDAMONDS__/*/__STATE__; do
    [ -r "$f" ] || continue
    if IFS= read -r v < "$f" && [ "$v" = on ]; then
        die "a DAMON sysfs kdamond is already running ($f is on); refusing to replace it"
    fi
done
if [ "$stop_stat" = 1 ] && [ -r "$statf" ] && IFS= read -r v < "$statf" && [ "$v" = Y ]; then
    err=$( { put N "$statf"; } 2>&1 ) || die "cannot stop DAMON_STAT: ${err##*: }"
    stat_stopped=1
    printf 'damos: stopped DAMON_STAT (--stop-damon-stat)\n' >&2
fi
"""

_PID_SINGLE = r"""
usage() {
    printf 'usage: %s __USAGE__\n' "$0" >&2
    exit 2
}
[ "$#" -le 1 ] || usage
case ${1-} in -h|--help) printf 'usage: %s __USAGE__\n' "$0"; exit 0 ;; esac
pid=${1:-__DEFAULT__}
[ -n "$pid" ] || { printf 'damos: no target pid: the file has none, so pass it as the first argument\n' >&2; usage; }
case $pid in
    [1-9]*) case $pid in *[!0-9]*) bad=1 ;; *) bad=0 ;; esac ;;
    *) bad=1 ;;
esac
if [ "$bad" = 1 ]; then
    printf 'damos: bad pid: %s (a positive decimal number, no leading zero)\n' "$pid" >&2
    usage
fi
kill -0 "$pid" 2>/dev/null || die "no process with pid $pid"
"""

_NO_ARGS = r"""
case ${1-} in -h|--help) printf 'usage: %s [--stop-damon-stat]\n' "$0"; exit 0 ;; esac
if [ "$#" -gt 0 ]; then
    printf 'usage: %s [--stop-damon-stat]\n(__WHY__)\n' "$0" >&2
    exit 2
fi
"""


def script_from_plan(writes: list[Write], header: list[str], pid_arg: str | None,
                     ops: str | None = None, why_no_args: str = "") -> str:
    """The sh script that performs ``writes`` in order.

    ``pid_arg`` is None when the script takes no argument; otherwise it is
    the default pid ("" if there is none), which ``$1`` overrides, and every
    write of :data:`PID_FROM_CALLER` writes ``$pid`` instead."""
    out = ["#!/bin/sh"]
    out += ["# " + _comment(line) if line else "#" for line in header]
    # every value is a single-quoted literal on purpose: '$(...)' must not expand
    out.append("# shellcheck disable=SC2016")
    out.append("set -u")
    out.append(f"state_path={q(L.state_path(0))}")
    if pid_arg is not None:
        default = q(pid_arg) if pid_arg else "''"
        usage = "[--stop-damon-stat] " + ("PID" if not pid_arg else "[PID]")
        args = _PID_SINGLE.replace("__DEFAULT__", default).replace("__USAGE__", usage)
    else:
        args = _NO_ARGS.replace("__WHY__", why_no_args or "this script takes no arguments")
    state = L.KDAMOND.file("state")
    out.append(_BODY.replace("__MODULES__", " ".join(EXCLUSIVE_MODULES))
               .replace("__STAT__", DAMON_STAT)
               .replace("__AVAIL_OPS__", L.path_of(L.context_dir(0), L.CONTEXT,
                                                   L.AVAIL_OPERATIONS.path))
               .replace("__KDAMONDS__", L.ADMIN.file("kdamonds").dir)
               .replace("__STATE__", state.path)
               .replace("__ARGS__", args.strip("\n")).rstrip("\n"))
    out.append("")
    out.append("# -- the writes, in order (nr_* before the directories they create)")
    for wr in writes:
        value = '"$pid"' if wr.value == PID_FROM_CALLER else q(wr.value)
        retry = "1" if _retries(wr.path) else "0"
        count = "1" if _is_count(wr.path) else "0"
        out.append(f"w {value} {q(wr.path)} {q(wr.what)} {retry} {count}")
        if ops and wr.path == L.path_of(L.context_dir(0), L.CONTEXT, "ops"):
            out.append(f"need_ops {q(ops)}")
    out.append("")
    out.append(r"""IFS= read -r now 2>/dev/null < "$root/$state_path" || now='?'
if [ "$now" != on ]; then
    printf 'damos: kdamond 0 is not running after on (state: %s)\n' "$now" >&2
    undo
    exit 1
fi
IFS= read -r kpid 2>/dev/null < "$root/__PID__" || kpid='?'
printf 'damos: kdamond 0 is on (pid %s); stop it with: echo off > %s\n' \
    "${kpid:-?}" "$root/$state_path"
if [ "$stat_stopped" = 1 ]; then
    printf 'damos: DAMON_STAT is stopped while it runs; after that, start it again: echo Y > %s\n' \
        "$statf"
fi
""".replace("__PID__", L.path_of(L.kdamond_dir(0), L.KDAMOND, "pid")))
    return "\n".join(out)


def compile(unit, options) -> str:
    """The sysfs setup script for the unit."""
    ctx = unit.context
    takes_pid = takes_pid_from_caller(ctx)
    writes = plan_for(unit, options, pid_from_caller=takes_pid)
    iv = ctx.intervals
    feat = minimum_version(ctx, SYSFS)
    n = len(ctx.schemes)
    header = [f"Generated by damos-lang {__version__} from {unit.source_name}; do not edit.",
              f"Starts one DAMON kdamond ({ctx.ops}, {n} scheme{'s' if n != 1 else ''}) "
              f"through {L.ADMIN_ROOT}.",
              f"Values are kernel units at sample {iv.sample_us} us, aggr {iv.aggr_us} us, "
              f"update {iv.update_us} us.",
              f"Needs Linux >= {vstr(feat.since)} ({feat.name}) with CONFIG_DAMON_SYSFS=y."]
    if options.kernel is not None:
        header.append(f"Checked against Linux {vstr(options.kernel)} (--kernel).")
    header.append("Environment: DAMOS_SYSFS_ROOT (default /sys/kernel/mm/damon/admin), "
                  "DAMOS_SYS_MODULE_ROOT (default /sys/module).")
    header.append("--stop-damon-stat: stop a running DAMON_STAT first (no kdamond can start "
                  "while it runs); on a failure it is started again.")
    pid_arg = None
    why = ""
    if takes_pid:
        default = ctx.targets[0].pid if ctx.targets else None
        pid_arg = str(default) if default is not None else ""
        header.append("Usage: sh SCRIPT [--stop-damon-stat] [PID]; PID overrides the "
                      "compiled-in pid." if pid_arg else
                      "Usage: sh SCRIPT [--stop-damon-stat] PID")
    else:
        why = (f"the {ctx.ops} operations set monitors {catalog.OPS[ctx.ops].words}, so there "
               "is no pid" if not catalog.OPS[ctx.ops].takes_pid
               else "the pids of the targets are in the script")
        header.append("Usage: sh SCRIPT [--stop-damon-stat]")
    return script_from_plan(writes, header, pid_arg, ctx.ops, why)
