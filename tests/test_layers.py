"""The house rules, read from the source: imports run one way, nothing cycles, only state/ touches SQL.

CLI and console -> graph -> agents -> tools -> state, with settings at the bottom (every layer may import it, it
imports none). Imports inside functions count too: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = {"settings": 0, "prompts": 0, "state": 1, "tools": 2, "agents": 3, "graph": 4, "cli": 5, "console": 5, "app": 5}
SHARED_AGENT_MODULES = {"agents.state", "agents.resources"}  # the nodes' contract and their resource bag
SQL_PACKAGES = ("sqlalchemy", "sqlmodel", "alembic")
MAX_LINES = 300


def project_modules() -> dict[str, Path]:
    out = {"app": REPO / "app.py"}
    for pkg in LAYERS:
        for path in sorted((REPO / pkg).rglob("*.py")) if (REPO / pkg).is_dir() else []:
            parts = (pkg,) + path.relative_to(REPO / pkg).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports_of(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file (``from a import b`` gives a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


MODULES = project_modules()
GRAPH = nx.DiGraph()
for _name, _path in MODULES.items():
    GRAPH.add_node(_name)
    for _imp in imports_of(_path):
        if _imp in MODULES and _imp != _name:
            GRAPH.add_edge(_name, _imp)


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def test_the_scan_sees_the_project():
    assert {"settings.config", "state.db", "tools.llm", "agents.tagger", "graph.builder", "cli.main", "app"} <= \
        set(MODULES)
    assert GRAPH.has_edge("graph.builder", "agents.tagger") and GRAPH.has_edge("tools.llm", "state.llm_calls")


def test_no_upward_import():
    upward = sorted(f"{a} -> {b}" for a, b in GRAPH.edges if layer(b) > layer(a))
    assert not upward, "imports must run CLI/console -> graph -> agents -> tools -> state -> settings:\n" + \
        "\n".join(upward)


def test_settings_import_nothing_of_the_project():
    assert not [f"{a} -> {b}" for a, b in GRAPH.edges if a.startswith("settings") and not b.startswith("settings")]


def test_no_import_cycle():
    cycles = list(nx.simple_cycles(GRAPH))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_nodes_do_not_import_each_other():
    bad = sorted(f"{a} -> {b}" for a, b in GRAPH.edges
                 if a.startswith("agents.") and b.startswith("agents.") and b not in SHARED_AGENT_MODULES)
    assert not bad, "a node module may import agents.state and agents.resources only:\n" + "\n".join(bad)


def test_only_state_touches_sql():
    bad = []
    for name, path in MODULES.items():
        if name.startswith("state"):
            continue
        for imp in imports_of(path):
            if imp.split(".")[0] in SQL_PACKAGES or imp == "state.models" or imp.startswith("state.models."):
                bad.append(f"{name} imports {imp}")
    assert not bad, "\n".join(sorted(bad))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_short(name):
    n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n < MAX_LINES, f"{MODULES[name]} has {n} lines (keep modules under {MAX_LINES})"


def test_every_node_module_matches_its_graph_name():
    from graph.builder import build_loop_graph

    graph = build_loop_graph()
    for name, spec in graph.nodes.items():
        fn = spec.runnable.func if hasattr(spec.runnable, "func") else spec.runnable
        assert fn.__module__ == f"agents.{name}", f"graph node {name!r} runs {fn.__module__}.{fn.__name__}"
