"""The read-write lock: many readers, one writer, writers first."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from inmemorystorage.locking import ReadWriteLock

TIMEOUT = 10


def test_readers_share_the_lock():
    """Two threads can hold the read side at once."""
    lock = ReadWriteLock()
    both_inside = threading.Barrier(2, timeout=TIMEOUT)

    def reader():
        with lock.read:
            both_inside.wait()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)


def test_a_writer_waits_for_readers_to_leave():
    """The write side is only granted once every reader has released."""
    lock = ReadWriteLock()
    events: list[str] = []
    lock.acquire_read()
    writer = threading.Thread(
        target=lambda: (lock.acquire_write(), events.append("write")), daemon=True
    )
    writer.start()
    time.sleep(0.05)
    assert events == []
    events.append("read released")
    lock.release_read()
    writer.join(TIMEOUT)
    assert events == ["read released", "write"]
    lock.release_write()


def test_a_queued_writer_bars_new_readers():
    """Writer preference: once a writer waits, a new reader queues behind it."""
    lock = ReadWriteLock()
    order: list[str] = []
    lock.acquire_read()

    def writer():
        with lock.write:
            order.append("writer")

    def late_reader():
        with lock.read:
            order.append("late reader")

    writer_thread = threading.Thread(target=writer, daemon=True)
    writer_thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not lock._writer_active and time.monotonic() < deadline:
        time.sleep(0.001)
    reader_thread = threading.Thread(target=late_reader, daemon=True)
    reader_thread.start()
    time.sleep(0.05)
    assert order == []
    lock.release_read()
    writer_thread.join(TIMEOUT)
    reader_thread.join(TIMEOUT)
    assert order == ["writer", "late reader"]


def test_writers_exclude_each_other():
    """Increments under the write side are never lost."""
    lock = ReadWriteLock()
    counter = [0]

    def bump():
        for _ in range(2000):
            with lock.write:
                value = counter[0]
                time.sleep(0)
                counter[0] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert counter[0] == 8000


def test_an_interrupted_writer_leaves_the_lock_usable():
    """A writer interrupted while waiting for readers gives up everything it took."""
    lock = ReadWriteLock()

    class Interrupted(BaseException):
        pass

    class InterruptingLock:
        def acquire(self, blocking=True):
            raise Interrupted

    with lock.read:  # registers this thread's reader lock, taken first by a writer
        pass
    interrupting = InterruptingLock()
    lock._registry.add(interrupting)  # type: ignore[arg-type]
    with pytest.raises(Interrupted):
        lock.acquire_write()
    assert (False, False) == (lock._writer_active, lock._gate.locked())
    assert not lock._local.lock.locked()
    del interrupting
    gc.collect()
    with lock.write:
        pass
    with lock.read:
        pass


def test_a_reader_thread_that_ends_is_forgotten():
    """Reader locks of finished threads leave the registry, so writers do not pile them up."""
    lock = ReadWriteLock()

    def read_once():
        with lock.read:
            pass

    for _ in range(20):
        thread = threading.Thread(target=read_once)
        thread.start()
        thread.join(TIMEOUT)
    gc.collect()
    assert len(lock._registry.snapshot()) == 0


def test_a_writer_holds_every_reader_lock():
    """While a writer is inside, every registered reader lock is taken."""
    lock = ReadWriteLock()
    with lock.read:
        pass
    with lock.write:
        assert all(reader.locked() for reader in lock._registry.snapshot())
    assert not any(reader.locked() for reader in lock._registry.snapshot())


def test_the_registry_forgets_dead_threads_without_callbacks():
    """Regression: a weakref callback that took the registry's mutex could run inside a
    garbage collection while the same thread held that mutex, and deadlock the writer;
    dead reader locks are now dropped at the next snapshot instead.
    """
    lock = ReadWriteLock()
    reader = threading.Thread(target=lambda: lock.acquire_read().release())
    reader.start()
    reader.join(TIMEOUT)
    gc.collect()
    assert all(ref.__callback__ is None for ref in lock._registry._refs)
    assert [] == lock._registry.snapshot()
    assert [] == lock._registry._refs


def test_a_waiting_writer_yields_before_it_sleeps():
    """A writer that finds the gate taken waits for it politely and still gets it."""
    lock = ReadWriteLock()
    lock._gate.acquire()
    entered = threading.Event()

    def writer():
        with lock.write:
            entered.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(0.05)
    assert not entered.is_set()
    lock._gate.release()
    thread.join(TIMEOUT)
    assert entered.is_set()
