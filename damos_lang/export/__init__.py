"""``damos export``: DAMON's state as Prometheus metrics, read afresh from
sysfs (and DAMON_STAT's module parameters, and ``damos run`` record files)
on every scrape; served over HTTP or written as node_exporter's textfile
(docs/metrics.md)."""
