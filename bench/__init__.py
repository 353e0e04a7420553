"""Benchmarks: `python -m bench.run` (see each module's run())."""
