#!/usr/bin/env python
"""Mutation testing with mutmut, of two targets:

- ``core`` (the default): the calculation core ``therapy/``, configured in pyproject.toml's
  [tool.mutmut]: its mutants against tests/test_therapy_*.py, without Django.
- ``services``: the services that decide safety (the titration and discontinuation checks,
  LRA-5's proposals), configured in pyproject.toml's [tool.pumpcare.mutation-services]: the
  named functions' mutants against the Django test modules that exercise them. mutmut runs
  from var/mutation-services/ (links to the project, and a pyproject.toml whose [tool.mutmut]
  is that table); the database is SQLite, migrated once into a file that each mutant's test
  session copies (tests/conftest.py), so no mutant pays the migrations.

    scripts/mutation.py full [--target T]    every mutant; writes the target's section of
                                             docs/mutation.md (make mutation, make mutation-services)
    scripts/mutation.py report [--target T]  rewrites that section from the target's mutants/ as
                                             it is, e.g. after `mutmut run NAME...` re-checked survivors
    scripts/mutation.py sample [--target T] [--size N] [--seed S]
                                             a seeded sample (CI, .ci/run); fails when a sampled
                                             mutant survives that is not a listed equivalent

A surviving mutant is a change to the clinical mathematics that no test notices. Each one
is either killed by a new test or listed in scripts/mutation-equivalents.txt, one line per
equivalent mutant: the function, the original line, the mutated line and why no input can
tell them apart. Lines are matched by text, not by mutmut's numbering, so the list survives
edits elsewhere in the function.

mutmut keeps its work in mutants/ (var/mutation-services/mutants/ for the services; both
ignored by git); each run starts from a fresh copy.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "scripts" / "mutation-equivalents.txt"
REPORT = ROOT / "docs" / "mutation.md"
MUTMUT = Path(sys.executable).with_name("mutmut")
# mutmut's verdicts that count as "a test noticed": a failing test, or a test that ran far
# longer than the clean run (an endless loop) and was stopped.
NOTICED = {"killed", "timeout"}
# The services' section of docs/mutation.md starts here; the core's is everything before.
SERVICES_HEADING = "# Mutation testing of the services that decide safety"


@dataclass(frozen=True)
class Target:
    name: str
    root: Path  # where mutmut runs: its configuration and mutants/ are there
    what: str  # as the report and the sample's summary name it
    functions: tuple[str, ...] = ()  # module.function patterns whose mutants are run; () for all
    env: dict = field(default_factory=dict)

    def in_scope(self, function: str) -> bool:
        return not self.functions or any(fnmatch.fnmatch(function, p) for p in self.functions)

    def patterns(self) -> list[str]:
        """mutmut's names of the mutants in scope ([] for all): module.x_function__mutmut_*."""
        names = []
        for pattern in self.functions:
            module, _, function = pattern.rpartition(".")
            names.append(f"{module}.*" if function == "*" else f"{module}.x_{function}__mutmut_*")
        return names


def _project() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as config:
        return tomllib.load(config)


def target(name: str) -> Target:
    if name == "core":
        return Target("core", ROOT, "therapy/")
    services = _project()["tool"]["pumpcare"]["mutation-services"]
    work = ROOT / "var" / "mutation-services"
    database = work / "test-db.sqlite3"
    return Target(
        "services",
        work,
        "the services that decide safety",
        tuple(services["functions"]),
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "PUMPCARE_MUTATION_TEST_DB": str(database),
            "DJANGO_SETTINGS_MODULE": "pumpcare.test_settings",
            # each forked test session has its own cache and broker, none shared through Redis
            "REDIS_URL": "",
            "CACHE_URL": "",
        },
    )


@dataclass(frozen=True)
class Mutant:
    name: str  # mutmut's, e.g. therapy.projection.x_period_at__mutmut_3
    status: str
    removed: tuple[str, ...]  # the original lines the mutant changes, stripped
    added: tuple[str, ...]  # what it puts in their place

    @property
    def function(self) -> str:
        module, _, mangled = self.name.rpartition(".")
        function = re.sub(r"__mutmut_\d+$", "", mangled).removeprefix("x_")
        return f"{module}.{function}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.function, " / ".join(self.removed), " / ".join(self.added))


def load_equivalents() -> dict[tuple[str, str, str], str]:
    """function <TAB> original line <TAB> mutated line <TAB> reason, '#' starts a comment."""
    equivalents = {}
    for number, line in enumerate(EQUIVALENTS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4 or not parts[3].strip():
            raise SystemExit(f"{EQUIVALENTS.name}:{number}: expected 4 tab-separated fields with a reason")
        equivalents[tuple(p.strip() for p in parts[:3])] = parts[3].strip()
    return equivalents


def mutmut(target: Target, *names: str, jobs: int) -> int:
    """One mutmut run (all mutants when no names); its progress goes to the log, not here."""
    log = target.root / "mutants" / "run.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        return subprocess.run(  # noqa: S603 - our own fixed command line
            [str(MUTMUT), "run", "--max-children", str(jobs), *names],
            cwd=target.root,
            # derandomized hypothesis (tests/conftest.py)
            env={**os.environ, "PUMPCARE_MUTATION_TESTING": "1", **target.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode


def read_mutants(target: Target, *, diffs: bool = True) -> list[Mutant]:
    """Every mutant in scope mutmut generated, with its verdict; with ``diffs``, the lines it
    changes for those a test did not notice (reading a diff parses the module, so only where
    needed)."""
    cwd = os.getcwd()
    os.chdir(target.root)  # mutmut reads its configuration and mutants/ from the current directory
    try:
        from mutmut.mutation.data import SourceFileMutationData
        from mutmut.mutation.diff_apply import get_diff_for_mutant
        from mutmut.stats import status_by_exit_code
        from mutmut.utils.file_utils import walk_mutatable_files

        found = []
        for path in walk_mutatable_files():
            data = SourceFileMutationData(path=path)
            data.load()
            for name, exit_code in data.exit_code_by_key.items():
                status = status_by_exit_code[exit_code]
                removed = added = ()
                if not target.in_scope(Mutant(name, status, (), ()).function):
                    continue
                if diffs and status not in NOTICED | {"not checked"}:
                    diff = get_diff_for_mutant(name, path=path).splitlines()
                    removed = tuple(
                        line[1:].strip() for line in diff if line[:1] == "-" and line[:3] != "---"
                    )
                    added = tuple(line[1:].strip() for line in diff if line[:1] == "+" and line[:3] != "+++")
                found.append(Mutant(name, status, removed, added))
        return found
    finally:
        os.chdir(cwd)


def fresh(target: Target) -> None:
    """Start from a fresh copy: for the core, with every tests/test_therapy_*.py module in the
    selection; for the services, a new working directory and a freshly migrated database."""
    if target.name == "core":
        selected = set(_project()["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])
        missing = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("tests/test_therapy_*.py"))
        missing = [p for p in missing if p not in selected]
        if missing:
            raise SystemExit(f"pyproject.toml [tool.mutmut] does not run {', '.join(missing)}: add it")
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        return
    project = _project()
    shutil.rmtree(target.root, ignore_errors=True)  # removes the links, never what they point to
    target.root.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in {"pyproject.toml", "var", "mutants", ".git", ".venv"}:
            (target.root / entry.name).symlink_to(entry)
    config = {
        "tool": {
            "pytest": {"ini_options": project["tool"]["pytest"]["ini_options"]},
            "mutmut": project["tool"]["pumpcare"]["mutation-services"]["mutmut"],
        }
    }
    (target.root / "pyproject.toml").write_text(_toml(config), encoding="utf-8")
    subprocess.run(  # noqa: S603 - our own fixed command line
        [sys.executable, "manage.py", "migrate", "--run-syncdb", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **target.env},
        check=True,
    )


def _toml(tables: dict, prefix: str = "") -> str:
    """The little TOML a generated pyproject.toml needs: tables of strings, numbers, booleans
    and lists of them (JSON writes those the way TOML reads them)."""
    lines, nested = [], []
    for key, value in tables.items():
        if isinstance(value, dict):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    text = (f"[{prefix}]\n" if prefix and lines else "") + "".join(f"{line}\n" for line in lines)
    for key, value in nested:
        text += ("\n" if text else "") + _toml(value, f"{prefix}.{key}" if prefix else key)
    return text


def full(target: Target, jobs: int) -> int:
    fresh(target)
    started = time.monotonic()
    mutmut(target, *target.patterns(), jobs=jobs)
    minutes = (time.monotonic() - started) / 60
    mutants = read_mutants(target)
    equivalents = load_equivalents()
    write_report(target, mutants, equivalents, minutes)
    survivors = [m for m in mutants if m.status not in NOTICED and m.key not in equivalents]
    print(f"{len(mutants)} mutants in {minutes:.0f} min; {len(survivors)} real survivors; see {REPORT}")
    return 0


def report(target: Target, note: str | None) -> int:
    mutants = read_mutants(target) if (target.root / "mutants").is_dir() else []
    if not mutants:
        print(
            f"no mutants of {target.what} to report on: run scripts/mutation.py full --target {target.name}"
        )
        return 1
    write_report(target, mutants, load_equivalents(), None, note)
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0


def pending_modules(target: Target) -> set[str]:
    """Modules of the core added since its last complete run whose surviving mutants are not
    yet killed or listed: the sample leaves them out (a complete run or ``mutmut run
    'module.*'`` triages them, and the module leaves the list)."""
    if target.name != "core":
        return set()
    return set(_project().get("tool", {}).get("pumpcare", {}).get("mutation-pending", {}).get("modules", []))


def sample(target: Target, size: int, seed: int, jobs: int) -> int:
    fresh(target)
    started = time.monotonic()
    # A filter that matches nothing: mutmut generates every mutant and measures which tests
    # reach which function, then stops; the names come from what it generated.
    mutmut(target, "no-mutant-has-this-name", jobs=jobs)
    generated = sorted(m.name for m in read_mutants(target, diffs=False))
    if not generated:
        print(f"mutation sample: mutmut generated no mutants (see {target.root / 'mutants' / 'run.log'})")
        return 1
    pending = pending_modules(target)
    names = [n for n in generated if n.rpartition(".")[0] not in pending]
    if pending:
        print(
            f"mutation sample: {len(generated) - len(names)} mutants of modules whose survivors are not "
            f"triaged yet left out ({', '.join(sorted(pending))}: pyproject.toml "
            "[tool.pumpcare.mutation-pending])"
        )
    chosen = sorted(random.Random(seed).sample(names, min(size, len(names))))
    mutmut(target, *chosen, jobs=jobs)
    equivalents = load_equivalents()
    by_name = {m.name: m for m in read_mutants(target)}
    picked = [by_name[n] for n in chosen]
    unchecked = [m for m in picked if m.status == "not checked"]
    survivors = [m for m in picked if m.status not in NOTICED | {"not checked"} and m.key not in equivalents]
    noticed = sum(m.status in NOTICED for m in picked)
    minutes = (time.monotonic() - started) / 60
    print(
        f"mutation sample (seed {seed}): {len(picked)} of {len(names)} mutants of {target.what}, "
        f"{noticed} killed, {len(picked) - noticed - len(survivors) - len(unchecked)} listed equivalents, "
        f"{len(survivors)} survivors, {minutes:.1f} min"
    )
    for m in unchecked + survivors:
        print(f"  {m.status}: {m.name}\n    - {' / '.join(m.removed)}\n    + {' / '.join(m.added)}")
    if unchecked:
        print(f"mutmut did not check every sampled mutant (see {target.root / 'mutants' / 'run.log'})")
    if survivors:
        print(
            "A change that no test notices: add a test that kills it, or list it "
            f"in {EQUIVALENTS.relative_to(ROOT)} with the reason no input can tell it apart. Reproduce: "
            f"scripts/mutation.py sample --target {target.name} --size {size} --seed {seed}"
        )
    return 1 if survivors or unchecked else 0


def write_report(
    target: Target, mutants: list[Mutant], equivalents: dict, minutes: float | None, note: str | None = None
) -> None:
    """Rewrites the target's section of docs/mutation.md and keeps the other's."""
    unchecked = [m for m in mutants if m.status == "not checked"]
    checked = [m for m in mutants if m.status != "not checked"]
    noticed = [m for m in checked if m.status in NOTICED]
    equivalent = [m for m in checked if m.status not in NOTICED and m.key in equivalents]
    survivors = [m for m in checked if m.status not in NOTICED and m.key not in equivalents]
    real = len(checked) - len(equivalent)
    score = 100 * len(noticed) / real if real else 100.0
    if target.name == "core":
        lines = [
            "# Mutation testing of the calculation core",
            "",
            "Written by `make mutation` (scripts/mutation.py full): every mutmut mutant of `therapy/`,",
            "run against tests/test_therapy_*.py. Do not edit by hand; regenerate.",
        ]
        thing = "the core"
    else:
        lines = [
            SERVICES_HEADING,
            "",
            "Written by `make mutation-services` (scripts/mutation.py full --target services): every",
            "mutmut mutant of the functions named in pyproject.toml [tool.pumpcare.mutation-services]",
            "(the titration and discontinuation checks of refills/services.py, refills/selectors.py",
            "and refills/replacement.py; LRA-5's proposals in scheduling/proposals.py), run against the",
            "test modules listed there, on SQLite. Do not edit by hand; regenerate.",
        ]
        thing = "these services"
    lines += [
        "",
        *([note, ""] if note else []),
        f"- mutants: {len(mutants)}"
        + ("" if minutes is None else f" (run time {minutes:.0f} min on this machine)")
        + (f", of which {len(unchecked)} not checked" if unchecked else ""),
        f"- killed (a test failed, or ran into the time limit): {len(noticed)}",
        f"- equivalent (listed in scripts/mutation-equivalents.txt): {len(equivalent)}",
        f"- surviving, not equivalent: {len(survivors)}",
        f"- **score: {len(noticed)} of the {real} non-equivalent mutants checked killed, "
        f"{math.floor(score * 100) / 100:.2f} %**"
        + (f" ({len(unchecked)} not checked)" if unchecked else ""),
        "",
        "## Survivors",
        "",
        f"Each is a change to {thing} that no test notices: kill it with a test, or list it as",
        "equivalent with the reason.",
        "",
    ]
    lines += [f"- `{m.name}`: `{' / '.join(m.removed)}` → `{' / '.join(m.added)}`" for m in survivors] or [
        "None."
    ]
    lines += ["", "## Equivalent mutants", ""]
    lines += [
        f"- `{m.name}`: `{' / '.join(m.removed)}` → `{' / '.join(m.added)}`: {equivalents[m.key]}"
        for m in equivalent
    ] or ["None."]
    section = "\n".join(lines) + "\n"
    old = REPORT.read_text(encoding="utf-8") if REPORT.exists() else ""
    core, _, services = old.partition(SERVICES_HEADING)
    services = SERVICES_HEADING + services if services else ""
    if target.name == "core":
        text = section + ("\n" + services if services else "")
    else:
        text = (core.rstrip("\n") + "\n\n" if core.strip() else "") + section
    REPORT.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["full", "report", "sample"])
    parser.add_argument("--target", choices=["core", "services"], default="core")
    parser.add_argument("--size", type=int, default=150, help="sampled mutants (sample mode)")
    parser.add_argument("--seed", type=int, help="default: derived from the current commit")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--note", help="a line on how this run was made (report mode)")
    args = parser.parse_args()
    chosen = target(args.target)
    if args.mode == "full":
        return full(chosen, args.jobs)
    if args.mode == "report":
        return report(chosen, args.note)
    seed = args.seed
    if seed is None:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, as everywhere in CI
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        seed = int(head[:8], 16) if head else 20
    return sample(chosen, args.size, seed, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
