"""The command line as a user runs it: a separate process, exit statuses,
messages on stderr, nothing written on error."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def damos(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "damos_lang", *args], capture_output=True,
                          text=True, cwd=ROOT, input=stdin, timeout=60)


def test_help_lists_every_command():
    r = damos("--help")
    assert r.returncode == 0
    for cmd in ("check", "fmt", "explain", "compile", "targets"):
        assert cmd in r.stdout
    for cmd in ("check", "fmt", "explain", "compile", "targets"):
        assert damos(cmd, "--help").returncode == 0


def test_check_prints_minimum_kernel_version():
    r = damos("check", "examples/reclaim.damos")
    assert r.returncode == 0, r.stderr
    assert "needs Linux >= 6.9: goal metric some_mem_psi_us" in r.stdout


def test_check_warns_about_truncation_with_location(tmp_path):
    f = tmp_path / "t.damos"
    f.write_text("4K max 7% max 150ms max pageout\n")
    r = damos("check", str(f))
    assert r.returncode == 0
    assert f"{f}:1:8: warning: scheme 0: access min 7% of 20 samples is 1.4, truncated to 1" in r.stderr
    assert f"{f}:1:15: warning: scheme 0: age min 150ms is 1.5 aggregation intervals" in r.stderr
    assert damos("check", "--strict", str(f)).returncode == 1


def test_bad_action_gets_caret_suggestion_and_exit_2(tmp_path):
    f = tmp_path / "bad.damos"
    f.write_text("# comment\n4K max 0 0 5s max pagout\n")
    r = damos("check", str(f))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0] == f"{f}:2:19: error: unknown action 'pagout'; did you mean 'pageout'?"
    assert lines[1] == "  4K max 0 0 5s max pagout"
    assert lines[2] == "  " + " " * 18 + "^~~~~~"
    assert "Traceback" not in r.stderr


def test_missing_file_is_a_clean_error():
    r = damos("check", "no/such/file.damos")
    assert r.returncode == 2
    assert "cannot read no/such/file.damos" in r.stderr and "Traceback" not in r.stderr


def test_compile_error_writes_nothing(tmp_path):
    f = tmp_path / "bad.damos"
    f.write_text("4K max 0 0 5s max pagout\n")
    out = tmp_path / "out.sh"
    r = damos("compile", str(f), "--target", "sysfs", "-o", str(out))
    assert r.returncode == 2
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".damos-")]


def test_unknown_target_suggests(tmp_path):
    r = damos("compile", "examples/prcl.damos", "--target", "sysf")
    assert r.returncode == 2
    assert "unknown target 'sysf'; did you mean 'sysfs'?" in r.stderr


def test_kernel_version_gate_names_feature_and_version():
    r = damos("compile", "examples/reclaim.damos", "--target", "sysfs", "--kernel", "6.6")
    assert r.returncode == 2
    assert "Linux 6.6 lacks quota goals (first in Linux 6.8)" in r.stderr
    assert "examples/reclaim.damos:21:" in r.stderr
    r = damos("compile", "examples/reclaim.damos", "--target", "sysfs", "--kernel", "6.9")
    assert r.returncode == 0, r.stderr


def test_bad_kernel_version_text():
    r = damos("compile", "examples/prcl.damos", "--target", "sysfs", "--kernel", "six")
    assert r.returncode == 2 and "bad kernel version 'six'" in r.stderr


def test_explain_mentions_kernel_values():
    r = damos("explain", "examples/ethp.damos")
    assert r.returncode == 0
    assert "Kernel values: sz [2097152, 18446744073709551615], nr_accesses [0, 0], age [70, 4294967295]" in r.stdout
    assert "at least 1 of 20 samples (5%)" in r.stdout


def test_targets_lists_registered_targets():
    r = damos("targets")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    for t in ("sysfs", "debugfs", "damo-json"):
        assert t in names


@pytest.mark.parametrize("example", sorted(n for n in os.listdir(os.path.join(ROOT, "examples")) if n.endswith(".damos")))
def test_every_example_checks_clean_of_errors(example):
    r = damos("check", f"examples/{example}")
    assert r.returncode == 0, r.stderr


def test_debugfs_done_criterion_lines():
    r = damos("compile", "examples/ethp.damos", "--target", "debugfs")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0][:7] == "0 18446744073709551615 1 4294967295 0 4294967295 3".split()
    assert rows[1][:7] == "2097152 18446744073709551615 0 0 70 4294967295 4".split()
    r = damos("compile", "examples/prcl.damos", "--target", "debugfs", "--debugfs-fields", "7")
    assert r.stdout.split() == "4096 18446744073709551615 0 0 50 4294967295 2".split()


def test_damo_json_converts_to_damos_source_with_the_same_kernel_values(tmp_path):
    from model_view import to_kernel
    from damos_lang.lower import parse
    j = tmp_path / "reclaim.json"
    assert damos("compile", "examples/reclaim.damos", "-t", "damo-json", "-o", str(j)).returncode == 0
    r = damos("compile", str(j), "-t", "damos")
    assert r.returncode == 0, r.stderr
    original = to_kernel(parse(open(os.path.join(ROOT, "examples/reclaim.damos")).read()))
    assert to_kernel(parse(r.stdout)).schemes == original.schemes


def test_sysfs_plan_target_is_the_scripts_plan():
    import json
    from damos_lang.lower import parse
    from damos_lang.pipeline import unit_of
    from damos_lang.sysfs.plan import plan_for
    from damos_lang.targets import Options
    r = damos("compile", "examples/ethp.damos", "-t", "sysfs-plan", "--pid", "77")
    assert r.returncode == 0, r.stderr
    got = [(w["path"], w["value"]) for w in json.loads(r.stdout)["writes"]]
    program = parse(open(os.path.join(ROOT, "examples/ethp.damos")).read())
    assert got == [(w.path, w.value) for w in plan_for(unit_of(program, Options(pid=77)),
                                                          Options(pid=77))]
    assert ("kdamonds/0/contexts/0/targets/0/pid_target", "77") in got


def test_fmt_prints_check_diffs_and_write_rewrites(tmp_path):
    f = tmp_path / "a.damos"
    f.write_text("4K max 0 0 5s max pageout   # prcl\n")
    r = damos("fmt", str(f))
    assert r.returncode == 0 and r.stdout == "4K  max  0  0  5s  max  pageout  # prcl\n"
    r = damos("fmt", "--check", str(f))
    assert r.returncode == 1
    assert "+4K  max  0  0  5s  max  pageout  # prcl" in r.stderr and "not formatted" in r.stderr
    r = damos("fmt", "--write", str(f))
    assert r.returncode == 0 and f.read_text() == "4K  max  0  0  5s  max  pageout  # prcl\n"
    assert damos("fmt", "--check", str(f)).returncode == 0


def test_fmt_write_leaves_a_bad_file_untouched(tmp_path):
    f = tmp_path / "bad.damos"
    text = "4K max 0 0 5s max pagout\n"
    f.write_text(text)
    r = damos("fmt", "--write", str(f))
    assert r.returncode == 2 and "did you mean 'pageout'" in r.stderr
    assert f.read_text() == text


def test_every_example_is_in_canonical_form():
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "examples")) if n.endswith(".damos"))
    assert len(names) >= 6
    for name in names:
        r = damos("fmt", "--check", f"examples/{name}")
        assert r.returncode == 0, r.stderr


def test_targets_print_plain_text_not_rest_markup():
    r = damos("targets")
    assert r.returncode == 0 and "c-module" in r.stdout and "sysfs" in r.stdout
    assert "``" not in r.stdout


def test_check_userspace_help_says_it_refuses():
    r = damos("check", "--help")
    assert "is an error" in " ".join(r.stdout.split())
    # and it does: hugepage cannot be applied to another process
    r = damos("check", "--userspace", "examples/ethp.damos")
    assert r.returncode == 2 and "damos run cannot express action hugepage" in r.stderr
