"""Where the metrics go: an HTTP endpoint (prometheus_client's WSGI server,
OpenMetrics when the scraper asks for it, the Prometheus text format
otherwise) or node_exporter's textfile collector directory.

The textfile is written by ``prometheus_client.write_to_textfile``: the
whole text into ``damos.prom.PID.TID`` in the same directory, then
``rename(2)`` over ``damos.prom``, so a reader sees the old file or the new
one, never part of one (the temporary name does not end in ``.prom``, so
node_exporter never reads it)."""
from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry, start_http_server, write_to_textfile

TEXTFILE = "damos.prom"


def registry_with(collector) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return reg


def serve_http(registry, addr: str, port: int):
    """Start serving; (server, thread).  ``server.server_port`` is the port
    bound (useful with port 0)."""
    return start_http_server(port, addr=addr, registry=registry)


def write_textfile(registry, directory: str) -> str:
    path = os.path.join(directory, TEXTFILE)
    write_to_textfile(path, registry)
    return path


def textfile_loop(registry, directory: str, interval: float, count: int | None = None,
                  sleep=time.sleep, clock=time.monotonic) -> None:
    """Rewrite the file every ``interval`` seconds on a fixed schedule (a slow
    write does not push the later ones back), ``count`` times or forever."""
    n = 0
    deadline = clock()
    while count is None or n < count:
        write_textfile(registry, directory)
        n += 1
        deadline += interval
        now = clock()
        if deadline < now:                  # fell behind: skip the missed slots
            deadline = now
        elif count is None or n < count:
            sleep(deadline - now)
