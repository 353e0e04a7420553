"""The sampling clock: simulated time, or wall-clock pacing."""
import time


class SimulatedClock:
    """Time advances instantly: the monitor runs as fast as the machine allows."""
    origin_s = None              # simulated time is on no system clock

    def __init__(self) -> None:
        self.now_us = 0

    def wait_until(self, t_us: int) -> None:
        self.now_us = max(self.now_us, t_us)


class RealtimeClock:
    """Sleeps so that sample n is taken n sampling intervals after the start.
    now_us is the schedule's time, so a late sample does not shift later ones."""

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self.now_us = 0

    @property
    def origin_s(self) -> float:
        """CLOCK_MONOTONIC seconds at time 0 (to line records up with other clocks)."""
        return self._origin

    def elapsed_us(self) -> int:
        """Wall time since time 0 (the monitor skips sampling slots already past)."""
        return int((time.monotonic() - self._origin) * 1e6)

    def wait_until(self, t_us: int) -> None:
        delay = self._origin + t_us / 1e6 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.now_us = max(self.now_us, t_us)


def make_clock(realtime: bool = False):
    return RealtimeClock() if realtime else SimulatedClock()
