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

from inmemorystorage.budget import dir_charge, file_charge, record_charge
from inmemorystorage.store import Store
from inmemorystorage.tree import DirNode, parent_name

DEADLOCK_TIMEOUT = 60.0


class NoOpLock:
    """A lock that locks nothing: the mutation the stress tests must catch."""

    @property
    def mutex(self) -> NoOpLock:
        return self  # the plain lock underneath locks nothing either

    def acquire(self, blocking: bool = True) -> bool:
        return True

    def release(self) -> None: ...
    def locked(self) -> bool:
        return False

    def __enter__(self) -> None: ...
    def __exit__(self, *exc: object) -> None: ...


@contextmanager
def broken_lock(store: Store) -> Iterator[None]:
    """Replace the store's lock with a no-op for the duration of the block."""
    real_lock = store._lock
    store._lock = NoOpLock()  # type: ignore[assignment]
    try:
        yield
    finally:
        store._lock = real_lock


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
    except (RuntimeError, KeyError) as exc:  # the tree changed under a broken lock
        return [f"the tree changed while the read lock was held: {exc}"]


def _walk(store: Store, problems: list[str]) -> tuple[dict[str, int], dict[str, DirNode]]:
    """Every file and directory reachable from the root, by name (the lock is held)."""
    tree_files: dict[str, int] = {}  # name -> stamp
    tree_dirs: dict[str, DirNode] = {"": store._dirs[""]}
    stack = [""]
    while stack:
        directory = stack.pop()
        for name, child in tree_dirs[directory].children.items():
            if parent_name(name) != directory:
                problems.append(f"{name!r} is listed in {directory!r}")
            if isinstance(child, DirNode):
                tree_dirs[name] = child
                stack.append(name)
            else:
                tree_files[name] = child
    return tree_files, tree_dirs


def _compare(store: Store) -> list[str]:
    problems: list[str] = []
    with store._lock:
        tree_files, tree_dirs = _walk(store, problems)
        file_bytes = sum(file_charge(n, len(store._files.get(n, b""))) for n in tree_files)
        dir_bytes = sum(dir_charge(name) for name in tree_dirs if name)
        charged = file_bytes + dir_bytes
        if store._files.keys() != tree_files.keys():
            problems.append("the index does not hold exactly the tree's files")
        elif any(type(stamp) is not int for stamp in tree_files.values()):
            problems.append("a directory lists a file without its stamp")
        if store._dirs.keys() != tree_dirs.keys() or any(
            store._dirs[name] is not node for name, node in tree_dirs.items()
        ):
            problems.append("the directory index does not hold exactly the tree's directories")
        budget = store._budget
        if (budget.file_bytes, budget.dir_bytes) != (file_bytes, dir_bytes):
            problems.append(
                f"the budget charges {budget.file_bytes} + {budget.dir_bytes} bytes; "
                f"the tree weighs {file_bytes} + {dir_bytes}"
            )
        remembered = sum(record_charge(name) for name in store._evicted)
        if charged + remembered != budget.used:
            problems.append(f"tree and records weigh {charged + remembered}, used {budget.used}")
        if not store._accessed.keys() <= tree_files.keys():
            problems.append("access times are kept for files that are gone")
        if not store._created.keys() <= tree_files.keys():
            problems.append("creation times are kept for files that are gone")
        if budget.max_bytes is not None and budget.used > budget.max_bytes:
            problems.append(f"bytes used {budget.used} exceed max_bytes {budget.max_bytes}")
        problems.extend(_stale_listings(tree_dirs))
    return problems


def _stale_listings(tree_dirs: dict[str, DirNode]) -> list[str]:
    """Directories whose kept listing or count of subdirectories is not what they hold."""
    problems = []
    for name, node in tree_dirs.items():
        cut = len(name) + 1 if name else 0
        dirs = [key[cut:] for key, child in node.children.items() if isinstance(child, DirNode)]
        files = [key[cut:] for key, child in node.children.items() if type(child) is int]
        if node.subdirs != len(dirs):
            problems.append(f"{name!r} counts {node.subdirs} subdirectories, holds {len(dirs)}")
        if node.listing is not None and (sorted(dirs), sorted(files)) != tuple(
            map(sorted, node.listing)
        ):
            problems.append(f"the listing kept for {name!r} is stale")
    return problems


def versioned(name: str, version: int, size: int) -> bytes:
    """Content that names its own file and version, padded to *size* bytes."""
    head = f"{name}@{version}:".encode()
    filler = hashlib.sha256(head).digest() * ((size - len(head)) // 32 + 1)
    return head + filler[: size - len(head)]
