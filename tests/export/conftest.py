"""The live tests build stand-in sysfs trees of thousands of small files:
on tmpfs (/dev/shm) that is five times faster than on a disk, so here
``tmp_path`` is a fresh directory there when it can be (removed after)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def tmp_path(request, tmp_path_factory):
    shm = "/dev/shm"
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("live")
        return
    d = tempfile.mkdtemp(prefix="damos-live-", dir=shm)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
