"""Every metric ``damos export`` shows: one record each (name, type, unit,
labels, help).  The collector, docs/metrics.md and the cardinality count
read this table; nothing else spells a metric name."""
from __future__ import annotations

from dataclasses import dataclass

GAUGE = "gauge"
COUNTER = "counter"

# label sets (bounded: per kdamond, per scheme, per quantile; never per region)
KDAMOND = ("kdamond",)
CONTEXT = ("kdamond", "context")
SCHEME = ("kdamond", "context", "scheme", "action", "name")
RUN = ("session",)
RUN_SCHEME = ("session", "scheme", "action", "name")
PERCENTILE = ("percentile",)  # not "quantile": that label belongs to summaries

# DAMON_STAT's idle-time percentiles exported (of its 101): a bounded set
PERCENTILES = (0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100)


@dataclass(frozen=True)
class Metric:
    name: str            # the family name (a counter's samples add _total)
    type: str
    labels: tuple
    help: str
    unit: str = ""       # OpenMetrics unit: the name ends with it

    @property
    def sample_name(self) -> str:
        return self.name + "_total" if self.type == COUNTER else self.name


def _m(name, type_, labels, help_, unit=""):
    return Metric(name, type_, labels, help_, unit)


# -- sysfs kdamonds
KDAMOND_RUNNING = _m("damos_kdamond_running", GAUGE, KDAMOND,
                     "1 while the kdamond's state reads on, 0 when off")
KDAMOND_INFO = _m("damos_kdamond_info", GAUGE, ("kdamond", "ops", "owned", "source"),
                  "Always 1: the kdamond's operations set, whether damos-lang started it, "
                  "and the file it was started from")
KDAMOND_REFRESH = _m("damos_kdamond_refresh_interval_seconds", GAUGE, KDAMOND,
                     "The period at which the kernel refreshes the kdamond's stats files (6.17+); "
                     "0: the exporter refreshes them at each scrape", "seconds")
SAMPLE_INTERVAL = _m("damos_context_sample_interval_seconds", GAUGE, CONTEXT,
                     "Sampling interval (as tuned, where intervals_goal is on)", "seconds")
AGGR_INTERVAL = _m("damos_context_aggregation_interval_seconds", GAUGE, CONTEXT,
                   "Aggregation interval (as tuned, where intervals_goal is on)", "seconds")
# -- per scheme (the kernel's stats files)
TRIED_REGIONS = _m("damos_scheme_tried_regions", COUNTER, SCHEME,
                   "Regions the scheme's action was tried on (stats nr_tried)")
TRIED_BYTES = _m("damos_scheme_tried_bytes", COUNTER, SCHEME,
                 "Bytes the scheme's action was tried on (stats sz_tried)", "bytes")
APPLIED_REGIONS = _m("damos_scheme_applied_regions", COUNTER, SCHEME,
                     "Regions the action was applied to (stats nr_applied)")
APPLIED_BYTES = _m("damos_scheme_applied_bytes", COUNTER, SCHEME,
                   "Bytes the action was applied to (stats sz_applied)", "bytes")
QUOTA_EXCEEDS = _m("damos_scheme_quota_exceeds", COUNTER, SCHEME,
                   "Times the quota was exceeded (stats qt_exceeds)")
OPS_FILTER_PASSED = _m("damos_scheme_ops_filter_passed_bytes", COUNTER, SCHEME,
                       "Bytes that passed the operations-layer filters (6.14+, stats "
                       "sz_ops_filter_passed)", "bytes")
SNAPSHOTS = _m("damos_scheme_snapshots", COUNTER, SCHEME,
               "DAMON snapshots (aggregations) the scheme was applied on (7.0+, stats "
               "nr_snapshots)")
EFFECTIVE_QUOTA = _m("damos_scheme_effective_quota_bytes", GAUGE, SCHEME,
                     "The size quota in effect after goals and time quota (6.9+, "
                     "effective_bytes)", "bytes")
# -- DAMON_STAT (module parameters)
STAT_ENABLED = _m("damos_damon_stat_enabled", GAUGE, (),
                  "1 while DAMON_STAT runs (its enabled parameter reads Y)")
STAT_BANDWIDTH = _m("damos_damon_stat_estimated_memory_bandwidth_bytes_per_second", GAUGE, (),
                    "DAMON_STAT's estimated memory bandwidth (bytes per second)",
                    "bytes_per_second")
STAT_IDLE = _m("damos_damon_stat_memory_idle_seconds", GAUGE, PERCENTILE,
               "Per-byte idle time percentiles of the system's memory; negative: how "
               "long it has been accessed (6.18+)", "seconds")
STAT_AGGR = _m("damos_damon_stat_aggregation_interval_seconds", GAUGE, (),
               "DAMON_STAT's tuned aggregation interval (6.18+)", "seconds")
# -- damos run sessions (their record files)
RUN_RUNNING = _m("damos_run_running", GAUGE, RUN,
                 "1 while the session's record has no summary line yet, 0 after")
RUN_AGGREGATIONS = _m("damos_run_aggregations", COUNTER, RUN,
                      "Aggregation intervals the session recorded")
RUN_SAMPLE = _m("damos_run_sample_interval_seconds", GAUGE, RUN,
                "The session's sampling interval", "seconds")
RUN_AGGR = _m("damos_run_aggregation_interval_seconds", GAUGE, RUN,
              "The session's aggregation interval", "seconds")
RUN_TRIED_REGIONS = _m("damos_run_scheme_tried_regions", COUNTER, RUN_SCHEME,
                       "damos run: regions the action was tried on")
RUN_TRIED_BYTES = _m("damos_run_scheme_tried_bytes", COUNTER, RUN_SCHEME,
                     "damos run: bytes the action was tried on", "bytes")
RUN_APPLIED_REGIONS = _m("damos_run_scheme_applied_regions", COUNTER, RUN_SCHEME,
                         "damos run: regions the action was applied to")
RUN_APPLIED_BYTES = _m("damos_run_scheme_applied_bytes", COUNTER, RUN_SCHEME,
                       "damos run: bytes the action was applied to", "bytes")
RUN_QUOTA_EXCEEDS = _m("damos_run_scheme_quota_exceeds", COUNTER, RUN_SCHEME,
                       "damos run: times the quota was exceeded")
RUN_OPS_FILTER_PASSED = _m("damos_run_scheme_ops_filter_passed_bytes", COUNTER, RUN_SCHEME,
                           "damos run: bytes that passed the operations-layer filters", "bytes")
RUN_SNAPSHOTS = _m("damos_run_scheme_snapshots", COUNTER, RUN_SCHEME,
                   "damos run: snapshots the scheme was applied on")
# -- the exporter itself
SCRAPE_SECONDS = _m("damos_export_scrape_duration_seconds", GAUGE, (),
                    "Wall time of this scrape's reads (and refresh commands)", "seconds")
SKIPPED = _m("damos_export_skipped_kdamonds", GAUGE, (),
             "Kdamonds this scrape left out because they changed or vanished while read")

# scheme counters: (metric for sysfs, metric for damos run, the kernel's stat name)
SCHEME_COUNTERS = (
    (TRIED_REGIONS, RUN_TRIED_REGIONS, "nr_tried"),
    (TRIED_BYTES, RUN_TRIED_BYTES, "sz_tried"),
    (APPLIED_REGIONS, RUN_APPLIED_REGIONS, "nr_applied"),
    (APPLIED_BYTES, RUN_APPLIED_BYTES, "sz_applied"),
    (QUOTA_EXCEEDS, RUN_QUOTA_EXCEEDS, "qt_exceeds"),
    (OPS_FILTER_PASSED, RUN_OPS_FILTER_PASSED, "sz_ops_filter_passed"),
    (SNAPSHOTS, RUN_SNAPSHOTS, "nr_snapshots"),
)

ALL = tuple(v for v in dict(globals()).values() if isinstance(v, Metric))

PER_KDAMOND = (KDAMOND_RUNNING, KDAMOND_INFO, KDAMOND_REFRESH, SAMPLE_INTERVAL, AGGR_INTERVAL)
PER_SCHEME = tuple(m for m, _, _ in SCHEME_COUNTERS) + (EFFECTIVE_QUOTA,)
PER_NODE = (STAT_ENABLED, STAT_BANDWIDTH, STAT_AGGR, SCRAPE_SECONDS, SKIPPED)
PER_RUN = (RUN_RUNNING, RUN_AGGREGATIONS, RUN_SAMPLE, RUN_AGGR)
PER_RUN_SCHEME = tuple(r for _, r, _ in SCHEME_COUNTERS)


def max_series(kdamonds: int, schemes: int, runs: int = 0, run_schemes: int = 0) -> int:
    """The most series one node shows: ``kdamonds`` kdamonds of ``schemes``
    schemes each, ``runs`` damos run sessions of ``run_schemes`` schemes."""
    return (len(PER_NODE) + len(PERCENTILES) + kdamonds * len(PER_KDAMOND)
            + kdamonds * schemes * len(PER_SCHEME)
            + runs * len(PER_RUN) + runs * run_schemes * len(PER_RUN_SCHEME))
