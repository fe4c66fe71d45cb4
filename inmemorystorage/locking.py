"""A writer-preferring read-write lock whose read side costs two plain lock round trips.

The store's critical sections are a handful of dictionary lookups, so the lock
itself is the hot path: a reader that finds no writer active or waiting takes
one short ``threading.Lock`` section to register and one to leave, and never
touches a condition variable. Readers only block, and only wait on a
condition, while a writer holds the lock or is queued for it.

Correctness rests on ``threading.Lock`` and ``threading.Condition`` alone (every
field below is read and written with ``_mutex`` held), never on the GIL, so it
holds on free-threaded CPython too.

.. warning:: The lock is **not re-entrant**. A thread that holds it (for
   reading or writing) and asks for it again deadlocks as soon as a writer is
   queued, so the store never calls out to user code while holding it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["ReadWriteLock"]


class _Holding:
    """One side of a :class:`ReadWriteLock` as a context manager."""

    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()


class ReadWriteLock:
    """Many readers or one writer; a queued writer bars new readers (writer-preferring).

    Use ``with lock.read:`` and ``with lock.write:``, or the explicit
    ``acquire_*``/``release_*`` pairs.
    """

    __slots__ = (
        "_mutex",
        "_no_readers",
        "_no_writer",
        "_readers",
        "_writer_active",
        "_writers_waiting",
        "read",
        "write",
    )

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        # Writers wait here for the readers (and an active writer) to leave.
        self._no_readers = threading.Condition(self._mutex)
        # Readers wait here while a writer is active or queued.
        self._no_writer = threading.Condition(self._mutex)
        self._readers = 0  # guarded by self._mutex
        self._writer_active = False  # guarded by self._mutex
        self._writers_waiting = 0  # guarded by self._mutex
        self.read = _Holding(self.acquire_read, self.release_read)
        self.write = _Holding(self.acquire_write, self.release_write)

    def acquire_read(self) -> None:
        """Enter as a reader, waiting while a writer is active or queued."""
        with self._mutex:
            while self._writer_active or self._writers_waiting:
                self._no_writer.wait()
            self._readers += 1

    def release_read(self) -> None:
        """Leave as a reader, waking one queued writer if this was the last reader."""
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._writers_waiting:
                self._no_readers.notify()

    def acquire_write(self) -> None:
        """Enter as the only holder, waiting for readers and any writer to leave."""
        with self._mutex:
            self._writers_waiting += 1
            try:
                while self._writer_active or self._readers:
                    self._no_readers.wait()
            except BaseException:
                # Interrupted while queued (KeyboardInterrupt): leave the queue
                # and pass on any wake-up this writer may have swallowed.
                self._writers_waiting -= 1
                self._wake_next()
                raise
            self._writers_waiting -= 1
            self._writer_active = True

    def release_write(self) -> None:
        """Leave as the writer: hand over to the next queued writer, else to all readers."""
        with self._mutex:
            self._writer_active = False
            self._wake_next()

    def _wake_next(self) -> None:
        # Called with self._mutex held.
        if self._writer_active or self._readers:
            return
        if self._writers_waiting:
            self._no_readers.notify()
        else:
            self._no_writer.notify_all()
