"""``damos eval --thp never,always,scheme``: ethp the way DAMON's evaluation
page measures it.  Each arm runs the workload under one transparent huge
page mode -- ``never`` (the reference: no huge pages), ``always`` (huge
pages wherever they fit: THP's speedup and its memory waste), ``madvise``
(only where the program asks) and ``scheme`` (``madvise`` with the file's
schemes: DAMOS hugepage on what is hot, nohugepage on what is cold) -- and
two fractions say what the scheme kept of THP:

* memory waste removed = (RSS_always - RSS_scheme) / (RSS_always - RSS_never)
* speedup kept         = (runtime_never - runtime_scheme) / (runtime_never - runtime_always)

A fraction is only given when its denominator, THP's own effect, is more
than the run-to-run spread: inside it the quotient is noise over noise.

The mode is ``enabled`` under the THP root (the kernel's
/sys/kernel/mm/transparent_hugepage, or a stand-in directory for the tests,
``--thp-root``); the one found is written back after the eval, whatever
ends it.  ``defrag`` is read for the output and left as it is: its default,
``madvise``, already compacts for the regions the scheme marks hugepage."""
from __future__ import annotations

import json
import os
from typing import List, Optional, Sequence

from ..errors import DamosError
from . import stats

THP_ROOT = "/sys/kernel/mm/transparent_hugepage"
ENABLED = "enabled"
DEFRAG = "defrag"
# arm -> the THP mode it runs under; only ``scheme`` runs the file's schemes
MODE = {"never": "never", "always": "always", "madvise": "madvise", "scheme": "madvise"}
ARMS = tuple(MODE)
# the two fractions: name -> (metric, the arm the numerator starts from (THP's
# effect is it minus the other), the other arm, the metric's name, its unit)
FRACTIONS = {
    "memory_waste_removed": ("rss_mean_mib", "always", "never", "RSS mean", "MiB"),
    "speedup_kept": ("wall_s", "never", "always", "runtime (wall)", "s"),
}
# a directory holding this file is a stand-in: writes are rendered as the kernel shows them
STANDIN_MARKER = ".damos-thp-standin"


def parse_arms(text: str) -> tuple:
    """``never,always,scheme`` -> the arms, in the order given."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise DamosError("--thp needs arms, e.g. --thp never,always,scheme")
    for w in words:
        if w not in MODE:
            raise DamosError(f"--thp: {w!r} is not a THP arm (one of {', '.join(ARMS)})")
    dup = sorted({w for w in words if words.count(w) > 1})
    if dup:
        raise DamosError(f"--thp: {dup[0]} is given twice")
    return tuple(words)


def current(text: str) -> Optional[str]:
    """The bracketed word of a THP setting (``always [madvise] never``)."""
    for w in text.split():
        if w.startswith("[") and w.endswith("]"):
            return w[1:-1]
    return None


def offered(text: str) -> List[str]:
    return [w.strip("[]") for w in text.split()]


def writable(path: str) -> bool:
    return os.access(path, os.W_OK)


def default_root(thp_root: Optional[str], sysfs_root: Optional[str]) -> str:
    """The THP root to use: the one given; with a stand-in DAMON tree none
    (a stand-in eval must not switch the host's THP); under a test none."""
    if thp_root is not None:
        return thp_root
    if sysfs_root is not None:
        raise DamosError("--thp with --sysfs-root needs --thp-root (a stand-in of "
                         f"{THP_ROOT}): a stand-in eval must not switch the host's THP")
    from ..sysfs.root import under_test
    if under_test():
        raise DamosError(f"refusing to use the kernel's {THP_ROOT} under a test: "
                         "pass --thp-root")
    return THP_ROOT


class ThpMode:
    """The THP mode of a root: checked before anything runs, set per arm,
    and restored to the one found."""

    def __init__(self, root: str):
        self.root = root
        self.path = os.path.join(root, ENABLED)
        self.original: Optional[str] = None
        self.defrag: Optional[str] = None
        self.now: Optional[str] = None

    def _read(self, path: str) -> str:
        with open(path) as f:
            return f.read()

    def check(self, modes: Sequence[str]) -> None:
        """Refuse (DamosError) what would fail later: no THP, a mode this
        kernel does not offer, no right to write it."""
        if not os.path.isfile(self.path):
            raise DamosError(f"--thp: no transparent huge pages here ({self.path} is missing: "
                             "CONFIG_TRANSPARENT_HUGEPAGE=y)")
        text = self._read(self.path)
        self.original = self.now = current(text)
        if self.original is None:
            raise DamosError(f"--thp: {self.path} says {text.strip()!r}, no [mode] in it")
        lacking = [m for m in dict.fromkeys(modes) if m not in offered(text)]
        if lacking:
            raise DamosError(f"--thp: this kernel's THP offers {text.strip()!r}, not "
                             f"{', '.join(lacking)}")
        if not writable(self.path):
            raise DamosError(f"--thp needs to write {self.path}: run as root")
        dpath = os.path.join(self.root, DEFRAG)
        if os.path.isfile(dpath):
            self.defrag = current(self._read(dpath))

    def _standin(self) -> Optional[dict]:
        try:
            with open(os.path.join(self.root, STANDIN_MARKER)) as f:
                return json.load(f)
        except OSError:
            return None

    def set(self, mode: str) -> None:
        """Write ``mode`` and read it back (DamosError when it did not take)."""
        cfg = self._standin()
        self.now = None           # unknown until read back: restore() then writes for sure
        try:
            with open(self.path, "w") as f:
                f.write(render(mode, cfg["offered"]) if cfg is not None else mode + "\n")
            if cfg is not None and cfg.get("log"):
                with open(cfg["log"], "a") as f:
                    f.write(mode + "\n")
            got = current(self._read(self.path))
        except OSError as e:
            raise DamosError(f"--thp: writing {mode!r} to {self.path} failed: "
                             f"{e.strerror or e}")
        if got != mode:
            raise DamosError(f"--thp: wrote {mode!r} to {self.path}, it says {got!r}")
        self.now = mode

    def restore(self) -> Optional[str]:
        """Write the mode found back (Ctrl-C held off meanwhile, so a second
        one cannot leave it half done); what went wrong, or None."""
        from .sigint import held
        if self.original is None or self.now == self.original:
            return None
        with held():
            try:
                self.set(self.original)
            except DamosError as e:
                return (f"{e.diagnostic.message}; set it back by hand: "
                        f"echo {self.original} > {self.path}")
        return None


def render(mode: str, words: Sequence[str]) -> str:
    """A THP setting as the kernel shows it, ``mode`` bracketed."""
    return " ".join(f"[{w}]" if w == mode else w for w in words) + "\n"


def make_standin(root: str, mode: str = "madvise", defrag: str = "madvise",
                 log: Optional[str] = None) -> str:
    """A stand-in THP root (for the tests): ``enabled`` and ``defrag`` as the
    kernel shows them; every mode written is appended to ``log``."""
    os.makedirs(root, exist_ok=True)
    words = ["always", "madvise", "never"]
    with open(os.path.join(root, STANDIN_MARKER), "w") as f:
        json.dump({"offered": words, "log": log}, f)
    with open(os.path.join(root, ENABLED), "w") as f:
        f.write(render(mode, words))
    with open(os.path.join(root, DEFRAG), "w") as f:
        f.write(render(defrag, ["always", "defer", "defer+madvise", "madvise", "never"]))
    return root


def fractions(summ: dict) -> dict:
    """The two fractions from the arms' summaries (report.summaries): each
    with its value (None when it means nothing) and why not."""
    out = {}
    for name, (metric, worse, better, what, unit) in FRACTIONS.items():
        f = {"metric": metric, "value": None, "thp_effect": None, "inside_spread": None,
             "why": None}
        out[name] = f
        have = {a: (summ.get(a) or {}).get(metric) for a in ("never", "always", "scheme")}
        missing = [a for a, s in have.items() if s is None]
        if missing:
            f["why"] = f"needs the never, always and scheme arms ({', '.join(missing)} did not run)"
            continue
        # memory: THP's waste is always - never; runtime: its speedup is never - always
        d = stats.change(have[worse], have[better])
        f["thp_effect"] = d.delta
        f["inside_spread"] = d.inside_spread
        effect = "memory waste" if name == "memory_waste_removed" else "speedup"
        if d.inside_spread:
            f["why"] = (f"the always/never difference of {what} ({d.delta:+.3g} {unit}) is "
                        "inside the run-to-run spread: THP made no measurable "
                        f"{effect} here, so the fraction means nothing")
            continue
        if d.delta <= 0:
            f["why"] = (f"THP made no {effect} here ({what}: always "
                        f"{have['always'].mean:.3g} {unit}, never {have['never'].mean:.3g} "
                        f"{unit}), so the fraction means nothing")
            continue
        f["value"] = (have[worse].mean - have["scheme"].mean) / d.delta
        if d.inside_spread is None:
            f["why"] = ("one run per arm: the spread is unknown, so whether THP's "
                        f"{effect} is more than noise is not known")
    return out


def text(fr: dict) -> str:
    lines = []
    labels = {"memory_waste_removed": ("memory waste removed",
                                       "(always - scheme) / (always - never), RSS mean"),
              "speedup_kept": ("speedup kept",
                               "(never - scheme) / (never - always), runtime (wall)")}
    for name, f in fr.items():
        label, formula = labels[name]
        if f["value"] is None:
            lines.append(f"{label}: n/a: {f['why']}")
        else:
            lines.append(f"{label}: {100 * f['value']:.1f} % = {formula}"
                         + (f" ({f['why']})" if f["why"] else ""))
    return "\n".join(lines) + "\n"


def change_pairs(arms: Sequence[str]) -> list:
    """The changes a THP eval reports: each arm against never (THP's and the
    scheme's effect), and the scheme against always (what it gives up)."""
    pairs = [(a, "never") for a in ("always", "madvise", "scheme")]
    pairs.append(("scheme", "always"))
    return [(a, r) for a, r in pairs if a in arms and r in arms]
