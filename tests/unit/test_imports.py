"""No import loops: every project module imports in any order after ``django.setup()``, and no
module imports one that (directly or not) imports it back at module level.

An import loop works or fails depending on which of its modules is imported first, so it tends
to surface far from its cause (a new command, a test run alone). Function-local imports are
left out of the graph: they run after every module has loaded.
"""

import ast
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "core", "proxies", "guardrails", "gateways", "deployments")

IMPORT_IN_ORDER = """
import importlib, sys
import django
django.setup()
for name in sys.argv[1:]:
    importlib.import_module(name)
"""


def project_modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def module_level_imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` needs loaded while it loads: its imports outside functions
    (and outside ``if TYPE_CHECKING``), without the packages it sits in, which are loading
    already, unless it takes a name from one of them."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    needed: set[str] = set()

    def add(module: str) -> None:
        parts = module.split(".")
        needed.update(
            prefix
            for prefix in (".".join(parts[:i]) for i in range(1, len(parts) + 1))
            if prefix in modules and prefix not in own_packages
        )

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                add(base)
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        needed.add(f"{base}.{alias.name}")
                    elif base in modules:
                        needed.add(base)
            elif isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
                visit(node.orelse)
            elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, field, []))

    visit(ast.parse(path.read_text(), filename=str(path)).body)
    needed.discard(name)
    return needed


def first_loop(graph: dict[str, set[str]]) -> list[str]:
    """One import loop of ``graph`` as ``[a, b, ..., a]``, or ``[]`` when there is none."""
    done: set[str] = set()
    path: list[str] = []

    def walk(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        path.append(module)
        for needed in sorted(graph[module]):
            loop = walk(needed)
            if loop:
                return loop
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        loop = walk(module)
        if loop:
            return loop
    return []


def test_no_module_imports_one_that_imports_it_back():
    modules = project_modules()
    graph = {name: module_level_imports(name, path, modules) for name, path in modules.items()}
    loop = first_loop(graph)
    assert not loop, "import loop: " + " -> ".join(loop)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_module_imports_in_any_order_after_django_setup(seed):
    names = sorted(project_modules())
    random.Random(seed).shuffle(names)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_IN_ORDER, *names],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
