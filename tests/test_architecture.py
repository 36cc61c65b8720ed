"""The boundaries of the tree, checked from the source: who may import what, and no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "parsers")
NETWORK = {"imapclient", "exchangelib", "smtplib", "socket", "ssl", "imaplib", "poplib", "http", "urllib",
           "requests", "aiosmtpd", "email.mime", "email.generator", "bot.out.senders", "bot.sources", "bot.store"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def imports_of(name: str) -> set[str]:
    """Every module a module imports, at its top or inside a function (TYPE_CHECKING blocks left out)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for stmt in node.body for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from bot.season import deadlines` imports the module bot.season.deadlines (the package says nothing)
            submodules = {f"{base}.{a.name}" for a in node.names} & set(MODULES)
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return found


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _offenders(where: str, banned: set[str] | str, allowed: tuple[str, ...] = ()) -> list[str]:
    banned = {banned} if isinstance(banned, str) else banned
    return sorted(
        f"{name} imports {imported}"
        for name in MODULES if _under(name, where) and name not in allowed
        for imported in imports_of(name) if any(_under(imported, b) for b in banned)
    )


def test_architecture_sees_the_tree():
    assert {"bot.store", "bot.season.workdays", "parsers.recognise", "bot.sources.imap"} <= set(MODULES)
    assert "bot.season.items" in imports_of("bot.season.deadlines")
    assert "bot.out.kickoff" in imports_of("bot.cli")  # an import inside a function counts


def test_architecture_sqlite_only_in_the_store():
    assert _offenders("bot", "sqlite3", allowed=("bot.store",)) + _offenders("parsers", "sqlite3") == []


def test_architecture_parsers_touch_neither_network_nor_store():
    assert _offenders("parsers", NETWORK) == []


def test_architecture_working_days_only_in_workdays():
    outside = _offenders("bot", "chinese_calendar", allowed=("bot.season.workdays",))
    assert outside + _offenders("parsers", "chinese_calendar") == []


@pytest.mark.parametrize("later", ["parsers", "bot.intake"])
def test_architecture_sources_do_not_import_later_stages(later):
    assert _offenders("bot.sources", later) == []


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every import cycle a depth-first walk meets, as "a → b → a"."""
    found: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(" → ".join([*path[path.index(nxt):], node, nxt]) if nxt in path else f"{node} → {nxt}")
            elif nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    return found


def test_architecture_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a → b → c → a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_architecture_no_import_cycle():
    graph = {name: {m for m in imports_of(name) if m in MODULES and m != name} for name in MODULES}
    # A package's __init__ importing its own modules is how a package is read, not a cycle.
    for name, edges in graph.items():
        graph[name] = {m for m in edges if not (_under(m, name) and MODULES[name].name == "__init__.py")}
    assert cycles(graph) == []
