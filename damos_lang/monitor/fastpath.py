"""One interface over the hot loop: the compiled Cython module when it is
built, else the plain-Python reference. IMPLEMENTATION says which; the
packaging test requires "cython" for an installed package, so a silent
fallback cannot pass for the fast path."""
from types import ModuleType

from . import reference

try:
    from . import _fastpath as _compiled
except ImportError:  # not built (e.g. a source checkout without `pip install -e .`)
    _compiled = None

compiled: "ModuleType | None" = _compiled
implementation_module: ModuleType = _compiled if _compiled is not None else reference
IMPLEMENTATION = "cython" if _compiled is not None else "python"

FUNCTIONS = ("pick_sampling_addresses", "count_accesses", "accessed_in_spans",
             "idle_prepare", "idle_check")

pick_sampling_addresses = implementation_module.pick_sampling_addresses
count_accesses = implementation_module.count_accesses
accessed_in_spans = implementation_module.accessed_in_spans
idle_prepare = implementation_module.idle_prepare
idle_check = implementation_module.idle_check


def get(name: str) -> ModuleType:
    """The implementation module by name: "cython" or "python"."""
    if name == "python":
        return reference
    if name == "cython":
        if _compiled is None:
            raise ImportError("damos_lang.monitor._fastpath is not built; run pip install -e .")
        return _compiled
    raise ValueError(f"unknown fast path {name!r}")
