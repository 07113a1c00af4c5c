"""The shape of the code (docs/architecture.md): dependencies run one way, from the apps that
know more to those that know less, and no import hides inside a function to dodge a cycle.

Read from the source with ``ast``, so it holds for every module, imported by a test or not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "therapy",
    "pumpcare",
    "patients",
    "alerts",
    "medications",
    "refills",
    "cards",
    "devices",
    "scheduling",
    "web",
    "simulation",
)

# From the layer that knows least to the one that knows most. A module may import modules of
# its own app and of lower layers; two apps on one layer do not know each other.
LAYERS = (
    ("therapy",),  # the clinical mathematics: plain Python
    ("pumpcare.foundation",),  # settings, clock, inputs, text, cache, outage, …
    ("patients",),  # clinics, staff, patients, caregivers, pumps, catalogs
    # both know clinics, patients and pumps, nothing above; pumpcare's own tables (the data
    # version, the claims of periodic jobs) are this layer
    ("alerts", "pumpcare.data_version"),
    ("medications",),  # oral medications beside the pump, their weaning, the risk flags' words
    ("refills",),  # the therapy record
    ("cards", "devices"),  # emergency cards; interrogations, device alarms and MRIs
    ("scheduling",),  # appointments, proposals, replacement planning, worklist, calendar
    ("exchange",),  # records exchanged with other systems (FHIR)
    ("web",),  # the nurses' pages
    # urls, project-wide commands, server hooks, the clinic simulation: they assemble the rest
    ("pumpcare.project", "simulation"),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}

PROJECT = ("pumpcare.urls", "pumpcare.management", "pumpcare.gunicorn_conf", "pumpcare.wsgi")
DATA_VERSION = (
    "pumpcare.data_version",
    "pumpcare.jobs",
    "pumpcare.models",
    "pumpcare.apps",
    "pumpcare.migrations",
)

# Imports inside a function that are not there to dodge a cycle, each with its reason.
# (An AppConfig's ``ready`` is where Django wants signal receivers connected: allowed.)
DEFERRED = {
    ("pumpcare/celery.py", "pumpcare.outage"): "the outage filter needs the settings loaded",
    ("pumpcare/gunicorn_conf.py", "cards.render"): "gunicorn reads its config before Django is set up",
}


# The clinic simulation's command is its thin entry point: it belongs to the simulation,
# which sits beside the project on the top layer (neither imports the other).
SIMULATION = ("simulation", "pumpcare.management.commands.simulate_clinic")


def unit_of(module: str) -> str:
    if module.startswith(SIMULATION):
        return "simulation"
    if module.startswith("pumpcare"):
        if module.startswith(PROJECT):
            return "pumpcare.project"
        if module.startswith(DATA_VERSION):
            return "pumpcare.data_version"
        return "pumpcare.foundation"
    return module.split(".")[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            yield path, module_name(path), ast.parse(path.read_text(), filename=str(path))


def imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The project modules an import statement names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base[: len(base) - node.level + (1 if is_package else 0)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        # ``from pumpcare import data_version`` names the module pumpcare.data_version
        names = [f"{prefix}.{alias.name}" for alias in node.names]
    else:
        return []
    return [name for name in names if name.split(".")[0] in APPS]


def all_imports():
    for path, module, tree in sources():
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            for target in imported(node, module, is_package):
                yield path, module, node, target


def test_dependencies_run_one_way():
    wrong = []
    for path, module, node, target in all_imports():
        mine, theirs = unit_of(module), unit_of(target)
        if mine == theirs:
            continue
        if RANK[theirs] >= RANK[mine]:
            wrong.append(
                f"{path.relative_to(ROOT)}:{node.lineno} {module} ({mine}) imports {target} ({theirs})"
            )
    assert not wrong, "imports against the dependency direction:\n" + "\n".join(wrong)


def _functions_with_imports(tree: ast.Module):
    """(function, import node) for every import inside a function body."""
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield function, node


def test_no_import_hides_inside_a_function():
    hidden = []
    for path, module, tree in sources():
        relative = str(path.relative_to(ROOT))
        if "/migrations/" in relative:
            continue
        for function, node in _functions_with_imports(tree):
            if function.name == "ready" and relative.endswith("apps.py"):
                continue
            for target in imported(node, module, path.name == "__init__.py"):
                if not any(relative == file and target.startswith(prefix) for file, prefix in DEFERRED):
                    hidden.append(f"{relative}:{node.lineno} imports {target} inside {function.name}()")
    assert not hidden, "imports inside functions (move the code instead):\n" + "\n".join(hidden)


def test_the_calculation_core_imports_no_framework():
    frameworks = ("django", "rest_framework", "celery", "simple_history")
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, module, tree in sources()
        if module.startswith("therapy")
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0] in frameworks
            for alias in node.names
        )
    ]
    assert not found, f"therapy/ imports a framework: {found}"


@pytest.mark.parametrize(
    ("module", "target", "unit"),
    [
        ("alerts.delivery", "scheduling.models", "scheduling"),
        ("refills.services", "scheduling.appointments", "scheduling"),
        ("patients.services", "refills.projections", "refills"),
        ("cards.selectors", "scheduling.worklist", "scheduling"),
        ("scheduling.api", "web.views", "web"),
        ("pumpcare.inputs", "patients.models", "patients"),
        ("alerts.outbox", "pumpcare.data_version", "pumpcare.data_version"),
    ],
)
def test_the_rule_refuses_an_import_against_the_direction(module, target, unit):
    """The check itself: each of these imports would be reported."""
    assert unit_of(target) == unit
    mine = unit_of(module)
    assert mine != unit and RANK[unit] >= RANK[mine]


def test_the_rule_sees_relative_and_nested_imports():
    tree = ast.parse("def f():\n    from ..refills import models\n")
    (function, node), *_ = _functions_with_imports(tree)
    assert function.name == "f"
    assert imported(node, "scheduling.worklist", False) == ["refills.models"]
    assert imported(ast.parse("from . import models").body[0], "alerts", True) == ["alerts.models"]
