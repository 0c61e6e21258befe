"""The library's shape (issue #14): no import circle inside `fer_audit`, and no
Streamlit in the library (the dashboard's helpers live beside its pages)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

LIBRARY = Path(__file__).resolve().parent.parent / "fer_audit"


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, modules: set[str] = frozenset()) -> set[str]:
    """Every module an import statement of `source` loads, at the top or inside a
    function: `from a.b import c` loads `a.b.c` when that is one of `modules`, else
    `a.b` (the package itself, as its `__init__` has to run for c)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found


def library_imports() -> dict[str, set[str]]:
    """Each module of `fer_audit` -> the other modules of `fer_audit` it imports."""
    sources = {module_name(path): path.read_text() for path in LIBRARY.rglob("*.py")}
    graph = {}
    for name, source in sources.items():
        graph[name] = {other for other in imported_names(source, set(sources)) if other in sources}
        graph[name].discard(name)
    return graph


def import_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports in `graph` (module -> modules it imports), or None."""
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        return exc.args[1]
    return None


def test_the_circle_finder_finds_a_circle():
    assert import_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    circle = import_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    assert circle is not None and set(circle) == {"a", "b", "c"}
    inside_a_function = "def f():\n    from x.y import z, w\n"
    assert imported_names(inside_a_function, {"x.y.z"}) == {"x.y.z", "x.y"}
    assert imported_names(inside_a_function, {"x.y.z", "x.y.w"}) == {"x.y.z", "x.y.w"}


def test_no_module_of_the_library_imports_itself_in_a_circle():
    graph = library_imports()
    assert len(graph) > 50 and {"fer_audit.cli", "fer_audit.worker"} <= graph.keys()
    assert import_circle(graph) is None, " -> ".join(import_circle(graph))


def test_the_library_never_imports_streamlit():
    users = sorted(
        module_name(path)
        for path in LIBRARY.rglob("*.py")
        if any(name.split(".")[0] == "streamlit" for name in imported_names(path.read_text()))
    )
    assert users == []


#: the longest a module of the library may be: one job per module
MAX_LINES = 400


def test_no_module_of_the_library_is_over_the_bar():
    lengths = {module_name(p): len(p.read_text().splitlines()) for p in LIBRARY.rglob("*.py")}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
