"""The package's modules import one way: no two import each other, not even for type hints,
and no longer loop either; the loop's shared types sit below the loop, the callbacks and the
optimizers."""

from __future__ import annotations

import ast
from pathlib import Path

import mnistnp

ROOT = Path(mnistnp.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of mnistnp and the mnistnp modules it imports, anywhere in it (in a
    function, or under TYPE_CHECKING, too). ``from . import x`` counts as importing x."""
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = (f"{base}.{node.module}" if node.module else base) if node.level \
                    else node.module or ""
                for alias in node.names:
                    deps.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in files
                             else target)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import loop, as the path that closes it (depth-first search)."""
    found, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state[dep] == 1:
                found.append([*path[path.index(dep):], dep])
            elif state[dep] == 0:
                visit(dep)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    return found


def test_the_graph_sees_imports_of_every_kind() -> None:
    graph = import_graph()
    assert "mnistnp.loop_state" in graph["mnistnp.training"]  # from .loop_state import
    assert "mnistnp.nn" in graph["mnistnp.loop_state"]  # under TYPE_CHECKING
    assert "mnistnp.cli.train" in graph["mnistnp.cli"]  # from . import train


def test_a_loop_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_no_module_imports_one_that_imports_it() -> None:
    graph = import_graph()
    # The package itself re-exports everything; only its own import of a module counts.
    inner = {name: deps - {"mnistnp"} for name, deps in graph.items()}
    assert cycles(inner) == []


def test_the_loops_shared_types_import_none_of_its_users() -> None:
    users = {"mnistnp.training", "mnistnp.step", "mnistnp.callbacks", "mnistnp.optim",
             "mnistnp.optim.base", "mnistnp.optim.schedules", "mnistnp.pipeline"}
    assert not import_graph()["mnistnp.loop_state"] & users


def test_no_module_is_named_after_a_standard_library_one() -> None:
    # A module named ``io`` or ``types`` reads, in the package, as if it were the standard one.
    import sys

    taken = sorted(p.stem for p in ROOT.rglob("*.py")
                   if p.stem in sys.stdlib_module_names and p.stem != "__init__")
    assert taken == []


def test_the_server_sits_above_the_library_and_below_the_command() -> None:
    # mnistnp.serve uses the library as any program would; only `mnistnp serve` imports it.
    graph = import_graph()
    serve = {name for name in graph if name.startswith("mnistnp.serve")}
    assert {"mnistnp.serve.app", "mnistnp.serve.served", "mnistnp.serve.payload"} <= serve
    for name in serve:
        assert not {dep for dep in graph[name] if dep.startswith("mnistnp.cli")}, name
    assert {name for name, deps in graph.items() if deps & serve} - serve == {"mnistnp.cli.serve"}


def external_imports(name: str) -> dict[str, set[str]]:
    """The modules of mnistnp that import the outside package ``name`` (or its modules)."""
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom)
                       and node.level == 0 else [])
            if any(m == name or m.startswith(name + ".") for m in modules):
                found.setdefault(module_name(path), set()).add(name)
    return found


# Who may import the MPI room, and who the room's own engine: the command line hands a
# process started by mpiexec to mnistnp.mpi; nothing else reaches it, and only it reaches
# mpi4py (lazily, when an MPIWorld is made).
MAY_IMPORT = {"mnistnp.mpi": {"mnistnp.cli", "mnistnp.cli.train", "mnistnp.cli.sweep"}}


def test_only_the_mpi_room_imports_mpi4py() -> None:
    assert "mnistnp.mpi.world" in external_imports("mpi4py")  # the scan sees it
    assert all(name.startswith("mnistnp.mpi") for name in external_imports("mpi4py"))


def test_only_the_command_line_reaches_the_mpi_room() -> None:
    graph = import_graph()
    for room, allowed in MAY_IMPORT.items():
        users = {name for name, deps in graph.items()
                 if any(d == room or d.startswith(room + ".") for d in deps)
                 and not (name == room or name.startswith(room + "."))}
        assert users <= allowed, sorted(users - allowed)
