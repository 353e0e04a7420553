"""damos report heatmap on a stairs record: the hottest band moves one
buffer per phase, read back from the PNG's pixels and from the terminal."""
import subprocess
import sys

import pytest

from damos_lang.report.load import load
from damos_lang.report import heatmap

from .conftest import ROOT

PHASES = [(10 + 5 * k, 15 + 5 * k) for k in range(10)]       # seconds; buffer k hot in phase k


def buffer_of(ranges, addr):
    for k, (lo, hi) in enumerate(ranges):
        if lo <= addr < hi:
            return k
    return None


def intensity_image(path, box):
    """Each pixel of the map as its position on the colour scale (0..1), or
    NaN where it is not a colour of the scale (overlays, separators)."""
    np = pytest.importorskip("numpy")
    mpl = pytest.importorskip("matplotlib")
    from matplotlib.image import imread
    img = imread(path)[..., :3]
    left, top, right, bottom = box
    crop = img[top:bottom, left:right]
    lut = mpl.colormaps[heatmap.CMAP](np.linspace(0, 1, 256))[:, :3]
    d = ((crop[:, :, None, :] - lut[None, None, :, :]) ** 2).sum(-1)
    idx = d.argmin(-1)
    out = idx / 255.0
    out[d.min(-1) > 0.003] = np.nan
    return out


def test_png_hottest_band_steps_through_the_stairs_buffers(stairs, tmp_path):
    np = pytest.importorskip("numpy")
    rec = load(stairs.record)
    out = tmp_path / "h.png"
    layout = heatmap.png(rec, str(out))
    left, top, right, bottom = layout.box
    assert right - left > 500 and bottom - top > 300
    inten = intensity_image(str(out), layout.box)
    assert np.isfinite(inten).mean() > 0.9              # the map is mostly map
    ranges = stairs.source.region_ranges
    per_phase = []
    for k, (p0, p1) in enumerate(PHASES):
        hits = cols = 0
        for x in range(left, right):
            t = layout.time_at(x)
            if not (p0 + 0.5 <= t <= p1 - 0.2):
                continue
            col = inten[:, x - left]
            if not np.isfinite(col).any():
                continue
            top_value = np.nanmax(col)
            assert top_value > 0.9, (k, t, top_value)     # the hot buffer is accessed every sample
            rows = np.nonzero(col >= top_value - 0.02)[0]
            y = top + int(np.median(rows))
            cols += 1
            hits += buffer_of(ranges, layout.address_at(y)) == k
        assert cols >= 20, (k, cols)
        per_phase.append(hits / cols)
    assert min(per_phase) >= 0.9, per_phase
    # before the stairs, in the initial phase, every buffer is warm, none at the top
    xs = [x for x in range(left, right) if 2 <= layout.time_at(x) <= 9]
    warm = inten[:, [x - left for x in xs]]
    assert np.nanmedian(warm) < 0.9


def test_png_is_written_by_the_cli_and_missing_matplotlib_is_one_line(stairs, tmp_path):
    out = tmp_path / "cli.png"
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "heatmap", stairs.record,
                        "-o", str(out), "--time", "10-30"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code = ("import sys; sys.modules['matplotlib'] = None; sys.argv = ['damos'] + sys.argv[1:]\n"
            "from damos_lang.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code, "report", "heatmap", stairs.record, "-o",
                        str(tmp_path / "no.png")], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "matplotlib" in r.stderr and "damos-lang[report]" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "no.png").exists()
    # the terminal rendering needs no extra
    r = subprocess.run([sys.executable, "-c", code, "report", "heatmap", stairs.record],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "@" in r.stdout, r.stderr


def test_terminal_hottest_row_climbs_one_buffer_per_phase(stairs):
    rec = load(stairs.record)
    cols = 120                 # 600 aggregations: 5 per column, 10 columns per phase
    text = heatmap.terminal(rec, rows=40, cols=cols)
    lines = text.splitlines()
    grid_lines = [ln for ln in lines if ln.startswith(" ") and ln.count("|") == 2
                  and ln.split("|")[0].strip().startswith("0x")]
    assert len(grid_lines) == 40
    addrs = [int(ln.split("|")[0], 16) for ln in grid_lines]
    assert addrs == sorted(addrs, reverse=True)         # high addresses on top
    cells = [ln.split("|")[1] for ln in grid_lines]
    assert all(len(c) == cols for c in cells)
    order = heatmap.CHARS
    ranges = stairs.source.region_ranges
    for k, (p0, p1) in enumerate(PHASES):
        for c in range(p0 * 2 + 1, p1 * 2 - 1):         # 0.5 s per column, inside the phase
            column = [cells[r][c] for r in range(40)]
            best = max(order.index(ch) for ch in column if ch in order)
            assert best == len(order) - 1, (k, c, column)
            hot_rows = [r for r in range(40) if column[r] == order[-1]]
            # every '@' band starts inside buffer k (or the band straddling into it)
            for r in hot_rows:
                band_lo = addrs[r]
                band_hi = addrs[r - 1] if r else 1 << 64
                lo, hi = ranges[k]
                assert band_lo < hi and band_hi > lo, (k, c, hex(band_lo))
    assert "applied |" in text and "^" in text.split("applied |")[1].split("|")[0]
