"""The style that is checked by machine: ruff and mypy as configured in pyproject.toml, short
functions, and a module graph where shared/ depends on nothing above it and nothing depends on
itself in a circle. Imports only type checkers see (under `if TYPE_CHECKING:`) are not part
of that graph.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("shared", "services", "ops")
PROJECT = (*PRODUCTION, "bench", "tests")
MAX_FUNCTION_LINES = 70


def _run(*command: str) -> None:
    completed = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                               text=True, check=False)
    if completed.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {completed.returncode}:\n"
                    f"{completed.stdout}{completed.stderr}", pytrace=False)


def test_ruff() -> None:
    _run("ruff", "check", ".")


def test_mypy() -> None:
    _run("mypy", "shared", "services")


# ------------------------------------------------------------------------------ sources

def _sources(*folders: str) -> Iterator[tuple[Path, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# ------------------------------------------------------------------------------ function length

@dataclass(frozen=True)
class LongFunction:
    path: str
    qualname: str
    line: int
    lines: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.qualname} ({self.lines} lines)"


def _functions(node: ast.AST, prefix: str = "",
               ) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + child.name, child
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def _long_functions() -> list[LongFunction]:
    found = []
    for path, tree in _sources(*PRODUCTION):
        for qualname, function in _functions(tree):
            lines = (function.end_lineno or function.lineno) - function.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                found.append(LongFunction(str(path.relative_to(ROOT)), qualname,
                                          function.lineno, lines))
    return found


def test_no_function_is_longer_than_70_lines() -> None:
    found = [str(f) for f in _long_functions()]
    assert not found, f"functions longer than {MAX_FUNCTION_LINES} lines:\n" + "\n".join(found)


# ------------------------------------------------------------------------------ imports

def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (functions included), except those that only
    type checkers see."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif isinstance(node, ast.If) and _is_type_checking(node.test):
        for statement in node.orelse:
            yield from _runtime_imports(statement)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _runtime_imports(child)


def _imported(module: str, is_package: bool,
              statement: ast.Import | ast.ImportFrom, known: set[str]) -> Iterator[str]:
    """The modules an import statement names: `from a import b` names a.b when that is a
    module, else a."""
    if isinstance(statement, ast.Import):
        yield from (alias.name for alias in statement.names)
        return
    base = statement.module or ""
    if statement.level:
        package = module.split(".")
        if not is_package:
            package.pop()
        package = package[:len(package) - (statement.level - 1)]
        base = ".".join([*package, base] if base else package)
    for alias in statement.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in known else base


def _import_graph() -> dict[str, set[str]]:
    trees = {_module_name(path): (path.name == "__init__.py", tree)
             for path, tree in _sources(*PROJECT)}
    known = set(trees)
    graph: dict[str, set[str]] = {}
    for module, (is_package, tree) in trees.items():
        graph[module] = {name for statement in _runtime_imports(tree)
                         for name in _imported(module, is_package, statement, known)
                         if name in known and name != module}
    return graph


def _upward_imports() -> set[tuple[str, str]]:
    return {(module, imported.split(".")[0])
            for module, imports in _import_graph().items() if module.startswith("shared")
            for imported in imports if imported.split(".")[0] in ("services", "ops")}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _describe(cycles: list[frozenset[str]]) -> str:
    return "\n".join(" <-> ".join(sorted(cycle)) for cycle in cycles)


def test_shared_imports_nothing_from_services_or_ops() -> None:
    found = sorted(_upward_imports())
    assert not found, "shared/ imports from services/ or ops/:\n" + "\n".join(map(str, found))


def test_no_import_cycle() -> None:
    found = _cycles(_import_graph())
    assert not found, "modules that import each other:\n" + _describe(found)


# ------------------------------------------------------------------------------ Kafka clients

KAFKA_CLIENTS = frozenset({"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient",
                           "AIOKafkaClient", "KafkaBroker"})
CLIENT_FACTORY = "shared/kafka_client.py"


def _kafka_clients_built_elsewhere() -> Iterator[str]:
    for path, tree in _sources(*PROJECT):
        where = str(path.relative_to(ROOT))
        if where == CLIENT_FACTORY:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else \
                called.id if isinstance(called, ast.Name) else None
            if name in KAFKA_CLIENTS:
                yield f"{where}:{node.lineno}: {name}(...)"


def test_every_kafka_client_comes_from_the_factory() -> None:
    """A client built around shared/kafka_client.py would connect without the deployment's
    security (SASL, TLS): against a secured broker it fails, or worse, works on a dev one."""
    found = sorted(_kafka_clients_built_elsewhere())
    assert not found, ("Kafka clients built outside shared/kafka_client.py (use "
                       "kafka_client.producer/consumer/admin/broker):\n" + "\n".join(found))
