"""The package layout, checked from the import graph: every .py file is parsed with ast (nothing is imported).

- No import circles between the project's modules.
- Only the edge (bot/edge/) and the composition root (bot/app.py, bot/__main__.py) import botbuilder's HTTP and
  connector layers: botbuilder.integration, botframework.connector and aiohttp.web.
- Nothing below bot/ (storage/, content/, cards/, dialogs/, understanding/) imports from bot/.
- Each room of bot/ imports from bot/ only what its __init__ says it may. The edge imports no feature room: features
  register with the edge (the card-action router), never the reverse.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What pyproject.toml installs: the rules about layers and SDK pieces are about the shipped code. tests/,
# benchmarks/ and scripts/ are still parsed for circles, but they may run aiohttp servers (the fake Bot Connector)
# and build botbuilder's stock adapter to compare against ours.
PACKAGES = ("bot", "dialogs", "cards", "storage", "content", "understanding")
SKIPPED_DIRS = frozenset({".venv", ".git", "node_modules", "build", "__pycache__", ".mypy_cache", ".ruff_cache"})

EDGE_ONLY = ("botbuilder.integration", "botframework.connector", "aiohttp.web")
EDGE = "bot.edge"
COMPOSITION_ROOT = frozenset({"bot.app", "bot.__main__"})
BELOW_BOT = ("storage", "content", "cards", "dialogs", "understanding")
# What each room may import from bot/ besides itself, as its __init__ says. Every room may import the configuration
# and the package's own __init__ (the version); the top (app, __main__, teams_bot, answers) may import anything.
ROOM_MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "bot.edge": (),
    "bot.safeguarding": ("bot.edge",),
    "bot.learning": ("bot.edge", "bot.safeguarding.delivery"),
    "bot.graph": ("bot.edge", "bot.safeguarding.notifier"),
    "bot.commands": (),
    "bot.training": ("bot.edge", "bot.safeguarding.delivery"),
    "bot.voice": ("bot.edge", "bot.safeguarding.delivery"),
}
ANY_ROOM_MAY_IMPORT = ("bot.config",)


@dataclass(frozen=True, slots=True)
class Import:
    names: tuple[str, ...]  # the module imported, then for `from m import x` also "m.x" (x may be a module)
    line: int
    at_import_time: bool  # at module level (not in a function, not under `if TYPE_CHECKING:`)


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: str
    is_package: bool
    imports: tuple[Import, ...]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, name: str, is_package: bool) -> Iterator[Import]:
    package = name if is_package else name.rpartition(".")[0]

    def walk(node: ast.AST, at_import_time: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import((alias.name,), node.lineno, at_import_time)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                base_parts = base_parts[: len(base_parts) - (node.level - 1)] if node.level > 1 else base_parts
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            yield Import((base, *(f"{base}.{alias.name}" for alias in node.names)), node.lineno, at_import_time)
        # Imports inside a function (or lambda) run when it is called, after every module has finished loading, so
        # they cannot make an import-time circle; those under `if TYPE_CHECKING:` never run. Both still count for
        # the layering rules below, which are about what a module depends on, not about load order.
        in_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for field, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            type_checking = isinstance(node, ast.If) and field == "body" and _is_type_checking(node.test)
            for child in children:
                if isinstance(child, ast.AST):
                    yield from walk(child, at_import_time and not in_function and not type_checking)

    yield from walk(tree, True)


def parse_modules(root: Path = ROOT) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    paths = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRS]
        paths.extend(Path(directory) / file for file in files if file.endswith(".py"))
    for path in sorted(paths):
        name, is_package = _module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules[name] = Module(name, str(path.relative_to(root)), is_package, tuple(_imports(tree, name, is_package)))
    return modules


def _targets(imported: Import, importer: str, modules: Mapping[str, Module]) -> set[str]:
    """The project modules an import loads: the module itself and any parent package not already loaded."""
    found: set[str] = set()
    for dotted in imported.names:
        parts = dotted.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            if candidate in modules and candidate != importer and not importer.startswith(candidate + "."):
                found.add(candidate)
    return found


def import_graph(modules: Mapping[str, Module], *, at_import_time_only: bool) -> dict[str, set[str]]:
    return {
        name: {
            target
            for imported in module.imports
            if imported.at_import_time or not at_import_time_only
            for target in _targets(imported, name, modules)
        }
        for name, module in modules.items()
    }


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return sorted(found)


def _under(name: str, prefixes: tuple[str, ...] | frozenset[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def edge_only_imports(modules: Mapping[str, Module]) -> list[str]:
    """Shipped modules outside the edge and the composition root that import an edge-only SDK piece."""
    found = []
    for name, module in modules.items():
        if not _under(name, PACKAGES) or _under(name, (EDGE,)) or name in COMPOSITION_ROOT:
            continue
        for imported in module.imports:
            bad = [dotted for dotted in imported.names if _under(dotted, EDGE_ONLY)]
            if bad:
                found.append(f"{module.path}:{imported.line} imports {bad[0]}")
    return found


def upward_imports(modules: Mapping[str, Module]) -> list[str]:
    """Modules below bot/ that import from bot/."""
    found = []
    for name, module in modules.items():
        if not _under(name, BELOW_BOT):
            continue
        for imported in module.imports:
            if any(_under(dotted, ("bot",)) for dotted in imported.names):
                found.append(f"{module.path}:{imported.line} imports {imported.names[0]}")
    return found


def imports_across_rooms(modules: Mapping[str, Module]) -> list[str]:
    """Modules in a room of bot/ that import from bot/ what their room may not (see ROOM_MAY_IMPORT)."""
    found = []
    for name, module in modules.items():
        room = next((room for room in ROOM_MAY_IMPORT if _under(name, (room,))), None)
        if room is None:
            continue
        allowed = (room, *ROOM_MAY_IMPORT[room], *ANY_ROOM_MAY_IMPORT)
        for imported in module.imports:
            loaded = _targets(imported, name, modules)
            # The module named, not the parent packages loaded on the way (bot.safeguarding for .notifier).
            named = {target for target in loaded if not any(other.startswith(target + ".") for other in loaded)}
            for target in sorted(named):
                if _under(target, ("bot",)) and target != "bot" and not _under(target, allowed):
                    found.append(f"{module.path}:{imported.line} imports {target}")
    return found


# The tree as it is ---------------------------------------------------------------------------------------------

MODULES = parse_modules()


def test_the_tree_is_read() -> None:
    assert {"bot.app", "bot.edge.http", "dialogs.roles", "dialogs.flow", "storage.models"} <= MODULES.keys()


def test_no_import_circles() -> None:
    assert circles(import_graph(MODULES, at_import_time_only=True)) == []


def test_only_the_edge_and_the_composition_root_import_botbuilders_http_and_connector_layers() -> None:
    assert edge_only_imports(MODULES) == []


def test_nothing_below_bot_imports_from_bot() -> None:
    assert upward_imports(MODULES) == []


def test_each_room_imports_only_what_it_may_and_the_edge_no_feature_room() -> None:
    assert imports_across_rooms(MODULES) == []


# The checks themselves: each finds what it is for ------------------------------------------------------------


def _tree(tmp_path: Path, files: Mapping[str, str]) -> dict[str, Module]:
    for relative, source in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return parse_modules(tmp_path)


def test_the_checks_find_what_they_are_for(tmp_path: Path) -> None:
    modules = _tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/edge/__init__.py": "",
            "bot/edge/http.py": "from aiohttp import web\nfrom bot.safeguarding import cases\n",
            "bot/safeguarding/__init__.py": "",
            "bot/safeguarding/cases.py": "from . import channel\nimport botframework.connector.auth\n",
            "bot/safeguarding/channel.py": "from .cases import x\n",
            "bot/learning/__init__.py": "",
            "bot/learning/quiz.py": "import aiohttp\n\ndef later():\n    from bot.learning import quiz_round\n",
            "bot/learning/quiz_round.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bot.learning.quiz\n"
            ),
            "dialogs/__init__.py": "",
            "dialogs/flow.py": "def f():\n    from bot.roles import Role\n",
        },
    )
    assert circles(import_graph(modules, at_import_time_only=True)) == [
        ["bot.safeguarding.cases", "bot.safeguarding.channel"]
    ]
    assert circles(import_graph(modules, at_import_time_only=False)) == [
        ["bot.learning.quiz", "bot.learning.quiz_round"],
        ["bot.safeguarding.cases", "bot.safeguarding.channel"],
    ]
    assert edge_only_imports(modules) == ["bot/safeguarding/cases.py:2 imports botframework.connector.auth"]
    assert upward_imports(modules) == ["dialogs/flow.py:2 imports bot.roles"]
    assert imports_across_rooms(modules) == ["bot/edge/http.py:2 imports bot.safeguarding.cases"]
