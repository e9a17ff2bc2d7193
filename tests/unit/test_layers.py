"""The house's rooms keep their order: no module imports a room above its own, and no import cycle.

Walks every import statement (module level and inside functions) of every module under bot/,
handlers/ and storage/, so the rule holds for the modules that come next without anyone
remembering to list them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "storage")

# Rooms from the top down. A module may import its own room and any room with a higher number;
# rooms sharing a number are peers (libraries may use one another, as long as no cycle forms).
RANKS: dict[str, int] = {
    "bot": 0,  # the package itself and ``python -m bot``: the entry point
    "bot.cli": 0,
    "bot.server": 2,
    "bot.workflows": 3,
    "handlers": 4,
    "bot.platforms": 5,
    "bot.draw": 5,
    "bot.registry": 5,
    "bot.forms": 5,
    "bot.base": 6,
    "storage": 7,
    "templates": 8,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    found = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    found["templates"] = ROOT / "templates" / "__init__.py"
    return found


MODULES = all_modules()


def room_of(module: str) -> str:
    """The longest room name that is the module or a package above it."""
    best = ""
    for room in RANKS:
        if (module == room or module.startswith(room + ".")) and len(room) > len(best):
            best = room
    assert best, f"{module} lives in no room: add it to RANKS"
    return best


def resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """(suiji module imported, line) for every import in the module, wherever it stands."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, node)
            # ``from bot.server import dispatch`` imports the module bot.server.dispatch.
            targets = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]  # ``import bot.x.y`` names a module inside
            if target:
                yield target, node.lineno


EDGES = {m: sorted(set(imports_of(m))) for m in MODULES}


def test_the_walk_sees_the_rooms() -> None:
    # Guards the walk itself: were it blind, the rules below would pass vacuously.
    targets = {t for edges in EDGES.values() for t, _ in edges}
    assert {"bot.server.dispatch", "bot.workflows.step", "storage.models", "bot.base.texts"} <= (
        targets
    )
    # an import inside a function counts as much as one at the top
    assert "bot.platforms.dingtalk_stream" in {t for t, _ in EDGES["bot.server.app"]}
    assert room_of("bot.server.outbox") == "bot.server"
    assert room_of("bot") == "bot"


def test_bot_has_at_most_ten_entries_at_its_top() -> None:
    entries = [p for p in (ROOT / "bot").iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 10, sorted(p.name for p in entries)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_room_above_its_own(module: str) -> None:
    here = room_of(module)
    upward = [
        f"{MODULES[module].relative_to(ROOT)}:{line} imports {target} ({room_of(target)})"
        for target, line in EDGES[module]
        if RANKS[room_of(target)] < RANKS[here]
    ]
    assert not upward, f"{here} may not import upward:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    done: set[str] = set()
    on_path: list[str] = []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in on_path:
            cycle = [*on_path[on_path.index(module) :], module]
            pytest.fail("import cycle: " + " → ".join(cycle))
        on_path.append(module)
        for target, _ in EDGES[module]:
            # A package's __init__ importing its own modules is not a cycle through them.
            if target != module:
                visit(target)
        on_path.pop()
        done.add(module)

    for module in sorted(MODULES):
        visit(module)
