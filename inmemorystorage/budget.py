"""The byte budget: what each node is charged, and least-recently-used order over files.

The recency order is a :class:`cachetools.LRUCache` keyed by file path whose
``getsizeof`` charges each file node; eviction goes through its ``popitem()``
hook. Nothing here locks: the store guards a :class:`Budget` (see ``store.py``).
"""

from __future__ import annotations

import math
from typing import Literal

import attrs
from cachetools import LRUCache

from .tree import FileNode

__all__ = ["DIR_OVERHEAD", "FILE_OVERHEAD", "Budget", "OnFull", "dir_charge", "file_charge"]

OnFull = Literal["evict", "error"]

#: Bytes a stored file costs beyond its content and its path: the node object,
#: its float times and version, its path string and its entries in the parent
#: directory and in the recency order. Measured with tracemalloc (see
#: tests/test_budget_memory.py): about 420 bytes for a one-byte file in a large
#: directory, plus room for the spare capacity that dicts keep under churn.
FILE_OVERHEAD = 544
#: Bytes a directory costs beyond its name: the node, its float times, its
#: children dict and its entry in its parent (measured at about 170 bytes for a
#: directory holding one file; charged more, as a directory's dict grows).
DIR_OVERHEAD = 400


def file_charge(path: str, size: int) -> int:
    """What a file of *size* content bytes stored at *path* costs the budget."""
    return size + len(path) + FILE_OVERHEAD


def dir_charge(name: str) -> int:
    """What a directory called *name* costs the budget."""
    return len(name) + DIR_OVERHEAD


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


@attrs.define(slots=True, eq=False)
class Budget:
    """The bytes a store may hold and what it holds now.

    ``used`` never exceeds ``max_bytes`` once an operation is complete; the
    store only lets other threads look between complete operations.
    """

    max_bytes: int | None
    on_full: OnFull = "evict"
    files: _RecencyOrder = attrs.field(init=False)
    dir_bytes: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self.files = _RecencyOrder(math.inf if self.max_bytes is None else self.max_bytes)

    @property
    def used(self) -> int:
        """Bytes charged for every file and directory held."""
        return int(self.files.currsize) + self.dir_bytes

    def too_large(self, charge: int) -> bool:
        """Whether *charge* could never fit, even in an empty store."""
        return self.max_bytes is not None and charge > self.max_bytes

    def overflow(self, extra: int) -> int:
        """How many bytes past ``max_bytes`` holding *extra* more bytes would go (≤ 0: it fits)."""
        if self.max_bytes is None:
            return -1
        return self.used + extra - self.max_bytes

    def add_file(self, node: FileNode) -> None:
        """Charge a new file (its path holds none) and make it the most recently used.

        Raises:
            RuntimeError: there is no room: the caller failed to make it first.
        """
        if self.overflow(_charge_of(node)) > 0 or node.path in self.files:
            msg = f"internal error: no room was made for {node.path!r}"
            raise RuntimeError(msg)
        self.files[node.path] = node

    def remove_file(self, path: str) -> None:
        """Stop charging the file at *path*."""
        del self.files[path]

    def touch(self, path: str) -> None:
        """Mark the file at *path* as just used; nothing happens if none is held there."""
        self.files.get(path)  # LRUCache lookups reorder: this lookup is the touch

    def least_recent(self) -> FileNode:
        """Take the least recently used file out of the order (the eviction hook).

        Raises:
            KeyError: no file is held.
        """
        return self.files.popitem()[1]

    def add_dir(self, name: str) -> None:
        """Charge one new directory."""
        self.dir_bytes += dir_charge(name)

    def remove_dir(self, name: str) -> None:
        """Stop charging one directory."""
        self.dir_bytes -= dir_charge(name)

    def clear(self) -> None:
        """Forget every charge."""
        self.files.clear()
        self.dir_bytes = 0
