"""matplotlib, imported only when a PNG is asked for: the terminal renderings
need nothing beyond Python."""
from __future__ import annotations


class MissingMatplotlib(Exception):
    pass


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise MissingMatplotlib(
            "damos report: a PNG needs matplotlib, which is not installed; "
            "install it with: pip install 'damos-lang[report]' (or drop -o for the "
            "terminal rendering)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
