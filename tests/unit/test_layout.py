"""The layout shows the design: tiers that import downwards only, adapters the engine never
imports, and an installed name no other package can shadow."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "failover"
# The rooms of the engine, lowest first; the modules directly in failover/ are the shared
# vocabulary (errors, clock, events, capabilities, targets...) that every room uses.
TIERS = (
    "breaker",
    "health",
    "routing",
    "layers",
    "execution",
    "replication",
    "facades",
    "aio",
    "fleet",
    "controllers",
    "telemetry",
    "dashboard",
)
EDGE = ("config", "cli", "testing")  # files, flags and local servers; may load adapters by name


def python_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if ".local" not in path.parts and "providers" not in path.relative_to(root).parts[:1]:
                yield path


def runtime_imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(module imported, at module level?) for each import outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, id(node) in top_level
            for alias in node.names:
                yield f"{node.module}.{alias.name}", id(node) in top_level
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top_level


def room(module: str) -> str | None:
    """The subpackage of failover that ``module`` lives in (None for the shared modules)."""
    parts = module.split(".")
    if parts[0] != "failover" or len(parts) < 2:
        return None
    return parts[1] if (CORE / parts[1]).is_dir() else None


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_nothing_imports_the_bare_providers_name() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for path in [
            *python_files(REPO / "failover", REPO / "tests", REPO / "benchmarks", REPO / "examples"),
            *sorted((REPO / "providers").rglob("*.py")),
        ]
        for name, _ in runtime_imports(path)
        if name == "providers" or name.startswith("providers.")
    ]
    assert offenders == [], "import failover.providers, never the top-level name"


def test_rooms_import_downwards_only() -> None:
    upward = []
    for path in python_files(CORE):
        if module_name(path) in ("failover", "failover.__main__"):
            continue  # the front door re-exports the public names of every room
        here = room(module_name(path))
        for name, _ in runtime_imports(path):
            there = room(name)
            if there is None or there == here or there == "providers":
                continue
            if here is None:
                upward.append(f"{module_name(path)} (shared) imports {name}")
            elif here in TIERS and (there in EDGE or TIERS.index(there) > TIERS.index(here)):
                upward.append(f"{module_name(path)} imports {name}")
    assert upward == []


def test_the_engine_never_imports_an_adapter() -> None:
    found = [
        f"{module_name(path)} imports {name}"
        for path in python_files(CORE)
        for name, at_top in runtime_imports(path)
        if name.startswith("failover.providers")
        # config files and the CLI name providers; they load them through failover.registry
        and (room(module_name(path)) not in EDGE or at_top)
    ]
    assert found == []


def test_import_failover_loads_nothing_but_the_standard_library() -> None:
    # What the interpreter loaded before (site hooks of this machine) is not ours to judge.
    code = (
        "import sys; before = set(sys.modules); import failover; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    foreign = set(done.stdout.split()) - set(sys.stdlib_module_names) - {"failover"}
    assert foreign == set(), sorted(foreign)


def test_a_package_of_the_users_called_providers_does_not_shadow_the_adapters(tmp_path: Path) -> None:
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "__init__.py").write_text("raise ImportError('the user package was imported')\n")
    code = textwrap.dedent(
        """
        from failover import FailoverStorage, Target
        from failover.registry import Registry
        store = FailoverStorage([Target("memory:a", Registry().load("memory")())])
        store.put("k", b"v")
        print(store.get("k").decode())
        """
    )
    env_path = f"{tmp_path}:{REPO}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": env_path}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "v"


@pytest.mark.parametrize("package", [*TIERS, *EDGE])
def test_every_room_says_what_it_holds(package: str) -> None:
    init = CORE / package / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text()))
    assert doc and len(doc) > 60, f"failover/{package}/__init__.py needs a docstring saying what the room holds"
