"""The prometheus_client collector: every scrape reads the kdamonds,
DAMON_STAT and each damos run record afresh and turns them into the
families of :mod:`.metrics`."""
from __future__ import annotations

import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import damon_stat, kdamonds, run_record
from . import metrics as M
from .names import scheme_names


def _family(m: M.Metric):
    cls = CounterMetricFamily if m.type == M.COUNTER else GaugeMetricFamily
    return cls(m.name, m.help, labels=list(m.labels), unit=m.unit)


class Families:
    """The families of one scrape, created on first use, in table order."""

    def __init__(self):
        self.fams: dict = {}

    def add(self, m: M.Metric, labels: tuple, value) -> None:
        if value is None:
            return
        fam = self.fams.get(m.name)
        if fam is None:
            fam = self.fams[m.name] = _family(m)
        fam.add_metric([str(v) for v in labels], value)

    def ordered(self):
        order = {m.name: i for i, m in enumerate(M.ALL)}
        return sorted(self.fams.values(), key=lambda f: order[f.name])


def _seconds_us(us):
    return None if us is None else us / 1e6


class DamosCollector(Collector):
    """``open_tree`` gives the admin tree for each scrape (so a tree that
    appears later is found); ``owners_of(fs)`` the ownership records."""

    def __init__(self, open_tree, module_root: str | None, run_records=(),
                 refresh: bool = True, owners_of=None):
        self.open_tree = open_tree
        self.module_root = module_root
        self.run_records = tuple(run_records)
        self.refresh = refresh
        self.owners_of = owners_of

    def describe(self):
        return []          # families depend on what the node has: never checked at register

    def collect(self):
        t0 = time.monotonic()
        f = Families()
        skipped = self._kdamonds(f)
        self._damon_stat(f)
        for path in self.run_records:
            self._run(f, path)
        f.add(M.SKIPPED, (), skipped)
        f.add(M.SCRAPE_SECONDS, (), time.monotonic() - t0)
        return f.ordered()

    def _kdamonds(self, f: Families) -> int:
        try:
            fs = self.open_tree()
        except Exception:        # no DAMON sysfs (yet): the node shows no kdamonds
            return 0
        readings, skipped = kdamonds.read_all(fs, self.refresh)
        owners = None
        if self.owners_of is not None:
            try:
                owners = self.owners_of(fs)
            except Exception:
                owners = None
        for r in readings:
            k = (r.index,)
            f.add(M.KDAMOND_RUNNING, k, 1 if r.running else 0)
            info = owners.get(r.index) if owners is not None else None
            owned = bool(info) and (info.get("kdamond_pid") == r.pid or not r.running)
            source = (info or {}).get("source_path") if owned else None
            f.add(M.KDAMOND_INFO, (r.index, r.ops or "", "true" if owned else "false",
                                   source or ""), 1)
            if r.refresh_ms is not None:
                f.add(M.KDAMOND_REFRESH, k, r.refresh_ms / 1000)
            if r.ops is None:
                continue
            c = (r.index, 0)
            f.add(M.SAMPLE_INTERVAL, c, _seconds_us(r.sample_us))
            f.add(M.AGGR_INTERVAL, c, _seconds_us(r.aggr_us))
            names = scheme_names(source, [s.action for s in r.schemes])
            for s, name in zip(r.schemes, names):
                labels = (r.index, 0, s.index, s.action, name)
                for metric, _, stat in M.SCHEME_COUNTERS:
                    f.add(metric, labels, s.stats.get(stat))
                f.add(M.EFFECTIVE_QUOTA, labels, s.stats.get("effective_bytes"))
        return skipped

    def _damon_stat(self, f: Families) -> None:
        st = damon_stat.read(self.module_root)
        if st is None:
            return
        f.add(M.STAT_ENABLED, (), 1 if st.enabled else 0)
        if not st.enabled:
            return
        f.add(M.STAT_BANDWIDTH, (), st.bandwidth)
        if len(st.idle_ms) == 101:
            for q in M.PERCENTILES:
                f.add(M.STAT_IDLE, (q,), st.idle_ms[q] / 1000)
        if st.aggr_us:
            f.add(M.STAT_AGGR, (), st.aggr_us / 1e6)

    def _run(self, f: Families, path: str) -> None:
        try:
            r = run_record.read(path)
        except (ValueError, TypeError, KeyError, AttributeError):
            r = None                 # not a damos run record (a header of another shape)
        if r is None:
            return
        s = (r.session,)
        f.add(M.RUN_RUNNING, s, 1 if r.running else 0)
        f.add(M.RUN_AGGREGATIONS, s, r.aggregations)
        f.add(M.RUN_SAMPLE, s, _seconds_us(r.sample_us))
        f.add(M.RUN_AGGR, s, _seconds_us(r.aggr_us))
        names = scheme_names(r.source, [a for _, a, _ in r.schemes])
        for (i, action, stats), name in zip(r.schemes, names):
            labels = (r.session, i, action or "", name)
            for _, metric, stat in M.SCHEME_COUNTERS:
                f.add(metric, labels, stats.get(stat))
