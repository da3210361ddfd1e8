"""The package's shape: no import cycles, shared types defined once, every model file read by
the one safe loader, and every module importable in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "songscope"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _top_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports when it is itself imported (module and class
    level, ``if`` / ``try`` blocks included; not inside functions, not under ``TYPE_CHECKING``),
    with the package ``__init__`` modules that such an import runs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def record(target: str) -> None:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            candidate = ".".join(parts[:i])
            if candidate in known and candidate != name and not name.startswith(candidate + "."):
                found.add(candidate)  # a module's own parent packages are already being imported

    def walk(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    record(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                record(base)
                for alias in node.names:
                    record(f"{base}.{alias.name}")
            for block in ("body", "orelse", "finalbody"):
                walk(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                walk(handler.body)

    walk(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _top_level_imports(name, path, set(modules)) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_nothing_imports_the_pipeline_or_a_type_from_an_engine():
    modules = _modules()
    graph = {name: _top_level_imports(name, path, set(modules)) for name, path in modules.items()}
    users = {name for name, targets in graph.items() if "songscope.pipeline" in targets}
    assert users == set(), users  # the CLI and the package API import it lazily, inside functions
    result_types = {node.name for node in ast.parse((PACKAGE / "result.py").read_text()).body
                    if isinstance(node, ast.ClassDef)}
    for name, path in modules.items():
        if name == "songscope.result":
            continue
        classes = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)}
        assert not classes & result_types, f"{name} defines {classes & result_types} again"


def test_every_model_file_goes_through_the_safe_loader():
    unsafe = "weights_only=" + "False"
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert unsafe not in text, path
        if path.name != "container.py":
            assert "torch.load(" not in text, f"{path} reads a model file without the safe loader"
    for path in (SRC.parent / "tests").glob("*.py"):
        assert unsafe not in path.read_text(encoding="utf-8"), path


def test_library_code_has_no_asserts_and_sets_no_matplotlib_backend():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Assert)], f"assert in {path}"
        assert "matplotlib.use(" not in path.read_text(encoding="utf-8"), path


def test_every_module_imports_in_a_fresh_interpreter_and_the_package_stays_light():
    names = sorted(_modules())
    code = ("import importlib, sys\n"
            "import songscope, songscope.models, songscope.cli\n"
            "light = not any(m in sys.modules for m in ('torch', 'matplotlib'))\n"
            f"[importlib.import_module(n) for n in {names!r}]\n"
            "print(light)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True", "importing songscope, its registry or its CLI loads a heavy library"
