"""Access sources: where the monitor's samples come from."""
from .base import AccessSource
from .simulator import SimulatorSource
from .page_idle import PageIdleSource

__all__ = ["AccessSource", "SimulatorSource", "PageIdleSource"]
