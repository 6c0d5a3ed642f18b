"""The house's import contract, read from the code itself: layers import downward only, the
simulator stands apart (started by the runner, and reached over HTTP or through the transport the
runner hands the clients), and no module of the
runner needs itself back through another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every harness module `path` imports, at its top or inside a function; not those imported
    only for type checking (`if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text())
    checking_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in checking_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("harness")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The module an imported name lives in (`harness.runner.run.Runner` -> harness.runner.run)."""
    while name and name not in GRAPH:
        name = name.rpartition(".")[0]
    return name or None


def edges(prefix: str) -> dict[str, set[str]]:
    return {
        module: {m for m in map(resolve, names) if m and m != module}
        for module, names in GRAPH.items()
        if module.startswith(prefix)
    }


@pytest.mark.parametrize(
    "layer",
    ["harness.aws", "harness.report", "harness.artifacts", "harness.meta", "harness.events", "harness.pipelines"],
)
def test_the_simulator_is_reached_only_over_http(layer):
    reaching = {m: sorted(t for t in targets if t.startswith("harness.sim")) for m, targets in edges(layer).items()}
    assert {m: t for m, t in reaching.items() if t} == {}


def test_the_simulator_imports_nothing_of_the_harness_above_it():
    above = (
        "harness.aws",
        "harness.runner",
        "harness.report",
        "harness.artifacts",
        "harness.pipelines",
        "harness.meta",
        "harness.events",
        "harness.cli",
    )
    reaching = {m: sorted(t for t in targets if t.startswith(above)) for m, targets in edges("harness.sim").items()}
    assert {m: t for m, t in reaching.items() if t} == {}


def test_no_module_of_the_runner_imports_itself_back():
    graph = {
        m: {t for t in targets if t.startswith("harness.runner")} for m, targets in edges("harness.runner").items()
    }
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                cycles.append(path[path.index(target) :] + [target])
            elif len(path) < 12:
                visit(target, path + [target])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []
