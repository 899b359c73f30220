"""Pure modules import no I/O library; bot/ never imports handlers/ (except app.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = ["overage", "digest", "render_slack", "workbook", "grammar", "cases"]
FORBIDDEN = {"slack_bolt", "slack_sdk", "httpx", "sqlalchemy", "apscheduler", "aiohttp"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_io_library(module: str) -> None:
    package = ROOT / "bot" / module
    paths = sorted(package.rglob("*.py")) if package.is_dir() else [ROOT / "bot" / f"{module}.py"]
    assert paths
    for path in paths:
        assert imported(path).isdisjoint(FORBIDDEN), path


def test_bot_does_not_import_handlers_except_the_composition_root() -> None:
    offenders = [
        p.name
        for p in (ROOT / "bot").rglob("*.py")
        if p.name != "app.py" and "handlers" in imported(p)
    ]
    assert offenders == []
