"""Live kernels: apply a program to a DAMON sysfs tree all or nothing, read
the tree back as DAMOS source, update and stop what damos-lang started, and
the DAMON_RECLAIM / DAMON_LRU_SORT module parameters (docs/live.md).

Imported only by the commands that use it (``damos apply``, ``status``,
``update``, ``stop``), so the CLI starts fast."""
