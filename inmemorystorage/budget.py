"""The byte budget: what each node is charged, and least-recently-used order over files.

The recency order is a :class:`cachetools.LRUCache` keyed by file path whose
``getsizeof`` charges each file node; eviction goes through its ``popitem()``
hook. Nothing here locks: the store guards a :class:`Budget` (see ``store.py``).
"""

from __future__ import annotations

from typing import Literal

from cachetools import LRUCache

from .tree import FileNode

__all__ = [
    "DIR_OVERHEAD",
    "FILE_OVERHEAD",
    "RECORD_OVERHEAD",
    "BoundedBudget",
    "Budget",
    "OnFull",
    "dir_charge",
    "file_charge",
    "make_budget",
    "record_charge",
]

OnFull = Literal["evict", "error"]

#: Bytes a stored file costs beyond its content and its path: the node object,
#: its float times and version, its path string and its entries in the parent
#: directory, the name index and the recency order. Measured with tracemalloc
#: (see tests/test_budget_memory.py): about 440 bytes for a one-byte file in a
#: large directory of a bounded store, plus room for the spare capacity that
#: those dicts keep when files come and go (about 640 bytes a file, measured
#: after 60,000 saves and evictions in one directory).
FILE_OVERHEAD = 640
#: Bytes a directory costs beyond its name: the node, its float times, its
#: children dict and its entry in its parent (measured at about 240 bytes for a
#: directory holding one file; charged more, as a directory's dict grows).
DIR_OVERHEAD = 400
#: Bytes one entry in the record of recent evictions costs beyond the evicted
#: name: the record object, its fields and its dict entry (about 200 bytes
#: measured; always less than a file's overhead, so that recording an eviction
#: never costs what the eviction freed).
RECORD_OVERHEAD = 240


def file_charge(path: str, size: int) -> int:
    """What a file of *size* content bytes stored at *path* costs the budget."""
    return size + len(path) + FILE_OVERHEAD


def dir_charge(name: str) -> int:
    """What a directory called *name* costs the budget."""
    return len(name) + DIR_OVERHEAD


def record_charge(name: str) -> int:
    """What remembering the eviction of the file at *name* costs the budget."""
    return len(name) + RECORD_OVERHEAD


def _charge_of(node: FileNode) -> int:
    return file_charge(node.path, len(node.content))


class _RecencyOrder(LRUCache[str, FileNode]):
    """Files by path, least recently used first, weighed by their charge.

    Two things in cachetools do not fit and are handled by the budget instead:
    ``__setitem__`` raises ``ValueError`` for an item larger than ``maxsize``
    (the budget refuses such a file with ``StorageFull`` before inserting), and
    it evicts on its own when full, which would miss directory charges (the
    budget makes room first, so the cache never has to). ``__getitem__``
    reorders, so a lookup is a write: the store guards it like one.
    """

    def __init__(self, maxsize: float) -> None:
        super().__init__(maxsize=maxsize, getsizeof=_charge_of)


class Budget:
    """The bytes a store holds, with no bound: counting only, no recency order.

    ``used`` never exceeds ``max_bytes`` once an operation is complete; the
    store only lets other threads look between complete operations.
    """

    __slots__ = ("dir_bytes", "file_bytes", "on_full", "record_bytes")

    max_bytes: int | None = None

    def __init__(self, on_full: OnFull = "evict") -> None:
        self.on_full: OnFull = on_full
        self.file_bytes = 0
        self.dir_bytes = 0
        self.record_bytes = 0

    @property
    def used(self) -> int:
        """Bytes charged for every file, directory and eviction record held."""
        return self.file_bytes + self.dir_bytes + self.record_bytes

    def too_large(self, charge: int) -> bool:
        """Whether *charge* could never fit, even in an empty store."""
        return self.max_bytes is not None and charge > self.max_bytes

    def overflow(self, extra: int) -> int:
        """How many bytes past ``max_bytes`` holding *extra* more bytes would go (≤ 0: it fits).

        Eviction records do not count: they only fill the room that files and
        directories leave free, and give it up first.
        """
        if self.max_bytes is None:
            return -1
        return self.used - self.record_bytes + extra - self.max_bytes

    def add_file(self, node: FileNode) -> None:
        """Charge a new file (its path holds none) and make it the most recently used."""
        self.file_bytes += _charge_of(node)

    def remove_file(self, node: FileNode) -> None:
        """Stop charging a file that is held."""
        self.file_bytes -= _charge_of(node)

    def touch(self, path: str) -> None:
        """Mark the file at *path* as just used (no order to keep without a bound)."""

    def least_recent(self) -> FileNode:
        """Take the least recently used file out of the order (the eviction hook).

        Raises:
            KeyError: no file is held in any order (always, without a bound).
        """
        raise KeyError(self)

    def add_dir(self, name: str) -> None:
        """Charge one new directory."""
        self.dir_bytes += dir_charge(name)

    def remove_dir(self, name: str) -> None:
        """Stop charging one directory."""
        self.dir_bytes -= dir_charge(name)

    def add_record(self, name: str) -> None:
        """Charge one remembered eviction."""
        self.record_bytes += record_charge(name)

    def remove_record(self, name: str) -> None:
        """Stop charging one remembered eviction."""
        self.record_bytes -= record_charge(name)

    def clear(self) -> None:
        """Forget every charge."""
        self.file_bytes = self.dir_bytes = self.record_bytes = 0


class BoundedBudget(Budget):
    """At most ``max_bytes``, with files in least-recently-used order for eviction."""

    __slots__ = ("files", "max_bytes")

    def __init__(self, max_bytes: int, on_full: OnFull = "evict") -> None:
        super().__init__(on_full)
        self.max_bytes: int | None = max_bytes
        self.files = _RecencyOrder(max_bytes)

    @property
    def used(self) -> int:
        """Bytes charged for every file, directory and eviction record held."""
        return int(self.files.currsize) + self.dir_bytes + self.record_bytes

    def add_file(self, node: FileNode) -> None:
        """Charge a new file (its path holds none) and make it the most recently used.

        Raises:
            RuntimeError: there is no room: the caller failed to make it first.
        """
        if self.overflow(_charge_of(node)) > 0 or node.path in self.files:
            msg = f"internal error: no room was made for {node.path!r}"
            raise RuntimeError(msg)
        self.files[node.path] = node

    def remove_file(self, node: FileNode) -> None:
        """Stop charging a file that is held."""
        del self.files[node.path]

    def touch(self, path: str) -> None:
        """Mark the file at *path* as just used; nothing happens if none is held there."""
        self.files.get(path)  # LRUCache lookups reorder: this lookup is the touch

    def least_recent(self) -> FileNode:
        """Take the least recently used file out of the order (the eviction hook).

        Raises:
            KeyError: no file is held.
        """
        return self.files.popitem()[1]

    def clear(self) -> None:
        """Forget every charge."""
        self.files.clear()
        self.dir_bytes = self.record_bytes = 0


def make_budget(max_bytes: int | None, on_full: OnFull = "evict") -> Budget:
    """The budget for a store: counting only when unbounded, an LRU order when bounded."""
    return Budget(on_full) if max_bytes is None else BoundedBudget(max_bytes, on_full)
