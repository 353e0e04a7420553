"""The ``c-module`` target: a DAMOS program as an in-tree DAMON sample module.

No DAMON symbol is exported and every DAMON Kconfig option is ``bool``, so
the module is built into the kernel, as ``samples/damon/`` modules are.
:func:`compile` returns the files to add to a kernel tree, by path relative
to the tree's top (``NAME`` below is ``damos_<stem of the scheme file>``):

``samples/damon/NAME.c``
    the module: monitoring attributes and every scheme of the file in the C
    API's own structs, module parameters ``enabled``, ``target_pid`` (for
    vaddr/fvaddr), ``min_age_us``/``quota_ms``/``quota_sz`` (per scheme,
    applied while running) and the read-only per-scheme statistics
    ``nr_tried sz_tried nr_applied sz_applied qt_exceeds``, all under
    ``/sys/module/damon_sample_NAME/parameters/``;
``samples/damon/Kconfig.NAME``
    its ``config SAMPLE_DAMON_NAME`` entry, ``source``-d from
    ``samples/damon/Kconfig``;
``samples/damon/Makefile.NAME``
    the ``obj-$(CONFIG_SAMPLE_DAMON_NAME) += NAME.o`` line for
    ``samples/damon/Makefile``.

:func:`install` puts them into a tree (see :mod:`.install`).

The C API changed shape several times; one module per API family emits the
calls that family has (``v5_16`` .. ``v7_3``, over :mod:`.base`; 7.3
differs from 7.2 only by the probes' ``weight``).
``--kernel X.Y`` picks the family, ``--kernel-tree DIR`` detects it from
``DIR/include/linux/damon.h`` (:mod:`.detect`); without either the newest
API is used.  A feature the chosen API lacks is an error naming the first
version that has it.
"""
from __future__ import annotations

import os

from ... import catalog
from ...errors import DamosError
from .. import TargetOption
from . import v5_16, v6_1, v6_7, v6_11, v6_14, v6_17, v6_18, v7_0, v7_1, v7_2, v7_3
from .base import Emitter, module_name, vstr
from .detect import detect
from .install import install

NAME = "c-module"
INTERFACE = catalog.C_API
FAMILIES: tuple[type[Emitter], ...] = (v5_16.Family, v6_1.Family, v6_7.Family, v6_11.Family,
                                       v6_14.Family, v6_17.Family, v6_18.Family, v7_0.Family,
                                       v7_1.Family, v7_2.Family, v7_3.Family)
#: the API emitted when neither --kernel nor --kernel-tree is given
NEWEST: tuple[int, int] = (7, 3)
OPTIONS = (
    TargetOption("kernel_tree", "--kernel-tree", "DIR",
                 "c-module: detect the C API from DIR/include/linux/damon.h."),
    TargetOption("install", "--install", "TREE", "c-module: add the module to the kernel tree TREE."),
)

__all__ = ["NAME", "INTERFACE", "FAMILIES", "NEWEST", "OPTIONS", "compile", "emitter_for", "install", "module_name",
           "detect"]


def emitter_for(version: tuple[int, int]) -> Emitter:
    for fam in FAMILIES:
        if fam.covers(version):
            return fam(version)
    first = catalog.INTERFACE_SPAN[catalog.C_API][0]
    raise DamosError(f"Linux {vstr(version)} has no DAMOS C API (first in Linux {vstr(first)})")


def compile(unit, options=None) -> dict[str, str]:
    """{path relative to a kernel tree: content} for ``unit`` (has ``.context``,
    ``.source_name``, ``.source_text``)."""
    tree = getattr(options, "kernel_tree", None)
    kernel = getattr(options, "kernel", None)
    if tree:
        version = detect(tree)
    else:
        version = tuple(kernel) if kernel else NEWEST
    ctx = unit.context
    if not ctx.schemes:
        raise DamosError("the file has no schemes; a c-module needs at least one", ctx.loc)
    emitter = emitter_for(version)
    family = vstr(emitter.first) + ("+" if emitter.last is None else "" if emitter.last == emitter.first
                                     else f"-{vstr(emitter.last)}")
    note = f"the Linux {family} C API"
    if tree:
        note += f" (detected in {os.path.join(tree, 'include/linux/damon.h')})"
    elif kernel:
        note += f" (--kernel {vstr(version)})"
    source_name = getattr(unit, "source_name", None) or getattr(options, "source", None)
    return emitter.render(ctx, name=module_name(source_name), source_name=source_name,
                          source_text=getattr(unit, "source_text", None),
                          pid=getattr(options, "pid", None), api_note=note)
