"""The fleet tests share the live tests' tmpfs tmp_path (stand-in trees are
thousands of small files)."""
from tests.live.conftest import tmp_path

__all__ = ["tmp_path"]
