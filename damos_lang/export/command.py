"""The body of ``damos export``: check the options (a bad one: one line,
exit 2), build the collector, then serve HTTP or write the textfile."""
from __future__ import annotations

import os
import signal
import sys
import time

from ..console import EXIT_BAD_INPUT, EXIT_FAILED, err

# no entry of the Prometheus exporters' default port allocations: their
# 9100-9999 range is fully allocated (docs/metrics.md)
DEFAULT_LISTEN = "127.0.0.1:10142"
NAME = "damos export"


class BadOption(Exception):
    pass


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` (``[V6ADDR]:PORT`` for IPv6) -> (addr, port)."""
    addr, sep, port = text.rpartition(":")
    if not sep or not addr or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadOption(f"--listen {text!r}: expected ADDR:PORT (e.g. {DEFAULT_LISTEN}), "
                        "PORT 0 to 65535")
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    return addr, int(port)


def check_options(listen, textfile, loop, interval, run_records, sysfs_root):
    if textfile is not None and listen is not None:
        raise BadOption("--listen and --textfile: choose one (serve HTTP, or write the file)")
    if loop and textfile is None:
        raise BadOption("--loop needs --textfile DIR")
    if not interval > 0:
        raise BadOption(f"--interval {interval:g}: must be more than 0 seconds")
    if textfile is not None and not os.path.isdir(textfile):
        raise BadOption(f"--textfile {textfile}: not a directory")
    if sysfs_root is not None and not os.path.isdir(sysfs_root):
        raise BadOption(f"--sysfs-root {sysfs_root}: not a directory")
    for r in run_records:
        if os.path.isdir(r):
            raise BadOption(f"--run-record {r}: a directory, not a damos run --record file")
    return parse_listen(listen or DEFAULT_LISTEN) if textfile is None else None


def make_collector(sysfs_root, module_root, run_records, refresh):
    from ..live.owners import Owners
    from ..sysfs.modules import module_root_for
    from ..sysfs.root import tree
    from .collector import DamosCollector
    return DamosCollector(lambda: tree(sysfs_root), module_root_for(sysfs_root, module_root),
                          run_records, refresh, owners_of=Owners)


def _term(*_):
    raise KeyboardInterrupt


def export(listen=None, textfile=None, loop=False, interval=15.0, run_records=(),
           sysfs_root=None, module_root=None, refresh=True) -> int:
    try:
        bound = check_options(listen, textfile, loop, interval, run_records, sysfs_root)
    except BadOption as e:
        err(f"{NAME}: error: {e}")
        return EXIT_BAD_INPUT
    from . import serve
    registry = serve.registry_with(make_collector(sysfs_root, module_root, run_records, refresh))
    signal.signal(signal.SIGTERM, _term)
    try:
        if textfile is not None:
            if loop:
                serve.textfile_loop(registry, textfile, interval)
            else:
                serve.write_textfile(registry, textfile)
            return 0
        addr, port = bound
        try:
            server, _ = serve.serve_http(registry, addr, port)
        except OSError as e:
            err(f"{NAME}: error: cannot listen on {addr}:{port}: {e.strerror or e}")
            return EXIT_FAILED
        err(f"{NAME}: serving http://{addr}:{server.server_port}/metrics")
        sys.stderr.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    except OSError as e:
        err(f"{NAME}: error: {e.filename or textfile}: {e.strerror or e}")
        return EXIT_FAILED
