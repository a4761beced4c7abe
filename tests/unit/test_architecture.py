"""The layering docs/architecture.md promises, checked on the source (so a shortcut fails review here):

- app.py only assembles: under 150 lines, no SQL, no business logic;
- SQL lives in repositories (and the outbox/inbox/idempotency stores, the db layer and migrations);
- services and repositories never import chalice or HTTP bodies (schemas): those stay at the edge;
- domain packages never import app.py; the platform never imports a domain;
- no import cycles between modules.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "chalicelib"
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I | re.S)
SQL_HOMES = ("repository.py", "_repository.py", "outbox.py", "inbox.py", "db.py", "paging.py", "migrations")
EDGE = ("routes.py", "schemas.py", "routing.py", "http.py", "openapi.py", "identity.py")
# A domain may split its edge: e.g. points/promotion_routes.py (a second Blueprint) and its bodies.
EDGE_SUFFIXES = ("_routes.py", "_schemas.py")


def modules() -> dict[str, Path]:
    found = {}
    for path in LIB.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute names of chalicelib modules (and chalice/app) this module imports, type-checking-only ones excluded."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            for alias in node.names:
                found.add(f"{module}.{alias.name}")

    Visitor().visit(tree)
    return found


def strings_of(path: Path) -> str:
    return " ".join(
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def test_app_py_only_assembles():
    source = (ROOT / "app.py").read_text()
    assert len(source.splitlines()) < 150
    assert not SQL.search(strings_of(ROOT / "app.py"))


def test_sql_lives_in_repositories():
    offenders = [
        str(path.relative_to(ROOT))
        for path in LIB.rglob("*.py")
        if not any(str(path).endswith(home) or home in path.parts for home in SQL_HOMES)
        and SQL.search(strings_of(path))
    ]
    assert offenders == []


def test_http_stays_at_the_edge():
    offenders = []
    for name, path in modules().items():
        if path.name in EDGE or path.name.endswith(EDGE_SUFFIXES) or path.name == "__init__.py":
            continue
        for imported in imports_of(name, path):
            if (
                imported == "chalice"
                or imported.startswith("chalice.")
                or imported.endswith((".schemas", "_schemas"))
                or ".schemas." in imported
                or "_schemas." in imported
            ):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_the_platform_knows_no_domain_and_nothing_imports_app():
    domains = {p.name for p in LIB.iterdir() if p.is_dir() and p.name not in ("platform", "__pycache__")}
    offenders = []
    for name, path in modules().items():
        for imported in imports_of(name, path):
            if imported == "app" or imported.startswith("app."):
                offenders.append(f"{name} imports app")
            if (
                name.startswith("chalicelib.platform")
                and imported.split(".")[1:2]
                and imported.startswith("chalicelib.")
                and imported.split(".")[1] in domains
            ):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_no_import_cycles():
    graph = {name: {i for i in imports_of(name, path) if i in modules()} for name, path in modules().items()}
    # Package __init__ files are empty here; a module importing `chalicelib.x` gets an edge to it only.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif not state.get(nxt):
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in graph:
        if not state.get(node):
            visit(node, [node])
    assert cycles == []
