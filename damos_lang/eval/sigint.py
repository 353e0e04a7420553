"""Ctrl-C held off around writes that must not be left half done (a kdamond
being set up or stopped, the THP mode being written back): a SIGINT in the
block is kept and raised as KeyboardInterrupt once the block is done.

Masking the signal (pthread_sigmask) is not enough: the kernel hands a
process's SIGINT to any thread that does not mask it (the progress bar's
refresh thread), whose C handler still makes the main thread raise.  So the
Python handler is swapped for one that only records it (the main thread
only: elsewhere the block runs as it is)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def held():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: got.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    # reached only when the block ended without an exception of its own
    if got:
        if old is signal.default_int_handler:
            raise KeyboardInterrupt
        if callable(old):
            old(signal.SIGINT, got[0])
