"""File access to a DAMON sysfs admin tree: the kernel's
(``/sys/kernel/mm/damon/admin``) or any directory given with ``--sysfs-root``.

One ``write(2)`` per value, so the kernel's errno comes back as an
:class:`OSError`; reads drop the one trailing newline the kernel adds.
"""
from __future__ import annotations

import os


class SysfsFs:
    """The files of an admin tree at ``root`` (paths are relative to it)."""

    def __init__(self, root: str):
        self.root = root

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def exists(self, rel: str) -> bool:
        return os.path.exists(self.path(rel))

    def isdir(self, rel: str) -> bool:
        return os.path.isdir(self.path(rel))

    def listdir(self, rel: str) -> list[str]:
        try:
            return os.listdir(self.path(rel))
        except OSError:
            return []

    def read(self, rel: str) -> str:
        """The file's text without its one trailing newline."""
        with open(self.path(rel)) as f:
            text = f.read()
        return text[:-1] if text.endswith("\n") else text

    def read_or(self, rel: str, default: str | None = None) -> str | None:
        try:
            return self.read(rel)
        except OSError:
            return default

    def write(self, rel: str, value: str) -> None:
        """One write of ``value`` plus a newline; the kernel's errno is raised."""
        fd = os.open(self.path(rel), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, (value + "\n").encode())
        finally:
            os.close(fd)
