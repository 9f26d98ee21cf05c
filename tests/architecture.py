"""Reads a source tree's imports (``ast``, nothing else) and reports where the layers do not hold.

The layers, lowest first: ``models`` < ``integrations`` < ``services`` < ``handlers`` / ``jobs``, with the
application glue (``application``, ``cli``, ``wsgi``, ``extensions``) on top and the infrastructure
(``config``, ``database``) beneath everything that needs it:

* ``models`` import nothing from integrations, services, handlers, jobs or the glue;
* ``integrations`` are pure platform adapters: nothing from services, handlers, jobs or the glue
  (what they need — a token store, a callback — is handed to them);
* ``services`` import no handlers, jobs, glue, and no Flask;
* no import cycle between modules. Imports under ``if TYPE_CHECKING:`` do not count, nor does a
  package's ``__init__`` importing its own submodules (a blueprint package registering its views).

Every import counts wherever it stands, a function-level one included: it is a dependency all the same.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("models", "integrations", "services", "handlers", "jobs")
GLUE = ("application", "cli", "wsgi", "extensions")
INFRASTRUCTURE = ("config", "database")

# layer → the top-level names it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "models": ("integrations", "services", "handlers", "jobs", *GLUE),
    "integrations": ("services", "handlers", "jobs", *GLUE),
    "services": ("handlers", "jobs", *GLUE, "flask", "flask_wtf"),
    "config": ("models", "integrations", "services", "handlers", "jobs", *GLUE),
    "database": ("integrations", "services", "handlers", "jobs", *GLUE),
}


@dataclass(frozen=True)
class Violation:
    module: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module} → {self.imported}: {self.rule}"


def discover(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for the project's own modules under ``root``."""
    modules: dict[str, Path] = {}
    for name in (*GLUE, *INFRASTRUCTURE):
        path = root / f"{name}.py"
        if path.is_file():
            modules[name] = path
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")) if (root / package).is_dir() else ():
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:`` (their ``else`` counts)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        children = node.orelse if _type_checking_block(node) else list(ast.iter_child_nodes(node))
        stack.extend(children)


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The names a module imports: project modules resolved as far as they exist, others by their
    top-level name (``flask``)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_resolve(alias.name, known))
            continue
        if node.level:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        for alias in node.names:
            candidate = f"{target}.{alias.name}" if target else alias.name
            found.add(candidate if candidate in known else _resolve(target, known))
    return {name for name in found if name}


def _resolve(name: str, known: set[str]) -> str:
    """The longest known project module that ``name`` starts with, else its top-level name."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return parts[0]


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = discover(root)
    known = set(modules)
    return {module: imports_of(module, path, known) for module, path in modules.items()}


def layer_of(module: str) -> str:
    return module.split(".")[0]


def layer_violations(graph: dict[str, set[str]]) -> list[Violation]:
    violations = []
    for module, imported in sorted(graph.items()):
        forbidden = FORBIDDEN.get(layer_of(module), ())
        for name in sorted(imported):
            if layer_of(name) in forbidden:
                violations.append(Violation(module, name, f"{layer_of(module)} 不得依赖 {layer_of(name)}"))
    return violations


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted; a package's
    ``__init__`` importing its own submodules is left out."""
    edges = {
        module: {name for name in imported if name in graph and name != module
                 and not name.startswith(module + ".")}
        for module, imported in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(found)
