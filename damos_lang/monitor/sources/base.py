"""The interface between the monitor and whatever tells it about accesses."""
from abc import ABC, abstractmethod
from array import array
from typing import List, Sequence, Tuple


class AccessSource(ABC):
    """One sampling interval is `prepare` (mkold the sampled pages), time
    passing, then `check` (was each page accessed since its mkold?). Both take
    the whole batch of one target's sampling addresses (array('Q')), so that
    an implementation can run the batch in C."""

    @abstractmethod
    def target_ids(self) -> Sequence[int]:
        """The targets this source can sample (pids for the real source)."""

    def validate(self) -> None:
        """Raise MonitorError naming what is missing, before the first sample."""

    @abstractmethod
    def mappings(self, target_id: int, now_us: int) -> List[Tuple[int, int]]:
        """The target's VMAs (start, end), in address order. Raises TargetGone."""

    @abstractmethod
    def prepare(self, target_id: int, addrs: array, now_us: int) -> None:
        """Mark the pages holding `addrs` old (idle). Raises TargetGone."""

    @abstractmethod
    def check(self, target_id: int, addrs: array, accessed: bytearray, now_us: int) -> None:
        """Set accessed[i] to 1 if the page of addrs[i] was accessed since
        `prepare`, else 0. Raises TargetGone."""

    def refresh(self, now_us: int) -> None:
        """An update interval began (before the mappings are read): drop what
        was kept about the targets' memory. The default keeps nothing."""

    def close(self) -> None:
        """Release files; the default holds none."""
