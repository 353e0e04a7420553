"""The tree listing's format and cache (tree_listing.py), without a VM: a
listing is made once per kernel and job script, then read from the cache."""
from __future__ import annotations

from pathlib import Path

import pytest

import kernelrig
import tree_listing

LISTING = ('# DAMON sysfs tree listing, format 1\n# kernel 7.3.4-fake\n# section defaults\n'
           'kdamonds\tdir\t0755\t-\n'
           'kdamonds/nr_kdamonds\tfile\t0600\t"1\\n"\n'
           'kdamonds/0/contexts/0/avail_operations\tfile\t0400\t"vaddr\\nfvaddr\\tx \\"q\\"\\n"\n'
           'kdamonds/0/secret\tfile\t0200\t-\n'
           'kdamonds/0/broken\tfile\t0600\t!EINVAL\n'
           '# section running\nkdamonds/0/state\tfile\t0600\t"on\\n"\n')


def test_the_listing_format_reads_back_exactly():
    s = tree_listing.parse(LISTING)
    assert list(s) == ["defaults", "running"]
    d = s["defaults"]
    assert d["kdamonds"] == tree_listing.Entry("kdamonds", "dir", 0o755)
    assert d["kdamonds/nr_kdamonds"].value == "1\n"
    assert d["kdamonds/0/contexts/0/avail_operations"].value == 'vaddr\nfvaddr\tx "q"\n'
    assert d["kdamonds/0/secret"].value is None and d["kdamonds/0/secret"].mode == 0o200
    assert d["kdamonds/0/broken"].error == "EINVAL" and d["kdamonds/0/broken"].value is None
    assert s["running"]["kdamonds/0/state"].value == "on\n"
    for bad in ("kdamonds\tdir\t0755\t-\n",                                   # before any section
                "# section x\nkdamonds\tdirectory\t0755\t-\n",                 # unknown type
                "# section x\nkdamonds/a\tfile\t0600\tplain\n"):               # unquoted value
        with pytest.raises(tree_listing.ListingFormatError):
            tree_listing.parse(bad)


def test_a_listing_is_made_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMOS_RIG_CACHE", str(tmp_path / "cache"))
    boots = []

    def fake_run_vm(kernel, job, *, out, **kw):
        boots.append(job)
        Path(out, "tree-7.3.4-fake.txt").write_text(LISTING)
        Path(out, "facts.txt").write_text("on=ok\nrelease=7.3.4-fake\n")
        return kernelrig.VMResult(status=0, timed_out=False, out=Path(out), log="", console="", duration=1.0)

    monkeypatch.setattr(kernelrig, "run_vm", fake_run_vm)
    job = {"text": "echo listing v1\n"}
    monkeypatch.setattr(kernelrig, "job", lambda name: job["text"])
    kernel = kernelrig.Kernel("stock73", tmp_path / "k", tmp_path / "i", "linux-binary-7.3.4+deb13-amd64_7.3.4-1")
    first = tree_listing.listing_for(kernel)
    assert first.booted and len(boots) == 1
    assert first.release == "7.3.4-fake" and first.facts["on"] == "ok"
    assert first.section("running")["kdamonds/0/state"].value == "on\n"
    assert first.directory.name == f"{kernel.name}-{tree_listing.job_key(job['text'])}"
    again = tree_listing.listing_for(kernel)
    assert not again.booted and len(boots) == 1 and again.text == first.text
    # another job script is another key: one more boot, and the old listing goes
    job["text"] = "echo listing v2\n"
    third = tree_listing.listing_for(kernel)
    assert third.booted and len(boots) == 2 and third.directory != first.directory
    assert not first.directory.exists()


def test_a_failed_listing_job_is_an_error_and_caches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMOS_RIG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kernelrig, "run_vm", lambda kernel, job, *, out, **kw: kernelrig.VMResult(
        status=1, timed_out=False, out=Path(out), log="on: EINVAL", console="", duration=1.0))
    kernel = kernelrig.Kernel("stock73", tmp_path / "k", tmp_path / "i", "fake-7.3")
    with pytest.raises(kernelrig.RigError, match="tree listing job failed on fake-7.3"):
        tree_listing.listing_for(kernel)
    assert not list((tmp_path / "cache" / "listings").glob("fake-7.3-*"))
