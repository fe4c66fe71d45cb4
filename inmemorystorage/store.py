"""The thread-safe core: files in an index by name, a tree of directories, and a byte budget.

Nothing here imports Django, so the store can be tested and benchmarked alone;
``storage.py`` adapts it to Django's Storage API.

What guards what
----------------

* ``_files`` maps each file's canonical name to its content, an immutable
  ``bytes``; ``_dirs`` maps each directory's canonical name (the root is
  ``""``) to its :class:`~inmemorystorage.tree.DirNode`, whose children map
  each file to its stamp (publication time and version). ``_files`` and
  ``_dirs`` are **read without a lock** (one ``dict.get`` or ``in``) and
  **changed only under** ``_lock``.
* ``_lock``, a :class:`~inmemorystorage.locking.PoliteLock`, guards every
  change to ``_files`` and ``_dirs``, the directories' children and times,
  the budget, the counters, the access and creation times kept beside the
  files, the remembered evictions and the stamp counter. Readers that need
  more than one entry to agree (``listdir()``, ``stat()``, ``stats()``, a
  read with its metadata) take it too. It is held for O(path depth) plus any
  evictions, never while copying content or calling user code.
* ``pending_reads``, a :class:`list` that readers only ``append()`` to, carries
  reads to whoever next holds ``_lock``: that thread takes the first *n*
  entries with one slice and removes them with one ``del`` (appends land
  after them meanwhile; each of these ``list`` operations is atomic, under
  the GIL as one C call that runs no Python code, on free-threaded builds
  under the list's own lock), and applies them in order to the access times
  and to the recency order. So the order is exact whenever it is consulted
  (every consumer applies pending reads first), and readers never queue
  behind one another to reorder it.

Why a reader without a lock sees only what it should
----------------------------------------------------

A read of a canonical name is ``content = self._files.get(name)``
(``InMemoryStorage.open()`` makes the same read through ``lookup``, the
index's bound ``get``, then appends to ``pending_reads`` as :meth:`Store.read`
does; the index is never rebound, so the handle always reads it). That one
operation is atomic on every CPython: under the GIL because ``dict.get`` on
``str`` keys runs no Python code, and on free-threaded builds because
``dict`` reads are made safe against concurrent writers by the interpreter
(the documented guarantee that built-in ``dict`` operations are
thread-safe), ``OrderedDict`` included, whose lookups are ``dict`` lookups;
its linked order list is touched only under ``_lock``.

* **Nothing partly built.** What a reader finds is a ``bytes`` object that
  was complete before it was stored into ``_files`` and that nothing can
  change afterwards. The store into the dict is the publication: on the GIL
  build the interpreter lock orders it after the object's construction; on
  the free-threaded build the dict's own synchronisation (its per-object
  lock on the writer's side, and the acquire-ordered read of the entry on
  the reader's side) does. Everything else a file has (its stamp, its place
  in its directory, its charge) is written before the publication and read
  only under ``_lock``.
* **No file after its ``delete()`` returned.** ``delete()`` (and eviction,
  and ``clear()``) remove the name from ``_files`` before they return; a
  ``get`` that starts afterwards cannot find it.
* **No old content after a ``save()`` returned.** A write replaces the entry
  with its new content before it returns; a ``get`` that starts afterwards
  finds the new content or a newer one. A reader that got the old content
  before keeps it: it is immutable ``bytes``, so what it reads never
  changes (like a POSIX file unlinked while open).

Directories are never read without the lock except by ``exists()``, whose
answer depends on one ``in`` test at a time, each atomic as above; whether a
name is canonical it learns from :data:`~inmemorystorage.tree.canonical_seen`,
a ``set`` whose tests and updates are each atomic too (one C call under the
GIL; under the set's own lock on free-threaded builds). A name that set
lacks, because it was never seen or the set was just emptied, is worked out
in full: the set only ever spares work, it never answers alone.
``tests/test_concurrency.py`` checks the three promises under threads, and
that a torn publication or a late removal in the index breaks them.

No user code, signal or logging runs with ``_lock`` held: a write returns
the evictions it caused, for its caller to report once it is released.
"""

from __future__ import annotations

import errno
import operator
import time
from typing import TYPE_CHECKING

import attrs

from .allocator import release_free_memory
from .budget import (
    DIR_OVERHEAD,
    FILE_OVERHEAD,
    OnFull,
    dir_charge,
    file_charge,
    make_budget,
    name_charge,
)
from .engine import (
    NS,
    Eviction,
    FileInfo,
    ListedFile,
    Loaded,
    StoredFile,
    StoreStats,
    WritesThroughPut,
    Written,
    checked_batch,
    drop_least_recent,
    seconds,
)
from .evictions import EVICTIONS_REMEMBERED, EvictionRecord
from .exceptions import InvalidPath, NotADirectory, PathDoesNotExist, StorageFull
from .locking import NO_WAIT, PoliteLock
from .refusals import (
    batch_label,
    batch_over_the_whole_budget,
    full_detail,
    needs,
    over_the_whole_budget,
    taken_by,
)
from .tree import (
    DirNode,
    ancestor_names,
    ancestors,
    canonical_name,
    is_a_directory,
    parent_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Sequence

__all__ = [
    "EVICTIONS_REMEMBERED",
    "Eviction",
    "FileInfo",
    "Loaded",
    "Store",
    "StoreStats",
    "StoredFile",
    "Written",
]

#: Pending reads from which a reader applies them itself (if nobody else holds the lock).
READS_BEFORE_DRAIN = 1024
#: Content bytes an unbounded store frees (deleted or replaced) before it asks
#: the allocator to return free memory to the system.
RELEASE_AFTER_BYTES = 16 * 1024 * 1024
#: A bounded store asks once it has freed (evicted, deleted or replaced) this
#: fraction of its budget, and at least RELEASE_FLOOR_BYTES. What was freed
#: since the last call may stay resident: this is the part of the budget a
#: process may hold above it (``nox -s bench``'s churn rows).
RELEASE_FRACTION = 8
RELEASE_FLOOR_BYTES = 8 * 1024 * 1024


def _listing(name: str, directory: DirNode) -> tuple[list[str], list[str]]:
    """The base names of the directories and of the files in *directory*, at *name*.

    Cut from the full names in C (a map of a slice). Called with the store's
    lock held: O(entries), as a copy of the names would be.
    """
    base = operator.itemgetter(slice(len(name) + 1 if name else 0, None))
    if not directory.subdirs:  # only files: no child needs sorting out
        return [], list(map(base, directory.children))
    children = directory.children.items()
    dirs = [base(key) for key, child in children if type(child) is DirNode]
    files = [base(key) for key, child in children if type(child) is int]
    return dirs, files


@attrs.define(slots=True, eq=False)
class _Counters:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    refusals: int = 0


class Store(WritesThroughPut):
    """Files in memory, safe to share between threads, optionally bounded in bytes.

    Paths are ``/``-separated names relative to the store's root (``""``);
    directories exist implicitly, as the parents of stored files.

    Args:
        max_bytes: The most bytes the store may be charged (content plus a
            per-node overhead), or ``None`` for no bound.
        on_full: ``"evict"`` to make room by dropping least recently used
            files, ``"error"`` to refuse with :class:`StorageFull` instead.
        clock: Seconds since the epoch; injectable for tests (by default the
            store reads :func:`time.time_ns`).
    """

    #: Its files are in this process: ``lookup`` and ``is_dir`` read them without a lock.
    local = True

    def __init__(
        self,
        max_bytes: int | None = None,
        on_full: OnFull = "evict",
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._now: Callable[[], int] = (
            time.time_ns if clock is None else (lambda: round(clock() * NS))
        )
        self._lock = PoliteLock()
        self._budget = make_budget(max_bytes, on_full)  # guarded by self._lock
        # Read without a lock (see the module docstring); changed under self._lock.
        self._files = self._budget.new_index()
        now = self._now()
        self._dirs: dict[str, DirNode] = {"": DirNode(now, now, now)}
        # Guarded by self._lock: when files read since published were last read (seconds).
        self._accessed: dict[str, float] = {}
        # The lock-free read path as bound handles (see read()), which
        # InMemoryStorage.open() inlines: one call less on the hottest path.
        # A read's time is a float: it costs less to get than nanoseconds, and
        # its resolution (about 240 ns) is finer than a datetime's.
        self.lookup: Callable[[str], bytes | None] = self._files.get
        # Whether a directory is at a canonical name: read without a lock, as exists() does.
        self.is_dir: Callable[[str], bool] = self._dirs.__contains__
        # The two indexes themselves, for InMemoryStorage.exists() to test with `in` (and
        # nothing else): one lookup each, without a lock, as exists() makes them.
        self.files_index: Container[str] = self._files
        self.dirs_index: Container[str] = self._dirs
        self.read_clock: Callable[[], float] = time.time if clock is None else clock
        # Reads not yet applied, (name, read_clock()): appended to by readers
        # without a lock, who call take_in_reads() when they find
        # READS_BEFORE_DRAIN or more; taken from the front only under self._lock.
        self.pending_reads: list[tuple[str, float]] = []
        # Whether a reader is applying them now: a hint, set under self._lock
        # and read without it, so that while a reader that took the lock to
        # apply them is preempted, the others do not each try in vain.
        self.taking_in = False
        self._created: dict[str, int] = {}  # guarded by self._lock; files replaced since created
        self._stamp = 0  # guarded by self._lock; the latest stamp given out
        # Content bytes freed since the allocator was last asked to release memory.
        self._freed = 0  # guarded by self._lock (read without it as a hint)
        self._release_after = RELEASE_AFTER_BYTES
        if max_bytes is not None:
            self._release_after = max(max_bytes // RELEASE_FRACTION, RELEASE_FLOOR_BYTES)
        self._counters = _Counters()  # guarded by self._lock
        # The latest evictions by name, oldest first; each is charged to the budget.
        self._records = EvictionRecord(self._budget)  # guarded by self._lock
        # Its evictions by name: read (truth, `in`) on the write path under self._lock.
        self._evicted = self._records.by_name

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

        Takes no lock. The returned ``bytes`` is the content as published by
        one complete write; later writes never change it.

        Raises:
            PathDoesNotExist: nothing is stored at *path*.
            IsADirectoryError: *path* is a directory.
            NotADirectory: a parent of *path* is a file.
        """
        try:
            content = self._files.get(path)
        except TypeError:  # unhashable: let split_path() say what a name must be
            content = None
        if content is None:
            path, content = self._find_file(path)
        reads = self.pending_reads
        reads.append((path, self.read_clock()))
        if len(reads) >= READS_BEFORE_DRAIN and not self.taking_in:
            self.take_in_reads()
        return content

    def take_in_reads(self) -> None:
        """Apply the pending reads now, unless another thread holds the lock.

        A reader that finds the lock taken goes on: the holder (every write
        applies them), or a later reader, does. Trying costs no call on
        :class:`~inmemorystorage.locking.PoliteLock`, only the plain mutex's.
        """
        mutex = self._lock.mutex
        if mutex.acquire(NO_WAIT):
            self.taking_in = True
            try:
                self._apply_reads()
            finally:
                self.taking_in = False
                mutex.release()

    def read_with_info(self, path: str) -> tuple[bytes, FileInfo]:
        """Return the content of the file at *path* and its metadata, from one moment.

        Like :meth:`read`, but takes the lock, so that the info describes
        exactly the returned content.
        """
        name = canonical_name(path)
        with self._lock:
            content = self._held_content(name)
            self.pending_reads.append((name, self.read_clock()))
            self._apply_reads()
            return content, self._file_info(name, content)

    def read_versioned(self, path: str) -> tuple[bytes, int, float]:
        """Return the content of the file at *path*, its version and its modified time.

        What :meth:`read_with_info` gives a file server, without building a
        :class:`FileInfo`: the version and the time describe exactly the
        returned content, as both are read under the lock. The read is
        counted as :meth:`read` counts it, queued to be applied later.
        """
        name = canonical_name(path)
        lock = self._lock
        mutex = lock.mutex
        if not mutex.acquire(NO_WAIT):  # the usual case spares the polite wait a call
            lock.acquire()
        try:
            content = self._files.get(name)
            if content is None:
                content = self._held_content(name)  # raises the precise error
            stamp = self._stamp_of(name)
        finally:
            mutex.release()
        reads = self.pending_reads
        reads.append((name, self.read_clock()))
        if len(reads) >= READS_BEFORE_DRAIN and not self.taking_in:
            self.take_in_reads()
        return content, stamp, seconds(stamp)

    def _held_content(self, name: str) -> bytes:
        # Called with self._lock held: the content of the file at the canonical
        # *name*, or the precise error for a miss, counted.
        content = self._files.get(name)
        if content is None:
            error = self._missing(name)
            self._counters.misses += 1
            raise error
        return content

    def _find_file(self, path: str) -> tuple[str, bytes]:
        # A name that is not canonical, or not a file: normalize it and look
        # again, or raise the precise error. Takes no lock but to count a miss.
        name = canonical_name(path)
        content = self._files.get(name)
        if content is not None:
            return name, content
        error = self._missing(name)
        with self._lock:
            self._counters.misses += 1
        raise error

    def _missing(self, name: str) -> OSError:
        # The error for a file operation on *name*, where no file is.
        if name in self._dirs:
            return is_a_directory(name)
        for ancestor in ancestors(name):  # one at a time: linear in the name's length
            if ancestor in self._files:
                return NotADirectory(ancestor)
            if ancestor not in self._dirs:
                break  # nothing below a missing directory can be a file
        return PathDoesNotExist(name)

    def _apply_reads(self) -> None:
        # Called with self._lock held. A read counts as a use of its name at
        # the moment it was queued, which lies within the read, so only each
        # name's latest queued read matters, for its access time and for its
        # place in the recency order: the batch is reduced in bulk. Reads of
        # names that have gone since change nothing.
        reads = self.pending_reads
        count = len(reads)
        if not count:
            return
        # Readers only append, so the first `count` entries stay put until
        # this (the only remover, under the lock) deletes them.
        batch = reads[:count]
        del reads[:count]
        self._counters.hits += count
        files = self._files
        latest = dict(batch)
        if self._budget.max_bytes is not None:
            self._budget.touch_all(files, batch)
        for gone in [name for name in latest if name not in files]:
            del latest[gone]
        self._accessed.update(latest)

    def stat(self, path: str) -> FileInfo:
        """Describe the file or directory at *path* without counting a use.

        Takes the lock, applying pending reads first, so the access time is
        that of the latest completed read.

        Raises:
            PathDoesNotExist: nothing is stored at *path*.
            NotADirectory: a parent of *path* is a file.
        """
        name = canonical_name(path)
        with self._lock:
            self._apply_reads()
            content = self._files.get(name)
            if content is not None:
                return self._file_info(name, content)
            directory = self._dirs.get(name)
            if directory is None:
                raise self._missing(name)
            return FileInfo(
                name=name,
                is_dir=True,
                size=0,
                created=seconds(directory.created),
                modified=seconds(directory.modified),
                accessed=seconds(directory.accessed),
                version=0,
            )

    def _file_info(self, name: str, content: bytes) -> FileInfo:
        # Called with self._lock held, for the *content* published at *name*.
        stamp = self._stamp_of(name)
        modified = seconds(stamp)
        return FileInfo(
            name=name,
            is_dir=False,
            size=len(content),
            created=seconds(self._created.get(name, stamp)),
            modified=modified,
            # A read of the content this replaced may be applied after it.
            accessed=max(self._accessed.get(name, modified), modified),
            version=stamp,
        )

    def _stamp_of(self, name: str) -> int:
        # The stamp of the file published at *name*, kept in its directory's
        # entry for it. Called with self._lock held.
        stamp = self._dirs[parent_name(name)].children[name]
        assert type(stamp) is int  # noqa: S101  # a file's entry, by the caller's check
        return stamp

    def exists(self, path: str, *, canonical: bool = False, found: bool | None = None) -> bool:
        """Whether a file or directory is at *path* (a file on the way means no).

        Takes no lock: one to three lookups. Does not count as a use.
        *canonical* says that the caller has checked *path* with
        :func:`~inmemorystorage.tree.is_canonical`; *found* ``False``, that it
        has looked *path* up in the index already, and found no file there.
        """
        if found is None:
            try:
                if path in self._files:
                    return True
            except TypeError:  # unhashable: let split_path() say what a name must be
                pass
        name = path if canonical else canonical_name(path)
        if name == path:  # the index was asked already
            return name in self._dirs
        return name in self._files or name in self._dirs

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The names of the directories and of the files directly in *path*.

        Takes the lock while copying the names (O(entries)); the lists are a
        snapshot. Does not count as a use.

        Raises:
            PathDoesNotExist: nothing is stored at *path*.
            NotADirectory: *path* or one of its parents is a file.
        """
        name = canonical_name(path)
        with self._lock:
            directory = self._dirs.get(name)
            if directory is None:
                raise NotADirectory(name) if name in self._files else self._missing(name)
            listing = directory.listing
            if listing is None:
                listing = directory.listing = _listing(name, directory)
        dirs, files = listing
        return list(dirs), list(files)  # the caller's own: the kept lists never change

    def stats(self) -> StoreStats:
        """A consistent snapshot of the counts, the bytes used and the counters.

        Takes the lock, so the figures describe one moment between complete
        writes: ``bytes_used <= max_bytes`` holds.
        """
        with self._lock:
            self._apply_reads()
            counters = self._counters
            return StoreStats(
                files=len(self._files),
                dirs=len(self._dirs) - 1,
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

        Takes no lock (the bound never changes); a refusal takes the lock to
        count itself.

        Raises:
            StorageFull: a file of *size* bytes at *path* exceeds ``max_bytes``.
        """
        charge = file_charge(path, size)
        if self._budget.too_large(charge):
            detail = over_the_whole_budget(size, charge, self._budget.max_bytes or 0)
            with self._lock:
                raise self._refusal(path, size, detail)

    def check_writable(self, path: str, *, exclusive: bool = False) -> None:
        """Raise now what writing *path* would raise for the store's present shape.

        Takes the lock. Used when a writer opens, so that ``open(dir, "w")``
        fails at once, as with Python's :func:`open`.

        Raises:
            FileExistsError: *exclusive* and something already is at *path*.
            IsADirectoryError: *path* is a directory (or the root).
            NotADirectory: a parent of *path* is a file.
        """
        name = canonical_name(path)
        with self._lock:
            self._target(name, exclusive=exclusive)

    def put(
        self,
        path: str,
        content: bytes,
        *,
        exclusive: bool = False,
        canonical: bool = False,
        avoid_evicted: bool = False,
    ) -> tuple[str, tuple[Eviction, ...]]:
        """Publish *content* as the file at *path*, creating its parent directories.

        Checking that the name is free (with *exclusive*) and claiming it are
        one step. Takes the lock for O(path depth) plus any evictions. Readers
        see the old content or the new, never a mix; readers that already
        hold the old content keep it. Returns the canonical name and the
        files evicted to make room, for the caller to report (no lock is held
        then): a plain pair for ``InMemoryStorage.save()``, the hot path
        (:meth:`write` answers with a :class:`Written`).

        *canonical* says that the caller has checked *path* with
        :func:`~inmemorystorage.tree.is_canonical`, sparing it a second look.
        *avoid_evicted* counts a name whose eviction the store remembers as
        taken: ``save()``'s choice of a new name, so that a link to an
        evicted file never serves another file's bytes.

        Raises:
            FileExistsError: *exclusive* and something already is at *path*,
                or *avoid_evicted* and the file at *path* was evicted lately.
            IsADirectoryError: *path* is a directory (or the root).
            NotADirectory: a parent of *path* is a file.
            StorageFull: the content cannot fit; nothing changed.
        """
        name = path if canonical else canonical_name(path)
        size = len(content)
        if self._budget.max_bytes is not None:
            self.check_size(name, size)
        lock = self._lock
        mutex = lock.mutex
        if not mutex.acquire(NO_WAIT):  # the usual case spares the polite wait a call
            lock.acquire()
        try:
            if avoid_evicted and self._evicted and name in self._evicted:
                raise taken_by(self._evicted[name])
            evictions = self._publish(name, content, size, exclusive=exclusive)
        finally:
            mutex.release()
        if self._freed >= self._release_after:
            self._release_memory()
        return name, tuple(evictions) if evictions else ()

    def _publish(
        self, name: str, content: bytes, size: int, *, exclusive: bool
    ) -> list[Eviction] | tuple[()]:
        # Called with self._lock held: check the target, settle the budget,
        # then publish the node with one store into the index.
        cut = name.rfind("/")
        parent_dir = name[:cut] if cut > 0 else ""  # parent_name(), inline on this path
        parent = self._dirs.get(parent_dir)
        old: bytes | None = None
        missing: list[str] | tuple[()] = ()
        # The usual case, a new file in a directory that exists, needs no search.
        if parent is None or not name or name in self._files or name in self._dirs:
            old, missing, parent_dir = self._target(name, exclusive=exclusive)
        if self.pending_reads:
            self._apply_reads()
        budget = self._budget
        # file_charge(), inline on this path
        charge = size + (len(name) if name.isascii() else name_charge(name)) + FILE_OVERHEAD
        stamp = self._now()  # as _next_stamp(), inline on this path
        if stamp <= self._stamp:
            stamp = self._stamp + 1
        self._stamp = stamp
        evictions: list[Eviction] | tuple[()] = ()
        if budget.max_bytes is not None:
            evictions = self._room_for(name, size, charge, old, missing, stamp)
        if self._evicted:
            self._records.forget(name)
        if missing:
            self._make_dirs(missing, stamp)
        if parent is None or evictions:  # made just now, or looked up before evicting
            parent = self._dirs[parent_dir]
        budget.file_bytes += charge  # budget.add_file(), inline on this path
        if old is None:
            parent.children[name] = stamp
            parent.listing = None
            parent.modified = parent.accessed = stamp
            self._files[name] = content  # the publication: a new name goes last in any order
        else:
            old_stamp = parent.children[name]
            parent.children[name] = stamp
            budget.remove_file(file_charge(name, len(old)))
            self._freed += len(old)
            self._created.setdefault(name, old_stamp)  # type: ignore[arg-type]  # a file's stamp
            self._accessed.pop(name, None)
            self._files[name] = content  # the publication
            budget.touch(self._files, name)
        if self._evicted:
            self._records.trim()
        return evictions

    def _room_for(
        self,
        name: str,
        size: int,
        charge: int,
        old: bytes | None,
        missing: Sequence[str],
        stamp: int,
    ) -> list[Eviction] | tuple[()]:
        # A bounded store: evict what the file at *name* (replacing *old*,
        # if any) and its *missing* directories need, or refuse, changing
        # nothing. Called with self._lock held.
        budget = self._budget
        needed = charge + sum(map(dir_charge, missing)) if missing else charge
        freed = file_charge(name, len(old)) if old is not None else 0
        if budget.overflow(needed - freed) <= 0:
            return ()
        self._check_room(name, size, needed, freed, missing)
        if old is not None:
            budget.touch(self._files, name)  # the write is a use: evict others first
        keep = set(ancestor_names(name))
        return self._make_room(needed - freed, stamp, keep, protected=old is not None)

    def _next_stamp(self) -> int:
        # Called with self._lock held: the clock, made strictly increasing, so
        # that a stamp also tells two contents of one name apart.
        stamp = max(self._now(), self._stamp + 1)
        self._stamp = stamp
        return stamp

    def _target(self, name: str, *, exclusive: bool) -> tuple[bytes | None, list[str], str]:
        # The file at *name*, if any, the directories missing on the way to
        # it, outermost first, and the name of its directory; raises what a
        # write there would raise for the store's shape. Called with
        # self._lock held.
        if not name:
            raise is_a_directory(name)
        parent = parent_name(name)
        old = self._files.get(name)
        if old is not None:
            if exclusive:
                raise FileExistsError(errno.EEXIST, f"{name!r} already exists", name)
            return old, [], parent
        dirs = self._dirs
        if name in dirs:
            raise is_a_directory(name)
        missing: list[str] = []
        above = parent
        while above not in dirs:
            if above in self._files:
                raise NotADirectory(above)
            missing.append(above)
            above = parent_name(above)
        missing.reverse()
        return None, missing, parent

    def _make_dirs(self, missing: Iterable[str], stamp: int) -> None:
        # Create the *missing* directories, parents first, and charge them.
        # Called with self._lock held.
        budget = self._budget
        for name in missing:
            parent = self._dirs[parent_name(name)]
            child = DirNode(stamp, stamp, stamp)
            parent.children[name] = child
            parent.subdirs += 1
            parent.listing = None
            parent.modified = parent.accessed = stamp
            self._dirs[name] = child
            budget.add_dir(name)

    def _check_room(
        self, name: str, size: int, needed: int, freed: int, missing: Sequence[str]
    ) -> None:
        # Refuse as _refuse_without_room() says, for the file at *name*. Called
        # with self._lock held. Its existing ancestors cost at most an overhead
        # plus the name's own charge per level: when even that fits, the exact
        # sum is not needed (every save into a full evicting store passes here).
        budget = self._budget
        kept = 0
        if budget.too_large(needed + name.count("/") * (DIR_OVERHEAD + name_charge(name))):
            new = set(missing)
            kept = sum(dir_charge(d) for d in ancestors(name) if d not in new)
        elif budget.on_full != "error":
            return  # evicting others makes room: nothing to refuse
        self._refuse_without_room(name, size, needed, freed, kept, new_dirs=len(missing))

    def _refuse_without_room(
        self,
        name: str,
        size: int,
        needed: int,
        freed: int,
        kept: int,
        *,
        count: int = 1,
        new_dirs: int = 0,
        what: str | None = None,
    ) -> None:
        # Raise StorageFull, changing nothing, when *count* files and their
        # *new_dirs* directories (*needed* bytes) cannot fit beside the *kept*
        # bytes of their existing directories, which evictions never prune;
        # and with on_full="error" when they do not fit now (the *freed* bytes
        # of the files they replace go either way). The messages are built
        # only to raise. Called with self._lock held.
        budget = self._budget
        if budget.too_large(kept + needed):
            beside = ""
            if kept:
                whose = "its parent" if count == 1 else "their"
                beside = f" beside {whose} directories ({kept:,} bytes)"
            what_it_needs = needs(needed, count, new_dirs)
            raise self._refusal(
                name, size, f"{what_it_needs}, more than the whole budget{beside}", what=what
            )
        if budget.on_full == "error":
            detail = full_detail(needs(needed, count, new_dirs), budget.used - freed)
            raise self._refusal(name, size, detail, what=what, could_fit=True)

    def _make_room(
        self, needed: int, stamp: int, keep: set[str], *, protected: int
    ) -> list[Eviction]:
        # Evict least recently used files until *needed* more bytes fit; the
        # caller has proven that they can without evicting the *protected*
        # files being replaced (moved to the most recent end) or pruning the
        # directories in *keep*. Remembered evictions cost files their place
        # up to their reserve (see Budget.overflow), and are forgotten, oldest
        # first, only when no file is left to evict. Called with self._lock held.
        budget = self._budget
        evictions: list[Eviction] = []
        while budget.overflow(needed) > 0:
            if len(self._files) <= protected:
                self._prune_empty_dirs(keep)
                while budget.overflow(needed) > 0 and self._records.forget_oldest():
                    pass
                break
            victim = budget.least_recent(self._files)
            content = self._remove_file(victim, stamp)
            self._prune_from(parent_name(victim), keep)
            eviction = Eviction(victim, len(content), seconds(stamp))
            self._records.remember(eviction)
            evictions.append(eviction)
        self._counters.evictions += len(evictions)
        return evictions

    def _remove_file(self, name: str, stamp: int) -> bytes:
        # Take the file at *name* out of the index, its directory and the
        # budget. Called with self._lock held.
        content = self._files.pop(name)
        parent = self._dirs[parent_name(name)]
        del parent.children[name]
        parent.listing = None
        parent.modified = parent.accessed = stamp
        self._accessed.pop(name, None)
        self._created.pop(name, None)
        self._budget.remove_file(file_charge(name, len(content)))
        self._freed += len(content)
        return content

    def _release_memory(self) -> None:
        # Ask the allocator to return free memory, once enough content has been
        # freed since the last time. Called with self._lock NOT held: it walks
        # every arena of the process, which can take milliseconds.
        with self._lock:
            if self._freed < self._release_after:
                return  # another thread just did it
            self._freed = 0
        release_free_memory()

    def _prune_from(self, name: str, keep: set[str]) -> None:
        # Remove the directory *name* and its ancestors while they are empty,
        # except the root and those in *keep*. Called with self._lock held.
        while name and name not in keep:
            directory = self._dirs[name]
            if directory.children:
                return
            self._remove_dir(name)
            name = parent_name(name)

    def _remove_dir(self, name: str) -> None:
        # Called with self._lock held, for an empty directory.
        del self._dirs[name]
        parent = self._dirs[parent_name(name)]
        del parent.children[name]
        parent.subdirs -= 1
        parent.listing = None
        self._budget.remove_dir(name)

    def _prune_empty_dirs(self, keep: set[str]) -> None:
        # Remove every empty directory not in *keep*, deepest first, so that
        # parents emptied on the way go too. Called with self._lock held.
        for name in sorted(self._dirs, key=lambda d: d.count("/"), reverse=True):
            if name and name not in keep and not self._dirs[name].children:
                self._remove_dir(name)

    def recent_eviction(self, path: str) -> Eviction | None:
        """The eviction of the file at *path*, if it is among the latest ones remembered.

        A store remembers its last 1,024 evictions at most, until a file is
        published at that name again. They are charged to the budget: up to a
        sixteenth of it they cost files their place, beyond it they fill the
        room files leave free, and the oldest are forgotten when files need
        it. While remembered, the name stays taken for a write with
        *avoid_evicted* (``save()``'s choice of a name). Takes the lock.

        Raises:
            InvalidPath: *path* is not a name a store could hold.
        """
        name = canonical_name(path)
        with self._lock:
            return self._records.get(name)

    def recent_evictions(self) -> list[Eviction]:
        """The evictions the store remembers (see :meth:`recent_eviction`), newest first.

        Takes the lock.
        """
        with self._lock:
            return self._records.newest_first()

    def repair(self) -> int:
        """Nothing to mend: only this store changes its files, each change whole under its lock."""
        return 0

    def _refusal(
        self,
        name: str,
        size: int,
        detail: str,
        *,
        what: str | None = None,
        could_fit: bool = False,
    ) -> StorageFull:
        # Count a refusal and build its error (see StorageFull for *what* and
        # *could_fit*). Called with self._lock held.
        self._counters.refusals += 1
        max_bytes = self._budget.max_bytes or 0
        return StorageFull(name, size, max_bytes, detail, what=what, could_fit=could_fit)

    def delete(self, path: str) -> None:
        """Remove the file, or the directory with everything below it, at *path*.

        Quiet when nothing is there. Takes the lock for O(path depth), plus
        O(entries) for a directory. Readers that hold content keep it.

        Raises:
            InvalidPath: *path* is the root (use :meth:`clear`).
        """
        name = canonical_name(path)
        if not name:
            msg = "the root cannot be deleted; use clear() to empty the store"
            raise InvalidPath(msg)
        with self._lock:
            self._apply_reads()
            stamp = self._next_stamp()
            if name in self._files:
                self._remove_file(name, stamp)
            elif name in self._dirs:
                self._delete_dir(name)
                parent = self._dirs[parent_name(name)]
                parent.modified = parent.accessed = stamp
        if self._freed >= self._release_after:
            self._release_memory()

    def _delete_dir(self, name: str) -> None:
        # Remove the directory *name* with everything below it. Called with self._lock held.
        # A loop, not a recursion: a name of 4,096 bytes may be 2,048 directories deep.
        stamp = self._stamp
        found = [name]  # every directory below name, each after its parent
        for directory in found:
            for child, node in list(self._dirs[directory].children.items()):
                if type(node) is int:
                    self._remove_file(child, stamp)
                else:
                    found.append(child)
        for directory in reversed(found):  # the deepest first: each is empty when removed
            self._remove_dir(directory)

    def clear(self) -> None:
        """Remove every file and directory and reset the counters, as if new.

        Takes the lock. Readers that hold content keep it.
        """
        with self._lock:
            self.pending_reads.clear()
            self._files.clear()
            root = self._dirs[""]
            self._dirs.clear()
            root.children.clear()
            root.subdirs = 0
            root.listing = None
            self._stamp = 0  # back to the clock, as a new store's
            root.modified = root.accessed = self._next_stamp()
            self._dirs[""] = root
            self._accessed.clear()
            self._created.clear()
            self._budget.clear()
            self._counters = _Counters()
            self._records.clear()

    # Handing a store's content over as a whole.

    def files(self, *, by_recency: bool = False) -> list[StoredFile]:
        """Every file, with its content and times, from one moment; sorted by name.

        With *by_recency*, least recently used first (by the latest read or
        write of each), as a load with ``keep_what_fits`` wants them. Takes
        the lock while collecting (O(files)); does not count as a use.
        """
        with self._lock:
            self._apply_reads()
            entries = [
                (name, content, self._created.get(name, stamp), stamp, self._accessed.get(name))
                for name, content in self._files.items()
                for stamp in (self._stamp_of(name),)
            ]
        if by_recency:
            entries.sort(key=lambda entry: (max(seconds(entry[3]), entry[4] or 0.0), entry[0]))
        else:
            entries.sort(key=lambda entry: entry[0])
        return [
            StoredFile(name, content, seconds(created), seconds(stamp))
            for name, content, created, stamp, _accessed in entries
        ]

    def listing(self) -> list[ListedFile]:
        """Every file's name, size and times, from one moment; sorted by name.

        As :meth:`files` without the content (and without a use counted).
        """
        with self._lock:
            entries = [
                (name, len(content), self._created.get(name, stamp), stamp)
                for name, content in self._files.items()
                for stamp in (self._stamp_of(name),)
            ]
        entries.sort()
        return [
            ListedFile(name, size, seconds(created), seconds(stamp))
            for name, size, created, stamp in entries
        ]

    def load(
        self, files: Iterable[StoredFile], *, replace: bool = False, keep_what_fits: bool = False
    ) -> Loaded:
        """Publish many files at once, with their times: all of them, or none.

        With *keep_what_fits*, in a store that evicts, files are given least
        recently used first, and those that the budget could not hold beside
        the later ones are dropped from the front, as eviction would drop
        them: remembered as evicted and returned in :attr:`Loaded.dropped`
        (a reload into a smaller ``max_bytes`` keeps what fits).

        Every name and time is checked before anything changes; a later file
        of the same name replaces an earlier one. A time later than the
        store's clock is taken as the moment of the load, so that no input
        moves the stamp counter (and every later save's time) into the
        future; a time before the epoch is taken as the epoch. Takes the lock
        once, for O(files x path depth) plus any evictions; readers see each
        file before the load or after it, and a reader that finds one loaded
        file finds every file that was loaded before it in the batch.

        Raises:
            FileExistsError: not *replace*, and something is already at a name.
            IsADirectoryError: a name is a directory (or the root).
            NotADirectory: a name goes through a file, stored or loaded.
            StorageFull: the files cannot fit together; nothing changed.
            InvalidPath: a name is not one a store can hold.
            OSError: a name is too long (``ENAMETOOLONG``).
            TypeError: a content is not ``bytes``.
            ValueError: a time is not finite, or not within the years 1 to 9999.
        """
        batch, times = checked_batch(files)
        dropped: list[Eviction] = []
        if keep_what_fits and self._budget.on_full == "evict" and self._budget.max_bytes:
            now = seconds(self._now())
            dropped = [
                Eviction(name, size, now)
                for name, size in drop_least_recent(batch, times, self._budget.max_bytes)
            ]
            if not batch:
                with self._lock:
                    self._remember_dropped(dropped)
                return Loaded((), (), tuple(dropped))
        refused = batch_over_the_whole_budget(batch, self._budget.max_bytes, file_charge)
        if refused is not None:
            last, size, detail, label = refused
            with self._lock:
                raise self._refusal(last, size, detail, what=label)
        with self._lock:
            evictions = self._load(batch, times, replace=replace)
            self._remember_dropped(dropped)
        if self._freed >= self._release_after:
            self._release_memory()
        return Loaded(tuple(batch), tuple(evictions), tuple(dropped))

    def _remember_dropped(self, dropped: Sequence[Eviction]) -> None:
        # Remember the files a load dropped as evicted, within the records'
        # share of the budget. Called with self._lock held.
        if dropped:
            for eviction in dropped:
                self._records.remember(eviction)
            self._counters.evictions += len(dropped)
            self._records.trim()

    def _load(
        self, batch: dict[str, StoredFile], times: dict[str, tuple[int, int]], *, replace: bool
    ) -> list[Eviction]:
        # Called with self._lock held: check every target, settle the budget
        # once, then publish every node.
        missing: dict[str, None] = {}
        olds: dict[str, bytes] = {}
        for name in batch:
            try:
                old, new_dirs, _parent = self._target(name, exclusive=not replace)
            except NotADirectory:  # a FileExistsError too, and not one that replace=True mends
                raise
            except FileExistsError:
                msg = f"{name!r} already exists; load with replace=True to overwrite stored files"
                raise FileExistsError(errno.EEXIST, msg, name) from None
            missing.update(dict.fromkeys(new_dirs))
            if old is not None:
                olds[name] = old
        self._apply_reads()
        budget = self._budget
        needed = sum(file_charge(name, len(f.content)) for name, f in batch.items())
        needed += sum(map(dir_charge, missing))
        freed = sum(file_charge(name, len(old)) for name, old in olds.items())
        evictions: list[Eviction] = []
        overflowing = budget.overflow(needed - freed) > 0
        if overflowing:
            kept = {d for name in batch for d in ancestor_names(name)} - set(missing)
            last, label = batch_label(batch)
            self._refuse_without_room(
                last,
                sum(len(f.content) for f in batch.values()),
                needed,
                freed,
                sum(map(dir_charge, kept)),
                count=len(batch),
                new_dirs=len(missing),
                what=label,
            )
        stamp = self._next_stamp()  # after the refusals: a refused load moves no stamp
        if overflowing:
            for name in olds:
                budget.touch(self._files, name)
            evictions = self._make_room(needed - freed, stamp, kept, protected=len(olds))
        self._publish_loaded(batch, times, olds, missing, stamp)
        self._records.trim()
        return evictions

    def _publish_loaded(
        self,
        batch: dict[str, StoredFile],
        times: dict[str, tuple[int, int]],
        olds: dict[str, bytes],
        missing: Iterable[str],
        stamp: int,
    ) -> None:
        # Charge and publish a checked batch, room already made; no time is
        # later than the load's own *stamp*, so the stamp counter stays at
        # the clock. Called with self._lock held.
        budget = self._budget
        for name, old in olds.items():
            budget.remove_file(file_charge(name, len(old)))
            self._accessed.pop(name, None)
            self._created.pop(name, None)
        self._make_dirs(missing, stamp)
        for name, file in batch.items():
            self._records.forget(name)
            created, modified = (min(time, stamp) for time in times[name])
            if name in olds and self._stamp_of(name) == modified:
                modified += 1  # a new version, even at the same time (still <= stamp)
            if created != modified:
                self._created[name] = created
            budget.add_file(file_charge(name, len(file.content)))
            parent = self._dirs[parent_name(name)]
            parent.children[name] = modified
            parent.listing = None
            parent.modified = parent.accessed = stamp
            self._files[name] = file.content
            budget.touch(self._files, name)
