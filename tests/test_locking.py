"""The store's lock, and what reads without a lock cost the writers: nothing per reader."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc

import pytest

from inmemorystorage.locking import PoliteLock
from inmemorystorage.store import Store

from .stress import NoOpLock

TIMEOUT = 10


def bump_under(lock, counter, times=2000):
    for _ in range(times):
        with lock:
            value = counter[0]
            time.sleep(0)
            counter[0] = value + 1


def run_bumpers(lock, threads=4, times=2000):
    counter = [0]
    workers = [
        threading.Thread(target=bump_under, args=(lock, counter, times)) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(TIMEOUT)
    return counter[0]


def test_holders_exclude_each_other():
    """Increments under the lock are never lost."""
    assert 8000 == run_bumpers(PoliteLock())


def test_the_exclusion_test_detects_a_lock_that_locks_nothing():
    """The same increments under a no-op lock lose some: the test above can fail."""
    assert 8000 > run_bumpers(NoOpLock())


def test_a_taken_lock_is_refused_without_blocking():
    """acquire(blocking=False) answers at once whether it took the lock."""
    lock = PoliteLock()
    assert lock.acquire(blocking=False)
    assert lock.locked()
    assert not lock.acquire(blocking=False)
    lock.release()
    assert not lock.locked()


def test_a_waiter_yields_before_it_sleeps_and_still_gets_the_lock():
    """A thread that finds the lock taken waits for it, politely, and gets it once released."""
    lock = PoliteLock()
    lock.acquire()
    entered = threading.Event()

    def waiter():
        with lock:
            entered.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    time.sleep(0.05)
    assert not entered.is_set()
    lock.release()
    thread.join(TIMEOUT)
    assert entered.is_set()


def test_the_lock_keeps_no_state_per_thread():
    """One mutex and nothing else: there is no per-reader state for a writer to visit."""
    assert ("mutex",) == PoliteLock.__slots__


def read_in_fresh_threads(store: Store, count: int) -> None:
    """Runserver's pattern: each request is a new thread that reads once and ends."""
    for _ in range(count):
        thread = threading.Thread(target=store.read, args=("hot.txt",))
        thread.start()
        thread.join(TIMEOUT)


@pytest.mark.memory  # a tracemalloc measurement: run apart from the coverage tracer
def test_finished_reader_threads_leave_nothing_behind():
    """After 1,000 thread-per-request reads (applied), the store holds what it held before."""
    store = Store()
    store.write("hot.txt", b"x" * 100)
    for _ in range(2000):  # warm up: the access-time entry and the queue's spare blocks exist
        store.read("hot.txt")
    store.stats()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        read_in_fresh_threads(store, 1000)
        store.stats()  # applies the pending reads
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert retained / 1000 < 8, f"{retained / 1000:.1f} bytes retained per finished thread"
