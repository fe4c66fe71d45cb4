"""A writer-preferring read-write lock whose read side is one uncontended lock round trip.

The store's critical sections are a handful of dictionary lookups, so the lock
is the hot path. A shared reader counter costs two contended mutex sections
per read (register, leave); instead each reading thread gets a plain
``threading.Lock`` of its own (a "big-reader" lock): a reader takes only its
own lock, which nobody else touches unless a writer comes. A writer takes the
writers' gate, then every registered reader lock, so when it holds them all no
reader is inside and none can enter.

Writer preference: readers never take the gate on their way in, so they
cannot keep a writer from it. A writer that holds the gate raises
``_writer_active``; a reader that sees it steps aside and waits at the gate.
So a writer waits only for the previous writer and for the readers already
inside their (short) sections, never for a stream of new readers.

Correctness rests on ``threading.Lock`` alone, never on the GIL: the flag is
only a hint read without a lock (a reader that misses it still cannot enter
while the writer holds that reader's lock), and registration happens under
the gate, so a writer never misses a reader that could enter while it
writes. It holds on free-threaded CPython too.

.. warning:: The lock is **not re-entrant**, on either side: a thread that
   holds it and asks for it again deadlocks once a writer is involved. The
   store never calls out to user code while holding it.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ReadWriteLock"]


class _Registry:
    """The reader locks of live threads, so that a writer can take them all.

    It holds them weakly: a thread's lock lives in that thread's local
    storage, dies with the thread, and is dropped from here at the next
    snapshot. (No weakref callback: a callback can run inside a garbage
    collection triggered anywhere, even while this registry's mutex is held
    by the same thread, and would deadlock taking it.)
    """

    __slots__ = ("_mutex", "_refs")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._refs: list[weakref.ref[threading.Lock]] = []  # guarded by self._mutex

    def add(self, lock: threading.Lock) -> None:
        with self._mutex:
            self._refs.append(weakref.ref(lock))

    def snapshot(self) -> list[threading.Lock]:
        with self._mutex:
            locks = [lock for ref in self._refs if (lock := ref()) is not None]
            if len(locks) != len(self._refs):
                self._refs = [ref for ref in self._refs if ref() is not None]
            return locks


#: How often a thread yields before it sleeps on a lock held by another.
_POLITE_TRIES = 100


def _acquire_politely(lock: threading.Lock) -> None:
    """Take *lock*, yielding to its holder for a while before sleeping on it.

    Sections under the store's locks are a few microseconds long. A thread
    that sleeps on a taken lock in the kernel must later be woken and win the
    interpreter back before the lock can move on, and under contention every
    release then becomes a context switch (a lock convoy: saves from two
    threads ran at a third of the speed of one). Yielding first lets the
    holder finish its section; after a while, sleep as usual.
    """
    if lock.acquire(blocking=False):
        return
    for _ in range(_POLITE_TRIES):
        time.sleep(0)
        if lock.acquire(blocking=False):
            return
    lock.acquire()


class _Holding:
    """One side of a :class:`ReadWriteLock` as a context manager."""

    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire: object, release: object) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()  # type: ignore[operator]  # bound methods of the lock

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()  # type: ignore[operator]  # bound methods of the lock


class ReadWriteLock:
    """Many readers or one writer; a writer bars new readers (writer-preferring).

    Use ``with lock.read:`` and ``with lock.write:``. The hot path may use
    ``token = lock.acquire_read()`` … ``token.release()``.
    """

    __slots__ = (
        "_gate",
        "_held",
        "_local",
        "_registry",
        "_writer_active",
        "read",
        "write",
    )

    def __init__(self) -> None:
        self._gate = threading.Lock()  # one writer at a time; readers wait here for writers
        self._local = threading.local()  # this thread's reader lock, as .lock
        self._registry = _Registry()
        self._writer_active = False  # written under self._gate; read by readers as a hint
        self._held: list[threading.Lock] = []  # guarded by self._gate (the writer's own)
        self.read = _Holding(self.acquire_read, self.release_read)
        self.write = _Holding(self.acquire_write, self.release_write)

    def acquire_read(self) -> threading.Lock:
        """Enter as a reader; returns the token to release (its ``release()`` leaves).

        Waits while a writer holds the lock.
        """
        try:
            lock: threading.Lock = self._local.lock
        except AttributeError:
            lock = self._register_reader()
        lock.acquire()
        while self._writer_active:
            # A writer holds the gate: let it finish, then try again.
            lock.release()
            _acquire_politely(self._gate)
            self._gate.release()
            lock.acquire()
        return lock

    def release_read(self) -> None:
        """Leave as a reader (the same as releasing the token ``acquire_read`` gave)."""
        self._local.lock.release()

    def _register_reader(self) -> threading.Lock:
        lock = threading.Lock()
        # Under the gate, so no writer is between taking its snapshot and releasing.
        with self._gate:
            self._registry.add(lock)
        self._local.lock = lock
        return lock

    def acquire_write(self) -> None:
        """Enter as the only holder: wait for the writer before, then for the readers inside."""
        _acquire_politely(self._gate)
        self._writer_active = True
        taken: list[threading.Lock] = []
        try:
            for lock in self._registry.snapshot():
                _acquire_politely(lock)
                taken.append(lock)
        except BaseException:
            # Interrupted (KeyboardInterrupt) before holding every reader lock: withdraw.
            for lock in taken:
                lock.release()
            self._writer_active = False
            self._gate.release()
            raise
        self._held = taken

    def release_write(self) -> None:
        """Leave as the writer: readers and the next writer may enter."""
        held, self._held = self._held, []
        for lock in held:
            lock.release()
        self._writer_active = False
        self._gate.release()
