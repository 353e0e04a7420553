"""The checker's warnings: each one fires when it should and only then."""
from pathlib import Path

from damos_lang.check import check, min_version_line
from damos_lang.pipeline import unit_from_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def ctx_of(src):
    return unit_from_text(src).context


def messages(src, **kw):
    return [d.message for d in check(unit_from_text(src), **kw).items]


def test_clean_examples_have_no_warnings():
    assert messages((EXAMPLES / "prcl.damos").read_text()) == []
    assert messages((EXAMPLES / "ethp.damos").read_text()) == []


def test_min_above_max_never_matches():
    (m,) = messages("2M 1M 0 0 0 max stat\n")
    assert "size min is above max" in m and "never match" in m


def test_access_min_above_possible_samples():
    ms = messages("scheme { action stat; access 21..max samples }\n")
    assert any("at most 20: the scheme can never match" in m for m in ms)


def test_exact_percent_does_not_warn_but_fraction_does():
    assert messages("4K max 5% max 0 max stat\n") == []
    assert any("truncated to 0" in m for m in
               messages("monitor { sample 10ms; aggr 100ms }\n4K max 5% max 0 max stat\n"))


def test_age_below_one_aggregation_interval():
    (m,) = messages("4K max 0 0 50ms max stat\n")
    assert "below one aggregation interval" in m and "becomes 0" in m


def test_ops_cannot_apply_action():
    assert any("vaddr operations set cannot apply 'lru_prio'" in m
               for m in messages("4K max 0 0 5s max lru_prio\n"))
    assert any("paddr operations set cannot apply 'hugepage'" in m
               for m in messages("monitor { ops paddr }\ntarget region 4G..8G\n"
                                 "min max 5 max min max hugepage\n"))
    assert messages("monitor { ops paddr }\ntarget region 4G..8G\n"
                    "4K max 0 0 5s max lru_deprio\n") == []


def test_hugepage_from_user_space_only_with_userspace_flag():
    src = "min max 5 max min max hugepage\n"
    assert messages(src) == []
    assert any("cannot be applied from user space" in m for m in messages(src, userspace=True))


def test_hugepage_with_small_max_size():
    assert any("can never form a 2 MiB huge page" in m
               for m in messages("4K 1M 5 max min max hugepage\n"))


def test_zero_goal_warns_at_the_goal():
    r = check(unit_from_text("scheme { action pageout\n quota { size 1G; goal user_input 0 }\n"
                             " watermarks { metric free_mem_rate; interval 1s; high 40%; "
                             "mid 20%; low 10% } }\n"))
    [d] = r.items
    assert "target 0 is silently dropped" in d.message and (d.loc.line, d.loc.col) == (2, 19)


def test_what_the_kernel_refuses_is_no_longer_a_warning_but_an_error():
    # the nr_regions and watermark warnings became pipeline errors (tests/test_pipeline.py)
    import pytest
    from damos_lang.errors import DamosError
    for text in ("monitor { nr_regions 2..10 }\n", "4K max 0 0 5s max pageout 1G 1s 0 3 7 "
                 "free_mem_rate 5s 200 400 100\n"):
        with pytest.raises(DamosError):
            check(unit_from_text(text))


def test_every_warning_of_legacy_lines_has_a_line_and_column():
    text = ("monitor { sample 10ms; aggr 100ms }\n"
            "2M 1M 5% max 50ms max stat\n"
            "4K max 0 0 5s max lru_prio 1G 1s 0 3 7 free_mem_rate 5s 500 400 200\n"
            "min max 5 max min max hugepage 1G 1s\n")
    items = check(unit_from_text(text)).items
    assert len(items) >= 4
    for d in items:
        assert d.loc is not None and d.loc.line in (2, 3, 4), d


def test_min_version_line():
    assert min_version_line(ctx_of("scheme { action stat; filter reject anon }\n")) == \
        "needs Linux >= 6.3: filters"
    assert min_version_line(ctx_of("scheme { action stat; filter allow anon }\n")) == \
        "needs Linux >= 6.14: allow filters"


def test_dests_on_an_action_that_does_not_migrate_warn_at_the_dest():
    r = check(unit_from_text("target pid 1\nscheme { action pageout\n  dest 0 weight 1 }\n"))
    [d] = [d for d in r.items if "dests" in d.message]
    assert "does not migrate" in d.message and (d.loc.line, d.loc.col) == (3, 3)
    assert not any("dests" in m for m in messages(
        "target pid 1\nscheme { action migrate_cold; dest 0 weight 1 }\n"))


def test_a_file_without_schemes_is_called_out():
    assert any("no schemes" in m for m in messages("# nothing yet\n"))
    assert any("no schemes" in m for m in messages("monitor { ops vaddr }\n"))


def test_the_no_schemes_warning_has_a_location(tmp_path):
    """Every warning carries file:line:col: an empty file's at its start, one with only
    a monitor block at that block."""
    from typer.testing import CliRunner
    from damos_lang.cli import app
    for text, at in (("# nothing yet\n", "1:1"), ("\n\nmonitor {\n    sample 5ms\n}\n", "3:1")):
        f = tmp_path / "f.damos"
        f.write_text(text)
        r = CliRunner().invoke(app, ["check", str(f)])
        assert r.exit_code == 0, r.output
        assert f"{f}:{at}: warning: the file has no schemes" in r.output + (r.stderr or ""), \
            r.output
