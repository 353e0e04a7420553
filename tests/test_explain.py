"""explain: plain English plus kernel values, for every example and any
program the language can express."""
import glob
import os

from hypothesis import HealthCheck, given, settings

from damos_lang.explain import explain as explain_unit
from damos_lang.pipeline import unit_of
from model_view import to_kernel
from damos_lang.lower import parse
from strategies import programs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def explain(program) -> str:
    return explain_unit(unit_of(program))


def test_every_example_is_explained_with_its_kernel_values():
    examples = sorted(glob.glob(os.path.join(ROOT, "examples", "*.damos")))
    assert examples, f"no examples under {ROOT}"   # wherever pytest runs from
    for path in examples:
        program = parse(open(path).read())
        text = explain(program)
        kctx = to_kernel(program)
        for ks in kctx.schemes:
            assert (f"Kernel values: sz [{ks.sz_min}, {ks.sz_max}], nr_accesses "
                    f"[{ks.nr_accesses_min}, {ks.nr_accesses_max}], age [{ks.age_min}, "
                    f"{ks.age_max}]") in text, path


def test_filters_quotas_and_watermarks_are_described():
    text = explain(parse(
        "scheme { action pageout\n filter reject not anon\n filter allow memcg /a\n"
        " filter reject addr 0x1000..0x2000\n quota { size 1G; reset 2s }\n"
        " watermarks { metric free_mem_rate; interval 5s; high 50%; mid 40%; low 20% } }\n"))
    assert "Filter: reject memory that is not anon." in text
    assert "Filter: allow memory that is in cgroup /a." in text
    assert "Filter: reject memory that is in addresses [0x1000, 0x2000)." in text
    assert "Quota: at most 1 GiB per 2 s" in text
    assert "between the low (200) and high (500) watermarks" in text


def test_never_matching_scheme_is_called_out():
    assert "It can never match" in explain(parse("2M 1M 0 0 0 max stat\n"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_any_program_is_explained(program):
    text = explain(program)
    assert text.count("Kernel values:") == len(program.schemes)


def test_the_goal_tuner_and_a_user_input_goals_current_value_are_explained():
    from damos_lang.explain import explain
    from damos_lang.pipeline import unit_from_text
    text = explain(unit_from_text(
        "scheme { action pageout; quota { size 1G; goal user_input 300 current 100; "
        "tuner temporal } }\n"))
    assert "Quota goal: user_input -> 300, current value 100" in text
    assert "Goal tuner: temporal: the whole quota while a goal is unmet" in text
