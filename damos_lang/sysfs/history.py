"""Where each DAMON sysfs file (and keyword) newer than 6.12 came from: one
citation per row of :mod:`damos_lang.sysfs.layout` whose ``since`` is after
(6, 12), and per catalog word of a keyword file that is.

Stock 6.12, 7.2 and 7.3 are proven by tree listings in the rig's VMs
(tests/kernel/test_kernel_layout.py); the versions between have no Debian
kernel, so each row names the upstream commit that added the file (12-hex
short id and subject, as in torvalds/linux) and the first tag holding it.
``file`` is the row's path below its entity's directory, or ``path=word``
for a word of a keyword (or command) file.  ``commit`` and ``subject`` are
None where the stored public sources did not pin the commit down; the tag
then rests on the stock VM listings and sysfs.md §2 (docs/sysfs-versions.md
says which).  tools/sysfs_versions.py renders docs/sysfs-versions.md from
this table; tests/test_sysfs_history.py keeps the two and the layout in step.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cite:
    entity: str                  # the layout Entity's name ("scheme")
    file: str                    # the row's path, or "path=word"
    since: tuple[int, int]
    commit: str | None           # 12-hex short id in torvalds/linux
    subject: str | None          # the commit's subject line
    tag: str                     # the first tag that holds it


CITES: tuple[Cite, ...] = (
    # -- 6.14 --------------------------------------------------------------------
    Cite("filter", "allow", (6, 14), "faa636c0ec06",
         "mm/damon/sysfs-schemes: add a file for setting damos_filter->allow", "v6.14"),
    Cite("scheme", "stats/sz_ops_filter_passed", (6, 14), "9caac9d55fa6",
         "mm/damon/syfs-schemes: implement per-scheme filter-passed bytes stat", "v6.14"),
    Cite("tried region", "sz_filter_passed", (6, 14), "a2a60f9e5708",
         "mm/damon/sysfs-schemes: expose per-region filter-passed bytes", "v6.14"),
    # -- 6.15 --------------------------------------------------------------------
    Cite("scheme", "core_filters/nr_filters", (6, 15), "db2e76ceb40b",
         "mm/damon/sysfs-schemes: implement core_filters and ops_filters directories",
         "v6.15"),
    Cite("scheme", "ops_filters/nr_filters", (6, 15), "db2e76ceb40b",
         "mm/damon/sysfs-schemes: implement core_filters and ops_filters directories",
         "v6.15"),
    *(Cite("context", f"monitoring_attrs/intervals/intervals_goal/{name}", (6, 15),
           "8fbbcbeaafeb", "mm/damon/sysfs: implement intervals tuning goal directory",
           "v6.15")
      for name in ("access_bp", "aggrs", "min_sample_us", "max_sample_us")),
    Cite("kdamond", "state=update_tuned_intervals", (6, 15), "1077605396b4",
         "mm/damon/sysfs: implement a command to update auto-tuned monitoring intervals",
         "v6.15"),
    Cite("filter", "min", (6, 15), None, None, "v6.15"),
    Cite("filter", "max", (6, 15), None, None, "v6.15"),
    Cite("filter", "type=active", (6, 15), None, None, "v6.15"),
    Cite("filter", "type=hugepage_size", (6, 15), None, None, "v6.15"),
    Cite("filter", "type=unmapped", (6, 15), None, None, "v6.15"),
    # -- 6.16 --------------------------------------------------------------------
    Cite("goal", "nid", (6, 16), "0fbd59379d8f",
         "mm/damon/sysfs-schemes: implement file for quota goal nid parameter", "v6.16"),
    Cite("goal", "target_metric=node_mem_used_bp", (6, 16), "0e1c773b501f",
         "mm/damon/core: introduce damos quota goal metrics for memory node utilization",
         "v6.16"),
    Cite("goal", "target_metric=node_mem_free_bp", (6, 16), "0e1c773b501f",
         "mm/damon/core: introduce damos quota goal metrics for memory node utilization",
         "v6.16"),
    # -- 6.17 --------------------------------------------------------------------
    Cite("scheme", "dests/nr_dests", (6, 17), "2cd0bf85a203",
         "mm/damon/sysfs-schemes: implement DAMOS action destinations directory", "v6.17"),
    Cite("kdamond", "refresh_ms", (6, 17), "b907494768e5",
         "mm/damon/sysfs: implement refresh_ms file under kdamond directory", "v6.17"),
    # -- 6.18 --------------------------------------------------------------------
    Cite("context", "addr_unit", (6, 18), "540a2aebc657",
         "mm/damon/sysfs: implement addr_unit file under context dir", "v6.18"),
    # -- 6.19 --------------------------------------------------------------------
    Cite("target", "obsolete_target", (6, 19), "e35afdf228cc",
         "mm/damon/sysfs: implement obsolete_target file", "v6.19"),
    Cite("goal", "path", (6, 19), "c41e253a411e",
         "mm/damon/sysfs-schemes: implement path file under quota goal directory", "v6.19"),
    Cite("goal", "target_metric=node_memcg_used_bp", (6, 19), "a1d1df78acb3",
         "mm/damon/sysfs-schemes: support DAMOS_QUOTA_NODE_MEMCG_USED_BP", "v6.19"),
    Cite("goal", "target_metric=node_memcg_free_bp", (6, 19), "c2fbf2da4cd9",
         "mm/damon/sysfs-schemes: support DAMOS_QUOTA_NODE_MEMCG_FREE_BP", "v6.19"),
    # -- 7.0 ---------------------------------------------------------------------
    Cite("scheme", "stats/nr_snapshots", (7, 0), "83a741b97425",
         "mm/damon/sysfs-schemes: introduce nr_snapshots damos stat file", "v7.0"),
    Cite("scheme", "stats/max_nr_snapshots", (7, 0), "204ab9ab9310",
         "mm/damon/sysfs-schemes: implement max_nr_snapshots file", "v7.0"),
    Cite("goal", "target_metric=active_mem_bp", (7, 0), None, None, "v7.0"),
    Cite("goal", "target_metric=inactive_mem_bp", (7, 0), None, None, "v7.0"),
    # -- 7.1 ---------------------------------------------------------------------
    Cite("scheme", "quotas/goal_tuner", (7, 1), "e9a19cc85d48",
         "mm/damon/sysfs-schemes: implement quotas->goal_tuner file", "v7.1"),
    Cite("scheme", "quotas/goal_tuner=consist", (7, 1), "e9a19cc85d48",
         "mm/damon/sysfs-schemes: implement quotas->goal_tuner file", "v7.1"),
    Cite("scheme", "quotas/goal_tuner=temporal", (7, 1), "e9a19cc85d48",
         "mm/damon/sysfs-schemes: implement quotas->goal_tuner file", "v7.1"),
    # -- 7.2 ---------------------------------------------------------------------
    Cite("context", "pause", (7, 2), None, None, "v7.2"),
    Cite("context", "monitoring_attrs/probes/nr_probes", (7, 2), None, None, "v7.2"),
    Cite("tried region", "probes", (7, 2), None, None, "v7.2"),
    Cite("probe filter", "type=anon", (7, 2), None, None, "v7.2"),
    Cite("probe filter", "type=memcg", (7, 2), None, None, "v7.2"),
    Cite("scheme", "quotas/fail_charge_num", (7, 2), None, None, "v7.2"),
    Cite("scheme", "quotas/fail_charge_denom", (7, 2), None, None, "v7.2"),
    Cite("scheme", "action=collapse", (7, 2), None, None, "v7.2"),
    Cite("goal", "target_metric=node_eligible_mem_bp", (7, 2), None, None, "v7.2"),
    # -- 7.3 ---------------------------------------------------------------------
    Cite("probe", "weight", (7, 3), None, None, "v7.3"),
)
