"""The shared engine across processes: 4 processes x 4 threads in one namespace on a real server.

Every round, all 16 threads save one name at the same moment (so that the
claim of a name is raced as hard as it can be), in a namespace where nothing
is deleted or evicted; then, in a bounded namespace, they save a scratch
file, overwrite a file of their own, read back what they wrote, and now and
then delete. The invariants: every save of one name got a name no other
save got and still holds its own bytes (none lost), no read returned a mix
of two writes, the bounded namespace was never charged more than
``max_bytes``, and the server's own keys agree with one another at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from inmemorystorage import InMemoryStorage

from .redis_audit import audit

WORKER = Path(__file__).with_name("shared_worker.py")
PROCESSES = 4
SECONDS = 3
MAX_BYTES = 200 * 1024


def run_workers(url: str, *extra: str) -> list[dict[str, list]]:
    """Start PROCESSES workers together; return what each reports."""
    start = time.time() + 2  # time for every interpreter to start and import Django
    env = {**os.environ, "PYTHONPATH": str(WORKER.parent.parent), "DJANGO_SETTINGS_MODULE": ""}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                url,
                str(i),
                str(start),
                str(SECONDS),
                str(MAX_BYTES),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(PROCESSES)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert 0 == worker.returncode, err.decode()[-3000:]
        reports.append(json.loads(out.decode().splitlines()[-1]))
    return reports


def problems_of(reports: list[dict[str, list]], url: str) -> list[str]:
    """Every broken promise the workers' reports and the server's keys show."""
    names = Counter(name for report in reports for name, _tag in report["saved"])
    problems = [
        f"{count} saves got the name {name!r}" for name, count in names.items() if count > 1
    ]
    problems += [f"a wrong read of {name!r}" for report in reports for name in report["wrong"]]
    problems += [f"{used:,} bytes charged" for report in reports for used in report["overruns"]]
    storage = InMemoryStorage(server=url, namespace="stress", max_bytes=MAX_BYTES)
    claims = InMemoryStorage(server=url, namespace="claims")
    problems += audit(storage._store) + audit(claims._store)
    for report in reports:
        for name, tag in report["saved"]:
            if not claims.open(name).read().startswith(f"{tag}|".encode()):
                problems.append(f"{name!r} holds another save's bytes: a lost write")
    return problems


@pytest.mark.stress
@pytest.mark.once
def test_processes_and_threads_keep_every_promise(clean_redis, forget_shared_stores):
    """16 savers of one name get 16 names, no read is torn, the budget holds, the keys agree."""
    reports = run_workers(clean_redis)
    assert sum(len(report["saved"]) for report in reports) >= PROCESSES * 4
    assert [] == problems_of(reports, clean_redis)


@pytest.mark.stress
@pytest.mark.once
def test_the_check_fails_when_claiming_a_name_is_split_from_publishing(
    clean_redis, forget_shared_stores
):
    """Looking whether a name is free, then writing it in another step, loses saves: caught."""
    reports = run_workers(clean_redis, "split")
    assert any("saves got the name" in problem for problem in problems_of(reports, clean_redis))
