"""fail_charge (7.2) and max_snapshots (7.0): parsed, versioned, converted,
planned, refused where a target cannot carry them."""
import pytest

from damos_lang.errors import DamosError
from damos_lang.targets import run_target
from damos_lang.convert import to_context
from damos_lang.features import minimum_version, require
from damos_lang.pipeline import unit_of
from model_view import to_kernel
from damos_lang.lower import parse
from damos_lang.sysfs.plan import plan_for
from damos_lang.targets import Options, debugfs

SRC = ("scheme s {\n    action pageout\n    quota {\n        size 1G\n"
       "        fail_charge num 1 denom 4\n    }\n    max_snapshots 50\n}\n")


def test_converted_and_planned_in_order():
    k = to_kernel(parse(SRC)).schemes[0]
    assert (k.fail_charge_num, k.fail_charge_denom, k.max_snapshots) == (1, 4, 50)
    writes = [(w.path.split("schemes/0/")[-1], w.value) for w in plan_for(unit_of(parse(SRC), Options(pid=1)), Options(pid=1))]
    paths = [p for p, _ in writes]
    assert ("quotas/fail_charge_num", "1") in writes and ("quotas/fail_charge_denom", "4") in writes
    assert ("stats/max_nr_snapshots", "50") in writes
    assert paths.index("quotas/bytes") < paths.index("quotas/fail_charge_num")
    assert paths[-2] == "stats/max_nr_snapshots" and paths[-1] == "kdamonds/0/state"


def test_not_written_when_unused():
    writes = [w.path for w in plan_for(unit_of(parse("scheme { action stat\n quota { size 1G } }\n"),
                                       Options(pid=1)), Options(pid=1))]
    assert not any("fail_charge" in p or "max_nr_snapshots" in p for p in writes)


def test_versions():
    assert minimum_version(to_context(parse(SRC))).since == (7, 2)
    with pytest.raises(DamosError, match=r"Linux 6.19 lacks max_snapshots \(first in Linux 7.0\)"):
        require(to_context(parse("scheme { action stat; max_snapshots 3 }\n")), "sysfs", (6, 19))


@pytest.mark.parametrize("src,msg", [
    ("scheme { action stat; quota { fail_charge num 1 denom 0 } }\n", "at least 1"),
    ("scheme { action stat; quota { fail_charge num 1 } }\n", "num N denom D"),
    ("scheme { action stat; max_snapshots 0 }\n", "at least 1"),
])
def test_bad_values(src, msg):
    with pytest.raises(DamosError, match=msg):
        parse(src)


def test_debugfs_refuses_both():
    with pytest.raises(DamosError, match="fail_charge"):
        run_target(debugfs, parse("scheme { action stat; quota { size 1G; reset 1s; "
                              "fail_charge num 1 denom 2 } }\n"), Options())
    with pytest.raises(DamosError, match="max_snapshots"):
        run_target(debugfs, parse("scheme { action stat; max_snapshots 2 }\n"), Options())
