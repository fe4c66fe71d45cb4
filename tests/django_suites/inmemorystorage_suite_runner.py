"""A Django test runner that records each test's outcome in a JSON file.

Django's ``runtests.py`` uses the ``TEST_RUNNER`` of its settings module, so
this runner sees every test it runs, in one process or many (Django replays
the workers' results on the parent's result object). It appends one JSON line
to ``INMEMORYSTORAGE_SUITE_RESULTS`` when a test starts and one when it ends
(``{"id", "outcome", "detail", "exercised"}``), so that a run that hangs still
says which test it hung in: a test that runs longer than
``INMEMORYSTORAGE_SUITE_TEST_TIMEOUT`` seconds (default 120) makes the process
dump its threads' stacks and exit. ``outcomes.py`` reads two such files.

``exercised`` says whether the test called a method of the default storage's
class (any instance of it): many of Django's storage tests build a
``FileSystemStorage`` of their own and never touch the backend under test.
"""

from __future__ import annotations

import faulthandler
import functools
import json
import os
import unittest
from pathlib import Path
from types import TracebackType
from typing import Any

import django
from django.conf import settings
from django.test.runner import DiscoverRunner
from django.utils.module_loading import import_string

#: The Storage API methods whose calls mark a test as exercising the backend.
STORAGE_API = (
    "delete",
    "exists",
    "generate_filename",
    "get_accessed_time",
    "get_alternative_name",
    "get_available_name",
    "get_created_time",
    "get_modified_time",
    "get_valid_name",
    "listdir",
    "open",
    "path",
    "save",
    "size",
    "url",
)

#: Worst first: a test that failed in one subtest and passed another failed.
SEVERITY = ("error", "failed", "unexpected success", "skipped", "expected failure", "passed")

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class _Calls:
    """How many times the backend's Storage API has been called in this process."""

    count = 0


def _counted(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _Calls.count += 1
        return method(*args, **kwargs)

    return wrapper


def count_calls_to(backend: type) -> None:
    """Wrap the backend's Storage API methods so that every call is counted."""
    for name in STORAGE_API:
        setattr(backend, name, _counted(getattr(backend, name)))


class RecordingResult(unittest.TextTestResult):
    """A text result that also keeps each test's outcome, worst outcome winning."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, dict[str, Any]] = {}
        self._calls_at_start: dict[str, int] = {}
        self._timeout = float(os.environ.get("INMEMORYSTORAGE_SUITE_TEST_TIMEOUT", "120"))
        self._written: set[str] = set()
        self._log = Path(os.environ["INMEMORYSTORAGE_SUITE_RESULTS"]).open("a", encoding="utf-8")  # noqa: SIM115 (open for the whole run)

    def _write(self, line: dict[str, Any]) -> None:
        if line.get("outcome", "started") != "started":
            self._written.add(line["id"])
        self._log.write(json.dumps(line) + "\n")
        self._log.flush()

    def _record(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        test_id = test.id()
        entry = self.outcomes.setdefault(
            test_id, {"outcome": outcome, "detail": detail, "exercised": False}
        )
        if SEVERITY.index(outcome) < SEVERITY.index(entry["outcome"]):
            entry.update(outcome=outcome, detail=detail)
        start = self._calls_at_start.get(test_id)
        if start is not None and _Calls.count != start:
            entry["exercised"] = True

    def startTestRun(self) -> None:  # noqa: N802 (unittest's name)
        super().startTestRun()
        self._write(
            {
                "backend": settings.STORAGES["default"]["BACKEND"],
                "django": django.__version__,
                "standin": bool(os.environ.get("INMEMORYSTORAGE_SUITE_STANDIN")),
            }
        )

    def startTest(self, test: unittest.TestCase) -> None:  # noqa: N802
        self._calls_at_start[test.id()] = _Calls.count
        self._write({"id": test.id(), "outcome": "started"})
        faulthandler.dump_traceback_later(self._timeout, exit=True)
        super().startTest(test)

    def addSuccess(self, test: unittest.TestCase) -> None:  # noqa: N802
        super().addSuccess(test)
        self._record(test, "passed")

    def addError(self, test: unittest.TestCase, err: _ExcInfo) -> None:  # noqa: N802
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addFailure(self, test: unittest.TestCase, err: _ExcInfo) -> None:  # noqa: N802
        super().addFailure(test, err)
        self._record(test, "failed", self._exc_info_to_string(err, test))

    def addSubTest(  # noqa: N802
        self, test: unittest.TestCase, subtest: unittest.TestCase, err: _ExcInfo | None
    ) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            detail = f"{subtest.id()}\n{self._exc_info_to_string(err, test)}"
            self._record(test, "failed" if failed else "error", detail)

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:  # noqa: N802
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: _ExcInfo) -> None:  # noqa: N802
        super().addExpectedFailure(test, err)
        self._record(test, "expected failure")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:  # noqa: N802
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected success")

    def stopTest(self, test: unittest.TestCase) -> None:  # noqa: N802
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        test_id = test.id()
        entry = self.outcomes.get(test_id)
        start = self._calls_at_start.pop(test_id, None)
        if entry is not None:
            if start is not None and _Calls.count != start:
                entry["exercised"] = True
            self._write({"id": test_id, **entry})

    def stopTestRun(self) -> None:  # noqa: N802
        super().stopTestRun()
        # Errors outside any test (a failing setUpClass, a module that does not
        # import) have no stopTest of their own.
        for test_id, entry in self.outcomes.items():
            if test_id not in self._written:
                self._write({"id": test_id, **entry})
        self._log.close()


class RecordingRunner(DiscoverRunner):
    """Django's runner, with outcomes recorded and the backend's calls counted."""

    def get_resultclass(self) -> type[unittest.TextTestResult]:
        return RecordingResult

    def run_suite(self, suite: unittest.TestSuite, **kwargs: Any) -> unittest.TestResult:
        count_calls_to(import_string(settings.STORAGES["default"]["BACKEND"]))
        return super().run_suite(suite, **kwargs)
