#!/usr/bin/env python
"""Mutation testing of the calculation core ``therapy/`` with mutmut (configured in
pyproject.toml: the core's mutants against tests/test_therapy_*.py, without Django).

    scripts/mutation.py full                 every mutant; writes docs/mutation.md (make mutation)
    scripts/mutation.py report               rewrites docs/mutation.md from mutants/ as it is, e.g.
                                             after `mutmut run NAME...` re-checked survivors
    scripts/mutation.py sample [--size N] [--seed S]
                                             a seeded sample (CI, .ci/run); fails when a sampled
                                             mutant survives that is not a listed equivalent

A surviving mutant is a change to the clinical mathematics that no test notices. Each one
is either killed by a new test or listed in scripts/mutation-equivalents.txt, one line per
equivalent mutant: the function, the original line, the mutated line and why no input can
tell them apart. Lines are matched by text, not by mutmut's numbering, so the list survives
edits elsewhere in the function.

mutmut keeps its work in mutants/ (ignored by git); each run starts from a fresh copy.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "scripts" / "mutation-equivalents.txt"
REPORT = ROOT / "docs" / "mutation.md"
MUTMUT = Path(sys.executable).with_name("mutmut")
# mutmut's verdicts that count as "a test noticed": a failing test, or a test that ran far
# longer than the clean run (an endless loop) and was stopped.
NOTICED = {"killed", "timeout"}


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


def mutmut(*names: str, jobs: int) -> int:
    """One mutmut run (all mutants when no names); its progress goes to the log, not here."""
    log = ROOT / "mutants" / "run.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        return subprocess.run(  # noqa: S603 - our own fixed command line
            [str(MUTMUT), "run", "--max-children", str(jobs), *names],
            cwd=ROOT,
            env={**os.environ, "PUMPCARE_MUTATION_TESTING": "1"},  # derandomized hypothesis (conftest)
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode


def read_mutants(*, diffs: bool = True) -> list[Mutant]:
    """Every mutant mutmut generated, with its verdict; with ``diffs``, the lines it changes
    for those a test did not notice (reading a diff parses the module, so only where needed)."""
    cwd = os.getcwd()
    os.chdir(ROOT)  # mutmut reads its configuration and mutants/ from the current directory
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


def fresh() -> None:
    """Start from a fresh copy, with every tests/test_therapy_*.py module in the selection."""
    with (ROOT / "pyproject.toml").open("rb") as config:
        selected = set(tomllib.load(config)["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])
    missing = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("tests/test_therapy_*.py"))
    missing = [p for p in missing if p not in selected]
    if missing:
        raise SystemExit(f"pyproject.toml [tool.mutmut] does not run {', '.join(missing)}: add it")
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)


def full(jobs: int) -> int:
    fresh()
    started = time.monotonic()
    mutmut(jobs=jobs)
    minutes = (time.monotonic() - started) / 60
    mutants = read_mutants()
    equivalents = load_equivalents()
    write_report(mutants, equivalents, minutes)
    survivors = [m for m in mutants if m.status not in NOTICED and m.key not in equivalents]
    print(f"{len(mutants)} mutants in {minutes:.0f} min; {len(survivors)} real survivors; see {REPORT}")
    return 0


def report(note: str | None) -> int:
    mutants = read_mutants()
    if not mutants:
        print("no mutants/ to report on: run scripts/mutation.py full")
        return 1
    write_report(mutants, load_equivalents(), None, note)
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0


def sample(size: int, seed: int, jobs: int) -> int:
    fresh()
    started = time.monotonic()
    # A filter that matches nothing: mutmut generates every mutant and measures which tests
    # reach which function, then stops; the names come from what it generated.
    mutmut("no-mutant-has-this-name", jobs=jobs)
    names = sorted(m.name for m in read_mutants(diffs=False))
    if not names:
        print("mutation sample: mutmut generated no mutants (see mutants/run.log)")
        return 1
    chosen = sorted(random.Random(seed).sample(names, min(size, len(names))))
    mutmut(*chosen, jobs=jobs)
    equivalents = load_equivalents()
    by_name = {m.name: m for m in read_mutants()}
    picked = [by_name[n] for n in chosen]
    unchecked = [m for m in picked if m.status == "not checked"]
    survivors = [m for m in picked if m.status not in NOTICED | {"not checked"} and m.key not in equivalents]
    noticed = sum(m.status in NOTICED for m in picked)
    minutes = (time.monotonic() - started) / 60
    print(
        f"mutation sample (seed {seed}): {len(picked)} of {len(names)} mutants of therapy/, "
        f"{noticed} killed, {len(picked) - noticed - len(survivors) - len(unchecked)} listed equivalents, "
        f"{len(survivors)} survivors, {minutes:.1f} min"
    )
    for m in unchecked + survivors:
        print(f"  {m.status}: {m.name}\n    - {' / '.join(m.removed)}\n    + {' / '.join(m.added)}")
    if unchecked:
        print("mutmut did not check every sampled mutant (see mutants/run.log)")
    if survivors:
        print(
            "A change to the clinical core that no test notices: add a test that kills it, or list it "
            f"in {EQUIVALENTS.relative_to(ROOT)} with the reason no input can tell it apart. "
            f"Reproduce: scripts/mutation.py sample --size {size} --seed {seed}"
        )
    return 1 if survivors or unchecked else 0


def write_report(
    mutants: list[Mutant], equivalents: dict, minutes: float | None, note: str | None = None
) -> None:
    unchecked = [m for m in mutants if m.status == "not checked"]
    checked = [m for m in mutants if m.status != "not checked"]
    noticed = [m for m in checked if m.status in NOTICED]
    equivalent = [m for m in checked if m.status not in NOTICED and m.key in equivalents]
    survivors = [m for m in checked if m.status not in NOTICED and m.key not in equivalents]
    real = len(checked) - len(equivalent)
    score = 100 * len(noticed) / real if real else 100.0
    lines = [
        "# Mutation testing of the calculation core",
        "",
        "Written by `make mutation` (scripts/mutation.py full): every mutmut mutant of `therapy/`,",
        "run against tests/test_therapy_*.py. Do not edit by hand; regenerate.",
        "",
        *([note, ""] if note else []),
        f"- mutants: {len(mutants)}"
        + ("" if minutes is None else f" (run time {minutes:.0f} min on this machine)")
        + (f", of which {len(unchecked)} not checked" if unchecked else ""),
        f"- killed (a test failed, or ran into the time limit): {len(noticed)}",
        f"- equivalent (listed in scripts/mutation-equivalents.txt): {len(equivalent)}",
        f"- surviving, not equivalent: {len(survivors)}",
        f"- **score: {len(noticed)} of the {real} non-equivalent mutants checked killed, "
        f"{math.floor(score * 100) / 100:.2f} %**",
        "",
        "## Survivors",
        "",
        "Each is a change to the core that no test notices: kill it with a test, or list it as",
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
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["full", "report", "sample"])
    parser.add_argument("--size", type=int, default=150, help="sampled mutants (sample mode)")
    parser.add_argument("--seed", type=int, help="default: derived from the current commit")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--note", help="a line on how this run was made (report mode)")
    args = parser.parse_args()
    if args.mode == "full":
        return full(args.jobs)
    if args.mode == "report":
        return report(args.note)
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
    return sample(args.size, seed, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
