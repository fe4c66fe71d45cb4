"""The helpers of ``nox -s django_suites``: recording outcomes, reading them, comparing backends."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage
from tests.django_suites import inmemorystorage_suite_runner as runner_module
from tests.django_suites.inmemorystorage_suite_standin import stand_in
from tests.django_suites.suites import (
    NOT_RUN,
    OURS,
    REFERENCE,
    TIMED_OUT,
    Allowed,
    Difference,
    Outcome,
    compare,
    differences,
    format_verdict,
    improvements,
    judge,
    pending,
    read_outcomes,
    run_backend,
    tally,
)

NO_PATH = Allowed("NotImplementedError", "calls path(), which ours refuses by design")
NOT_IMPLEMENTED = "Traceback...\nNotImplementedError: no local paths\n"


def lines(*records: dict[str, object]) -> list[str]:
    return [json.dumps(record) for record in records]


def ended(test_id: str, outcome: str, detail: str = "", *, exercised: bool = True) -> dict:
    return {"id": test_id, "outcome": outcome, "detail": detail, "exercised": exercised}


def started(test_id: str) -> dict:
    return {"id": test_id, "outcome": "started"}


# Reading the runner's JSON lines


def test_a_finished_test_has_its_outcome_detail_and_use_of_the_backend():
    """A test's end line gives its outcome, its traceback and whether it called the backend."""
    outcomes = read_outcomes(
        lines(
            {"backend": OURS, "django": "5.2", "standin": False},
            started("app.tests.T.test_a"),
            ended("app.tests.T.test_a", "error", "Traceback...\nTypeError: nope\n"),
        )
    )
    expected = Outcome("error", "Traceback...\nTypeError: nope\n", exercised=True)
    assert {"app.tests.T.test_a": expected} == outcomes
    assert "TypeError: nope" == outcomes["app.tests.T.test_a"].summary


def test_a_test_that_started_and_never_ended_timed_out():
    """The watchdog stops the process inside a hung test: it started and has no end line."""
    outcomes = read_outcomes(
        lines(started("t.T.test_ok"), ended("t.T.test_ok", "passed"), started("t.T.test_hang"))
    )
    assert "passed" == outcomes["t.T.test_ok"].outcome
    assert TIMED_OUT == outcomes["t.T.test_hang"].outcome


def test_a_resumed_run_adds_the_tests_after_the_hang():
    """Lines appended by the run resumed after a hang count as well as the first run's."""
    outcomes = read_outcomes(
        lines(
            started("t.T.test_hang"),
            {"backend": OURS},
            started("t.T.test_next"),
            ended("t.T.test_next", "failed", "AssertionError"),
        )
    )
    assert {"t.T.test_hang": TIMED_OUT, "t.T.test_next": "failed"} == {
        test_id: outcome.outcome for test_id, outcome in outcomes.items()
    }


def test_pending_lists_the_reference_tests_ours_has_not_reached_in_order():
    """What a resumed run still has to run; class-level errors cannot be run by name."""
    reference = {
        "t.A.test_1": Outcome("passed"),
        "setUpClass (t.B)": Outcome("error"),
        "t.C.test_3": Outcome("passed"),
        "t.C.test_2": Outcome("skipped"),
    }
    ours = {"t.A.test_1": Outcome(TIMED_OUT)}
    assert ["t.C.test_3", "t.C.test_2"] == pending(reference, ours)


def test_tally_counts_each_outcome_and_always_shows_the_first_four():
    """The printed tally: passed, failed, error, skipped, then any rarer outcome that occurred."""
    outcomes = {
        "a": Outcome("passed"),
        "b": Outcome("passed"),
        "c": Outcome("error"),
        "d": Outcome(TIMED_OUT),
    }
    assert {"passed": 2, "failed": 0, "error": 1, "skipped": 0, TIMED_OUT: 1} == tally(outcomes)


# Comparing the backends


def test_a_test_that_passes_with_django_and_errors_with_ours_is_a_difference():
    """The one thing the session looks for: Django's class passes, ours does not."""
    reference = {"t.T.test_a": Outcome("passed")}
    ours = {"t.T.test_a": Outcome("error", "TypeError: PosixPath")}
    assert [Difference("default", "t.T.test_a", "passed", ours["t.T.test_a"])] == differences(
        "default", reference, ours
    )


def test_tests_that_fail_or_skip_with_django_are_not_compared():
    """A test that does not pass with Django's own class says nothing about ours."""
    reference = {"t.T.test_disk": Outcome("failed"), "t.T.test_skip": Outcome("skipped")}
    ours = {"t.T.test_disk": Outcome("error"), "t.T.test_skip": Outcome("error")}
    assert [] == differences("stand-in", reference, ours)


def test_a_test_ours_never_ran_is_a_difference():
    """A test missing from our run (a crash, a module that did not import) is not a pass."""
    found = differences("default", {"t.T.test_a": Outcome("passed")}, {})
    assert [NOT_RUN] == [difference.ours.outcome for difference in found]


def test_an_expected_failure_that_passes_with_ours_is_a_difference():
    """Any outcome other than Django's counts, not only failures and errors."""
    found = differences(
        "default",
        {"t.T.test_a": Outcome("expected failure")},
        {"t.T.test_a": Outcome("unexpected success")},
    )
    assert ["unexpected success"] == [difference.ours.outcome for difference in found]


def test_tests_only_ours_passes_are_counted_apart():
    """Where ours does better (Django's lacks allow_overwrite), it is reported, not compared."""
    reference = {"t.T.test_overwrite": Outcome("error"), "t.T.test_a": Outcome("passed")}
    ours = {"t.T.test_overwrite": Outcome("passed"), "t.T.test_a": Outcome("passed")}
    assert ["t.T.test_overwrite"] == improvements(reference, ours)
    assert [] == differences("stand-in", reference, ours)


def test_allowed_differences_are_excused_with_their_reason():
    """A difference named in the noxfile's list does not fail the session."""
    found = differences(
        "default",
        {"t.T.test_path": Outcome("passed")},
        {"t.T.test_path": Outcome("error", NOT_IMPLEMENTED)},
    )
    verdict = judge(found, {"t.T.test_path": NO_PATH}, ran=["t.T.test_path"])
    assert verdict.ok
    assert [(found[0], NO_PATH.reason)] == verdict.allowed


def test_an_allowed_test_that_fails_another_way_is_unexpected():
    """The list excuses one error, not the test: a new TypeError there still fails the session."""
    found = differences(
        "stand-in",
        {"t.T.test_path": Outcome("passed")},
        {"t.T.test_path": Outcome("error", "Traceback...\nTypeError: not a str\n")},
    )
    verdict = judge(found, {"t.T.test_path": NO_PATH}, ran=["t.T.test_path"])
    assert not verdict.ok
    assert found == verdict.unexpected


def test_a_difference_not_on_the_list_fails_the_session():
    """Any other difference is reported as unexpected."""
    found = differences(
        "stand-in", {"t.T.test_chunks": Outcome("passed")}, {"t.T.test_chunks": Outcome("failed")}
    )
    verdict = judge(found, {"t.T.test_path": NO_PATH}, ran=["t.T.test_chunks"])
    assert not verdict.ok
    assert found == verdict.unexpected


def test_an_allowed_entry_that_no_longer_differs_is_stale():
    """When ours starts passing an allowed test, the list must shrink: the session fails."""
    verdict = judge([], {"t.T.test_path": NO_PATH}, ran=["t.T.test_path"])
    assert not verdict.ok
    assert ["t.T.test_path"] == verdict.stale


def test_an_allowed_entry_this_django_version_lacks_is_not_stale():
    """Entries for tests of another Django version are left alone."""
    verdict = judge([], {"t.Removed.test_path": NO_PATH}, ran=["t.T.test_a"])
    assert verdict.ok


def test_the_report_names_each_unexpected_difference_with_its_error():
    """The printed list gives the pass, the test id, our outcome and the exception line."""
    found = differences(
        "stand-in",
        {"t.T.test_pathlib": Outcome("passed")},
        {"t.T.test_pathlib": Outcome("error", "Traceback\nTypeError: not a str\n")},
    )
    report = format_verdict(judge(found, {}, ran=["t.T.test_pathlib"]), [])
    assert "[stand-in] t.T.test_pathlib: error: TypeError: not a str" in report


def test_the_report_groups_allowed_differences_under_their_reason():
    """Each reason is printed once, above the tests it excuses."""
    reference = {"t.A.test_path": Outcome("passed"), "t.B.test_path": Outcome("passed")}
    ours = {
        "t.A.test_path": Outcome("error", NOT_IMPLEMENTED),
        "t.B.test_path": Outcome("error", NOT_IMPLEMENTED),
    }
    allowed = dict.fromkeys(reference, NO_PATH)
    report = format_verdict(judge(differences("default", reference, ours), allowed, ours), [])
    assert 1 == report.count(NO_PATH.reason)
    assert "t.A.test_path" in report
    assert "t.B.test_path" in report


# Running the backends (with a fake runtests.py)


class FakeRuntests:
    """Writes JSON lines as the recording runner would; hangs in the tests it is told to."""

    def __init__(self, results: dict[str, dict], hangs: dict[str, set[str]]) -> None:
        self.results = results  # backend -> test id -> outcome, or (outcome, detail)
        self.hangs = hangs  # backend -> test ids where the run stops
        self.calls: list[tuple[str, str, list[str]]] = []

    def __call__(self, backend: str, mode: str, labels: list[str], path: Path) -> int:
        self.calls.append((backend, mode, list(labels)))
        tests = self.results[backend]
        selected = [t for t in tests if t in labels or t.split(".")[0] in labels]
        with path.open("a") as out:
            for test_id in selected:
                out.write(json.dumps(started(test_id)) + "\n")
                if test_id in self.hangs.get(backend, set()):
                    return 1
                exercised = backend == REFERENCE or mode == "stand-in" or test_id != "t.T.a"
                outcome, detail = (
                    tests[test_id] if isinstance(tests[test_id], tuple) else (tests[test_id], "")
                )
                record = ended(test_id, outcome, detail, exercised=exercised)
                out.write(json.dumps(record) + "\n")
        return 0


def test_a_hung_run_resumes_after_the_test_it_hung_in(tmp_path):
    """The tests after a hang still run, and the hung test counts as timed out."""
    tests = {"t.T.a": "passed", "t.T.hang": "passed", "t.T.c": "passed"}
    fake = FakeRuntests({REFERENCE: tests, OURS: tests}, hangs={OURS: {"t.T.hang"}})
    reference = run_backend(fake, REFERENCE, "default", ["t"], tmp_path / "django.jsonl")
    ours = run_backend(fake, OURS, "default", ["t"], tmp_path / "ours.jsonl", expected=reference)
    assert {"t.T.a": "passed", "t.T.hang": TIMED_OUT, "t.T.c": "passed"} == {
        test_id: outcome.outcome for test_id, outcome in ours.items()
    }
    assert (OURS, "default", ["t.T.c"]) == fake.calls[-1]


def test_a_run_that_keeps_hanging_still_ends(tmp_path):
    """Resumes are bounded: a run that hangs in every test stops after a few."""
    tests = {f"t.T.test_{i}": "passed" for i in range(20)}
    fake = FakeRuntests({REFERENCE: tests, OURS: tests}, hangs={OURS: set(tests)})
    reference = run_backend(fake, REFERENCE, "default", ["t"], tmp_path / "django.jsonl")
    ours = run_backend(fake, OURS, "default", ["t"], tmp_path / "ours.jsonl", expected=reference)
    assert len(ours) < len(tests)
    assert all(outcome.outcome == TIMED_OUT for outcome in ours.values())


def test_the_session_fails_on_a_difference_and_prints_both_tallies(tmp_path):
    """Both passes run both backends; a test only Django's class passes fails the session."""
    fake = FakeRuntests(
        {
            REFERENCE: {"t.T.a": "passed", "t.T.b": "passed"},
            OURS: {"t.T.a": "passed", "t.T.b": "error"},
        },
        hangs={},
    )
    report, ok = compare(fake, ["t"], tmp_path, allowed={})
    assert not ok
    assert "[default] Django's InMemoryStorage: passed 2, failed 0, error 0, skipped 0" in report
    assert "[stand-in] ours: passed 1, failed 0, error 1, skipped 0" in report
    assert "[default] t.T.b: error" in report
    assert [
        (REFERENCE, "default"),
        (OURS, "default"),
        (REFERENCE, "stand-in"),
        (OURS, "stand-in"),
    ] == [call[:2] for call in fake.calls]


def test_the_session_passes_when_every_difference_is_allowed(tmp_path):
    """The allowed list, with its reasons, is what makes a known difference acceptable."""
    fake = FakeRuntests(
        {
            REFERENCE: {"t.T.a": "passed", "t.T.b": "passed"},
            OURS: {"t.T.a": "passed", "t.T.b": ("error", NOT_IMPLEMENTED)},
        },
        hangs={},
    )
    report, ok = compare(fake, ["t"], tmp_path, allowed={"t.T.b": NO_PATH})
    assert ok, report
    assert NO_PATH.reason in report


def test_the_session_fails_when_ours_was_never_called(tmp_path):
    """A run where no test touched our storage proves nothing: the settings did not take."""
    fake = FakeRuntests({REFERENCE: {"t.T.a": "passed"}, OURS: {"t.T.a": "passed"}}, hangs={})
    report, ok = compare(fake, ["t"], tmp_path, allowed={})
    assert not ok
    assert "[default] PROBLEM: no test called our storage" in report


# The recording runner and the stand-in, on real unittest and storage objects


def run_recorded(case: type[unittest.TestCase], tmp_path, monkeypatch):
    """Run *case* with the suites' recording result class; the outcomes it recorded."""
    results = tmp_path / "run.jsonl"
    monkeypatch.setenv("INMEMORYSTORAGE_SUITE_RESULTS", str(results))
    with (tmp_path / "log").open("w") as log:
        unittest.TextTestRunner(stream=log, resultclass=runner_module.RecordingResult).run(
            unittest.defaultTestLoader.loadTestsFromTestCase(case)
        )
    return read_outcomes(results.read_text().splitlines())


def test_the_recording_result_writes_what_unittest_reports(tmp_path, monkeypatch):
    """Each outcome unittest knows arrives in the JSON lines as the comparison reads it."""

    class Examples(unittest.TestCase):
        def test_passes(self):
            pass

        def test_fails(self):
            self.fail("wrong")

        def test_errors(self):
            raise TypeError("bad name")

        def test_skips(self):
            self.skipTest("no disk")

        def test_fails_in_one_subtest(self):
            for value in (1, 2):
                with self.subTest(value=value):
                    assert 1 == value

        @unittest.expectedFailure
        def test_expected_failure(self):
            self.fail("known")

    outcomes = run_recorded(Examples, tmp_path, monkeypatch)
    prefix = f"{__name__}.{Examples.__qualname__}."
    assert {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_errors": "error",
        "test_skips": "skipped",
        "test_fails_in_one_subtest": "failed",
        "test_expected_failure": "expected failure",
    } == {test_id.removeprefix(prefix): outcome.outcome for test_id, outcome in outcomes.items()}
    assert "TypeError: bad name" == outcomes[prefix + "test_errors"].summary


def test_a_test_that_calls_the_backend_is_marked_as_using_it(tmp_path, monkeypatch):
    """Calls to the backend class's Storage API, on any instance, mark the test as exercising it."""

    class Counted(InMemoryStorage):
        pass

    runner_module.count_calls_to(Counted)

    class UsesIt(unittest.TestCase):
        def test_saves(self):
            Counted().save("a.txt", ContentFile(b"a"))

        def test_does_not(self):
            InMemoryStorage().save("a.txt", ContentFile(b"a"))

    outcomes = run_recorded(UsesIt, tmp_path, monkeypatch)
    assert {"test_saves": True, "test_does_not": False} == {
        test_id.rsplit(".", 1)[1]: outcome.exercised for test_id, outcome in outcomes.items()
    }


@pytest.mark.usefixtures("forget_shared_stores")
def test_the_stand_in_is_built_with_file_system_storages_arguments():
    """``FileSystemStorage(location, base_url, ..., allow_overwrite=True)`` builds the backend."""
    cls = stand_in("inmemorystorage.InMemoryStorage")
    storage = cls("/srv/media", "/media/", None, None, allow_overwrite=True)
    storage.save("a.txt", ContentFile(b"one"))
    assert "a.txt" == storage.save("a.txt", ContentFile(b"two"))
    assert "/media/a.txt" == storage.url("a.txt")
    assert isinstance(storage, InMemoryStorage)
