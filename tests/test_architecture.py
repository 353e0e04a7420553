"""The shape of the house (docs/architecture.md): the layers of damos_lang/
only point down, no module imports itself round a circle, and every file name
of the DAMON sysfs tree is spelt in one module only (its layout table)."""
from __future__ import annotations

import ast
from pathlib import Path

from damos_lang.sysfs import layout as L

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "damos_lang"

# lowest first; a module may import from its own layer or a lower one
LAYERS = [
    ("base", ["errors", "units", "catalog", "console", "monitor", "grammar", "record_format"]),
    ("records", ["ir", "model", "sysfs.layout"]),
    ("language", ["parser", "damo_fields", "values", "legacy", "lower", "convert", "model_to_ir",
                  "features"]),
    ("inputs", ["damo_input", "source", "unit"]),
    ("compile", ["check", "explain", "fmt", "pipeline", "sysfs", "report"]),
    ("targets", ["targets"]),
    ("engines", ["live", "run", "eval"]),
    ("commands", ["commands", "cli", "__main__"]),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def layer_of(mod: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if mod == pre or mod.startswith(pre + "."):
                if best is None or len(pre) > best[1]:
                    best = (i, len(pre))
    assert best is not None, f"damos_lang.{mod} is in no layer of {__file__}"
    return best[0]


def imports(mod: str, path: Path) -> set[str]:
    """The damos_lang modules ``mod`` imports (anywhere in the file)."""
    tree = ast.parse(path.read_text())
    pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("damos_lang"):
                target = node.module[len("damos_lang."):]
            else:
                continue
            known = modules()
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                out.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("damos_lang."):
                    out.add(alias.name[len("damos_lang."):])
    return {m for m in out if m and m != mod}


def test_every_module_is_in_a_layer():
    for mod in modules():
        if mod:
            layer_of(mod)


def test_no_import_points_up():
    up = []
    for mod, path in modules().items():
        if not mod:
            continue
        for dep in imports(mod, path):
            if dep and layer_of(dep) > layer_of(mod):
                up.append(f"{mod} ({LAYERS[layer_of(mod)][0]}) imports {dep} "
                          f"({LAYERS[layer_of(dep)][0]})")
    assert not up, "\n".join(up)


def test_no_import_circles():
    mods = modules()
    graph = {m: {d for d in imports(m, p) if d in mods} for m, p in mods.items() if m}
    # a package's __init__ importing its own submodules is not a circle
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    seen, stack, circles = set(), [], []

    def visit(m):
        if m in stack:
            circles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            visit(d)
        stack.pop()
    for m in sorted(graph):
        visit(m)
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


# File names of the tree that are also words of the language or names of other
# formats, so they appear elsewhere meaning something else (each is still read
# and written only through the layout table).
SHARED_WORDS = {
    "state", "pid", "type", "action", "operations", "matching", "allow", "start", "end",
    "min", "max", "age", "weight", "id", "nid", "path", "high", "mid", "low", "metric",
    "hits", "ms", "bytes", "pause", "sz", "nr_accesses", "probes", "filters", "targets",
    "schemes", "contexts", "kdamonds", "regions", "dests", "quotas", "watermarks",
    "weights", "goals", "stats", "intervals", "nr_regions", "intervals_goal", "aggrs",
    "access_bp",
}
# modules that speak other formats whose keys happen to equal sysfs names
# (damo's JSON keys, the C API's struct members, damos run's record format)
OTHER_FORMATS = {"damo_input", "targets.damo_json", "targets.c_module", "record_format",
                 "run.record", "report", "monitor"}


def record_fields() -> set[str]:
    """Attribute names of the records the layout maps files to (the model, the
    counters read back, damos run's own counters): Python names, not paths."""
    import dataclasses
    from damos_lang import model
    from damos_lang.run import engine
    from damos_lang.sysfs import read
    out = set()
    for mod in (model, read, engine):
        for obj in vars(mod).values():
            if dataclasses.is_dataclass(obj) and isinstance(obj, type):
                out.update(f.name for f in dataclasses.fields(obj))
    return out


def tree_names() -> set[str]:
    names = set()
    for e in L.ENTITIES:
        for f in e.files:
            names.update(part for part in f.path.split("/"))
    return names - SHARED_WORDS - record_fields()


def test_each_sysfs_file_name_is_spelt_in_the_layout_only():
    names = tree_names()
    assert {"nr_goals", "nr_dests", "max_nr_snapshots", "damon_target_idx"} <= names
    found = []
    for mod, path in modules().items():
        # sysfs.history cites layout rows by path; tests/test_sysfs_history.py
        # checks each citation names a row the layout has
        if mod in ("sysfs.layout", "sysfs.history") or any(mod == o or mod.startswith(o + ".")
                                        for o in OTHER_FORMATS):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = set(node.value.replace("$", "/").replace('"', "/").split("/"))
                words |= set(node.value.split())
                hit = words & names
                if hit:
                    found.append(f"damos_lang/{path.relative_to(PKG)}:{node.lineno}: "
                                 f"{sorted(hit)}")
    assert not found, "\n".join(found)


def test_target_options_are_declared_once_and_become_flags():
    import dataclasses
    from typer.testing import CliRunner
    from damos_lang.cli import app
    from damos_lang.targets import Options, declared_options
    decl = declared_options()
    assert {"debugfs", "c-module"} <= {t for t, _ in decl}
    fields = {f.name for f in dataclasses.fields(Options)}
    help_text = CliRunner().invoke(app, ["compile", "--help"]).stdout
    for target, o in decl:
        assert o.name in fields, (target, o.name)
        assert o.flag in help_text, o.flag
    # a flag given to a target that does not take it is refused, naming its target
    r = CliRunner().invoke(app, ["compile", str(ROOT / "examples/prcl.damos"), "-t", "damo-json",
                                 "--debugfs-fields", "7"])
    assert r.exit_code == 2 and "--debugfs-fields applies to the debugfs target" in r.stderr
