"""The store's lock: a plain mutex that yields to a brief holder before sleeping on it.

Reads of a stored file take no lock at all (see ``store.py``); this lock
serialises the writers and the few readers that need a consistent view of
more than one entry (``listdir()``, ``stat()``, ``stats()``). It keeps no
state per thread, so a writer costs the same however many threads have read,
and a finished thread leaves nothing behind.

Correctness rests on :class:`threading.Lock` alone, never on the GIL; it holds
on free-threaded CPython too.

.. warning:: The lock is **not re-entrant**: a thread that holds it and asks
   for it again deadlocks. The store never calls out to user code while
   holding it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["NO_WAIT", "PoliteLock"]

#: How often a thread yields before it sleeps on a lock held by another.
_POLITE_TRIES = 100
#: ``Lock.acquire()``'s *blocking* argument for a try that does not wait. Pass
#: it by position: a keyword costs the C method about 80 ns more, a third of
#: a try, on the store's hottest paths.
NO_WAIT = False


class PoliteLock:
    """A mutex whose waiters first yield to its holder, then sleep as usual.

    Sections under the store's lock are a few microseconds long. A thread
    that sleeps on a taken lock in the kernel must later be woken and win the
    interpreter back before the lock can move on, and under contention every
    release then becomes a context switch (a lock convoy: measured here, saves
    from two threads ran at a third of the speed of one behind a plain
    ``Lock``). Yielding first lets the holder finish its section.
    """

    __slots__ = ("mutex",)

    def __init__(self) -> None:
        #: The plain lock underneath: a hot path may try it first and call
        #: :meth:`acquire` only when it is taken, and release it directly.
        self.mutex = threading.Lock()

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False``, only if it is free (returns whether taken)."""
        lock = self.mutex
        if lock.acquire(NO_WAIT):
            return True
        if not blocking:
            return False
        for _ in range(_POLITE_TRIES):
            time.sleep(0)
            if lock.acquire(NO_WAIT):
                return True
        return lock.acquire()

    def release(self) -> None:
        """Release the lock (held by this thread)."""
        self.mutex.release()

    def locked(self) -> bool:
        """Whether some thread holds the lock."""
        return self.mutex.locked()

    def __enter__(self) -> None:
        if not self.mutex.acquire(NO_WAIT):  # the usual case, spared a call
            self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.mutex.release()
