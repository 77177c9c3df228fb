"""The shape of the code (docs/architecture.md): no import cycles among the project's modules, and
the engine free of Django. Imports are read from the source (every `import` statement, including
those inside functions and under `if TYPE_CHECKING:`), not from what happens to be loaded."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "gallery", "nstsite", "api")


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



# --- app boundaries -------------------------------------------------------------------------------------

def test_the_engine_app_does_not_import_the_gallery_or_the_api() -> None:
    """gallery and api are built on engine, not engine on them: the gallery registers what it offers
    (engine.hooks) as it connects to engine.signals, and the API's webhooks are sent on those
    signals too. Imports inside functions count too."""
    engine = {m: p for m, p in project_modules().items() if m == "engine" or m.startswith("engine.")}
    assert len(engine) > 40
    offenders = {m: sorted(n for n in imported_names(m, p) if n.split(".")[0] in ("gallery", "api"))
                 for m, p in engine.items()}
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_gallery_check_sees_an_import_inside_a_function(tmp_path) -> None:
    module = tmp_path / "module.py"
    module.write_text("def later():\n    from gallery.models import Artwork\n")
    assert "gallery.models" in imported_names("engine.views", module)


# --- mode branches ----------------------------------------------------------------------------------------
# What differs between modes lives in the runners (engine/runners), the parameter schema and the rest
# of engine/nst, and the templates. Anywhere else a line that branches on the mode, or on the kind
# of content or result a mode takes or makes, is one more place a new mode must be taught (issue 20).

MODE_NAMES = r"""(?:\bMode\.[A-Z]+\b|\bschema\.(?:CLASSIC|FAST|VIDEO)\b|["'](?:classic|fast|video|image)["'])"""
MODE_BRANCH = re.compile(
    r"\bmode\s*(?:==|!=|\bis\b)|\bmode\s+(?:not\s+)?in\s*[(\[{]"  # job.mode == ..., mode in (...)
    rf"|(?:==|!=|\bin\b)\s*\(?\s*{MODE_NAMES}"              # ... == Mode.VIDEO, kind == "video"
    rf"|{MODE_NAMES}\s*(?:==|!=|\bin\b)"                    # "video" == kind, Mode.FAST in modes
    r"|\bis_video\w*|\w+_is_video\b"                        # the predicates that stand for a mode
    r"|\bisinstance\([^)]*Params\b"                         # a params class standing for its mode
    r"|\bmatch\s+\w*mode\b")
# Not a branch: checking that a mode is one there is (all of them alike).
EVERY_MODE = re.compile(r"\b(?:not\s+)?in\s+Mode\.(?:values|choices)\b|\bMode\.(?:values|choices)\b")
MOST_MODE_BRANCHES = 10
BRANCHES_EXEMPT = ("engine/runners/", "engine/nst/", "/migrations/")


def _not_code(source: str) -> set[int]:
    """The lines of imports and of def/class headers: names, not branches."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.update(range(node.lineno, node.end_lineno + 1))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines.update(range(node.lineno, (node.body[0].lineno if node.body else node.lineno)))
    return lines


def mode_branches() -> list[str]:
    """"path:line: text" of each line that branches on the mode in engine/, gallery/ and nstsite/
    outside the runners, engine/nst and the migrations (comments, docstrings, definitions and
    imports are not branches; tables keyed by mode are the alternative to them, and are not counted)."""
    found = []
    for path in sorted(project_modules().values()):
        rel = path.relative_to(ROOT).as_posix()
        if any(part in f"/{rel}" for part in BRANCHES_EXEMPT):
            continue
        source = path.read_text()
        skip = _not_code(source)
        for number, line in enumerate(source.splitlines(), 1):
            code = EVERY_MODE.sub("", line.split("#", 1)[0]).strip()
            if not code or number in skip or code.startswith(('"', "'")):
                continue
            if MODE_BRANCH.search(code):
                found.append(f"{rel}:{number}: {code}")
    return found


def test_few_lines_outside_the_runners_branch_on_the_mode() -> None:
    branches = mode_branches()
    print(f"{len(branches)} mode branches:", *branches, sep="\n  ")
    assert len(branches) <= MOST_MODE_BRANCHES, "\n".join(branches)


@pytest.mark.parametrize("line", [
    'if job.mode == Mode.VIDEO:', 'x = 1 if mode != "classic" else 2', 'if content.kind == "video":',
    'if job.result_is_video:', 'steps = p.total_steps if isinstance(p, ClassicParams) else 1',
    'if "fast" == mode:', 'elif job.mode in (Mode.FAST, Mode.VIDEO):', 'video = job.content_is_video',
    'if mode in ("fast", "video"):', 'if detect_kind(upload) == "image":',
])
def test_the_mode_branch_count_sees_each_kind_of_branch(line) -> None:
    assert MODE_BRANCH.search(EVERY_MODE.sub("", line))


@pytest.mark.parametrize("line", ['if mode not in Mode.values:', 'mode = forms.ChoiceField(choices=Mode.choices)',
                                  'controls = [c for c in CONTROLS if mode in c.modes]'])
def test_checking_a_mode_is_known_is_not_a_branch(line) -> None:
    assert not MODE_BRANCH.search(EVERY_MODE.sub("", line))
