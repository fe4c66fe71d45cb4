"""Helpers for concurrency tests: run threads with a deadlock watchdog, check store invariants."""

from __future__ import annotations

import faulthandler
import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from cachetools import Cache

from inmemorystorage.budget import dir_charge, file_charge, record_charge
from inmemorystorage.store import Store
from inmemorystorage.tree import DirNode, FileNode

DEADLOCK_TIMEOUT = 60.0


class NoOpLock:
    """A read-write lock that locks nothing: the mutation the stress tests must catch."""

    def __init__(self) -> None:
        self.read = self.write = _NoOpSide()

    def acquire_read(self) -> _NoOpSide:
        return self.read

    def release_read(self) -> None: ...
    def acquire_write(self) -> None: ...
    def release_write(self) -> None: ...


class _NoOpSide:
    def __enter__(self) -> None: ...
    def __exit__(self, *exc: object) -> None: ...
    def release(self) -> None: ...


@contextmanager
def broken_lock(store: Store, *, tally: bool = False) -> Iterator[None]:
    """Replace the store's read-write lock (and with *tally*, its tally lock) with no-ops."""
    real_lock, real_tally = store._lock, store._tally
    store._lock = NoOpLock()  # type: ignore[assignment]
    if tally:
        store._tally = _NoOpMutex()  # type: ignore[assignment]
    try:
        yield
    finally:
        store._lock, store._tally = real_lock, real_tally


class _NoOpMutex(_NoOpSide):
    def acquire(self, blocking: bool = True) -> bool:
        return True


def run_threads(targets: list[Callable[[], None]], timeout: float = DEADLOCK_TIMEOUT) -> list[str]:
    """Run each target in its own thread; return the errors they raised.

    A thread still alive after *timeout* seconds is a deadlock: the stacks of
    all threads are dumped through faulthandler and the test fails.
    """
    errors: list[str] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # every failure is reported, none lost
                errors.append(f"{type(exc).__name__}: {exc}")

        return run

    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        pytest.fail(f"deadlock: threads still running after {timeout} s (stacks on stderr)")
    return errors


def check_consistency(store: Store) -> list[str]:
    """Compare the tree, the counts, the budget and the bound, under the store's locks."""
    try:
        return _compare(store)
    except RuntimeError as exc:  # "dictionary changed size during iteration"
        return [f"the tree changed while the read lock was held: {exc}"]


def _compare(store: Store) -> list[str]:
    problems: list[str] = []
    with store._lock.read, store._tally:
        files = dirs = charged = 0
        tree_files: dict[str, FileNode] = {}
        stack: list[tuple[str, DirNode]] = [("", store._root)]
        while stack:
            prefix, directory = stack.pop()
            for name, child in directory.children.items():
                path = f"{prefix}{name}"
                if isinstance(child, DirNode):
                    dirs += 1
                    charged += dir_charge(name)
                    stack.append((path + "/", child))
                else:
                    files += 1
                    charged += file_charge(path, len(child.content))
                    tree_files[path] = child
                    if child.path != path:
                        problems.append(f"node at {path!r} thinks it is at {child.path!r}")
        budget = store._budget
        counted = (len(store._index), store._dirs)
        if (files, dirs) != counted:
            problems.append(f"tree has {files} files, {dirs} dirs; the counts say {counted}")
        if store._index.keys() != tree_files.keys() or any(
            store._index[p] is not n for p, n in tree_files.items()
        ):
            problems.append("the index does not hold exactly the tree's files")
        order = getattr(budget, "files", None)  # only a bounded budget keeps an order
        if order is not None and set(order) != set(tree_files):
            problems.append("the budget's files are not the tree's files")
        elif order is not None and any(
            Cache.__getitem__(order, p) is not n for p, n in tree_files.items()
        ):
            problems.append("the budget holds a different node than the tree")
        remembered = sum(record_charge(name) for name in store._evicted)
        if charged + remembered != budget.used:
            problems.append(
                f"the tree and records weigh {charged + remembered}, used {budget.used}"
            )
        if budget.max_bytes is not None and budget.used > budget.max_bytes:
            problems.append(f"bytes used {budget.used} exceed max_bytes {budget.max_bytes}")
    return problems


def versioned(name: str, version: int, size: int) -> bytes:
    """Content that names its own file and version, padded to *size* bytes."""
    head = f"{name}@{version}:".encode()
    filler = hashlib.sha256(head).digest() * ((size - len(head)) // 32 + 1)
    return head + filler[: size - len(head)]
