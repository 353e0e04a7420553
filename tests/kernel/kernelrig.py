"""Real-kernel test rig: boot Linux kernels under qemu (TCG) and run jobs.

Used by the ``kernel`` test tier (``pytest -m kernel tests/kernel``); see
docs/kernel-rig.md.  The kernels (``KINDS``):

* ``ensure_stock()``: Debian's stock 6.12 kernel, from the package that the
  ``linux-image-6.12-amd64`` meta package pins (DAMON sysfs with
  vaddr/fvaddr/paddr, DAMON_RECLAIM; no page_idle; 9p and zram as modules).
* ``ensure_custom()``: a 6.12 kernel built from Debian's ``linux-source-6.12``
  with ``rig/rig.config`` on top of tinyconfig (page_idle, DAMON, soft-dirty,
  zram, DAMON tracepoints, 9p built in) and the upstream fixes in
  ``rig/patches/``.  Cached under the cache root keyed by sha256(rig.config +
  linux-source-6.12 version + patches); rebuilt only when that changes.
* ``ensure_stock73()`` (and ``ensure_kernel("stock72")``): Debian's stock
  7.3 (7.2) kernel, the newest ABI package of the series in trixie-backports
  (sid), fetched through the rig's own source list in the cache (never the
  machine's apt sources) and keyed by package version.  DAMON_STAT runs from
  boot in these.

``run_vm(kernel, job, timeout=...)`` boots one of them with a busybox
initramfs.  The host's ``/`` is shared read-only and used as a chroot
(``hostrun CMD``) so the host's Python and the project run inside; a fresh
per-run directory is shared writable (``/out`` in the VM, ``$RIG_OUTHOST`` in
the chroot) and carries the job in and the results out.  The qemu process
group is always killed when the call returns (timeout, exception or not).

Only the standard library is used here.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RIG_DIR = HERE / "rig"
JOBS_DIR = HERE / "jobs"
PROJECT_ROOT = HERE.parent.parent
SETUP_SH = RIG_DIR / "setup.sh"
RUNVM_SH = RIG_DIR / "runvm.sh"
INSTALL_SH = RIG_DIR / "install-prereqs.sh"

#: kernel command line for anything that measures accesses (see docs)
ACCESS_CMDLINE = ("pti=on",)

# command -> Debian package that provides it
_COMMANDS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "cpio": "cpio",
    "gcc": "build-essential",
    "make": "build-essential",
    "bc": "bc",
    "bison": "bison",
    "flex": "flex",
    "xz": "xz-utils",
    "depmod": "kmod",
    "modprobe": "kmod",
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
    "dpkg-query": "dpkg",
    "timeout": "coreutils",
    "flock": "util-linux",
}
# file -> Debian package that provides it
_FILES = {
    "/bin/busybox": "busybox-static",
    "/usr/src/linux-source-6.12.tar.xz": "linux-source-6.12",
    "/usr/include/libelf.h": "libelf-dev",
    "/usr/include/openssl/ssl.h": "libssl-dev",
    # signs trixie-backports and sid, where the stockNN kernels come from
    "/usr/share/keyrings/debian-archive-keyring.gpg": "debian-archive-keyring",
}

#: kernel kinds setup.sh prepares -> what they are
KINDS = {
    "stock": "Debian's stock 6.12 (bookworm-security)",
    "custom": "6.12 built from linux-source-6.12 with rig/rig.config",
    "stock72": "Debian's stock 7.2 (sid)",
    "stock73": "Debian's stock 7.3 (trixie-backports)",
}
#: the Debian stock kernels, oldest first
STOCK_KINDS = ("stock", "stock72", "stock73")


class RigError(RuntimeError):
    """The rig could not prepare a kernel or run a VM."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def cache_root() -> Path:
    return Path(os.environ.get("DAMOS_RIG_CACHE") or Path.home() / ".cache" / "damos-lang")


def _is_static_elf(path: str) -> bool:
    """True if the ELF file has no PT_INTERP program header (statically linked)."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(64)
            if hdr[:4] != b"\x7fELF" or hdr[4] != 2:  # 64-bit only
                return False
            phoff = int.from_bytes(hdr[32:40], "little")
            phentsize = int.from_bytes(hdr[54:56], "little")
            phnum = int.from_bytes(hdr[56:58], "little")
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
    except OSError:
        return False
    return all(int.from_bytes(ph[i * phentsize:i * phentsize + 4], "little") != 3
               for i in range(phnum))


def missing_prerequisites() -> list[str]:
    """Human-readable list of what the rig lacks on this host (empty if nothing)."""
    missing = []
    for cmd, pkg in _COMMANDS.items():
        if shutil.which(cmd) is None and shutil.which(cmd, path="/usr/sbin:/sbin") is None:
            missing.append(f"{cmd} (package {pkg})")
    for path, pkg in _FILES.items():
        if not os.path.exists(path):
            missing.append(f"{path} (package {pkg})")
        elif path == "/bin/busybox" and not _is_static_elf(path):
            missing.append("a static /bin/busybox (package busybox-static)")
    if not (os.path.exists("/usr/lib/x86_64-linux-gnu/libc.a") or os.path.exists("/usr/lib64/libc.a")):
        missing.append("static libc for the workload (package libc6-dev)")
    return missing


def install_prerequisites() -> None:
    """apt-get install the rig's packages (root only; no-op when all are installed)."""
    if os.geteuid() != 0:
        raise RigError("installing the rig's packages needs root")
    try:
        p = subprocess.run(["/bin/sh", str(INSTALL_SH)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise RigError(f"cannot run {INSTALL_SH}: {e}") from e
    if p.returncode != 0:
        raise RigError(f"{INSTALL_SH} failed ({p.returncode}):\n{p.stdout[-4000:]}")


@dataclasses.dataclass(frozen=True)
class Kernel:
    kind: str          # a key of KINDS: "stock", "custom", "stock73", ...
    image: Path        # bzImage / vmlinuz
    initrd: Path       # busybox initramfs matching the kernel
    name: str          # stock: ABI package name; stockNN: "<abi package>_<version>";
                       # custom: "custom-6.12-<key>" (each names one kernel build)

    def __str__(self) -> str:
        return self.name


def ensure_kernel(kind: str) -> Kernel:
    """The kernel of `kind` (a key of KINDS), prepared by setup.sh if missing."""
    if kind not in KINDS:
        raise RigError(f"unknown kernel kind {kind!r} (known: {', '.join(KINDS)})")
    return _setup(kind)


def _setup(kind: str) -> Kernel:
    env = dict(os.environ, DAMOS_RIG_CACHE=str(cache_root()))
    t0 = time.monotonic()
    p = subprocess.run(["/bin/sh", str(SETUP_SH), kind], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RigError(f"setup.sh {kind} failed ({p.returncode}) after {time.monotonic() - t0:.0f}s:\n"
                       f"{p.stderr[-6000:]}")
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] == "RIG_RESULT" and parts[1] == kind:
            k = Kernel(kind, Path(parts[2]), Path(parts[3]), parts[4])
            if not (k.image.is_file() and k.initrd.is_file()):
                raise RigError(f"setup.sh {kind} reported missing files: {line}")
            return k
    raise RigError(f"setup.sh {kind} printed no RIG_RESULT line:\n{p.stdout}\n{p.stderr[-3000:]}")


def ensure_stock() -> Kernel:
    """Debian's stock 6.12 kernel + initramfs with its 9p/zram modules (downloads once)."""
    return _setup("stock")


def ensure_custom() -> Kernel:
    """The custom 6.12 kernel (builds it when rig.config or linux-source-6.12 changed)."""
    return _setup("custom")


def ensure_stock73() -> Kernel:
    """Debian's stock 7.3 kernel + initramfs with its 9p/zram modules (downloads once)."""
    return _setup("stock73")


@dataclasses.dataclass
class VMResult:
    status: int            # runvm status: job rc 0..61, 124 timeout, 200 no result
    timed_out: bool
    out: Path              # the run's directory (job, results, logs)
    log: str               # job output (stdout+stderr of the job script)
    console: str           # serial console of the VM
    duration: float        # wall time of the VM in seconds
    cmdline: str = ""
    job_started: bool = True   # the job's first line ran (JOB_STARTED exists)
    rig_faults: tuple = ()     # descriptions of boots retried because the job never started

    @property
    def rig_fault(self) -> bool:
        """The guest died or hung before its job started: the rig failed, not the job."""
        return not self.job_started and (self.status == 200 or self.timed_out)

    @property
    def rc(self) -> int | None:
        """The job's exit status, or None if the VM timed out or ended without one."""
        return None if self.status in (124, 200) or self.timed_out else self.status

    def path(self, name: str) -> Path:
        return self.out / name

    def text(self, name: str) -> str:
        return (self.out / name).read_text()

    def describe(self) -> str:
        what = "TIMEOUT" if self.timed_out else f"status {self.status}"
        if not self.job_started:
            what += ", the job never started"
        retried = "".join(f"--- retried: {f}\n" for f in self.rig_faults)
        return (f"VM run in {self.out} ({what}, {self.duration:.1f}s, cmdline {self.cmdline!r})\n"
                f"{retried}"
                f"--- job log ---\n{self.log[-6000:]}\n--- console (tail) ---\n{self.console[-3000:]}")


def _keep_paths(paths) -> list[str]:
    """Host paths under /tmp that the VM's chroot must keep visible (its /tmp is a tmpfs)."""
    keep = []
    for p in paths:
        if not p:
            continue
        p = os.path.realpath(p)
        if p == "/tmp" or not p.startswith("/tmp/"):
            continue
        # keep the top-level directory under /tmp: covers siblings (venv next to checkout)
        top = "/tmp/" + p[len("/tmp/"):].split("/", 1)[0]
        if any(c in top for c in " ,\t\n"):
            raise RigError(f"cannot share {top!r} with the VM (whitespace or comma in path)")
        if top not in keep:
            keep.append(top)
    return keep


def default_python() -> str:
    """Absolute path of the interpreter that runs the tests (a real binary, not a shim)."""
    return os.path.abspath(sys.executable)


def _alive_pids_mentioning(text: str) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            pids.append(int(d))
    return pids


def vm_processes(out: Path) -> list[int]:
    """Pids of processes (qemu, runvm.sh) still serving the VM of run directory `out`."""
    return _alive_pids_mentioning(f"rig.out={os.path.realpath(out)} ")


def run_vm(kernel: Kernel, job: str, *, timeout: float = 120, cmdline=ACCESS_CMDLINE,
           files: dict | None = None, env: dict | None = None, out: Path | str | None = None,
           python: str | None = None, keep=(), mem_mib: int = 1024, smp: int = 2,
           numa_nodes: int = 1) -> VMResult:
    """Boot `kernel`, run the shell script text `job` inside, return a VMResult.

    The job runs under busybox sh as root in the VM with cwd /out (= the run
    directory).  A header defines, for the job:
      PY    absolute path of the host Python to run inside (`hostrun $PY ...`),
            by default the interpreter running the tests
      PROJ  the project checkout (host path, read-only in the VM)
      KDIR  tests/kernel of the checkout
      and every name=value of `env`.
    `files` maps names in the run directory to str/bytes content or to a
    host Path to copy.  `timeout` bounds the VM's wall time: on expiry the qemu
    process group is killed and the result has timed_out=True.  Whatever
    happens, no qemu process of this run outlives the call.

    A guest that dies or hangs before the job's first line runs (a boot oops
    under TCG) is a rig fault, not a result: it is booted once more, the
    retry is printed and appended to the cache's rig-fault log
    (``rig_fault_log()``), and the result lists it in ``rig_faults``.

    `numa_nodes` > 1 gives the guest that many NUMA nodes (qemu ``-numa``),
    memory and CPUs split evenly (the default 1024 MiB and 2 CPUs with
    ``numa_nodes=2``: two nodes of 512 MiB and one CPU each).  Only kernels
    with CONFIG_NUMA (the stock ones) see them.
    """
    if numa_nodes < 1 or mem_mib % numa_nodes or smp % numa_nodes:
        raise RigError(f"numa_nodes={numa_nodes} must divide mem_mib={mem_mib} and smp={smp}")
    out = _run_dir(out)
    py = python or default_python()
    header = {"PY": py, "PROJ": str(PROJECT_ROOT), "KDIR": str(HERE)}
    header.update(env or {})
    _write_job(out, header, job, files)
    keep_list = _keep_paths([str(PROJECT_ROOT), py, os.path.realpath(py), sys.prefix,
                             sys.base_prefix, *keep])
    args = list(cmdline)
    if keep_list:
        args.append("rig.keep=" + ",".join(keep_list))
    return _boot_retrying(kernel, out, args, timeout, mem_mib, smp, numa_nodes)


def _run_dir(out) -> Path:
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="damos-rig-"))
    out = Path(os.path.realpath(out))
    out.mkdir(parents=True, exist_ok=True)
    if any(c in str(out) for c in " ,\t\n"):
        raise RigError(f"run directory {out} must not contain whitespace or commas")
    return out


def _write_job(out: Path, header: dict, job: str, files: dict | None) -> None:
    """run.sh (the header, then `job`) and `files` into the run directory."""
    # the first line marks that the job started: a VM that ends without it is a rig fault
    lines = ["# --- written by kernelrig.run_vm", f": > {JOB_STARTED}   # cwd is /out"]
    for k, v in header.items():
        lines.append(f"{k}={shlex.quote(str(v))}; export {k}")
    lines.append("# --- job")
    (out / "run.sh").write_text("\n".join(lines) + "\n" + job.rstrip("\n") + "\n")
    for name, content in (files or {}).items():
        dest = out / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, dest)
        elif isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            dest.write_text(content)


def _boot_retrying(kernel: Kernel, out: Path, args: list, timeout: float, mem_mib: int,
                   smp: int, numa_nodes: int = 1) -> VMResult:
    """_boot, once more if the guest died before its job started (a rig fault)."""
    faults = []
    for attempt in (1, 2):
        r = _boot(kernel, out, args, timeout, mem_mib, smp, numa_nodes)
        if not r.rig_fault or attempt == 2:
            break
        # the guest died before the job's first line (e.g. a boot oops under
        # TCG): a fault of the rig, not a result of the test; boot once more
        what = "timed out" if r.timed_out else "ended without a result"
        fault = (f"{kernel.name}: the VM {what} before its job started "
                 f"({r.duration:.1f}s; console of that boot kept as {out}/console.attempt1.log)")
        n = record_rig_fault(fault, r.console)
        faults.append(fault)
        print(f"kernelrig: rig fault, retrying once: {fault} [rig faults so far: {n}, "
              f"log {rig_fault_log()}]", file=sys.stderr, flush=True)
        for name in ("console.log", "run.sh.log"):
            if (out / name).exists():
                (out / name).replace(out / name.replace(".log", ".attempt1.log"))
    r.rig_faults = tuple(faults)
    return r


#: the job's first line creates this file in the run directory (see run_vm)
JOB_STARTED = ".rig-job-started"
#: the rig's faults (a guest that died before its job started), one line each
RIG_FAULTS_FILE = "rig-faults.log"
#: rig faults retried in this process (the pytest summary prints them)
SESSION_RIG_FAULTS: list[str] = []


def rig_fault_log() -> Path:
    return cache_root() / RIG_FAULTS_FILE


def record_rig_fault(what: str, console: str = "") -> int:
    """Append one line to the cache's rig-fault log; return how many it holds."""
    SESSION_RIG_FAULTS.append(what)
    log = rig_fault_log()
    lines = [line.strip() for line in console.splitlines() if line.strip()]
    why = [line for line in lines if any(w in line for w in ("Oops", "panic", "BUG", "RIP:"))]
    last = " | ".join(why[:3] or lines[-3:])
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {what} -- {last[:300]}\n")
    except OSError:
        pass
    return rig_fault_count()


def rig_fault_count() -> int:
    try:
        with open(rig_fault_log()) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


#: a guest whose job has not started this long after qemu did has hung at
#: boot (once: SeaBIOS, then nothing for the whole 240 s timeout); it is
#: killed then and retried as a rig fault.  A boot takes 4-7 s idle and under
#: 40 s at load 4 (RIG_BOOT_SECS overrides)
BOOT_SECS = float(os.environ.get("RIG_BOOT_SECS", "120"))


def _wait_for_vm(proc: subprocess.Popen, out: Path, t0: float, timeout: float):
    """(runvm output, status, timed out) once ``proc`` ends, its timeout
    passes, or its job has not started within BOOT_SECS."""
    boot_by = t0 + min(BOOT_SECS, timeout)
    while True:
        now = time.monotonic()
        started = (out / JOB_STARTED).exists()
        end = t0 + timeout if started else boot_by
        if now >= end:
            return b"", 124, True
        try:
            # short waits until the job starts, so a hung boot is seen in time
            runvm_out, _ = proc.communicate(timeout=(end - now) if started else min(2.0, end - now))
            return runvm_out, proc.returncode, False
        except subprocess.TimeoutExpired:
            continue


def _boot(kernel: Kernel, out: Path, args: list, timeout: float, mem_mib: int,
          smp: int, numa_nodes: int = 1) -> VMResult:
    """One boot of runvm.sh for the run directory ``out``."""
    (out / JOB_STARTED).unlink(missing_ok=True)
    venv = dict(os.environ, VM_TIMEOUT=str(int(timeout) + 10), VM_MEM=str(mem_mib), VM_SMP=str(smp),
                VM_NUMA=str(numa_nodes))
    t0 = time.monotonic()
    timed_out = False
    proc = subprocess.Popen(["/bin/sh", str(RUNVM_SH), str(kernel.image), str(kernel.initrd), str(out), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=venv, start_new_session=True)
    try:
        runvm_out, status, timed_out = _wait_for_vm(proc, out, t0, timeout)
    finally:
        # always tear the VM down: runvm.sh, timeout(1) and qemu share the group
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            more, _ = proc.communicate(timeout=30)
            runvm_out = (runvm_out or b"") + (more or b"")
        except (subprocess.TimeoutExpired, ValueError):
            pass
    duration = time.monotonic() - t0
    if status == 124:
        timed_out = True
    # anything left (should be nothing: qemu is in the killed group)
    deadline = time.monotonic() + 10
    while (left := vm_processes(out)) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)

    def read(name):
        try:
            return (out / name).read_text(errors="replace")
        except OSError:
            return ""
    console = read("console.log")
    if runvm_out:
        console += "\n--- runvm.sh ---\n" + runvm_out.decode(errors="replace")
    if timed_out and not (out / JOB_STARTED).exists() and duration < timeout:
        console += f"\n--- kernelrig: VM killed: its job had not started after {duration:.0f}s ---\n"
    elif timed_out:
        console += f"\n--- kernelrig: VM killed after its {timeout:g}s timeout ---\n"
    return VMResult(status=status, timed_out=timed_out, out=out, log=read("run.sh.log"),
                    console=console, duration=duration, cmdline=" ".join(args),
                    job_started=(out / JOB_STARTED).exists())


# ------------------------------------------------------------ systemd boots
ROOTFS_SH = RIG_DIR / "rootfs.sh"
INIT_SYSTEMD = RIG_DIR / "init-systemd.sh"
#: where a systemd VM has the checkout (read-only); the tree's
#: /usr/local/bin/damos runs `python3 -m damos_lang` from it
SYSTEMD_PROJ = "/srv/damos-lang"
#: what the host needs to build the tree (command -> Debian package)
ROOTFS_COMMANDS = {"mmdebstrap": "mmdebstrap", "chroot": "coreutils", "cpio": "cpio"}


@dataclasses.dataclass(frozen=True)
class SystemdRoot:
    """A Debian root filesystem booted with systemd as PID 1 (rig/rootfs.sh)."""
    kernel: Kernel     # the stock 7.3 kernel; its initrd is the systemd one (init-systemd.sh)
    tree: Path         # the tree in the cache, shared read-only
    name: str          # "trixie-<key>": one build of the tree

    def __str__(self) -> str:
        return f"{self.name} on {self.kernel.name}"


def missing_rootfs_prerequisites() -> list[str]:
    return [f"{c} (package {p})" for c, p in ROOTFS_COMMANDS.items()
            if shutil.which(c) is None and shutil.which(c, path="/usr/sbin:/sbin") is None]


def ensure_systemd_root(kernel: Kernel | None = None) -> SystemdRoot:
    """The Debian trixie tree with systemd (built once by rig/rootfs.sh with
    mmdebstrap, about a minute; cached under fleet/ keyed by its package list
    and script) and the stock 7.3 kernel with an initramfs that boots it."""
    kernel = kernel or ensure_stock73()
    missing = missing_rootfs_prerequisites()
    if missing:
        raise RigError("the systemd root filesystem needs " + ", ".join(missing))
    env = dict(os.environ, DAMOS_RIG_CACHE=str(cache_root()))
    t0 = time.monotonic()
    proc = subprocess.Popen(["/bin/sh", str(ROOTFS_SH)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, stdin=subprocess.DEVNULL)
    err = []
    for line in proc.stderr:      # the build's progress, as it comes
        err.append(line)
        print(line, end="", file=sys.stderr, flush=True)
    stdout = proc.stdout.read()
    if proc.wait() != 0:
        raise RigError(f"rootfs.sh failed ({proc.returncode}) after {time.monotonic() - t0:.0f}s:\n"
                       f"{''.join(err)[-6000:]}")
    res = [line.split() for line in stdout.splitlines() if line.startswith("RIG_ROOTFS ")]
    if not res or len(res[-1]) != 3 or not Path(res[-1][1]).is_dir():
        raise RigError(f"rootfs.sh printed no RIG_ROOTFS line:\n{stdout}{''.join(err)[-3000:]}")
    _, tree, name = res[-1]
    return SystemdRoot(dataclasses.replace(kernel, initrd=_systemd_initrd(kernel.initrd)),
                       Path(tree), name)


def _systemd_initrd(base: Path) -> Path:
    """`base` with init-systemd.sh appended as a second cpio archive (the
    kernel unpacks both; rdinit=/init-systemd runs it): keyed by both."""
    h = hashlib.sha256(base.read_bytes() + INIT_SYSTEMD.read_bytes()).hexdigest()[:16]
    dest = cache_root() / "fleet" / f"initrd-{h}.gz"
    if dest.is_file():
        return dest
    with tempfile.TemporaryDirectory(prefix="damos-rig-initrd-") as d:
        shutil.copy(INIT_SYSTEMD, Path(d) / "init-systemd")
        os.chmod(Path(d) / "init-systemd", 0o755)
        archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b"init-systemd\n",
                                 stdout=subprocess.PIPE, cwd=d, check=True).stdout
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(base.read_bytes() + gzip.compress(archive, 1))
    tmp.replace(dest)
    return dest


def run_vm_systemd(root: SystemdRoot, job: str, *, setup: str | None = None, timeout: float = 180,
                   cmdline=ACCESS_CMDLINE, files: dict | None = None, env: dict | None = None,
                   out: Path | str | None = None, mem_mib: int = 1024, smp: int = 2) -> VMResult:
    """Boot `root` with systemd as PID 1 and run the shell script text `job` as
    a service after multi-user.target (rig-job.service, see init-systemd.sh);
    the VM powers off when it ends.  `setup`, if given, runs in the tree before
    systemd starts (`systemctl enable` works there: systemd is not running).
    Both run as root under the tree's /bin/sh with the Debian tree's tools; the
    header defines PROJ (the checkout, read-only at SYSTEMD_PROJ), KDIR and the
    `env` entries, and `damos` is /usr/local/bin/damos (the checkout with the
    tree's python3).  /out is the run directory.  `timeout`, the kill of the
    qemu process group and the retry of a rig fault are run_vm's."""
    out = _run_dir(out)
    header = {"PROJ": SYSTEMD_PROJ, "KDIR": f"{SYSTEMD_PROJ}/tests/kernel"}
    header.update(env or {})
    _write_job(out, header, job, files)
    (out / "setup.sh").unlink(missing_ok=True)
    if setup is not None:
        (out / "setup.sh").write_text(setup)
    proj = os.path.realpath(PROJECT_ROOT)
    for p in (proj, str(root.tree)):
        if any(c in p for c in " ,\t\n"):
            raise RigError(f"cannot boot a systemd VM with {p!r} (whitespace or comma in path)")
    args = [*cmdline, "rdinit=/init-systemd", f"rig.root={root.tree}", f"rig.proj={proj}",
            "systemd.unit=rig.target"]
    return _boot_retrying(root.kernel, out, args, timeout, mem_mib, smp)


def job(name: str) -> str:
    """Text of tests/kernel/jobs/NAME."""
    return (JOBS_DIR / name).read_text()


def tool_dirs() -> list[str]:
    """Where the environment running the tests keeps its console scripts: the
    venv or prefix the package and its test extras were installed into
    (``./dev``'s .venv, a ``pip install '.[test]'`` venv, a system prefix)."""
    dirs = []
    for d in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if d and d not in dirs:
            dirs.append(d)
    return dirs


def find_tool(name: str, path_fallback: bool = True) -> str | None:
    """The one lookup of a command the tests run (``damos``, ``damo``): the
    running interpreter's environment first, then PATH; None if neither has it."""
    for d in tool_dirs():
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return shutil.which(name) if path_fallback else None


def damos_command() -> list[str]:
    """How to run the project's CLI on the host: this environment's `damos`,
    else `python -m damos_lang` (never another installation's `damos` on PATH)."""
    damos = find_tool("damos", path_fallback=False)
    return [damos] if damos else [sys.executable, "-m", "damos_lang"]


def compile_damos(source: str, target: str = "sysfs", *extra: str) -> str:
    """Compile DAMOS source text on the host; return the output (e.g. the sysfs script)."""
    with tempfile.TemporaryDirectory(prefix="damos-rig-src-") as d:
        src = Path(d) / "scheme.damos"
        dst = Path(d) / "out"
        src.write_text(source)
        p = subprocess.run([*damos_command(), "compile", str(src), "--target", target, "-o", str(dst), *extra],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT)
        if p.returncode != 0:
            raise RigError(f"damos compile --target {target} failed ({p.returncode}):\n{p.stdout}")
        return dst.read_text()


def parse_kv(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a job's output file into a dict (later lines win)."""
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out
