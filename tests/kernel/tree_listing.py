"""The DAMON sysfs tree listing of a rig kernel (jobs/tree-listing.sh), cached.

``tree_listing(kind)`` returns the listing of the kernel of that kind (a key
of ``kernelrig.KINDS``).  It boots a VM only when the cache lacks it: listings
are kept under ``<cache>/listings/<kernel name>-<job key>/``, where the kernel
name carries the package version (``linux-binary-7.3.4+deb13-amd64_7.3.4-1~bpo13+1``)
and the job key is a hash of the job script and how it is booted.  The format
is documented in the job script's header; ``parse()`` reads it.

Only the standard library is used here.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import kernelrig

JOB = "tree-listing.sh"
#: how the listing job is booted (part of the cache key)
BOOT = {"cmdline": kernelrig.ACCESS_CMDLINE, "mem_mib": 1024, "smp": 2}
TIMEOUT = 240
#: files of the run directory the cache keeps (besides tree-*.txt)
KEPT = ("facts.txt", "writes.log", "console.log")


@dataclasses.dataclass(frozen=True)
class Entry:
    path: str                 # relative to /sys/kernel/mm/damon/admin
    type: str                 # dir | file | link
    mode: int                 # permission bits (0o600)
    value: str | None = None  # exact content of a read file, else None
    error: str | None = None  # errno name when reading failed


@dataclasses.dataclass(frozen=True)
class TreeListing:
    kernel: str               # kernelrig.Kernel.name the listing came from
    release: str              # uname -r in the VM
    text: str                 # the listing file, as the job wrote it
    facts: dict               # facts.txt: what happened in the VM
    sections: dict            # section name -> {path: Entry}
    directory: Path           # where the cache keeps it
    booted: bool              # this call booted a VM to make it

    def section(self, name: str = "defaults") -> dict:
        return self.sections[name]

    def paths(self, name: str = "defaults") -> set:
        return set(self.sections[name])


class ListingFormatError(ValueError):
    """A line of a listing that does not follow the documented format."""


def parse(text: str) -> dict:
    """Section name -> {path: Entry} of a listing (format 1, see jobs/tree-listing.sh)."""
    sections: dict = {}
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# section "):
            current = sections.setdefault(line[len("# section "):].strip(), {})
            continue
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if current is None or len(parts) != 4 or parts[1] not in ("dir", "file", "link"):
            raise ListingFormatError(f"listing line {n}: {line!r}")
        path, kind, mode, value = parts
        content = error = None
        if value.startswith('"'):
            content = json.loads(value)
        elif value.startswith("!"):
            error = value[1:]
        elif value != "-":
            raise ListingFormatError(f"listing line {n}: bad value {value!r}")
        current[path] = Entry(path, kind, int(mode, 8), content, error)
    return sections


def job_key(job_text: str) -> str:
    """16 hex digits over the job script and how it is booted."""
    h = hashlib.sha256(job_text.encode())
    h.update(json.dumps(BOOT, sort_keys=True, default=list).encode())
    return h.hexdigest()[:16]


def _load(directory: Path, kernel_name: str, booted: bool) -> TreeListing | None:
    trees = sorted(directory.glob("tree-*.txt"))
    if len(trees) != 1 or not (directory / "facts.txt").is_file():
        return None
    text = trees[0].read_text()
    facts = kernelrig.parse_kv((directory / "facts.txt").read_text())
    return TreeListing(kernel_name, trees[0].stem[len("tree-"):], text, facts, parse(text),
                       directory, booted)


def listing_dir(kernel: kernelrig.Kernel, job_text: str) -> Path:
    return kernelrig.cache_root() / "listings" / f"{kernel.name}-{job_key(job_text)}"


def listing_for(kernel: kernelrig.Kernel) -> TreeListing:
    """The listing of `kernel`: from the cache, or made by booting it once."""
    job_text = kernelrig.job(JOB)
    directory = listing_dir(kernel, job_text)
    cached = _load(directory, kernel.name, booted=False)
    if cached:
        return cached
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".lock-{directory.name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # one boot per listing, however many callers
        cached = _load(directory, kernel.name, booted=False)
        if cached:
            return cached
        with tempfile.TemporaryDirectory(prefix="damos-rig-tree-") as run:
            r = kernelrig.run_vm(kernel, job_text, out=run, timeout=TIMEOUT, **BOOT)
            if r.rc != 0:
                raise kernelrig.RigError(f"the tree listing job failed on {kernel.name}:\n{r.describe()}")
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory.parent))
            for f in [*Path(run).glob("tree-*.txt"), *(Path(run) / name for name in KEPT)]:
                if f.is_file():
                    shutil.copy(f, tmp / f.name)
            if _load(tmp, kernel.name, booted=True) is None:
                shutil.rmtree(tmp)
                raise kernelrig.RigError(f"the tree listing job wrote no listing on {kernel.name}:\n"
                                         f"{r.describe()}")
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(tmp, directory)
        _prune(kernel, directory)
    return _load(directory, kernel.name, booted=True)


def _prune(kernel: kernelrig.Kernel, keep: Path) -> None:
    """Drop this kernel's listings made by other versions of the job."""
    for d in keep.parent.glob(f"{kernel.name}-*"):
        key = d.name[len(kernel.name) + 1:]
        if d != keep and len(key) == 16 and all(c in "0123456789abcdef" for c in key):
            shutil.rmtree(d, ignore_errors=True)


def tree_listing(kind: str) -> TreeListing:
    """The listing of the rig's kernel of `kind` ("stock", "stock73", ...)."""
    return listing_for(kernelrig.ensure_kernel(kind))
