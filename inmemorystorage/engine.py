"""What every engine of a storage shares: the values it answers with, its protocol, its checks.

An *engine* keeps a namespace's files: :class:`~inmemorystorage.store.Store`
in this process's memory, :class:`~inmemorystorage.redis_store.RedisStore`
on a Redis server that many processes share. ``storage.py`` (the Django
layer) talks to either through :class:`Engine`; the values here cross from
one to the other, and the checks of a loaded batch (names, contents, times)
are made once, here, before either engine changes anything. Nothing here
imports Django.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import attrs

from .budget import RECORD_SHARE, dir_charge, file_charge
from .exceptions import NotADirectory
from .tree import ancestor_names, canonical_name, is_a_directory

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable

    from .budget import OnFull

__all__ = [
    "EARLIEST_TIME",
    "LATEST_TIME",
    "NS",
    "Engine",
    "Eviction",
    "FileInfo",
    "ListedFile",
    "Loaded",
    "StoreStats",
    "StoredFile",
    "WritesThroughPut",
    "Written",
    "checked_batch",
    "drop_least_recent",
    "loaded_stamp",
    "percent_used",
    "seconds",
    "stamp_for",
]

#: Nanoseconds in a second: stamps are int nanoseconds since the epoch.
NS = 1_000_000_000
#: The times a loaded file may carry, in seconds since the epoch: what ``datetime``
#: represents (the years 1 to 9999), as the storage's time getters must return one.
EARLIEST_TIME = -62_135_596_800
LATEST_TIME = 253_402_300_799


def seconds(stamp: int) -> float:
    """Seconds since the epoch for a stamp of nanoseconds."""
    return stamp / NS


def stamp_for(seconds: float) -> int:
    """Nanoseconds for *seconds*, chosen so that ``seconds()`` gives *seconds* back when it can.

    A float of seconds since the epoch resolves about 240 ns, so several
    stamps share one float: take the one nearest that maps back exactly, so
    that a store handed over through floats keeps its times to the bit.
    """
    nearest = round(seconds * NS)
    for offset in range(512):
        for candidate in (nearest - offset, nearest + offset):
            if candidate / NS == seconds:
                return candidate
    return nearest


def loaded_stamp(file: StoredFile, field: str) -> int:
    """The stamp for one of a loaded file's times (*field*), checked before anything changes.

    Raises:
        ValueError: the time is not a finite number within :data:`EARLIEST_TIME`
            and :data:`LATEST_TIME` (a NaN or a year-33658 time in a tar header).
    """
    seconds = getattr(file, field)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not (math.isfinite(seconds) and EARLIEST_TIME <= seconds <= LATEST_TIME)
    ):
        msg = (
            f"the {field} time of {file.name!r} is {seconds!r}: a loaded file's times must be "
            "finite seconds since the epoch, within the years 1 to 9999"
        )
        raise ValueError(msg)
    return max(stamp_for(seconds), 1)


def checked_batch(
    files: Iterable[StoredFile],
) -> tuple[dict[str, StoredFile], dict[str, tuple[int, int]]]:
    """The files of a load by canonical name (a later one of a name wins), and their stamps.

    Raises what :meth:`Store.load` documents for a name, a content or a time.
    """
    batch: dict[str, StoredFile] = {}
    times: dict[str, tuple[int, int]] = {}
    for file in files:
        name = canonical_name(file.name)
        if not name:
            raise is_a_directory(file.name)
        if not isinstance(file.content, bytes):
            kind = type(file.content).__name__
            msg = f"the content of {file.name!r} must be bytes, not {kind}"
            raise TypeError(msg)
        times[name] = (loaded_stamp(file, "created"), loaded_stamp(file, "modified"))
        batch.pop(name, None)
        batch[name] = file
    dirs_in_batch = {d for name in batch for d in ancestor_names(name)}
    for name in batch:
        if name in dirs_in_batch:
            raise NotADirectory(name)
    return batch, times


def drop_least_recent(
    batch: dict[str, StoredFile],
    times: dict[str, tuple[int, int]],
    max_bytes: int,
    *,
    charge_file: Callable[[str, int], int] = file_charge,
    charge_dir: Callable[[str], int] = dir_charge,
) -> list[tuple[str, int]]:
    """Take from the front of *batch* the files a budget of *max_bytes* cannot hold.

    *batch* comes least recently used first: the files kept are the longest
    run at its end that fits, with their directories, in the room files keep
    beside the records' share of the budget, as eviction would keep them.
    The others leave *batch* and *times*, and come back as (name, size). The
    charges are the engine's: ``budget.py``'s in process, a name's UTF-8
    bytes on a server.
    """
    room = max_bytes - max_bytes // RECORD_SHARE
    needed = 0
    dirs: set[str] = set()
    kept = 0
    for name, file in reversed(batch.items()):
        new_dirs = [d for d in ancestor_names(name) if d not in dirs]
        charge = charge_file(name, len(file.content)) + sum(map(charge_dir, new_dirs))
        if needed + charge > room:
            break
        needed += charge
        dirs.update(new_dirs)
        kept += 1
    dropped = [(name, len(batch[name].content)) for name in list(batch)[: len(batch) - kept]]
    for name, _size in dropped:
        del batch[name], times[name]
    return dropped


@attrs.frozen
class StoreStats:
    """A consistent snapshot of what a store holds and how it has been used."""

    files: int
    dirs: int
    bytes_used: int
    max_bytes: int | None
    hits: int
    misses: int
    evictions: int
    refusals: int

    @property
    def percent_used(self) -> float | None:
        """Bytes used as a share of ``max_bytes``, 0 to 100; ``None`` without a bound."""
        return percent_used(self.bytes_used, self.max_bytes)


def percent_used(bytes_used: int, max_bytes: int | None) -> float | None:
    """*bytes_used* as a share of *max_bytes*, 0 to 100; ``None`` without a bound.

    A store with ``max_bytes=0`` holds nothing and is always full: 100.
    """
    if max_bytes is None:
        return None
    if max_bytes == 0:
        return 100.0
    return min(100.0, 100.0 * bytes_used / max_bytes)


@attrs.frozen
class FileInfo:
    """What a store knows about one path, at one moment."""

    name: str
    is_dir: bool
    size: int
    created: float
    modified: float
    accessed: float
    #: Changes with every publication under this name; 0 for directories.
    version: int


@attrs.frozen
class Eviction:
    """One file that made way for another: its name, content length and when it went."""

    name: str
    size: int
    #: Seconds since the epoch, by the store's clock.
    evicted_at: float


@attrs.frozen
class StoredFile:
    """One file as a whole: for handing a store's content over, and loading it back."""

    name: str
    content: bytes
    #: Seconds since the epoch.
    created: float
    modified: float


@attrs.frozen
class ListedFile:
    """One file as a listing shows it: its name, content length and times, not its content.

    What the storage page and the command list, so that a listing of a shared
    namespace never brings every file's content over from the server.
    """

    name: str
    size: int
    #: Seconds since the epoch.
    created: float
    modified: float


@attrs.frozen
class Written:
    """What a write did: the canonical name it published and the files it evicted."""

    name: str
    evictions: tuple[Eviction, ...]


@attrs.frozen
class Loaded:
    """What a load did: the canonical names it published and the files it evicted."""

    names: tuple[str, ...]
    evictions: tuple[Eviction, ...]
    #: Files of the load itself left out with ``keep_what_fits``: they did not fit.
    dropped: tuple[Eviction, ...] = ()


class WritesThroughPut:
    """``write()`` for an engine whose ``put()`` does the work: both engines are such."""

    def put(
        self,
        path: str,
        content: bytes,
        *,
        exclusive: bool = False,
        canonical: bool = False,
        avoid_evicted: bool = False,
    ) -> tuple[str, tuple[Eviction, ...]]:
        """Publish *content* at *path*; the engine's own method says how."""
        raise NotImplementedError

    def write(
        self,
        path: str,
        content: bytes,
        *,
        exclusive: bool = False,
        canonical: bool = False,
        avoid_evicted: bool = False,
    ) -> Written:
        """:meth:`put`, answering with a :class:`Written` (the canonical name and evictions)."""
        return Written(
            *self.put(
                path,
                content,
                exclusive=exclusive,
                canonical=canonical,
                avoid_evicted=avoid_evicted,
            )
        )


class Engine(Protocol):
    """What the Django layer asks of a namespace's files, whichever engine keeps them.

    Names are ``/``-separated and relative; every method that takes one
    canonicalizes it (:func:`~inmemorystorage.tree.canonical_name`) and raises
    what it raises. Errors are the builtins callers catch: ``FileNotFoundError``
    (:class:`~inmemorystorage.exceptions.PathDoesNotExist`),
    ``IsADirectoryError``, ``NotADirectoryError``, ``FileExistsError``,
    :class:`~inmemorystorage.exceptions.StorageFull`.
    """

    #: Whether the files are in this process (the in-process engine) or on a server.
    local: bool
    #: The content at a canonical name without counting a use, or ``None``:
    #: the in-process engine's lock-free read; an engine without one answers
    #: ``None``, and the caller reads through :meth:`read`.
    lookup: Callable[[str], bytes | None]
    #: Whether a directory is at a canonical name.
    is_dir: Callable[[str], bool]
    #: The canonical names of the files and of the directories, for ``in`` without a
    #: lock: the in-process engine's indexes; empty for an engine without local files.
    files_index: Container[str]
    dirs_index: Container[str]

    @property
    def max_bytes(self) -> int | None:
        """The bound on bytes held, or ``None``."""

    @property
    def on_full(self) -> OnFull:
        """What a write that does not fit does: ``"evict"`` or ``"error"``."""

    def read(self, path: str) -> bytes:
        """The content of the file at *path*, counted as a use; a snapshot."""

    def read_with_info(self, path: str) -> tuple[bytes, FileInfo]:
        """The content of the file at *path* and its metadata, from one moment."""

    def read_versioned(self, path: str) -> tuple[bytes, int, float]:
        """The content of the file at *path*, its version and modified time, from one moment."""

    def stat(self, path: str) -> FileInfo:
        """The file or directory at *path*, without counting a use."""

    def exists(self, path: str, *, canonical: bool = False, found: bool | None = None) -> bool:
        """Whether a file or directory is at *path*."""

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The directories and the files directly in *path*, from one moment."""

    def stats(self) -> StoreStats:
        """A consistent snapshot of the counts, the bytes used and the counters."""

    def check_size(self, path: str, size: int) -> None:
        """Refuse a file of *size* bytes that could never fit, before it is gathered."""

    def check_writable(self, path: str, *, exclusive: bool = False) -> None:
        """Raise now what writing *path* would raise for the present shape."""

    def put(
        self,
        path: str,
        content: bytes,
        *,
        exclusive: bool = False,
        canonical: bool = False,
        avoid_evicted: bool = False,
    ) -> tuple[str, tuple[Eviction, ...]]:
        """Publish *content* at *path* in one step; the canonical name and the evictions."""

    def delete(self, path: str) -> None:
        """Remove the file, or the directory with everything below it; quiet if missing."""

    def clear(self) -> None:
        """Remove every file and directory of the namespace and reset its counters."""

    def files(self, *, by_recency: bool = False) -> list[StoredFile]:
        """Every file with its content and times, from one moment."""

    def listing(self) -> list[ListedFile]:
        """Every file's name, size and times, without its content, from one moment; by name."""

    def load(
        self, files: Iterable[StoredFile], *, replace: bool = False, keep_what_fits: bool = False
    ) -> Loaded:
        """Publish many files at once, all of them or none."""

    def recent_eviction(self, path: str) -> Eviction | None:
        """The eviction of the file at *path*, if it is remembered."""

    def recent_evictions(self) -> list[Eviction]:
        """The evictions remembered, newest first."""

    def repair(self) -> int:
        """Count the files again from what the engine holds; how many entries it mended."""
