"""Parser for masim workload configs (sjp38/masim; workloads.md §1)."""
from dataclasses import dataclass
from typing import List, Tuple

from .errors import MonitorError


@dataclass(frozen=True)
class MasimRegion:
    name: str
    size: int


@dataclass(frozen=True)
class AccessPattern:
    region: str
    random: bool
    stride: int
    weight: int
    mode: str = "wo"


@dataclass(frozen=True)
class Phase:
    name: str
    duration_ms: int
    patterns: Tuple[AccessPattern, ...]


@dataclass(frozen=True)
class MasimConfig:
    regions: Tuple[MasimRegion, ...]
    phases: Tuple[Phase, ...]

    @property
    def duration_ms(self) -> int:
        return sum(p.duration_ms for p in self.phases)


def _int(text: str, where: str) -> int:
    # masim reads numbers with atoi/atoll: leading spaces are fine
    try:
        return int(text.strip())
    except ValueError:
        raise MonitorError(f"{where}: not a number: {text.strip()!r}") from None


def parse_masim(text: str, name: str = "<config>") -> MasimConfig:
    """Paragraphs split by one empty line; '#' lines dropped; first paragraph
    regions, then one paragraph per phase. Region names compare byte for byte."""
    lines = [ln for ln in text.split("\n") if not ln.startswith("#")]
    if lines and lines[-1] == "":
        lines.pop()  # the single trailing newline
    paragraphs: List[List[str]] = [[]]
    for ln in lines:
        if ln.strip() == "":
            paragraphs.append([])
        else:
            paragraphs[-1].append(ln)
    paragraphs = [p for p in paragraphs if p]
    if len(paragraphs) < 2:
        raise MonitorError(f"{name}: needs a regions paragraph and at least one phase")
    regions = []
    for ln in paragraphs[0]:
        fields = ln.split(",")
        if len(fields) < 2:
            raise MonitorError(f"{name}: region line needs 'name, size': {ln!r}")
        regions.append(MasimRegion(fields[0], _int(fields[1], name)))
    region_names = {r.name for r in regions}
    phases = []
    for para in paragraphs[1:]:
        if len(para) < 3:
            raise MonitorError(f"{name}: phase {para[0]!r} needs a duration and patterns")
        patterns = []
        for ln in para[2:]:
            fields = [f for f in ln.split(",")]
            if len(fields) < 4:
                raise MonitorError(f"{name}: pattern line needs 4 fields: {ln!r}")
            if fields[0] not in region_names:
                raise MonitorError(f"{name}: pattern names unknown region {fields[0]!r}")
            mode = fields[4].strip() if len(fields) > 4 else "wo"
            patterns.append(AccessPattern(fields[0], _int(fields[1], name) != 0,
                                          _int(fields[2], name), _int(fields[3], name), mode))
        phases.append(Phase(para[0], _int(para[1], name), tuple(patterns)))
    return MasimConfig(tuple(regions), tuple(phases))


def load_masim(path: str) -> MasimConfig:
    with open(path) as f:
        return parse_masim(f.read(), path)
