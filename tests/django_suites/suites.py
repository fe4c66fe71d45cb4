"""Run Django's own test suites with Django's ``InMemoryStorage`` and with ours, and compare.

``nox -s django_suites`` runs this script in a virtualenv that has Django,
Pillow and this project::

    python tests/django_suites/suites.py --django-tests DIR --results DIR \\
        --allowed allowed.json file_uploads file_storage files model_fields

Each label runs under Django's ``runtests.py`` four times: once per backend
(``django.core.files.storage.InMemoryStorage``, the reference, and ours) in
each of two passes:

``default``
    ``STORAGES["default"]`` is the backend, as the README's quick start sets it.
``stand-in``
    ``FileSystemStorage`` is the backend too (see
    ``inmemorystorage_suite_standin.py``), which reaches the many tests that
    build their own storage, such as every FileField and ImageField test of
    ``model_fields``.

A test that passes with the reference and does not pass with ours is a
difference; the run fails on any difference that the allowed list (kept in
the noxfile: test id -> the error ours raises there on purpose, and why) does
not excuse, and on any allowed entry that no longer differs. A run that
hangs in a test (the runner's watchdog stops it) resumes after that test,
which counts as ``timed out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import attrs

REFERENCE = "django.core.files.storage.InMemoryStorage"
OURS = "inmemorystorage.InMemoryStorage"
MODES = ("default", "stand-in")
#: Outcomes that count as a pass of the reference, worth comparing.
GOOD = frozenset({"passed", "expected failure"})
STARTED = "started"
TIMED_OUT = "timed out"
NOT_RUN = "not run"
TALLY_ORDER = (
    "passed",
    "failed",
    "error",
    "skipped",
    "expected failure",
    "unexpected success",
    TIMED_OUT,
)
#: A run that hangs again and again still ends: at most this many resumes.
MAX_RESUMES = 5
HERE = Path(__file__).resolve().parent


@attrs.frozen
class Outcome:
    """What one test did: its outcome, its traceback or skip reason, whether it used the backend."""

    outcome: str
    detail: str = ""
    exercised: bool = False

    @property
    def summary(self) -> str:
        """The last line of the detail: the exception and its message."""
        lines = self.detail.strip().splitlines()
        return lines[-1] if lines else ""


@attrs.frozen
class Difference:
    """A test that passed with the reference backend and did something else with ours."""

    mode: str
    test_id: str
    reference: str
    ours: Outcome


@attrs.frozen
class Allowed:
    """A deliberate difference: the start of the exception line ours gives, and why."""

    error: str
    reason: str

    def excuses(self, difference: Difference) -> bool:
        """Whether the difference is this one: the same test failing the same way."""
        return difference.ours.summary.startswith(self.error)


@attrs.frozen
class Verdict:
    """Differences sorted by the allowed list, and the allowed entries that no longer differ."""

    unexpected: list[Difference]
    allowed: list[tuple[Difference, str]]
    stale: list[str]

    @property
    def ok(self) -> bool:
        """True when every difference is allowed and every allowed entry still differs."""
        return not self.unexpected and not self.stale


def read_outcomes(lines: Iterable[str]) -> dict[str, Outcome]:
    """Each test's outcome from the runner's JSON lines; a test with no end line timed out."""
    outcomes: dict[str, Outcome] = {}
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        test_id = record.get("id")
        if test_id is None:  # the header of a run
            continue
        if record["outcome"] == STARTED:
            outcomes.setdefault(
                test_id,
                Outcome(
                    TIMED_OUT, "the run was stopped in this test: see the stack dump in its log"
                ),
            )
        else:
            outcomes[test_id] = Outcome(
                record["outcome"], record.get("detail", ""), record.get("exercised", False)
            )
    return outcomes


def is_runnable(test_id: str) -> bool:
    """Whether a test id can be given to runtests.py (not a class-level or import error)."""
    return " " not in test_id and not test_id.startswith("unittest.")


def pending(reference: Mapping[str, Outcome], ours: Mapping[str, Outcome]) -> list[str]:
    """The tests the reference ran that ours has not reached yet, in the reference's order."""
    return [test_id for test_id in reference if test_id not in ours and is_runnable(test_id)]


def tally(outcomes: Mapping[str, Outcome]) -> dict[str, int]:
    """How many tests had each outcome, in a fixed order (zeros included for the first four)."""
    counts = Counter(outcome.outcome for outcome in outcomes.values())
    return {
        name: counts[name] for name in TALLY_ORDER if counts[name] or TALLY_ORDER.index(name) < 4
    }


def differences(
    mode: str, reference: Mapping[str, Outcome], ours: Mapping[str, Outcome]
) -> list[Difference]:
    """Tests that pass with the reference and do not end the same way with ours."""
    found = []
    for test_id, expected in reference.items():
        if expected.outcome not in GOOD:
            continue
        actual = ours.get(test_id, Outcome(NOT_RUN))
        if actual.outcome != expected.outcome:
            found.append(Difference(mode, test_id, expected.outcome, actual))
    return found


def improvements(reference: Mapping[str, Outcome], ours: Mapping[str, Outcome]) -> list[str]:
    """Tests that pass with ours and not with the reference (reported, never a failure)."""
    return [
        test_id
        for test_id, outcome in ours.items()
        if outcome.outcome == "passed"
        and reference.get(test_id, Outcome(NOT_RUN)).outcome not in GOOD
    ]


def judge(
    found: Sequence[Difference], allowed: Mapping[str, Allowed], ran: Iterable[str]
) -> Verdict:
    """Sort differences by the allowed list; allowed tests that ran alike are stale.

    An allowed test that fails in another way than the list says is unexpected:
    the list excuses one error, not the test.
    """
    differing = {difference.test_id for difference in found}
    excused = [
        (d, allowed[d.test_id].reason)
        for d in found
        if d.test_id in allowed and allowed[d.test_id].excuses(d)
    ]
    excused_ids = {d.test_id for d, _ in excused}
    unexpected = [d for d in found if d.test_id not in excused_ids]
    ran_ids = set(ran)
    stale = sorted(t for t in allowed if t in ran_ids and t not in differing)
    return Verdict(unexpected, excused, stale)


def format_tally(counts: Mapping[str, int]) -> str:
    """``passed 723, failed 34, error 58, skipped 10``."""
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def format_verdict(verdict: Verdict, allowed_absent: Sequence[str]) -> str:
    """The differences, allowed and not, as the session prints them."""
    lines = []
    if verdict.allowed:
        lines.append(f"Allowed differences ({len(verdict.allowed)}), by design:")
        by_reason: dict[str, list[Difference]] = {}
        for difference, reason in verdict.allowed:
            by_reason.setdefault(reason, []).append(difference)
        for reason, group in by_reason.items():
            lines.append(f"  {reason}:")
            lines.extend(
                f"    [{d.mode}] {d.test_id}: {d.ours.outcome} ({d.ours.summary})" for d in group
            )
    if allowed_absent:
        lines.append("Allowed entries this Django version does not have (not checked):")
        lines.extend(f"  {test_id}" for test_id in allowed_absent)
    if verdict.stale:
        lines.append(
            f"STALE allowed entries ({len(verdict.stale)}): they pass with ours now; "
            "remove them from the noxfile's list:"
        )
        lines.extend(f"  {test_id}" for test_id in verdict.stale)
    if verdict.unexpected:
        lines.append(
            f"DIFFERENCES ({len(verdict.unexpected)}): pass with Django's InMemoryStorage, "
            "not with ours:"
        )
        lines.extend(
            f"  [{d.mode}] {d.test_id}: {d.ours.outcome}: {d.ours.summary}"
            for d in verdict.unexpected
        )
        lines.append("")
        for d in verdict.unexpected:
            lines.append(f"---- [{d.mode}] {d.test_id} ({d.ours.outcome})")
            lines.extend(d.ours.detail.rstrip().splitlines()[-20:])
    elif not verdict.stale:
        lines.append("No unexpected differences.")
    return "\n".join(lines)


#: Runs runtests.py for (backend, pass, labels, results file); returns its exit status.
Runner = Callable[[str, str, Sequence[str], Path], int]


def run_backend(
    runner: Runner,
    backend: str,
    mode: str,
    labels: Sequence[str],
    results: Path,
    expected: Mapping[str, Outcome] | None = None,
) -> dict[str, Outcome]:
    """One backend's outcomes; when the reference's tests are given, resume after any hang."""
    results.unlink(missing_ok=True)
    runner(backend, mode, labels, results)
    outcomes = read_outcomes(_lines(results))
    for _ in range(MAX_RESUMES):
        if expected is None or not any(o.outcome == TIMED_OUT for o in outcomes.values()):
            break
        remaining = pending(expected, outcomes)
        if not remaining:
            break
        runner(backend, mode, remaining, results)
        outcomes = read_outcomes(_lines(results))
    return outcomes


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def runtests_runner(django_tests: Path, logs: Path, timeout: float) -> Runner:
    """A runner that calls Django's runtests.py with our settings module, one process."""

    def run(backend: str, mode: str, labels: Sequence[str], results: Path) -> int:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            "INMEMORYSTORAGE_SUITE_BACKEND": backend,
            "INMEMORYSTORAGE_SUITE_RESULTS": str(results),
            "INMEMORYSTORAGE_SUITE_TEST_TIMEOUT": str(timeout),
        }
        if mode == "stand-in":
            env["INMEMORYSTORAGE_SUITE_STANDIN"] = "1"
        log = logs / f"{results.stem}.log"
        with log.open("a", encoding="utf-8") as output:
            command = [
                sys.executable,
                "runtests.py",
                "--settings=inmemorystorage_suite_settings",
                "--parallel=1",
                "--noinput",
                *labels,
            ]
            return subprocess.run(  # noqa: PLW1510 (failures are read from the results)
                command, cwd=django_tests, env=env, stdout=output, stderr=subprocess.STDOUT
            ).returncode

    return run


def compare(
    runner: Runner, labels: Sequence[str], results: Path, allowed: Mapping[str, Allowed]
) -> tuple[str, bool]:
    """Run both backends in both passes; the report and whether the session passes."""
    report: list[str] = []
    problems: list[str] = []
    found: list[Difference] = []
    ran: set[str] = set()
    for mode in MODES:
        reference = run_backend(runner, REFERENCE, mode, labels, results / f"{mode}-django.jsonl")
        ours = run_backend(
            runner, OURS, mode, labels, results / f"{mode}-ours.jsonl", expected=reference
        )
        for name, outcomes in (("Django's InMemoryStorage", reference), ("ours", ours)):
            used = sum(o.exercised for o in outcomes.values())
            report.append(
                f"[{mode}] {name}: {format_tally(tally(outcomes))} "
                f"({len(outcomes)} tests, {used} used the backend)"
            )
        better = len(improvements(reference, ours))
        if better:
            report.append(
                f"[{mode}] ours passes {better} tests that Django's InMemoryStorage does not"
            )
        problems.extend(_sanity(mode, reference, ours))
        found.extend(differences(mode, reference, ours))
        ran.update(t for t in reference if t in ours)
    absent = sorted(t for t in allowed if t not in ran)
    verdict = judge(found, allowed, ran)
    report.append(format_verdict(verdict, absent))
    report.extend(problems)
    return "\n".join(report), verdict.ok and not problems


def _sanity(mode: str, reference: Mapping[str, Outcome], ours: Mapping[str, Outcome]) -> list[str]:
    """Reasons to distrust a pass: nothing ran, the reference hung, or ours was never called."""
    problems = []
    if not reference or not any(o.outcome in GOOD for o in reference.values()):
        problems.append(f"[{mode}] PROBLEM: no test passed with Django's InMemoryStorage.")
    if any(o.outcome == TIMED_OUT for o in reference.values()):
        problems.append(
            f"[{mode}] PROBLEM: a test hung with Django's InMemoryStorage: "
            "the tests after it were not compared."
        )
    if not any(o.exercised for o in ours.values()):
        problems.append(f"[{mode}] PROBLEM: no test called our storage: the settings did not take.")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run, print the tallies and differences, exit 1 when the comparison fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--django-tests", type=Path, required=True, help="Django's tests/ directory"
    )
    parser.add_argument("--results", type=Path, required=True, help="where results and logs go")
    parser.add_argument(
        "--allowed", type=Path, required=True, help='JSON: {test id: {"error", "reason"}}'
    )
    parser.add_argument("--timeout", type=float, default=30, help="seconds one test may run")
    parser.add_argument("labels", nargs="+", help="runtests.py labels")
    args = parser.parse_args(argv)
    args.results = args.results.resolve()  # runtests.py runs in Django's tests/ directory
    args.results.mkdir(parents=True, exist_ok=True)
    allowed = {
        test_id: Allowed(**entry)
        for test_id, entry in json.loads(args.allowed.read_text(encoding="utf-8")).items()
    }
    runner = runtests_runner(args.django_tests.resolve(), args.results, args.timeout)
    report, ok = compare(runner, args.labels, args.results, allowed)
    print(report)  # noqa: T201 (the session's output)
    print(f"Logs of each run: {args.results}")  # noqa: T201
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
