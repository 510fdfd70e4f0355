"""The apps' modules import each other without a circle, and no floor imports a higher one.

Every import counts, including those inside functions: an import hidden in a function is still
a dependency, only a later one."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("clinic", "patients", "treatments")
# The floors, bottom up (docs/architecture.md): nothing on a lower floor imports a higher one.
# Views, urls and the demo are the top floor, above every app.
TOP_FLOOR = (
    "views",
    "urls",
    "urls_links",
    "urls_portal",
    "urls_webhooks",
    "urls_export",
    "demo",
    "admin",
    "management",
    "tasks",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    }


def imported(name: str, path: Path, modules: set[str]) -> set[str]:
    """The app modules `name` imports anywhere in its body. `from x import y` is an import of
    `x.y` when that is a module, else of `x`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            # `from x import y`: the submodule if there is one, else the package itself.
            submodules = [t for t in targets[:-1] if t in modules]
            targets = submodules if len(submodules) == len(node.names) else [*submodules, base]
        else:
            continue
        for target in targets:
            # `import a.b.c` depends on the deepest app module it names.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    return {name: imported(name, path, set(modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as [a, b, ..., a], or [] when there is none."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def floor(module: str) -> int:
    app, *rest = module.split(".")
    if rest and rest[0] in TOP_FLOOR:
        return len(APPS)
    return APPS.index(app)


def test_the_cycle_finder_finds_a_circle_and_says_where():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_an_import_inside_a_function_and_from_a_package_are_counted(tmp_path):
    path = tmp_path / "outcomes.py"
    path.write_text(
        "def due():\n    from treatments.models import Appointment\n"
        "from treatments import services\n"
    )
    modules = {"treatments.models", "treatments.services", "treatments", "patients.outcomes"}
    assert imported("patients.outcomes", path, modules) == {
        "treatments.models",
        "treatments.services",
    }


def test_the_apps_modules_import_each_other_without_a_circle():
    graph = import_graph()
    assert "patients.models" in graph  # the walk found the apps
    cycle = find_cycle(graph)
    assert cycle == [], "Import circle: " + " -> ".join(cycle)


def test_no_module_imports_one_on_a_higher_floor():
    upward = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if floor(target) > floor(module)
    ]
    assert upward == []
