"""Which AWS API calls can each deployed function make? Derived from the code, not written down.

Why: the deployed roles must allow exactly what the code calls. A list kept by hand drifts the day
someone adds a boto3 call; this reads the source instead:

1. every `aws.client("<service>", ...)` in chalicelib names a service a module talks to, and every
   method called in that module whose name is an operation of that service (botocore's model) is a
   call the code makes; `generate_db_auth_token` is RDS IAM authentication (`rds-db:connect`);
2. each Lambda handler in app.py reaches modules through its body (the API handler: app.py's module
   level, with every Blueprint it registers), the container's `services().<name>` properties it uses
   (and what those build) and imports, transitively: a handler may make the calls of every module
   it reaches.

The result over-approximates (a module reached is a module whose calls are allowed) and never
misses a call written with the client helper. devtools/package.py turns it into per-function IAM
policies; tests/deploy checks the packaged template against it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "chalicelib"
API_HANDLER = "app"  # Chalice's `app.app`: every route, middleware and authorizer

# Batch operations are authorised by their single-message action.
_ACTION_OF = {
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    # S3 authorises reading an object's head with GetObject and a multipart upload with PutObject.
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
}
_SIGNING_ONLY = {("rds", "generate_db_auth_token"): "rds-db:connect"}


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str  # the API operation (or the signing helper)
    action: str  # the IAM action that authorises it
    module: str


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@lru_cache(maxsize=1)
def _modules() -> dict[str, ast.Module]:
    found = {_module_name(p): ast.parse(p.read_text(), str(p)) for p in (ROOT / PACKAGE).rglob("*.py")}
    found["app"] = ast.parse((ROOT / "app.py").read_text(), "app.py")
    return found


def _is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def _resolve(current: str, node: ast.ImportFrom) -> list[str]:
    if node.level:
        base = current.split(".") if _is_package(current) else current.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        package = ".".join(base + ([node.module] if node.module else []))
    else:
        package = node.module or ""
    names = [f"{package}.{alias.name}" for alias in node.names]
    return [n for n in names if n in _modules()] or ([package] if package in _modules() else [])


def _imports(name: str, tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.update(_resolve(name, node))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in _modules())
    return found


@lru_cache(maxsize=None)
def _operations(service: str) -> dict[str, str]:
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def module_calls(name: str) -> set[ApiCall]:
    """The AWS calls written in one module."""
    tree = _modules()[name]
    services: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "aws"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            services.add(str(node.args[0].value))
    calls: set[ApiCall] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        for service in services:
            method = node.func.attr
            if (service, method) in _SIGNING_ONLY:
                calls.add(ApiCall(service, method, _SIGNING_ONLY[(service, method)], name))
            elif method in _operations(service):
                op = _operations(service)[method]
                calls.add(ApiCall(service, op, _ACTION_OF.get((service, op), f"{service}:{op}"), name))
    return calls


# -- what each handler reaches -----------------------------------------------------------------
CONTAINER = f"{PACKAGE}.container"
_HANDLER_DECORATORS = ("on_sqs_message", "schedule", "lambda_function", "on_s3_event", "on_sns_message")


def _decorator_names(fn: ast.FunctionDef) -> list[str]:
    names = []
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Attribute):
            names.append(target.attr)
        elif isinstance(target, ast.Name):
            names.append(target.id)
    return names


def _services_properties() -> dict[str, ast.FunctionDef]:
    """The container's lazily built services: `services().<name>` builds (and imports) only what it names."""
    for node in _modules()[CONTAINER].body:
        if isinstance(node, ast.ClassDef) and node.name == "Services":
            return {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    return {}


def _container_entry() -> list[ast.AST]:
    """What importing and calling the container runs: its module-level imports (not the TYPE_CHECKING
    block) and `services()`, which installs the relay after commit."""
    entry: list[ast.AST] = []
    for node in _modules()[CONTAINER].body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            entry.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name == "services":
            entry.append(node)
    return entry


def _reach(modules: list[str], nodes: list[ast.AST]) -> set[str]:
    """Modules reached: imports (transitively), and the container properties used by attribute name
    (`services().points`, `self.relay`), following only those properties rather than the whole container."""
    properties = _services_properties()
    seen_modules: set[str] = set()
    seen_properties: set[str] = set()
    todo_modules = list(modules)
    todo_nodes: list[tuple[ast.AST, str]] = [(node, "app") for node in nodes]
    while todo_modules or todo_nodes:
        if todo_nodes:
            node, owner = todo_nodes.pop()
            todo_modules.extend(_imports(owner, node))
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id == "services":
                    todo_modules.append(CONTAINER)  # calling services() builds the container (and its relay hook)
                if isinstance(sub, ast.Attribute) and sub.attr in properties and sub.attr not in seen_properties:
                    seen_properties.add(sub.attr)
                    todo_nodes.append((properties[sub.attr], CONTAINER))
            continue
        name = todo_modules.pop()
        if name in seen_modules or name not in _modules():
            continue
        seen_modules.add(name)
        # Importing a submodule runs its package's __init__ too.
        parts = name.split(".")
        todo_modules.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        if name == CONTAINER:
            todo_nodes.extend((node, CONTAINER) for node in _container_entry())
        else:
            todo_nodes.append((_modules()[name], name))
    return seen_modules


def handler_roots() -> dict[str, list[ast.AST]]:
    """Lambda handler name (as in the template's Handler `app.<name>`) -> the app.py code it runs.

    The API handler runs app.py's module level (the middleware, the authorizer, every Blueprint's
    routes it imports and registers); every other handler runs its own function.
    """
    roots: dict[str, list[ast.AST]] = {API_HANDLER: []}
    for node in _modules()["app"].body:
        if isinstance(node, ast.FunctionDef) and any(d in _HANDLER_DECORATORS for d in _decorator_names(node)):
            roots[node.name] = [node]
        else:
            roots[API_HANDLER].append(node)
    return roots


def calls_by_handler() -> dict[str, set[ApiCall]]:
    """Every AWS call each Lambda handler can make."""
    result: dict[str, set[ApiCall]] = {}
    for handler, roots in handler_roots().items():
        reached = _reach([], roots)
        result[handler] = {c for m in sorted(reached) for c in module_calls(m)}
    return result


def main() -> None:
    for handler, calls in sorted(calls_by_handler().items()):
        actions = sorted({c.action for c in calls})
        print(f"{handler}: {', '.join(actions) or '-'}")


if __name__ == "__main__":
    main()
