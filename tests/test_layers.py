"""The package's shape: stages import downwards only, and no module imports itself round a circle.

The order (also in ``scriptgen/__init__.py``'s docstring)::

    faces (cli, panel, the package face) -> experiment -> training | evaluation -> writing -> model -> data -> files ->
    root

The imports are read from the source (ast), lazy imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scriptgen"
# rank of each stage: a module may import modules of its own stage or of a lower rank
RANKS = {
    "root": 0, "files": 1, "data": 2, "model": 3, "writing": 4, "evaluation": 5, "training": 5, "experiment": 6,
    "faces": 7,
}  # fmt: skip
ROOT_MODULES = {"config", "config_checks", "errors", "device", "_version"}
FACES = {"cli", "panel", "__init__", "__main__"}


def module_name(path: Path) -> str:
    parts = ("scriptgen", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> str:
    part = module.split(".")[1] if "." in module else "__init__"
    if part in FACES:
        return "faces"
    if part in ROOT_MODULES:
        return "root"
    return part


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The scriptgen modules (or stage packages) that ``module`` imports, resolved to their full names."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "scriptgen"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "scriptgen":
                continue
            for alias in node.names:  # `from .data import corpus` imports the module scriptgen.data.corpus
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return found - {module}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports_of(m, p, known) for m, p in known.items()}


def test_the_graph_was_read(graph):
    assert len(graph) > 40  # every module of the package, not an empty walk
    assert "scriptgen.writing.draw" in graph["scriptgen.writing.sampler"]
    assert "scriptgen.data.tokens" in graph["scriptgen.model.checkpoint"]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{m} ({stage_of(m)}) imports {d} ({stage_of(d)})"
        for m, deps in graph.items() for d in deps
        if stage_of(m) != stage_of(d) and RANKS[stage_of(d)] >= RANKS[stage_of(m)]
    ]  # fmt: skip


def find_circles(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                circles.append(" -> ".join(path[path.index(dep) :] + [dep]))
            elif dep in graph and dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return circles


def test_stages_import_downwards_only(graph):
    wrong = layer_violations(graph)
    assert not wrong, "\n".join(wrong)


def test_training_and_evaluation_never_import_each_other(graph):
    crossing = [
        (m, d) for m, deps in graph.items() for d in deps if {stage_of(m), stage_of(d)} == {"training", "evaluation"}
    ]
    assert not crossing


def test_nothing_imports_the_package_face(graph):
    assert [m for m, deps in graph.items() if "scriptgen" in deps] == []


def test_inside_the_package_modules_import_modules_not_stage_maps(graph):
    """``from ..data.tokens import Vocab``, not ``from ..data import Vocab``: a stage's map imports all its modules."""
    packages = {m for m, p in modules().items() if p.name == "__init__.py" and m != "scriptgen"}
    wrong = [
        (m, d)
        for m, deps in graph.items()
        for d in deps
        if d in packages and stage_of(m) != "faces" and not m.startswith(d)
    ]
    assert not wrong


def test_no_circle(graph):
    circles = find_circles(graph)
    assert not circles, "\n".join(circles)


def test_the_checks_find_what_they_look_for():
    """On made-up graphs: a circle, an upward import and a stage skipped over sideways are all reported."""
    circle = {
        "scriptgen.writing.a": {"scriptgen.writing.b"},
        "scriptgen.writing.b": {"scriptgen.writing.c"},
        "scriptgen.writing.c": {"scriptgen.writing.a"},
    }
    assert find_circles(circle) == [
        "scriptgen.writing.a -> scriptgen.writing.b -> scriptgen.writing.c -> scriptgen.writing.a"
    ]
    assert find_circles({"scriptgen.data.x": {"scriptgen.files.y"}, "scriptgen.files.y": set()}) == []
    upward = {
        "scriptgen.data.rundata": {"scriptgen.training.finetune"},
        "scriptgen.training.train": {"scriptgen.data.rundata"},
    }
    assert layer_violations(upward) == ["scriptgen.data.rundata (data) imports scriptgen.training.finetune (training)"]
    assert layer_violations({"scriptgen.training.x": {"scriptgen.evaluation.y"}}) != []  # same rank, other stage
    assert (
        stage_of("scriptgen.config") == "root"
        and stage_of("scriptgen") == "faces"
        and stage_of("scriptgen.cli.train") == "faces"
    )
