"""Exceptions the monitor raises; an engine catches these to stop cleanly."""


class MonitorError(Exception):
    """The monitor cannot run: bad attributes, or a missing kernel feature or right.

    The message is one line naming what is missing."""


class TargetGone(MonitorError):
    """A monitored target went away (process exited) while the monitor ran."""

    def __init__(self, target_id: int, detail: str = "") -> None:
        self.target_id = target_id
        message = f"target {target_id} is gone"
        super().__init__(message + (f": {detail}" if detail else ""))
