"""Imports point down the layers: core < memory < backends < graphs < finetune, evaluation, builder < cli, server.

Every module of the project must be assigned a layer below; a new module without one fails,
so the map (and the design it states) stays true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Folder on disk -> installed package name (pyproject's package-dir mapping).
PACKAGES = {
    "persona_rag": "persona_rag",
    "memory": "persona_rag.memory",
    "graphs": "persona_rag.graphs",
    "finetune": "persona_rag.finetune",
    "corpora": "persona_rag.corpora",
}
LAYERS = {"core": 0, "memory": 1, "backends": 2, "graphs": 3, "finetune": 4, "evaluation": 4, "builder": 4, "cli": 5}
# Longest prefix wins. The package's own __init__ is the public facade: its lazy exports may point up.
LAYER_OF = {
    "persona_rag.errors": "core",
    "persona_rag.settings": "core",
    "persona_rag.paths": "core",
    "persona_rag.offline": "core",
    "persona_rag.timeline": "core",
    "persona_rag.vocabulary": "core",
    "persona_rag.persona": "core",
    "persona_rag.prompts": "core",
    "persona_rag.models": "core",
    "persona_rag.corpus": "core",
    "persona_rag.corpora": "core",
    "persona_rag.memory": "memory",
    "persona_rag.backends": "backends",
    "persona_rag.graphs": "graphs",
    "persona_rag.finetune": "finetune",
    "persona_rag.evaluation": "evaluation",
    "persona_rag.builder": "builder",
    "persona_rag.cli": "cli",
    "persona_rag.server": "cli",
}
FACADES = {"persona_rag"}


def project_modules() -> dict[str, Path]:
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def layer_of(module: str) -> str | None:
    best = None
    for prefix, layer in LAYER_OF.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return best[1] if best else None


def imports_of(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                pkg = module.split(".")[: -node.level] if path.name != "__init__.py" else module.split(".")
                base = ".".join([*pkg, node.module])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("persona_rag")}


def test_every_module_has_a_layer() -> None:
    missing = [m for m in project_modules() if m not in FACADES and layer_of(m) is None]
    assert not missing, f"assign these modules a layer in tests/test_layers.py: {missing}"


def test_imports_point_down() -> None:
    modules = project_modules()
    upward = []
    for module, path in modules.items():
        if module in FACADES:
            continue
        mine = LAYERS[layer_of(module) or "core"]
        for target in imports_of(path, module):
            if target in FACADES or (target not in modules and target.rsplit(".", 1)[0] not in modules):
                continue
            name = target if target in modules else target.rsplit(".", 1)[0]
            if name in FACADES:
                continue
            theirs = LAYERS[layer_of(name) or "core"]
            if theirs > mine:
                upward.append(f"{module} ({layer_of(module)}) imports {name} ({layer_of(name)})")
    assert not upward, "\n".join(upward)


def test_no_import_cycles_between_modules() -> None:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        deps = set()
        for target in imports_of(path, module):
            name = target if target in modules else target.rsplit(".", 1)[0]
            if name in modules and name != module and name not in FACADES and module not in FACADES:
                deps.add(name)
        graph[module] = deps
    # Package __init__ re-exports its own submodules: that edge is not a cycle of design.
    for module in graph:
        graph[module] = {d for d in graph[module] if not (module.startswith(d + ".") and d in modules)}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself can fail: a memory module importing the graphs is reported."""
    fake = tmp_path / "store.py"
    fake.write_text("from persona_rag.graphs.verdict import verdict\n")
    found = imports_of(fake, "persona_rag.memory.store")
    assert "persona_rag.graphs.verdict" in found
    assert (
        LAYERS[layer_of("persona_rag.graphs.verdict") or "core"]
        > LAYERS[layer_of("persona_rag.memory.store") or "core"]
    )
