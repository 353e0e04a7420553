"""``damos run``: DAMOS in user space, over the user-space monitor.

* :mod:`.engine`: the kernel's apply pass (matching, apply interval, quotas
  and prioritisation, goal tuning, watermarks, filters, stats);
* :mod:`.quota`, :mod:`.scores`, :mod:`.filters`, :mod:`.sysinfo`,
  :mod:`.probe`: its parts;
* :mod:`.actions`: process_madvise on a pidfd, and the simulator's actions;
* :mod:`.record`, :mod:`.live`, :mod:`.session`: the command around it.

It imports the kernel-unit model, the catalog and the monitor, nothing of
the compiler's targets."""
