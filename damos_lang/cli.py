"""The `damos` command line (typer)."""
from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import __version__
from .errors import DamosError

app = typer.Typer(add_completion=True, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="damos: a declarative language for DAMON-based Operation Schemes.")

EXIT_BAD_INPUT = 2


def _version(value: bool):
    if value:
        typer.echo(f"damos-lang {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    pass


def _exit(code: int) -> None:
    raise typer.Exit(code)


@app.command()
def check(files: List[str] = typer.Argument(..., metavar="FILE...", help="DAMOS or damo JSON files"),
          kernel: Optional[str] = typer.Option(None, "--kernel", metavar="X.Y",
                                               help="Fail if the file needs a newer kernel."),
          userspace: bool = typer.Option(False, "--userspace",
                                         help="Also check that 'damos run' can apply the file: what it "
                                              "cannot apply is an error (exit 2)."),
          strict: bool = typer.Option(False, "--strict", help="Exit 1 when there are warnings."),
          max_errors: int = typer.Option(20, "--max-errors", metavar="N", min=0,
                                         help="Stop after N errors (0: report them all).")):
    """Parse and check files; print every error of each (exit 2 if any), warnings, the
    minimum kernel version each needs and the interfaces it can use (at --kernel X.Y, if
    given)."""
    from .commands import check as body
    _exit(body(files, kernel, userspace, strict, max_errors))


@app.command()
def fmt(files: List[str] = typer.Argument(..., metavar="FILE..."),
        check_only: bool = typer.Option(False, "--check",
                                        help="Exit 1 if a file is not in canonical form."),
        write: bool = typer.Option(False, "--write", help="Rewrite the files in place.")):
    """Print files in the one canonical form (idempotent)."""
    from .commands import fmt as body
    _exit(body(files, check_only, write))


@app.command()
def explain(file: str = typer.Argument(..., metavar="FILE")):
    """Explain each scheme in plain English, with its kernel values."""
    from .commands import explain as body
    _exit(body(file))


def _compile(file: str = typer.Argument(..., metavar="FILE", help="DAMOS source or damo JSON"),
             target: str = typer.Option(..., "--target", "-t", metavar="TARGET",
                                        help="Output format; see 'damos targets'."),
             output: Optional[str] = typer.Option(None, "-o", "--output", metavar="OUT",
                                                  help="Write here instead of standard output."),
             kernel: Optional[str] = typer.Option(None, "--kernel", metavar="X.Y",
                                                  help="Refuse features this kernel lacks."),
             pid: Optional[int] = typer.Option(None, "--pid",
                                               help="Target process (overrides the file)."),
             max_policy: str = typer.Option("unbounded", "--max", metavar="POLICY",
                                            help="What 'max' becomes: unbounded (field maximum) "
                                                 "or damo (damo 3.4.3's numbers)."),
             **target_options):
    """Compile FILE for a target (sysfs script, debugfs line, damo JSON, C module, ...)."""
    from .commands import compile as body
    _exit(body(file, target, output, kernel, pid, max_policy, **target_options))


def _with_target_options(fn):
    """``fn`` with a flag for each option a target declares (targets.OPTIONS)."""
    import inspect
    from dataclasses import fields
    from .targets import Options, declared_options
    defaults = {f.name: f.default for f in fields(Options)}
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind != inspect.Parameter.VAR_KEYWORD]
    seen = set()
    for _, o in declared_options():
        if o.name in seen:
            continue
        seen.add(o.name)
        params.append(inspect.Parameter(
            o.name, inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(defaults[o.name], o.flag, metavar=o.metavar, help=o.help),
            annotation=Optional[o.type] if defaults[o.name] is None else o.type))
    fn.__signature__ = inspect.signature(fn).replace(parameters=params)
    return fn


app.command("compile")(_with_target_options(_compile))


@app.command("targets")
def list_targets():
    """List the compilation targets."""
    from .commands import list_targets as body
    _exit(body())


@app.command()
def run(file: str = typer.Argument(..., metavar="FILE", help="DAMOS source or damo JSON"),
        command: Optional[List[str]] = typer.Argument(
            None, metavar="[-- CMD [ARGS...]]", help="Start this workload and run on it."),
        pid: Optional[List[int]] = typer.Option(
            None, "--pid", help="Run on this process (page_idle; root); repeat for more, "
                                "each its own target."),
        cgroup: Optional[str] = typer.Option(
            None, "--cgroup", metavar="PATH",
            help="Every process of this cgroup v2 directory, each its own target; "
                 "re-read every update interval."),
        include_children: bool = typer.Option(
            False, "--include-children",
            help="Also the processes' descendants (re-scanned every update interval)."),
        sim: Optional[str] = typer.Option(
            None, "--sim", metavar="CFG",
            help="Simulate a masim workload config (or 'stairs', 'zigzag'); the default "
                 "when no process is given is 'stairs'."),
        duration: Optional[str] = typer.Option(
            None, "--duration", metavar="TIME",
            help="Stop after this long (30s, 2m; simulator default: the workload's length)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Everything but the madvise calls."),
        record: Optional[str] = typer.Option(None, "--record", metavar="FILE",
                                             help="Write one JSON line per aggregation."),
        realtime: bool = typer.Option(False, "--realtime",
                                      help="Simulator: run at wall-clock pace."),
        seed: int = typer.Option(0, "--seed", help="Random seed (sampling, simulator)."),
        max_cpu: Optional[str] = typer.Option(
            None, "--max-cpu", metavar="PCT",
            help="Bound damos run's own CPU (e.g. 2%) by widening the sampling interval."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No live view or progress lines.")):
    """Apply FILE's schemes in user space: DAMON's monitoring over page_idle and
    process_madvise(2), or on a simulated workload (docs/damos-run.md)."""
    from .run.command import run_file
    _exit(run_file(file, pid=pid or None, sim=sim, command=command or [], duration=duration,
                   dry_run=dry_run, record=record, realtime=realtime, seed=seed, quiet=quiet,
                   cgroup=cgroup, include_children=include_children, max_cpu=max_cpu))


_SYSFS_ROOT = typer.Option(None, "--sysfs-root", metavar="DIR",
                           help="Use this tree instead of /sys/kernel/mm/damon/admin "
                                "(a stand-in for testing).")
_MODULE_ROOT = typer.Option(None, "--module-root", metavar="DIR",
                            help="Instead of /sys/module (DAMON_STAT, DAMON_RECLAIM, "
                                 "DAMON_LRU_SORT; with --sysfs-root, none unless given).")


@app.command()
def apply(file: str = typer.Argument(..., metavar="FILE", help="DAMOS source or damo JSON"),
          pid: Optional[int] = typer.Option(None, "--pid", help="Target process (overrides the file)."),
          sysfs_root: Optional[str] = _SYSFS_ROOT,
          module_root: Optional[str] = _MODULE_ROOT,
          target: str = typer.Option("sysfs", "--target", "-t", metavar="TARGET",
                                     help="sysfs (a new kdamond), reclaim or lru_sort "
                                          "(DAMON_RECLAIM / DAMON_LRU_SORT parameters)."),
          stop_damon_stat: bool = typer.Option(
              False, "--stop-damon-stat",
              help="If DAMON_STAT runs (Debian's 7.x kernels start it at boot), stop it: "
                   "while it runs no kdamond can start. 'damos stop' starts it again."),
          ensure: bool = typer.Option(
              False, "--ensure",
              help="Converge instead of starting anew: if the kdamond this file started "
                   "runs it as written, write nothing (exit 0, 'unchanged'); if it runs "
                   "something else, commit the difference without a restart, as 'damos "
                   "update' (exit 3, 'updated'); if none runs, apply (exit 4, 'applied'). "
                   "Exit 1: the kernel refused; exit 2: bad input."),
          as_json: bool = typer.Option(
              False, "--json",
              help='Print {"changed": true|false, "action": "applied"|"updated"|'
                   '"unchanged", "kdamond": ID, "kdamond_pid": PID}.')):
    """Start FILE's schemes in the running kernel, all or nothing (docs/live.md).

    With --ensure the exit status says what it did: 0 unchanged, 3 updated,
    4 applied (1 the kernel refused, 2 bad input)."""
    from .live.commands import apply as body
    _exit(body(file, pid, sysfs_root, module_root, target, stop_damon_stat, ensure, as_json))


@app.command()
def update(file: str = typer.Argument(..., metavar="FILE", help="DAMOS source or damo JSON"),
           pid: Optional[int] = typer.Option(None, "--pid", help="Target process (default: the running one)."),
           sysfs_root: Optional[str] = _SYSFS_ROOT,
           kdamond: Optional[int] = typer.Option(None, "--kdamond", metavar="ID",
                                                 help="Which kdamond damos apply started.")):
    """Commit FILE to a kdamond damos apply started, without stopping it."""
    from .live.commands import update as body
    _exit(body(file, pid, sysfs_root, kdamond))


@app.command()
def status(sysfs_root: Optional[str] = _SYSFS_ROOT,
           as_json: bool = typer.Option(False, "--json", help="Print JSON."),
           watch: bool = typer.Option(False, "--watch", help="A live table of the stats."),
           interval: float = typer.Option(1.0, "--interval", metavar="S", help="--watch period."),
           count: Optional[int] = typer.Option(None, "--count", metavar="N",
                                               help="--watch: stop after N refreshes."),
           regions: bool = typer.Option(False, "--regions", help="Also the tried regions."),
           module_root: Optional[str] = _MODULE_ROOT):
    """Every kdamond printed back as DAMOS source, with its schemes' stats, and
    DAMON_STAT when it runs."""
    from .live.commands import status as body
    _exit(body(sysfs_root, as_json, watch, interval, regions, count, module_root))


@app.command()
def stop(kdamond: Optional[int] = typer.Argument(None, metavar="[ID]"),
         sysfs_root: Optional[str] = _SYSFS_ROOT,
         module_root: Optional[str] = _MODULE_ROOT,
         file: Optional[str] = typer.Option(
             None, "--file", metavar="FILE",
             help="Only the kdamonds 'damos apply FILE' started (by the file's path); "
                  "none is not an error (exit 0), so a unit's ExecStop can stop twice.")):
    """Stop the kdamonds damos apply started (or only ID, or only FILE's); start
    DAMON_STAT again if damos apply --stop-damon-stat stopped it."""
    from .live.commands import stop as body
    _exit(body(sysfs_root, kdamond, module_root, file))


@app.command()
def export(listen: Optional[str] = typer.Option(
               None, "--listen", metavar="ADDR:PORT",
               help="Serve the metrics over HTTP here (default 127.0.0.1:10142)."),
           textfile: Optional[str] = typer.Option(
               None, "--textfile", metavar="DIR",
               help="Write DIR/damos.prom for node_exporter's textfile collector "
                    "(atomically), once or with --loop."),
           loop: bool = typer.Option(False, "--loop", help="--textfile: rewrite it every "
                                                           "--interval seconds."),
           interval: float = typer.Option(15.0, "--interval", metavar="S",
                                          help="--loop period in seconds."),
           run_record: List[str] = typer.Option([], "--run-record", metavar="FILE",
                                                help="Also a 'damos run --record' session "
                                                     "(repeatable)."),
           no_refresh: bool = typer.Option(False, "--no-refresh",
                                           help="Never write update_* state commands; read "
                                                "the stats as the kernel last showed them."),
           sysfs_root: Optional[str] = _SYSFS_ROOT,
           module_root: Optional[str] = _MODULE_ROOT):
    """DAMON's kdamonds, schemes, DAMON_STAT and damos run sessions as Prometheus
    metrics, read afresh at each scrape (docs/metrics.md)."""
    from .export.command import export as body
    _exit(body(listen, textfile, loop, interval, run_record, sysfs_root, module_root,
               not no_refresh))


@app.command("eval")
def eval_(file: str = typer.Argument(..., metavar="FILE", help="DAMOS source or damo JSON"),
          command: Optional[List[str]] = typer.Argument(
              None, metavar="-- CMD [ARGS...]", help="The workload, run once per arm and repeat."),
          repeat: int = typer.Option(3, "--repeat", metavar="N", help="Runs of each arm."),
          via: str = typer.Option("kernel", "--via", metavar="ENGINE",
                                  help="kernel (damos apply's path), run (damos run, user "
                                       "space) or reclaim (DAMON_RECLAIM)."),
          json_out: Optional[str] = typer.Option(None, "--json", metavar="OUT",
                                                 help="Write every run and summary as JSON."),
          sysfs_root: Optional[str] = _SYSFS_ROOT,
          module_root: Optional[str] = _MODULE_ROOT,
          drop_caches: bool = typer.Option(
              False, "--drop-caches/--no-drop-caches",
              help="Between runs drop the page cache and empty swap (root only)."),
          dilate: str = typer.Option(
              "off", "--dilate", metavar="auto|N|off",
              help="Multiply every DAMON time of the file by N (auto: by the slowdown a "
                   "calibration loop measures), for emulated machines."),
          stop_damon_stat: bool = typer.Option(
              False, "--stop-damon-stat",
              help="If DAMON_STAT runs, stop it for the eval (started again after)."),
          vary: Optional[List[str]] = typer.Option(
              None, "--vary", metavar="SETTING=V1,V2,...",
              help="A scheme arm per value (age, size, quota.size, quota.time, quota.reset; "
                   "give it twice for two at a time): memory saved against runtime lost."),
          png: Optional[str] = typer.Option(
              None, "-o", "--output", metavar="PNG",
              help="RSS over time per arm; with --vary the trade-off with its Pareto front."),
          thp: Optional[str] = typer.Option(
              None, "--thp", metavar="ARMS",
              help="Arms by transparent huge page mode instead (e.g. never,always,scheme; "
                   "scheme: THP madvise with FILE's schemes): memory waste removed and "
                   "speedup kept against always and never. The mode found is restored."),
          thp_root: Optional[str] = typer.Option(
              None, "--thp-root", metavar="DIR",
              help="Instead of /sys/kernel/mm/transparent_hugepage (a stand-in for testing)."),
          quiet: bool = typer.Option(False, "--quiet", "-q",
                                     help="No progress (bar on a terminal, else a line per run).")):
    """Run a workload without DAMON, with monitoring only and with FILE's schemes,
    alternating, and print what the schemes save and cost (docs/eval.md)."""
    from .eval.command import eval_file
    _exit(eval_file(file, command or [], repeat=repeat, via=via, json_out=json_out,
                    sysfs_root=sysfs_root, module_root=module_root, drop_caches=drop_caches,
                    dilate=dilate, stop_damon_stat=stop_damon_stat, quiet=quiet,
                    vary=vary, png=png, thp=thp, thp_root=thp_root))


report_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                         help="Pictures and tables from a 'damos run --record' file or a kernel "
                              "damon_aggregated trace (docs/report.md).")
app.add_typer(report_app, name="report")


def _report_load(record: str, addr_range: Optional[str], time_range: Optional[str]):
    """The record and the parsed --range/--time; bad input exits 2 with one line."""
    from .report.load import load
    from .report.records import RecordError, parse_span
    try:
        ar = parse_span(addr_range, "--range", "address") if addr_range else None
        tr = parse_span(time_range, "--time", "time") if time_range else None
    except ValueError as e:
        typer.echo(f"damos report: error: {e}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        return load(record), (int(ar[0]), int(ar[1])) if ar else None, tr
    except RecordError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(EXIT_BAD_INPUT)


_REPORT_RANGE = typer.Option(None, "--range", metavar="START-END",
                             help="Only these addresses (decimal or 0x hex).")
_REPORT_TIME = typer.Option(None, "--time", metavar="T0-T1", help="Only this time window (seconds).")


@report_app.command("heatmap")
def report_heatmap(record: str = typer.Argument(..., metavar="RECORD",
                                                help="damos run --record file or tracefs text"),
                   output: Optional[str] = typer.Option(None, "-o", "--output", metavar="PNG",
                                                        help="Write a PNG (needs matplotlib)."),
                   addr_range: Optional[str] = _REPORT_RANGE, time_range: Optional[str] = _REPORT_TIME,
                   terminal: bool = typer.Option(False, "--terminal",
                                                 help="Characters in the terminal (the default "
                                                      "without -o)."),
                   rows: int = typer.Option(24, "--rows", help="--terminal: address bands."),
                   columns: int = typer.Option(72, "--columns", help="--terminal: time columns.")):
    """Access heatmap: time by address (gaps collapsed), with where and when each scheme acted."""
    from .report import heatmap, plot
    rec, ar, tr = _report_load(record, addr_range, time_range)
    try:
        if output and not terminal:
            heatmap.png(rec, output, ar, tr)
            typer.echo(f"wrote {output}", err=True)
        else:
            typer.echo(heatmap.terminal(rec, rows, columns, ar, tr), nl=False)
    except plot.MissingMatplotlib as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1)
    except ValueError as e:
        typer.echo(f"{record}: error: {e}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)


@report_app.command("wss")
def report_wss(record: str = typer.Argument(..., metavar="RECORD",
                                            help="damos run --record file or tracefs text"),
               as_json: bool = typer.Option(False, "--json", help="Print JSON (every interval)."),
               output: Optional[str] = typer.Option(None, "-o", "--output", metavar="PNG",
                                                    help="Also write a PNG (needs matplotlib)."),
               addr_range: Optional[str] = _REPORT_RANGE, time_range: Optional[str] = _REPORT_TIME):
    """Working-set size over time and its distribution (percentiles)."""
    from .report import plot, wss
    rec, ar, tr = _report_load(record, addr_range, time_range)
    typer.echo((wss.to_json if as_json else wss.text)(rec, ar, tr), nl=False)
    if output:
        try:
            wss.plot(rec, output, ar, tr)
        except plot.MissingMatplotlib as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1)
        typer.echo(f"wrote {output}", err=True)


@report_app.command("stats")
def report_stats(record: str = typer.Argument(..., metavar="RECORD",
                                              help="damos run --record file or tracefs text"),
                 as_json: bool = typer.Option(False, "--json",
                                              help="Print JSON (every aggregation)."),
                 time_range: Optional[str] = _REPORT_TIME):
    """What each scheme tried and applied over time, its effective quota, and
    the tuned sampling interval (a 7.x kernel trace's DAMOS events, or a record)."""
    from .report import stats
    rec, _, tr = _report_load(record, None, time_range)
    typer.echo((stats.to_json if as_json else stats.text)(rec, None, tr), nl=False)


@report_app.command("compare")
def report_compare(record_a: str = typer.Argument(..., metavar="A",
                                                  help="a record or trace (e.g. kernel DAMON's)"),
                   record_b: str = typer.Argument(..., metavar="B",
                                                  help="another of the same workload (e.g. damos run's)"),
                   shift: float = typer.Option(0.0, "--shift", metavar="SECONDS",
                                               help="Add this to B's times to align it with A."),
                   as_json: bool = typer.Option(False, "--json",
                                                help="Print JSON (with the paired WSS series)."),
                   output: Optional[str] = typer.Option(None, "-o", "--output", metavar="PNG",
                                                        help="Also write both heatmaps and WSS "
                                                             "(needs matplotlib)."),
                   addr_range: Optional[str] = _REPORT_RANGE, time_range: Optional[str] = _REPORT_TIME):
    """Two records of one workload side by side: hot-set agreement and working sets."""
    from .report import compare, plot
    a, ar, tr = _report_load(record_a, addr_range, time_range)
    b, _, _ = _report_load(record_b, None, None)
    b = compare.shifted(b, int(round(shift * 1e6)))
    summary = compare.summary(a, b, ar, tr)
    typer.echo(compare.to_json(summary) if as_json else compare.text(a, b, summary), nl=False)
    if output:
        try:
            compare.png(a, b, summary, output, ar, tr)
        except plot.MissingMatplotlib as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1)
        except ValueError as e:
            typer.echo(f"damos report compare: error: {e}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        typer.echo(f"wrote {output}", err=True)


def main() -> None:
    # A compiler command is short-lived and builds one large acyclic tree: the
    # cyclic collector only re-scans it (over half the time of checking a big
    # file).  'damos run' and 'damos eval' run for long, so they keep the collector.
    if sys.argv[1:2] not in (["run"], ["eval"]):
        import gc
        gc.disable()
    try:
        app()
    except DamosError as e:  # errors raised outside a command's own handling
        typer.echo(e.diagnostic.render("damos"), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
