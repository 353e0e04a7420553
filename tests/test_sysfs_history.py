"""The citations of the DAMON sysfs layout (damos_lang/sysfs/history.py): every
row and catalog word newer than stock 6.12 cites where it came from, at the
version the layout says, no citation names something the layout lacks, and
docs/sysfs-versions.md is what the generator writes from them."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from damos_lang import catalog
from damos_lang.sysfs import history as H
from damos_lang.sysfs import layout as L

ROOT = Path(__file__).resolve().parents[1]
PROVEN = (6, 12)


def generator():
    spec = importlib.util.spec_from_file_location("sysfs_versions",
                                                  ROOT / "tools" / "sysfs_versions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def entities() -> dict:
    return {e.name: e for e in L.ENTITIES}


def words(row: L.File) -> dict:
    """{word: since} a keyword or command row takes."""
    if row.kind == L.COMMAND:
        return dict(L.STATE_COMMANDS)
    if row.vocab is L.GOAL_TUNER:
        return {n: t.since for n, t in catalog.GOAL_TUNERS.items()}
    if row.vocab is not None and row.vocab.table is not None:
        return {n: getattr(r, "since", L.FIRST) for n, r in row.vocab.table.items()}
    return {}


def cited() -> dict:
    return {(c.entity, c.file): c for c in H.CITES}


def test_no_row_is_cited_twice():
    keys = [(c.entity, c.file) for c in H.CITES]
    assert len(keys) == len(set(keys))


def test_every_row_newer_than_6_12_cites_its_version():
    table = cited()
    missing, wrong = [], []
    for e in L.ENTITIES:
        for f in e.files:
            if f.since <= PROVEN:
                continue
            c = table.get((e.name, f.path))
            if c is None:
                missing.append(f"{e.name} {f.path} ({f.since})")
            elif c.since != f.since:
                wrong.append(f"{e.name} {f.path}: layout {f.since}, cited {c.since}")
    assert not missing, "no citation for: " + ", ".join(missing)
    assert not wrong, "\n".join(wrong)


def test_every_word_newer_than_6_12_cites_its_version():
    table = cited()
    missing, wrong = [], []
    for e in L.ENTITIES:
        for f in e.files:
            for word, since in words(f).items():
                if since <= PROVEN:
                    continue
                c = table.get((e.name, f"{f.path}={word}"))
                if c is None:
                    missing.append(f"{e.name} {f.path}={word} ({since})")
                elif c.since != since:
                    wrong.append(f"{e.name} {f.path}={word}: catalog {since}, cited {c.since}")
    assert not missing, "no citation for: " + ", ".join(missing)
    assert not wrong, "\n".join(wrong)


def test_no_citation_names_a_row_or_word_the_layout_lacks():
    ents = entities()
    bad = []
    for c in H.CITES:
        e = ents.get(c.entity)
        path, _, word = c.file.partition("=")
        row = next((f for f in e.files if f.path == path), None) if e else None
        if row is None:
            bad.append(f"{c.entity} {c.file}: no such row")
        elif word and word not in words(row):
            bad.append(f"{c.entity} {c.file}: the row takes no such word")
        elif not word and row.since != c.since:
            bad.append(f"{c.entity} {c.file}: layout says {row.since}")
        elif c.since <= PROVEN:
            bad.append(f"{c.entity} {c.file}: {c.since} is proven on stock 6.12")
    assert not bad, "\n".join(bad)


def test_citations_look_like_kernel_commits_and_tags():
    for c in H.CITES:
        assert c.tag == f"v{c.since[0]}.{c.since[1]}", c
        assert (c.commit is None) == (c.subject is None), c
        if c.commit is not None:
            assert re.fullmatch(r"[0-9a-f]{12}", c.commit), c
            assert re.match(r"(mm|Docs)/", c.subject) and "\n" not in c.subject, c


def test_a_commit_has_one_subject():
    subjects = {}
    for c in H.CITES:
        if c.commit:
            assert subjects.setdefault(c.commit, c.subject) == c.subject, c


def test_the_versions_doc_is_the_generators_output():
    doc = (ROOT / "docs" / "sysfs-versions.md").read_text()
    assert doc == generator().markdown(), \
        "docs/sysfs-versions.md is stale: run python tools/sysfs_versions.py"


def test_the_doc_lists_every_path_of_the_tree_once():
    gen = generator()
    paths = [p for p, *_ in gen.walk()]
    assert len(paths) == len(set(paths))
    doc = gen.markdown()
    for p in paths:
        assert f"| `{p}` |" in doc, p
    # a file inside a newer directory arrives with it
    line = next(x for x in doc.splitlines() if "/dests/<D>/weight`" in x)
    assert "| v6.17 | `2cd0bf85a203` |" in line and "(with `dests/`)" in line
    assert "| `kdamonds/nr_kdamonds` | ≤ 6.12 | proven on stock 6.12 |" in doc


def test_the_check_flag_fails_on_a_stale_doc(tmp_path, monkeypatch):
    gen = generator()
    stale = tmp_path / "sysfs-versions.md"
    stale.write_text("# stale\n")
    monkeypatch.setattr(gen, "DOC", stale)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    assert stale.read_text() == gen.markdown()


def test_the_generator_runs_as_a_script():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "sysfs_versions.py"), "--check"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
