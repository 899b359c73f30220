"""The import graph of bot/ and handlers/: no cycle, and imports point down the layers.

Every import counts, at the top of a module, in a function body or under TYPE_CHECKING: a
cycle hidden in a function body is still a cycle. A package counts as one module with its
submodules for the layer rules (bot/render_slack/ and bot/render_slack.py alike).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers")

# the layers, lowest first; a name stands for the module or the package and its submodules
BASE = ("bot.config", "bot.errors", "bot.crontab", "bot.logs")
PURE = (
    "bot.overage",
    "bot.digest",
    "bot.render_slack",
    "bot.workbook",
    "bot.grammar",
    "bot.cases",
    "bot.invoice",
)
EDGES = ("bot.keepnet", "bot.store", "bot.publish")
SERVICES = ("bot.services",)
TIMER = ("bot.schedule",)
HANDLERS = ("handlers",)
# what each layer may import of ours; the modules above them all (app, web, serve, cli, the
# one-shot commands, check, demo, sandbox) may import anything but handlers (app.py excepted)
MAY_IMPORT: Mapping[tuple[str, ...], tuple[str, ...]] = {
    BASE: BASE,
    PURE: BASE + PURE,
    EDGES: BASE + PURE,
    SERVICES: BASE + PURE + EDGES + SERVICES,
    TIMER: BASE + SERVICES,
    HANDLERS: BASE + SERVICES + ("bot.grammar", "bot.render_slack") + HANDLERS,
}
IO_LIBRARIES = {"slack_bolt", "slack_sdk", "httpx", "sqlalchemy", "apscheduler", "aiohttp"}
# crontab is arithmetic on APScheduler's CronTrigger: the trigger, never the scheduler
IO_FREE = {**{module: () for module in PURE}, "bot.crontab": ("apscheduler.triggers",)}


def modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of the packages by its dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every name the module imports, anywhere in it, dotted: `from a import b` gives `a.b`,
    which is the module a.b when there is one and a name in a otherwise; relative imports
    resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _ours(name: str, known: Mapping[str, Path]) -> str | None:
    """The module of ours a dotted name is, or lies in (the longest that matches)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def import_graph(known: Mapping[str, Path]) -> dict[str, set[str]]:
    """module → the modules of ours it imports. Importing a submodule is not counted as
    importing its package (whose __init__ may import that submodule: no cycle), but
    importing a name from a package is."""
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        targets = {_ours(name, known) for name in imported_names(module, path)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, or of one importing itself
    (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _in(module: str, layer: tuple[str, ...]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in layer)


KNOWN = modules()
GRAPH = import_graph(KNOWN)


def test_our_modules_import_one_another_without_a_cycle() -> None:
    assert cycles(GRAPH) == []


def test_a_cycle_hidden_in_a_function_body_or_under_type_checking_is_found(
    tmp_path: Path,
) -> None:
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg.b import g\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n",
        "c.py": "import pkg.a\n",
        # a package re-exporting its submodule, which imports a sibling: no cycle
        "ok/__init__.py": "from pkg.ok.d import x\n",
        "ok/d.py": "from . import e\nx = 1\n",
        "ok/e.py": "",
        # a submodule importing a name from its own package, which imports it: a cycle
        "bad/__init__.py": "from .f import z\nw = 1\n",
        "bad/f.py": "from pkg.bad import w\nz = 1\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)

    graph = import_graph(modules(tmp_path, ("pkg",)))

    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.bad", "pkg.bad.f"]]
    assert (graph["pkg.ok"], graph["pkg.ok.d"]) == ({"pkg.ok.d"}, {"pkg.ok.e"})


def _same_package(target: str, module: str) -> bool:
    """A package's modules import each other freely (bot.store.runs -> bot.store.schema)."""
    return target.split(".")[:2] == module.split(".")[:2]


@pytest.mark.parametrize("layer", list(MAY_IMPORT), ids=lambda layer: layer[0])
def test_each_layer_imports_only_the_layers_below_it(layer: tuple[str, ...]) -> None:
    allowed = MAY_IMPORT[layer]
    members = [module for module in GRAPH if _in(module, layer)]
    assert members, f"no module in {layer}"
    offenders = {
        module: sorted(
            t for t in GRAPH[module] if not _in(t, allowed) and not _same_package(t, module)
        )
        for module in members
    }
    assert {module: bad for module, bad in offenders.items() if bad} == {}


@pytest.mark.parametrize("module", sorted(IO_FREE))
def test_pure_modules_import_no_io_library(module: str) -> None:
    files = [path for name, path in KNOWN.items() if _in(name, (module,))]
    assert files, f"{module} not found"
    names = {name for path in files for name in imported_names(module, path)}
    allowed = IO_FREE[module]
    io = {n for n in names if n.split(".")[0] in IO_LIBRARIES and not _in(n, allowed)}
    assert io == set()


def test_bot_does_not_import_handlers_except_the_composition_root() -> None:
    offenders = [
        module
        for module, targets in GRAPH.items()
        if _in(module, ("bot",)) and module != "bot.app" and any(_in(t, HANDLERS) for t in targets)
    ]
    assert offenders == []
