"""The DAMON sysfs interface (``/sys/kernel/mm/damon/admin``), described once.

:mod:`.layout` is the tree as one table: every directory kind (an
*entity*: kdamond, context, target, scheme, goal, filter, ...) with its
files, the kernel version each appeared in, its kind, its default, the
catalog feature it brings, whether writes retry, and the model field it
carries.  Everything else here is derived from that table:

* :mod:`.plan`     the ordered writes that start a kdamond (the ``sysfs``
  script, ``sysfs-plan`` and ``damos apply`` all perform it);
* :mod:`.read`     a tree read back into the kernel-unit model, with stats;
* :mod:`.probe`    which features a live tree shows it has;
* :mod:`.standin`  a stand-in kernel over a plain directory, for tests and
  ``--sysfs-root``;
* :mod:`.fs`, :mod:`.root`  file access to a tree, and opening one.

Adding a file of a new kernel is one row in :mod:`.layout`.
"""
