"""DAMON_LRU_SORT module parameters (module.name=value lines), when the scheme fits."""
NAME, INTERFACE = "lru-sort", None


def compile(unit, options) -> str:
    from ..live.modules import compile_target
    return compile_target(unit, "damon_lru_sort", "lru_sort")
