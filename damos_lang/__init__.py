"""damos-lang: a declarative language for DAMON-based Operation Schemes."""
__version__ = "0.1.0"
