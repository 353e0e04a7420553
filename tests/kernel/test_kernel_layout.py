"""The tree is the judge of the layout: on each Debian stock kernel, a tree
with one of every sub-directory (jobs/tree-listing.sh, cached) holds exactly
the files the layout table predicts for that version, with the same modes and
the same fresh contents (damos_lang.sysfs.layout.predicted_tree)."""
import pytest

import kernelrig
from damos_lang.sysfs import layout as L

pytestmark = pytest.mark.kernel

SERIES = {"stock": (6, 12), "stock72": (7, 2), "stock73": (7, 3)}
assert set(SERIES) == set(kernelrig.STOCK_KINDS)


@pytest.mark.parametrize("kind", sorted(SERIES))
def test_the_layout_predicts_the_kernels_tree_exactly(tree_listing, kind):
    listing = tree_listing(kind)
    got = {p: (e.type, e.mode, e.value) for p, e in listing.section("defaults").items()}
    want = L.predicted_tree(SERIES[kind])
    assert len(got) > 80
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted((p, got[p], want[p]) for p in set(got) & set(want) if got[p] != want[p])
    assert not (missing or extra or wrong), (
        f"{listing.release}: the layout predicts files the kernel lacks: {missing}; "
        f"the kernel has files the layout lacks: {extra}; they differ: {wrong}")
