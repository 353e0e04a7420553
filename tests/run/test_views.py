"""The live view (rich) and the plain progress lines render a real session."""
import io

from rich.console import Console

from damos_lang.catalog import USERSPACE
from damos_lang.pipeline import unit_from_text
from damos_lang.run.live import LiveView, PlainView, summary_lines
from damos_lang.run.session import RunOptions, Session

PRCL = "4K max 0 0 5s max pageout\n"


def test_live_view_shows_regions_bytes_schemes_and_cpu():
    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=120))
    ctx = unit_from_text(PRCL, interface=USERSPACE).context
    s = Session(ctx, RunOptions(sim="stairs", duration_us=20_000_000), view=view).run()
    text = out.getvalue()
    for word in ("regions", "hot", "cold", "resident", "monitor CPU", "scheme 0", "pageout",
                 "tried", "applied"):
        assert word in text, word
    assert s.time_us == 20_000_000


def test_plain_view_prints_a_line_every_5_simulated_seconds():
    lines = []
    ctx = unit_from_text(PRCL, interface=USERSPACE).context
    s = Session(ctx, RunOptions(sim="stairs", duration_us=30_000_000),
                view=PlainView(lines.append)).run()
    assert len(lines) == 6 and lines[0].lstrip().startswith("5.0 s")
    text = "\n".join(summary_lines(s))
    assert "stopped: the duration is over" in text and "paged out:" in text
