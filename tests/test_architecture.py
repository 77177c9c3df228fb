"""The shape of the code (docs/architecture.md): no import cycles among the project's modules, and
the engine free of Django. Imports are read from the source (every `import` statement, including
those inside functions and under `if TYPE_CHECKING:`), not from what happens to be loaded."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "gallery", "nstsite")


def project_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of PACKAGES but their migrations."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name an import statement of the module names (relative imports resolved),
    plus, for `from X import y`, the name X.y (y may be a submodule)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports. A package's __init__ importing its own
    submodules, and a submodule importing its package's __init__, are not edges: the package is
    their common namespace (its __init__ re-exports them)."""
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        is_package = path.name == "__init__.py"
        graph[module] = {t for t in targets
                         if not (is_package and t.startswith(module + "."))
                         and not (modules[t].name == "__init__.py" and module.startswith(t + "."))}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    graph = import_graph()
    assert len(graph) > 40  # the walk found the project
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_an_import_inside_a_function(tmp_path) -> None:
    # The check above must be able to fail: a cycle closed only by a function-local import.
    graph = import_graph()
    module = tmp_path / "module.py"
    module.write_text("def later():\n    from engine import views\n")
    graph["engine.models"] |= {n for n in imported_names("engine.models", module) if n in graph}
    assert any("engine.models" in cycle and "engine.views" in cycle for cycle in cycles(graph))


def test_the_engine_does_not_import_django() -> None:
    engine = {m: p for m, p in project_modules().items() if m == "engine.nst" or m.startswith("engine.nst.")}
    assert len(engine) > 10
    offenders = {m: sorted(n for n in imported_names(m, p) if n.split(".")[0] in ("django", "channels", "rq"))
                 for m, p in engine.items()}
    assert {m: names for m, names in offenders.items() if names} == {}

