"""The byte budget: what each node is charged, and the recency order that eviction follows.

A store keeps its files in an index by name. Without a bound the index is a
plain ``dict``: nothing is ever evicted, so no order is kept. With a bound it
is an :class:`collections.OrderedDict` whose order *is* the recency order,
least recently used first: a use moves the name to the end, eviction takes the
first. One structure, not an index beside an LRU cache, because each entry
costs memory a small file can ill afford. Nothing here locks: the store
guards a :class:`Budget` (see ``store.py``).
"""

from __future__ import annotations

import collections
import operator
import sys
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DIR_OVERHEAD",
    "FILE_OVERHEAD",
    "RECORD_OVERHEAD",
    "RECORD_SHARE",
    "BoundedBudget",
    "Budget",
    "Index",
    "OnFull",
    "dir_charge",
    "file_charge",
    "make_budget",
    "name_charge",
    "record_charge",
    "server_name_charge",
]

OnFull = Literal["evict", "error"]
#: Each file's content by its canonical name.
Index = dict[str, bytes]

#: Bytes a stored file costs beyond its content and its name: the node and its
#: stamp, its entries in the name index (with the recency order of a bounded
#: store), in its directory and, once read or replaced, in the access and
#: creation times kept beside it. Measured with tracemalloc (see
#: tests/test_budget_memory.py) at about 400 bytes for a one-byte file that has
#: been read and replaced; charged more, as headroom for the spare capacity that
#: those dicts keep when files come and go.
FILE_OVERHEAD = 640
#: Bytes a directory costs beyond its name: the node, its times, its children
#: dict and its entries in its parent and in the directory index (measured at
#: about 330 bytes for a directory holding one file; charged more, as a
#: directory's dict grows).
DIR_OVERHEAD = 400
#: Bytes one entry in the record of recent evictions costs beyond the evicted
#: name: the record object, its fields and its dict entry (about 200 bytes
#: measured; always less than a file's overhead, so that recording an eviction
#: never costs what the eviction freed).
RECORD_OVERHEAD = 240
#: Remembered evictions may keep up to one part in this many of a bounded budget
#: for themselves, even when files need the room: so that the names of recently
#: evicted files stay taken under pressure (a 200 KiB budget keeps about 50).
RECORD_SHARE = 16


_EMPTY_STR_SIZE = sys.getsizeof("")


def name_charge(name: str) -> int:
    """The bytes the characters of *name* take in memory.

    One a character for ASCII; a ``str`` with one wider character stores
    every character at that width (two or four bytes, PEP 393), so that
    ``"a" * 4000 + "😀"`` takes 16 kB: measured, not counted.
    """
    return len(name) if name.isascii() else sys.getsizeof(name) - _EMPTY_STR_SIZE


def server_name_charge(name: str) -> int:
    """The bytes *name* takes on a Redis server, which keeps it as UTF-8: the shared engine's.

    The same as :func:`name_charge` for an ASCII name. A name that is not is
    charged what it takes where it is kept: CPython's ``str`` in process,
    its UTF-8 bytes on the server (``#name`` in the scripts).
    """
    return len(name.encode("utf-8", "surrogatepass"))


def file_charge(path: str, size: int) -> int:
    """What a file of *size* content bytes stored at the canonical name *path* costs the budget."""
    return size + name_charge(path) + FILE_OVERHEAD


def dir_charge(name: str) -> int:
    """What the directory at the canonical name *name* costs the budget.

    Its whole name, not only its last segment: a directory is kept under its
    full name, so ``a/a/.../a`` (2,000 levels) holds about 4 MB of names.
    """
    return name_charge(name) + DIR_OVERHEAD


def record_charge(name: str) -> int:
    """What remembering the eviction of the file at *name* costs the budget."""
    return name_charge(name) + RECORD_OVERHEAD


class Budget:
    """The bytes a store holds, with no bound: counting only, and no recency order.

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

        Eviction records count up to their reserve (:data:`RECORD_SHARE` of
        the budget): those keep evicted names taken, and cost files their
        place; records past it only fill the room that files and directories
        leave free, and give it up first.
        """
        if self.max_bytes is None:
            return -1
        reserved = min(self.record_bytes, self.max_bytes // RECORD_SHARE)
        return self.file_bytes + self.dir_bytes + reserved + extra - self.max_bytes

    def new_index(self) -> Index:
        """An empty name index of the kind this budget orders (a plain dict: no order)."""
        return {}

    def touch(self, index: Index, name: str) -> None:
        """Mark the file at *name* as just used (no order to keep without a bound)."""

    def touch_all(self, index: Index, uses: Sequence[tuple[str, float]]) -> None:
        """Mark the files named in *uses* (name, time) as used, in that order.

        Without a bound there is no order to keep.
        """

    def least_recent(self, index: Index) -> str:  # noqa: ARG002  # the bounded budget reads it
        """The name of the least recently used file, the next to evict.

        Raises:
            KeyError: no file can be evicted (always, without a bound).
        """
        raise KeyError(self)

    def add_file(self, charge: int) -> None:
        """Charge a file its :func:`file_charge`."""
        self.file_bytes += charge

    def remove_file(self, charge: int) -> None:
        """Stop charging a file its :func:`file_charge`."""
        self.file_bytes -= charge

    def add_dir(self, name: str) -> None:
        """Charge one new directory, at the canonical name *name*."""
        self.dir_bytes += dir_charge(name)

    def remove_dir(self, name: str) -> None:
        """Stop charging the directory at the canonical name *name*."""
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
    """At most ``max_bytes``, with the index in least-recently-used order for eviction."""

    __slots__ = ("max_bytes",)

    def __init__(self, max_bytes: int, on_full: OnFull = "evict") -> None:
        super().__init__(on_full)
        self.max_bytes: int | None = max_bytes

    def new_index(self) -> Index:
        """An empty name index whose order is the recency order."""
        return collections.OrderedDict()

    def touch(self, index: Index, name: str) -> None:
        """Move *name* to the most recently used end; nothing happens if it is not held."""
        if name in index:
            index.move_to_end(name)  # type: ignore[attr-defined]  # an OrderedDict, from new_index()

    def touch_all(self, index: Index, uses: Sequence[tuple[str, float]]) -> None:
        """Mark the files named in *uses* (name, time) as used, in that order.

        Names not held are skipped.
        """
        # Only each name's last use counts: move them in the order of their last uses.
        in_order = list(dict.fromkeys(map(operator.itemgetter(0), reversed(uses))))
        move_to_end = index.move_to_end  # type: ignore[attr-defined]  # an OrderedDict, from new_index()
        for name in reversed(in_order):
            if name in index:
                move_to_end(name)

    def least_recent(self, index: Index) -> str:
        """The name of the least recently used file.

        Raises:
            KeyError: no file is held.
        """
        for name in index:
            return name
        raise KeyError(self)


def make_budget(max_bytes: int | None, on_full: OnFull = "evict") -> Budget:
    """The budget for a store: counting only when unbounded, a recency order when bounded."""
    return Budget(on_full) if max_bytes is None else BoundedBudget(max_bytes, on_full)
