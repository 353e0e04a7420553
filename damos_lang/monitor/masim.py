"""Parser for masim workload configs (sjp38/masim; workloads.md §1).

The rules are masim's own (its ``read_config``), so that a file this accepts
runs the same under masim; each error names the file, the line and the rule:

* lines whose first character is ``#`` are dropped;
* paragraphs are separated by exactly one empty line; the first holds the
  regions, ``name, size_in_bytes[, init_data_file|none]``, one a line;
* each later paragraph is a phase: its name, its duration in ms, then one or
  more patterns ``region, random(0|1), stride_bytes, probability[, ro|wo|rw]``;
  (a phase whose probabilities add up to 0 makes no access);
* fields are split at commas and kept as written: numbers may have blanks
  around them (masim reads them with atoi), names are compared byte for byte;
* the file ends with exactly one newline.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .errors import MonitorError

MODES = ("ro", "wo", "rw")
NAME_MAX = 255  # masim copies a region name into char[256]
# the simulator keeps a byte per page of the regions, and a reading of the
# residency of a randomly accessed region hashes each of its pages
# (sources/simulator.py): 64 GiB is 16 MiB of map, a second or so of hashing
MAX_SIMULATED_BYTES = 1 << 36
_BLANKS = " \t"


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


class _Reader:
    """Errors at ``name:line``, with the line's number in the file as written."""

    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, line: int, rule: str) -> MonitorError:
        return MonitorError(f"{self.name}:{line}: {rule}")

    def number(self, text: str, line: int, what: str, limit: int) -> int:
        """A whole number field: blanks around it are fine (atoi skips them)."""
        digits = text.strip(_BLANKS)
        if not digits.isdigit() or not digits.isascii():
            raise self.error(line, f"{what} must be a whole number, got {text.strip()!r}")
        value = int(digits)
        if value > limit:
            raise self.error(line, f"{what} {value} is above {limit}, the largest masim reads")
        return value


INT_MAX = 2**31 - 1
LLONG_MAX = 2**63 - 1


def _paragraphs(text: str, reader: _Reader) -> List[List[Tuple[int, str]]]:
    """The paragraphs of (line number, line), comments dropped."""
    if text == "":
        raise reader.error(1, "the file is empty; it needs a regions paragraph, an empty line "
                              "and at least one phase")
    if not text.endswith("\n"):
        raise reader.error(text.count("\n") + 1,
                           "the file must end with a newline (masim reads no last phase "
                           "without one)")
    paragraphs: List[List[Tuple[int, str]]] = [[]]
    blank_at: Optional[int] = None
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        if line.startswith("#"):
            continue
        if line.endswith("\r"):
            raise reader.error(number, "the line ends with a carriage return (CRLF line ends); "
                                       "masim needs '\\n' alone: convert the file (dos2unix)")
        if line == "":
            if blank_at is not None:
                raise reader.error(number, f"a second empty line in a row (after line "
                                           f"{blank_at}); masim separates paragraphs with "
                                           f"exactly one")
            if not paragraphs[-1]:
                raise reader.error(number, "an empty line before the regions paragraph")
            blank_at = number
            paragraphs.append([])
            continue
        if line.strip(_BLANKS) == "":
            raise reader.error(number, "a line of only blanks; masim separates paragraphs "
                                       "with a line that is truly empty")
        blank_at = None
        paragraphs[-1].append((number, line))
    if blank_at is not None:
        raise reader.error(blank_at, "an empty line at the end of the file; masim would read "
                                     "an empty phase after it (end the file with one newline)")
    return paragraphs


def _regions(paragraph, reader: _Reader) -> Tuple[MasimRegion, ...]:
    regions: List[MasimRegion] = []
    names = {}
    for number, line in paragraph:
        fields = line.split(",")
        if len(fields) not in (2, 3):
            hint = ""
            if regions and len(fields) == 1:
                hint = ("; if the phases start here, an empty line must separate them from "
                        "the regions")
            raise reader.error(number, f"a region line is 'name, size_in_bytes[, data_file]', "
                                       f"this one has {len(fields)} field"
                                       f"{'s' if len(fields) != 1 else ''}{hint}")
        name = fields[0]
        if name == "" or len(name.encode()) > NAME_MAX:
            raise reader.error(number, f"a region name has 1 to {NAME_MAX} bytes")
        if name in names:
            raise reader.error(number, f"region {name!r} is already defined at line "
                                       f"{names[name]}")
        size = reader.number(fields[1], number, "a region size (bytes)", LLONG_MAX)
        if size == 0:
            raise reader.error(number, f"region {name!r} has size 0; masim needs at least "
                                       f"1 byte to access")
        if len(fields) == 3 and fields[2].strip(_BLANKS) == "":
            raise reader.error(number, "the data file field is empty; write a path or 'none'")
        names[name] = number
        regions.append(MasimRegion(name, size))
    total = sum(r.size for r in regions)
    if total > MAX_SIMULATED_BYTES:
        raise reader.error(paragraph[0][0], f"the regions add up to {total} bytes; the "
                                            f"simulator models at most {MAX_SIMULATED_BYTES} "
                                            f"(64 GiB)")
    return tuple(regions)


def _phase(paragraph, regions, reader: _Reader) -> Phase:
    (first, name), rest = paragraph[0], paragraph[1:]
    if len(paragraph) < 3:
        raise reader.error(first, f"phase {name!r} needs a name line, a duration line (ms) and "
                                  f"at least one pattern line; it has {len(paragraph)} line"
                                  f"{'s' if len(paragraph) != 1 else ''}")
    number, line = rest[0]
    if "," in line:
        raise reader.error(number, f"the second line of phase {name!r} is its duration in ms, "
                                   f"not a pattern")
    duration = reader.number(line, number, "a phase duration (ms)", INT_MAX)
    known = {r.name for r in regions}
    patterns = []
    for number, line in rest[1:]:
        fields = line.split(",")
        if len(fields) not in (4, 5):
            raise reader.error(number, f"a pattern line is 'region, random(0|1), stride_bytes, "
                                       f"probability[, ro|wo|rw]', this one has {len(fields)} "
                                       f"field{'s' if len(fields) != 1 else ''}")
        region = fields[0]
        if region not in known:
            close = [r for r in known if r.strip(_BLANKS) == region.strip(_BLANKS)]
            hint = (f"; masim compares names byte for byte: did you mean {close[0]!r}?"
                    if close else f"; the regions are {', '.join(map(repr, sorted(known)))}")
            raise reader.error(number, f"no region named {region!r}{hint}")
        # masim: any value but 0 means random
        random = reader.number(fields[1], number, "the random field (0 or 1)", INT_MAX)
        stride = reader.number(fields[2], number, "a stride (bytes)", INT_MAX)
        weight = reader.number(fields[3], number, "a probability (a relative weight)", INT_MAX)
        mode = "wo"
        if len(fields) == 5:
            mode = fields[4].strip(_BLANKS)
            if mode not in MODES:
                raise reader.error(number, f"the access mode is ro, wo or rw, got {mode!r}")
        patterns.append(AccessPattern(region, random != 0, stride, weight, mode))
    if sum(p.weight for p in patterns) > INT_MAX:
        raise reader.error(first, f"the probabilities of phase {name!r} add up to more than "
                                  f"{INT_MAX} (masim sums them in an int)")
    return Phase(name, duration, tuple(patterns))


def parse_masim(text: str, name: str = "<config>") -> MasimConfig:
    """A masim config; MonitorError ``name:line: rule`` if it breaks a rule."""
    reader = _Reader(name)
    paragraphs = _paragraphs(text, reader)
    regions = _regions(paragraphs[0], reader)
    if len(paragraphs) < 2:
        last = paragraphs[0][-1][0]
        raise reader.error(last, "no phases: after the regions come an empty line and at least "
                                 "one phase (a name, a duration in ms, pattern lines)")
    return MasimConfig(regions, tuple(_phase(p, regions, reader) for p in paragraphs[1:]))


def load_masim(path: str) -> MasimConfig:
    """A masim config file; OSError if it cannot be read, MonitorError if it is
    not text or breaks a rule."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise MonitorError(f"{path}:{line}: not UTF-8 text (byte {e.start})") from None
    return parse_masim(text, path)
