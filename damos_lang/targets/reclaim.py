"""DAMON_RECLAIM module parameters (module.name=value lines), when the scheme fits."""
NAME, INTERFACE = "reclaim", None


def compile(unit, options) -> str:
    from ..live.modules import compile_target
    return compile_target(unit, "damon_reclaim", "reclaim")
