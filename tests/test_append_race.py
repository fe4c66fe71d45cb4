"""Append mode against a delete in another thread: the file is appended to or created, never lost.

``open(name, "ab")`` asks whether the file exists, then reads it; a delete in
between (another thread, or on Redis another process) must not make the
append fail with ``FileNotFoundError``: appending to a missing file creates it.
"""

from __future__ import annotations

import threading

import pytest

ROUNDS = {"memory": 3_000, "redis": 400}


@pytest.mark.usefixtures("fast_switching")
def test_append_while_another_thread_deletes_never_fails(engine, make_storage):
    """Every append publishes a file, whatever the deletes do; no append raises."""
    appender = make_storage(namespace="appends")
    deleter = make_storage(namespace="appends")
    done = threading.Event()
    failures: list[BaseException] = []

    def delete_until_done() -> None:
        while not done.is_set():
            deleter.delete("log.txt")

    thread = threading.Thread(target=delete_until_done)
    thread.start()
    try:
        for _ in range(ROUNDS[engine]):
            try:
                with appender.open("log.txt", "ab") as file:
                    file.write(b"x")
            except OSError as exc:
                failures.append(exc)
    finally:
        done.set()
        thread.join()
    assert [] == failures
