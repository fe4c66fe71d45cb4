"""The thread-safe core: a tree of immutable contents, a read-write lock and a byte budget.

Nothing here imports Django, so the store can be tested and benchmarked alone;
``storage.py`` adapts it to Django's Storage API.

Two locks guard everything, always taken in this order:

* ``_lock``, a :class:`~inmemorystorage.locking.ReadWriteLock`, guards the
  tree's shape (which node is at which path), the index of files by
  canonical name and the directory count. A reader holds it for one index
  lookup, or for a walk of O(path depth) when the name is not canonical; a
  writer for O(path depth) plus whatever it evicts.
* ``_tally``, a plain lock, guards what a read changes: access times, the
  budget's recency order (a lookup in an LRU is a write), the budget's
  charges and the counters. Writers take it inside the write lock, only for
  their budget arithmetic.

A read never takes ``_tally`` on its way: it appends ``(node, time)`` to
``_reads``, a :class:`collections.deque` (whose ``append`` and ``popleft`` are
thread-safe by their documented contract), and whoever next takes ``_tally``
applies the pending reads in order. So the LRU order is exact whenever it is
consulted, and readers never queue behind one another to reorder it.

Content is immutable ``bytes`` and a publication always installs a new
:class:`~inmemorystorage.tree.FileNode`, so what a reader got stays what it
got, whatever happens to the path afterwards. No user code, signal or
logging runs with either lock held: a write returns the evictions it caused,
for its caller to report once both are released.
"""

from __future__ import annotations

import collections
import errno
import threading
import time
from typing import TYPE_CHECKING

import attrs

from .budget import OnFull, dir_charge, file_charge, make_budget
from .exceptions import InvalidPath, NotADirectory, PathDoesNotExist, StorageFull
from .locking import ReadWriteLock
from .tree import (
    DirNode,
    FileNode,
    Node,
    ancestors,
    find,
    is_a_directory,
    iter_dirs,
    iter_files,
    join,
    lookup,
    split_path,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["Eviction", "FileInfo", "Loaded", "Store", "StoreStats", "StoredFile", "Written"]

#: Pending reads beyond which a reader applies them itself (if nobody else is).
_READS_BEFORE_DRAIN = 1024
#: How many recent evictions a store remembers (each is also charged to the budget).
EVICTIONS_REMEMBERED = 64


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
class Written:
    """What a write did: the canonical name it published and the files it evicted."""

    name: str
    evictions: tuple[Eviction, ...]


@attrs.frozen
class Loaded:
    """What a load did: the canonical names it published and the files it evicted."""

    names: tuple[str, ...]
    evictions: tuple[Eviction, ...]


@attrs.define(slots=True, eq=False)
class _Counters:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    refusals: int = 0


class Store:
    """Files in memory, safe to share between threads, optionally bounded in bytes.

    Paths are ``/``-separated names relative to the store's root (``""``);
    directories exist implicitly, as the parents of stored files.

    Args:
        max_bytes: The most bytes the store may be charged (content plus a
            per-node overhead), or ``None`` for no bound.
        on_full: ``"evict"`` to make room by dropping least recently used
            files, ``"error"`` to refuse with :class:`StorageFull` instead.
        clock: Seconds since the epoch; injectable for tests.
    """

    def __init__(
        self,
        max_bytes: int | None = None,
        on_full: OnFull = "evict",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._lock = ReadWriteLock()
        self._tally = threading.Lock()
        # Reads not yet applied to access times and the recency order; a deque's
        # append() and popleft() are thread-safe by themselves.
        self._reads: collections.deque[tuple[FileNode, float]] = collections.deque()
        now = clock()
        self._root = DirNode(now, now, now)  # guarded by self._lock
        # Every file by its canonical name, so that a read of a canonical name is one
        # lookup, not a walk; its length is the file count.
        self._index: dict[str, FileNode] = {}  # guarded by self._lock
        self._dirs = 0  # guarded by self._lock
        self._version = 0  # guarded by self._lock (write)
        self._budget = make_budget(max_bytes, on_full)  # guarded by self._tally
        self._counters = _Counters()  # guarded by self._tally
        # The latest evictions by name, oldest first; each is charged to the budget.
        self._evicted: dict[str, Eviction] = {}  # guarded by self._tally

    @property
    def max_bytes(self) -> int | None:
        """The bound on bytes held, or ``None``."""
        return self._budget.max_bytes

    @property
    def on_full(self) -> OnFull:
        """What a write that does not fit does: ``"evict"`` or ``"error"``."""
        return self._budget.on_full

    # Reading.

    def read(self, path: str) -> bytes:
        """Return the content of the file at *path*, counting it as a use.

        Takes the read lock for one lookup (a walk if the name is not
        canonical). The returned ``bytes`` is the content as published by one
        complete write; later writes never change it.

        Raises:
            PathDoesNotExist: nothing is stored at *path*.
            IsADirectoryError: *path* is a directory.
            NotADirectory: a parent of *path* is a file.
        """
        return self.read_node(path).content

    def read_with_info(self, path: str) -> tuple[bytes, FileInfo]:
        """Return the content of the file at *path* and its metadata, from one moment.

        Like :meth:`read`; the info describes exactly the returned content.
        """
        node = self.read_node(path)
        return node.content, self._info(node.path, node)

    def read_node(self, path: str) -> FileNode:
        """Return the file node at *path*, counting it as a use (the hot path of every read).

        The node's ``content`` never changes; treat the node as read-only.
        Takes this thread's reader lock for one walk. Raises as :meth:`read`.
        """
        token = self._lock.acquire_read()
        try:
            try:
                node = self._index.get(path)  # a canonical name: one lookup
            except TypeError:  # unhashable: let split_path() say what a name must be
                node = None
            if node is None:
                node = self._walk_to_file(path)
            self._reads.append((node, self._clock()))
        finally:
            token.release()
        if len(self._reads) >= _READS_BEFORE_DRAIN and self._tally.acquire(blocking=False):
            try:
                self._apply_reads()
            finally:
                self._tally.release()
        return node

    def _walk_to_file(self, path: str) -> FileNode:
        # Called with the read lock held, for a name that is not canonical or
        # not a file: normalize it and walk, or raise the precise error.
        parts = split_path(path)
        try:
            node = lookup(self._root, parts)
        except PathDoesNotExist:
            with self._tally:
                self._counters.misses += 1
            raise
        if isinstance(node, DirNode):
            raise is_a_directory(path)
        return node

    def _apply_reads(self) -> None:
        # Called with self._tally held. Only each node's latest read matters,
        # so a batch of reads of one hot file costs one LRU touch.
        reads = self._reads
        count = len(reads)
        if not count:
            return
        latest: dict[FileNode, float] = {}
        for _ in range(count):
            node, when = reads.popleft()
            latest.pop(node, None)  # re-inserted last: the dict ends in order of latest reads
            latest[node] = when
        self._counters.hits += count
        touch = self._budget.touch if self._budget.max_bytes is not None else None
        for node, when in latest.items():
            node.accessed = when
            if touch is not None:
                touch(node.path)

    def stat(self, path: str) -> FileInfo:
        """Describe the file or directory at *path* without counting a use.

        Takes the read lock, then the tally lock to apply pending reads, so the
        access time is that of the latest completed read.

        Raises:
            PathDoesNotExist: nothing is stored at *path*.
            NotADirectory: a parent of *path* is a file.
        """
        parts = split_path(path)
        with self._lock.read:
            node = lookup(self._root, parts)
            with self._tally:
                self._apply_reads()
                return self._info(join(parts), node)

    def _info(self, name: str, node: Node) -> FileInfo:
        if isinstance(node, DirNode):
            return FileInfo(
                name=name,
                is_dir=True,
                size=0,
                created=node.created,
                modified=node.modified,
                accessed=node.accessed,
                version=0,
            )
        return FileInfo(
            name=name,
            is_dir=False,
            size=len(node.content),
            created=node.created,
            modified=node.modified,
            accessed=node.accessed,
            version=node.version,
        )

    def exists(self, path: str) -> bool:
        """Whether a file or directory is at *path* (a file on the way means no).

        Takes the read lock; does not count as a use.
        """
        parts = split_path(path)
        with self._lock.read:
            return find(self._root, parts) is not None

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The names of the directories and of the files directly in *path*.

        Takes the read lock while copying the names (O(entries)); the lists
        are a snapshot. Does not count as a use.

        Raises:
            PathDoesNotExist: nothing is stored at *path*.
            NotADirectory: *path* or one of its parents is a file.
        """
        parts = split_path(path)
        with self._lock.read:
            node = lookup(self._root, parts)
            if isinstance(node, FileNode):
                raise NotADirectory(join(parts))
            children = list(node.children.items())
        dirs = [name for name, child in children if isinstance(child, DirNode)]
        files = [name for name, child in children if isinstance(child, FileNode)]
        return dirs, files

    def stats(self) -> StoreStats:
        """A consistent snapshot of the counts, the bytes used and the counters.

        Takes the read lock and the tally lock, so the figures describe one
        moment between complete writes: ``bytes_used <= max_bytes`` holds.
        """
        with self._lock.read, self._tally:
            self._apply_reads()
            counters = self._counters
            return StoreStats(
                files=len(self._index),
                dirs=self._dirs,
                bytes_used=self._budget.used,
                max_bytes=self._budget.max_bytes,
                hits=counters.hits,
                misses=counters.misses,
                evictions=counters.evictions,
                refusals=counters.refusals,
            )

    # Writing.

    def check_size(self, path: str, size: int) -> None:
        """Refuse early a file that could never fit, before its content is gathered.

        Takes no store lock (the bound never changes); a refusal takes the
        tally lock to count itself.

        Raises:
            StorageFull: a file of *size* bytes at *path* exceeds ``max_bytes``.
        """
        if self._budget.too_large(file_charge(path, size)):
            with self._tally:
                raise self._refusal(path, size, "larger than the whole budget")

    def check_writable(self, path: str, *, exclusive: bool = False) -> None:
        """Raise now what writing *path* would raise for the tree's present shape.

        Takes the read lock. Used when a writer opens, so that ``open(dir, "w")``
        fails at once, as with Python's :func:`open`.

        Raises:
            FileExistsError: *exclusive* and something already is at *path*.
            IsADirectoryError: *path* is a directory (or the root).
            NotADirectory: a parent of *path* is a file.
        """
        parts = split_path(path)
        if not parts:
            raise is_a_directory(path)
        with self._lock.read:
            self._target(parts, exclusive=exclusive)

    def write(self, path: str, content: bytes, *, exclusive: bool = False) -> Written:
        """Publish *content* as the file at *path*, creating its parent directories.

        Takes the write lock for O(path depth) plus any evictions. Readers see
        the old content or the new, never a mix; readers that already hold
        the old content keep it. Returns the canonical name and the files
        evicted to make room, for the caller to report (no lock is held then).

        Raises:
            FileExistsError: *exclusive* and something already is at *path*.
            IsADirectoryError: *path* is a directory (or the root).
            NotADirectory: a parent of *path* is a file.
            StorageFull: the content cannot fit; nothing changed.
        """
        parts = split_path(path)
        if not parts:
            raise is_a_directory(path)
        name = join(parts)
        size = len(content)
        charge = file_charge(name, size)
        self.check_size(name, size)
        now = self._clock()
        with self._lock.write:
            evictions = self._publish(parts, name, content, charge, now, exclusive=exclusive)
        return Written(name, tuple(evictions))

    def _publish(
        self,
        parts: tuple[str, ...],
        name: str,
        content: bytes,
        charge: int,
        now: float,
        *,
        exclusive: bool,
    ) -> list[Eviction]:
        # Called with the write lock held: the tree and the counts are ours.
        existing, old = self._target(parts, exclusive=exclusive)
        new_dirs = parts[len(existing) - 1 : -1]
        needed = charge + sum(dir_charge(d) for d in new_dirs)
        freed = file_charge(name, len(old.content)) if old is not None else 0
        self._version += 1
        created = old.created if old is not None else now
        new = FileNode(name, content, created, now, now, self._version)
        evictions: list[Eviction] = []
        budget = self._budget
        with self._tally:
            self._apply_reads()
            if budget.overflow(needed - freed) > 0:
                self._check_room(parts, len(content), needed, existing)
            self._forget_eviction(name)
            if old is not None:
                budget.remove_file(old)
            if budget.overflow(needed) > 0:
                evictions = self._make_room(needed, protected=existing, now=now)
            for dir_name in new_dirs:
                budget.add_dir(dir_name)
            budget.add_file(new)
            self._trim_evictions()
        node: DirNode = existing[-1]
        for dir_name in new_dirs:
            child = DirNode(now, now, now)
            node.children[dir_name] = child
            node.modified = node.accessed = now
            self._dirs += 1
            node = child
        if old is None:
            node.modified = node.accessed = now
        node.children[parts[-1]] = new
        self._index[name] = new
        return evictions

    def _target(
        self, parts: tuple[str, ...], *, exclusive: bool
    ) -> tuple[list[DirNode], FileNode | None]:
        # The existing directories on the way to *parts* and the file there, if
        # any; raises what a write there would raise for the tree's shape.
        # Called with the lock held (read or write).
        existing, missing = ancestors(self._root, parts)
        old = existing[-1].children.get(parts[-1]) if not missing else None
        if isinstance(old, DirNode):
            raise is_a_directory(join(parts))
        if old is not None and exclusive:
            name = join(parts)
            raise FileExistsError(errno.EEXIST, f"{name!r} already exists", name)
        return existing, old

    def _check_room(
        self, parts: tuple[str, ...], size: int, needed: int, existing: list[DirNode]
    ) -> None:
        # Refuse, changing nothing, unless evicting can make room for the
        # *needed* bytes of the new file and its new directories (the file it
        # replaces, if any, is freed either way). Called with the write lock
        # and self._tally held.
        budget = self._budget
        name = join(parts)
        if budget.on_full == "error":
            detail = f"the budget is full ({budget.used:,} bytes used) and on_full='error'"
            raise self._refusal(name, size, detail)
        # Evictions never prune the file's existing ancestors; all else can go.
        kept = sum(dir_charge(parts[i]) for i in range(len(existing) - 1))
        if budget.too_large(kept + needed):
            raise self._refusal(name, size, "it does not fit beside its parent directories")

    def _make_room(self, needed: int, *, protected: list[DirNode], now: float) -> list[Eviction]:
        # Evict least recently used files until *needed* bytes fit; the caller
        # has proven that they can. Remembered evictions never cost a file its
        # place: they live in the room that files leave free (see
        # _trim_evictions). Called with the write lock and self._tally held:
        # evictions change the tree and the budget together.
        budget = self._budget
        evictions: list[Eviction] = []
        keep = {id(d) for d in protected}
        while budget.overflow(needed) > 0:
            try:
                victim = budget.least_recent()
            except KeyError:
                self._prune_empty_dirs(self._root, keep)
                break
            self._detach(victim, keep)
            eviction = Eviction(victim.path, len(victim.content), now)
            self._remember_eviction(eviction)
            evictions.append(eviction)
        self._counters.evictions += len(evictions)
        return evictions

    def _remember_eviction(self, eviction: Eviction) -> None:
        # Called with self._tally held.
        self._forget_eviction(eviction.name)
        self._evicted[eviction.name] = eviction
        self._budget.add_record(eviction.name)
        if len(self._evicted) > EVICTIONS_REMEMBERED:
            self._forget_eviction(next(iter(self._evicted)))

    def _trim_evictions(self) -> None:
        # Forget the oldest remembered evictions until the budget holds again.
        # Called with the write lock and self._tally held, at the end of a write.
        while self._budget.overflow(self._budget.record_bytes) > 0 and self._evicted:
            self._forget_eviction(next(iter(self._evicted)))

    def _forget_eviction(self, name: str) -> None:
        # Called with self._tally held.
        if self._evicted.pop(name, None) is not None:
            self._budget.remove_record(name)

    def recent_eviction(self, path: str) -> Eviction | None:
        """The eviction of the file at *path*, if it is among the latest ones remembered.

        A store remembers its last 64 evictions, until a file is published at
        that name again. They are charged to the budget but never cost a file
        its place: they fill the room files leave free, and the oldest are
        forgotten when files need it. Takes the tally lock.

        Raises:
            InvalidPath: *path* is not a name a store could hold.
        """
        name = join(split_path(path))
        with self._tally:
            return self._evicted.get(name)

    def _detach(self, victim: FileNode, keep: set[int]) -> None:
        # Remove an evicted file from the tree and prune the directories it leaves empty.
        parts = split_path(victim.path)
        chain: list[DirNode] = [self._root]
        for part in parts[:-1]:
            chain.append(chain[-1].children[part])  # type: ignore[arg-type]  # a file's parents are directories
        del chain[-1].children[parts[-1]]
        del self._index[victim.path]
        now = self._clock()
        chain[-1].modified = chain[-1].accessed = now
        for depth in range(len(chain) - 1, 0, -1):
            directory = chain[depth]
            if directory.children or id(directory) in keep:
                break
            del chain[depth - 1].children[parts[depth - 1]]
            self._budget.remove_dir(parts[depth - 1])
            self._dirs -= 1

    def _prune_empty_dirs(self, directory: DirNode, keep: set[int]) -> None:
        for name, child in list(directory.children.items()):
            if isinstance(child, DirNode):
                self._prune_empty_dirs(child, keep)
                if not child.children and id(child) not in keep:
                    del directory.children[name]
                    self._budget.remove_dir(name)
                    self._dirs -= 1

    def _refusal(self, name: str, size: int, detail: str) -> StorageFull:
        # Count a refusal and build its error. Called with self._tally held.
        self._counters.refusals += 1
        return StorageFull(name, size, self._budget.max_bytes or 0, detail)

    def delete(self, path: str) -> None:
        """Remove the file, or the directory with everything below it, at *path*.

        Quiet when nothing is there. Takes the write lock for O(path depth),
        plus O(entries) for a directory. Readers that hold content keep it.

        Raises:
            InvalidPath: *path* is the root (use :meth:`clear`).
        """
        parts = split_path(path)
        if not parts:
            msg = "the root cannot be deleted; use clear() to empty the store"
            raise InvalidPath(msg)
        now = self._clock()
        with self._lock.write:
            parent = find(self._root, parts[:-1])
            if not isinstance(parent, DirNode):
                return
            node = parent.children.pop(parts[-1], None)
            if node is None:
                return
            parent.modified = parent.accessed = now
            if isinstance(node, FileNode):
                files, dirs = [node], []
            else:
                files = list(iter_files(node))
                dirs = [name for name, _ in iter_dirs(node)] + [parts[-1]]
            for file in files:
                del self._index[file.path]
            self._dirs -= len(dirs)
            with self._tally:
                self._apply_reads()
                for file in files:
                    self._budget.remove_file(file)
                for name in dirs:
                    self._budget.remove_dir(name)

    def clear(self) -> None:
        """Remove every file and directory and reset the counters, as if new.

        Takes the write lock. Readers that hold content keep it.
        """
        now = self._clock()
        with self._lock.write, self._tally:
            self._reads.clear()
            self._root = DirNode(now, now, now)
            self._index = {}
            self._dirs = 0
            self._budget.clear()
            self._counters = _Counters()
            self._evicted = {}

    # Handing a store's content over as a whole.

    def files(self) -> list[StoredFile]:
        """Every file, with its content and times, from one moment; sorted by name.

        Takes the read lock while collecting (O(files)); does not count as a use.
        """
        with self._lock.read:
            nodes = list(self._index.values())
        return sorted(
            (StoredFile(node.path, node.content, node.created, node.modified) for node in nodes),
            key=lambda file: file.name,
        )

    def load(self, files: Iterable[StoredFile], *, replace: bool = False) -> Loaded:
        """Publish many files at once, with their times: all of them, or none.

        Every name is checked before anything changes; a later file of the
        same name replaces an earlier one. Takes the write lock once, for
        O(files x path depth) plus any evictions; readers see the store before
        the load or after it.

        Raises:
            FileExistsError: not *replace*, and something is already at a name.
            IsADirectoryError: a name is a directory (or the root).
            NotADirectory: a name goes through a file, stored or loaded.
            StorageFull: the files cannot fit together; nothing changed.
            InvalidPath: a name is not one a store can hold.
            TypeError: a content is not ``bytes``.
        """
        batch: dict[tuple[str, ...], StoredFile] = {}
        for file in files:
            parts = split_path(file.name)
            if not parts:
                raise is_a_directory(file.name)
            if not isinstance(file.content, bytes):
                msg = (
                    f"the content of {file.name!r} must be bytes, not {type(file.content).__name__}"
                )
                raise TypeError(msg)
            batch.pop(parts, None)
            batch[parts] = file
        dirs_in_batch = {parts[:depth] for parts in batch for depth in range(1, len(parts))}
        for parts in batch:
            if parts in dirs_in_batch:
                raise NotADirectory(join(parts))
        charges = {parts: file_charge(join(parts), len(f.content)) for parts, f in batch.items()}
        if self._budget.too_large(sum(charges.values())):
            size = sum(len(f.content) for f in batch.values())
            label = f"{len(batch)} files"
            with self._tally:
                raise self._refusal(label, size, "larger than the whole budget")
        now = self._clock()
        with self._lock.write:
            evictions = self._load(batch, charges, now, replace=replace)
        return Loaded(tuple(join(parts) for parts in batch), tuple(evictions))

    def _load(
        self,
        batch: dict[tuple[str, ...], StoredFile],
        charges: dict[tuple[str, ...], int],
        now: float,
        *,
        replace: bool,
    ) -> list[Eviction]:
        # Called with the write lock held: check every target, settle the
        # budget once, then install every node.
        existing_dirs, new_dirs, olds = self._load_targets(batch, replace=replace)
        needed = sum(charges.values()) + sum(dir_charge(d[-1]) for d in new_dirs)
        freed = sum(file_charge(old.path, len(old.content)) for old in olds)
        budget = self._budget
        protected = [self._root] + [directory for _, directory in existing_dirs.values()]
        evictions: list[Eviction] = []
        with self._tally:
            self._apply_reads()
            if budget.overflow(needed - freed) > 0:
                size = sum(len(f.content) for f in batch.values())
                label = f"{len(batch)} files"
                if budget.on_full == "error":
                    detail = f"the budget is full ({budget.used:,} bytes used) and on_full='error'"
                    raise self._refusal(label, size, detail)
                kept = sum(dir_charge(name) for name, _ in existing_dirs.values())
                if budget.too_large(kept + needed):
                    raise self._refusal(label, size, "they do not fit beside their directories")
            for old in olds:
                budget.remove_file(old)
            for parts in batch:
                self._forget_eviction(join(parts))
            if budget.overflow(needed) > 0:
                evictions = self._make_room(needed, protected=protected, now=now)
            for directory in new_dirs:
                budget.add_dir(directory[-1])
            for parts, file in batch.items():
                self._version += 1
                node = FileNode(
                    join(parts), file.content, file.created, file.modified, now, self._version
                )
                budget.add_file(node)
                self._install(parts, node, now)
            self._trim_evictions()
        return evictions

    def _load_targets(
        self, batch: dict[tuple[str, ...], StoredFile], *, replace: bool
    ) -> tuple[dict[int, tuple[str, DirNode]], set[tuple[str, ...]], list[FileNode]]:
        # The existing directories on the way to the batch's files (by id, with
        # their names), the directories to create, and the files replaced;
        # raises what writing any of them would raise. Called with the lock held.
        existing_dirs: dict[int, tuple[str, DirNode]] = {}
        new_dirs: set[tuple[str, ...]] = set()
        olds: list[FileNode] = []
        for parts in batch:
            existing, old = self._target(parts, exclusive=not replace)
            for depth, directory in enumerate(existing[1:], start=1):
                existing_dirs[id(directory)] = (parts[depth - 1], directory)
            new_dirs.update(parts[:depth] for depth in range(len(existing), len(parts)))
            if old is not None:
                olds.append(old)
        return existing_dirs, new_dirs, olds

    def _install(self, parts: tuple[str, ...], new: FileNode, now: float) -> None:
        # Put *new* at *parts*, creating the directories on the way (already
        # charged). Called with the write lock held.
        node = self._root
        for part in parts[:-1]:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = DirNode(now, now, now)
                node.modified = node.accessed = now
                self._dirs += 1
            node = child  # type: ignore[assignment]  # _target proved the way holds no file
        if parts[-1] not in node.children:
            node.modified = node.accessed = now
        node.children[parts[-1]] = new
        self._index[new.path] = new
