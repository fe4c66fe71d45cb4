"""``InMemoryStorage``: Django's Storage API over a thread-safe store."""

from __future__ import annotations

import errno
import inspect
import io
import logging
import os
import pathlib
import posixpath
import threading
import time
import weakref
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.core.files.storage.mixins import StorageSettingsMixin
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.utils import validate_file_name
from django.utils._os import safe_join
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from .engine import Engine, Eviction, FileInfo, ListedFile, StoredFile, StoreStats
from .exceptions import NotADirectory, PathDoesNotExist, UnsafePath
from .files import SnapshotFile, WriterFile, parse_mode
from .redis_store import redacted
from .signals import file_deleted, file_evicted, file_opened, file_saved
from .store import READS_BEFORE_DRAIN, Store
from .tree import canonical_name, canonical_seen, is_a_directory, is_canonical

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

    from django.dispatch import Signal

    from .budget import OnFull

#: ``PathDoesNotExist`` is here too: 2.1.0 defined it in this module, and code
#: written for it imports it from here.
__all__ = [
    "OPTION_NAMES",
    "InMemoryStorage",
    "PathDoesNotExist",
    "check_options",
    "shared_storages",
]

_new_file = object.__new__
logger = logging.getLogger("inmemorystorage")

_ON_FULL_CHOICES = ("evict", "error")
#: Where only a name that starts with "/" is absolute (POSIX paths): there, a name that
#: does not is taken as it is, without asking os.path.isabs() (see InMemoryStorage._name).
_ONLY_SLASH_IS_ABSOLUTE = os.path is posixpath

# Stores shared by namespace; None is the store that INMEMORYSTORAGE_PERSIST shares.
_shared_stores: dict[str | None, Store] = {}  # guarded by _shared_stores_lock
#: The shared engine's stores of this process, by (server, namespace).
_server_stores: dict[tuple[str, str], Engine] = {}  # guarded by _shared_stores_lock
#: The schemes a ``server`` URL may have: redis-py's, as Django's Redis cache takes them.
SERVER_SCHEMES = ("redis://", "rediss://", "unix://")
#: The namespace of a storage on a server that names none.
DEFAULT_SERVER_NAMESPACE = "default"
_shared_stores_lock = threading.Lock()

#: Content types whose ``chunks()`` provably yields exactly their inner buffer's
#: value: Django's own classes, not subclasses, which may override ``read()``.
_PLAIN_CONTENT_TYPES = frozenset({File, ContentFile, InMemoryUploadedFile})
#: Buffers whose ``getvalue()`` is exactly what reading them from the start yields.
_PLAIN_BUFFER_TYPES = frozenset({io.BytesIO, io.StringIO})
#: Raw content that save() refuses, asking for a File.
_RAW_CONTENT_TYPES = (bytes, bytearray, memoryview, str)
#: The methods Django's ``Storage.save()`` calls (directly or through
#: ``get_available_name()``): a subclass that overrides one gets Django's
#: generic ``save()``, so that its override is called.
_SAVE_HOOKS = (
    "get_available_name",
    "is_name_available",
    "exists",
    "get_alternative_name",
    "_save",
)
#: Attributes that, set on a content instance, change what ``chunks()`` yields.
_READING_ATTRIBUTES = frozenset({"chunks", "read", "seek", "open"})
#: Set while an observed save() runs, so that the save it times is not observed again.
_observing_save: ContextVar[bool] = ContextVar("_observing_save", default=False)


class _DjangoNames:
    """Report bad names as Django's storages do.

    A name that escapes the storage raises ``SuspiciousFileOperation``; a path
    through a file names it by its absolute path under ``location``, as in
    Django's ``"/media/a.txt exists and is not a directory."``.
    """

    __slots__ = ("_storage",)

    def __init__(self, storage: InMemoryStorage) -> None:
        # A weak reference: the storage holds this, and a cycle would keep a
        # dropped storage, and every file in it, alive until the cyclic
        # garbage collector next ran.
        self._storage = weakref.ref(storage)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.reraise(exc)

    def reraise(self, exc: BaseException) -> None:
        """Raise *exc* as Django would report it, if it is a name error; else return."""
        if isinstance(exc, UnsafePath):
            raise SuspiciousFileOperation(str(exc)) from exc
        storage = self._storage()
        if isinstance(exc, NotADirectory) and storage and not os.path.isabs(exc.filename):
            raise NotADirectory(os.path.join(storage.location, exc.filename)) from exc


def check_options(**options: Any) -> None:
    """Check ``OPTIONS`` for :class:`InMemoryStorage`, before a storage is built.

    For ``manage.py check``: what the constructor would refuse, and also an
    ``on_full`` given without ``max_bytes``, which has no effect.

    Raises:
        ImproperlyConfigured: an option is unknown, or has a value it cannot
            take (the message names the option and what it accepts).
    """
    unknown = {name: value for name, value in options.items() if name not in OPTION_NAMES}
    if unknown:
        raise _unknown_options(unknown)
    if "on_full" in options and options.get("max_bytes") is None:
        msg = (
            f"InMemoryStorage option on_full={options['on_full']!r} has no effect without "
            "max_bytes; set max_bytes (a number of bytes) or remove on_full"
        )
        raise ImproperlyConfigured(msg)
    _check_values(
        options.get("max_bytes"),
        options.get("on_full", "evict"),
        options.get("namespace"),
        options.get("server"),
    )


def _check_values(
    max_bytes: object, on_full: object, namespace: object, server: object = None
) -> None:
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0
    ):
        msg = f"InMemoryStorage option max_bytes must be None or an int >= 0, not {max_bytes!r}"
        raise ImproperlyConfigured(msg)
    if on_full not in _ON_FULL_CHOICES:
        msg = f"InMemoryStorage option on_full must be 'evict' or 'error', not {on_full!r}"
        raise ImproperlyConfigured(msg)
    if namespace is not None and (not isinstance(namespace, str) or not namespace.strip()):
        msg = f"InMemoryStorage option namespace must be None or a non-empty str, not {namespace!r}"
        raise ImproperlyConfigured(msg)
    if server is not None and isinstance(namespace, str) and ("{" in namespace or "}" in namespace):
        msg = (
            f"InMemoryStorage option namespace must not hold '{{' or '}}' with a server, not "
            f"{namespace!r}: its keys start ims:{{namespace}}:, and a brace would let two "
            "namespaces share keys"
        )
        raise ImproperlyConfigured(msg)
    if server is not None and (
        not isinstance(server, str) or not server.startswith(SERVER_SCHEMES)
    ):
        shown = redacted(server) if isinstance(server, str) else repr(server)
        msg = (
            "InMemoryStorage option server must be None or a URL starting with "
            f"{', '.join(SERVER_SCHEMES)} (as Django's Redis cache takes it), not {shown}"
        )
        raise ImproperlyConfigured(msg)


def _shared_store(key: str | None, max_bytes: int | None, on_full: OnFull) -> Store:
    """The process-wide store for *key*; its first user sets the budget, later ones must agree."""
    with _shared_stores_lock:
        store = _shared_stores.get(key)
        if store is None:
            store = _shared_stores[key] = Store(max_bytes, on_full)
            return store
    states_budget = max_bytes is not None or on_full != "evict"
    if states_budget and (store.max_bytes, store.on_full) != (max_bytes, on_full):
        label = f"namespace {key!r}" if key is not None else "the INMEMORYSTORAGE_PERSIST store"
        msg = (
            f"InMemoryStorage: {label} already has max_bytes={store.max_bytes!r}, "
            f"on_full={store.on_full!r}; this instance asks for max_bytes={max_bytes!r}, "
            f"on_full={on_full!r}"
        )
        raise ImproperlyConfigured(msg)
    return store


def _server_store(server: str, namespace: str, max_bytes: int | None, on_full: OnFull) -> Engine:
    """This process's shared-engine store for *namespace* on *server*, built on first use.

    Raises:
        ImproperlyConfigured: redis-py is not installed.
    """
    with _shared_stores_lock:
        store = _server_stores.get((server, namespace))
        if store is None or (store.max_bytes, store.on_full) != (max_bytes, on_full):
            from .redis_store import RedisStore  # noqa: PLC0415  # imports redis: only if used

            try:
                store = RedisStore(server, namespace, max_bytes, on_full)
            except ImportError as exc:
                msg = f"InMemoryStorage option server={redacted(server)!r}: {exc}"
                raise ImproperlyConfigured(msg) from exc
            _server_stores[server, namespace] = store
        return store


def shared_storages() -> list[InMemoryStorage]:
    """One storage over each process-wide shared store: every namespace, and the persist store.

    Each has the store's ``namespace`` (``None`` for the store that
    ``INMEMORYSTORAGE_PERSIST`` shares), ``max_bytes`` and ``on_full``; for
    code that hands every store on at once, such as the runserver hand-off.
    """
    with _shared_stores_lock:
        stores = sorted(_shared_stores.items(), key=lambda item: item[0] or "")
    return [InMemoryStorage._over(store, key) for key, store in stores]  # noqa: SLF001  # ours


def _unknown_options(unknown: dict[str, Any]) -> ImproperlyConfigured:
    names = ", ".join(map(repr, sorted(unknown)))
    valid = ", ".join(OPTION_NAMES)
    msg = f"InMemoryStorage got unknown option(s) {names}; the options are: {valid}"
    return ImproperlyConfigured(msg)


class SettingProperty:
    """A storage setting, read from its argument or Django's setting whenever it is asked for.

    A value assigned to the instance (in a subclass's ``__init__``, or by
    ``mock.patch.object``) is the value from then on, until it is deleted,
    whatever the settings do meanwhile (Django's own storages drop an
    assigned value when its setting changes). Nothing is kept in the
    instance's ``__dict__`` (see :meth:`InMemoryStorage._hooks_are_ours`), and
    there is no cache to clear when a setting changes.
    """

    def __init__(self, read: Callable[[Any], Any]) -> None:
        self._read = read
        self._name = read.__name__
        self.__doc__ = read.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        assigned = instance._assigned_settings  # noqa: SLF001  # the class's own, through this
        return assigned[self._name] if self._name in assigned else self._read(instance)

    def __set__(self, instance: Any, value: Any) -> None:
        assigned = instance._assigned_settings  # noqa: SLF001
        instance._assigned_settings = {**assigned, self._name: value}  # noqa: SLF001

    def __delete__(self, instance: Any) -> None:
        assigned = dict(instance._assigned_settings)  # noqa: SLF001
        if assigned.pop(self._name, _NOT_ASSIGNED) is _NOT_ASSIGNED:
            raise AttributeError(self._name)
        instance._assigned_settings = assigned  # noqa: SLF001


_NOT_ASSIGNED = object()


@deconstructible(path="inmemorystorage.InMemoryStorage")
class InMemoryStorage(Storage, StorageSettingsMixin):
    """Files kept in memory, safe under a multithreaded server, optionally bounded in bytes.

    Accepts every argument of Django's ``InMemoryStorage`` with the same
    setting-backed defaults, plus:

    Args:
        allow_overwrite: Save over an existing name instead of choosing a new
            one, as ``FileSystemStorage(allow_overwrite=True)`` does.
        namespace: Share one process-wide store with every instance of the
            same namespace. Without it each instance has its own files (unless
            ``INMEMORYSTORAGE_PERSIST = True``, which shares one store among
            all instances without a namespace).
        max_bytes: Bound the bytes held (content plus a per-file overhead);
            ``None`` (the default) for no bound.
        on_full: When a save does not fit: ``"evict"`` least recently used
            files, or ``"error"`` to raise :class:`~inmemorystorage.StorageFull`.
        server: Keep the files on this Redis server (a ``redis://``,
            ``rediss://`` or ``unix://`` URL) instead of in this process, so
            that every process using it sees the same files; needs the
            ``redis`` extra. See the how-to "Share files between processes".

    Raises:
        ImproperlyConfigured: an option has a value it cannot take.
    """

    def __init__(
        self,
        location: str | None = None,
        base_url: str | None = None,
        file_permissions_mode: int | None = None,
        directory_permissions_mode: int | None = None,
        *,
        allow_overwrite: bool = False,
        namespace: str | None = None,
        max_bytes: int | None = None,
        on_full: OnFull = "evict",
        server: str | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise _unknown_options(unknown)
        _check_values(max_bytes, on_full, namespace, server)
        self.server = server
        self._location = location
        self._base_url = base_url
        self._file_permissions_mode = file_permissions_mode
        self._directory_permissions_mode = directory_permissions_mode
        self._allow_overwrite = bool(allow_overwrite)
        self.namespace = namespace
        self._names = _DjangoNames(self)
        self._budget_options = (max_bytes, on_full)
        self._use(self._choose_store())

    def _use(self, store: Engine) -> None:
        """Keep *store*'s files, and the handles the lock-free ``exists()`` reads through."""
        self._store = store
        self._files_index = store.files_index
        # The names known canonical: for a server's store, none (its indexes are empty).
        self._canonical_seen = canonical_seen if store.local else frozenset()
        self._dirs_index = store.dirs_index

    def _choose_store(self) -> Engine:
        """The store this instance uses: its namespace's, the persist store, or its own.

        With ``server``, its namespace's on that server (``"default"`` if it
        names none), which every process using that server shares.
        """
        max_bytes, on_full = self._budget_options
        self.shared = True
        if self.server is not None:
            namespace = self.namespace or DEFAULT_SERVER_NAMESPACE
            return _server_store(self.server, namespace, max_bytes, on_full)
        if self.namespace is not None:
            return _shared_store(self.namespace, max_bytes, on_full)
        if getattr(settings, "INMEMORYSTORAGE_PERSIST", False):
            return _shared_store(None, max_bytes, on_full)
        self.shared = False
        return Store(max_bytes, on_full)

    #: Whether other instances see this one's files: it has a namespace, uses
    #: the ``INMEMORYSTORAGE_PERSIST`` store, or (static files) a shared location.
    shared: bool = False

    @classmethod
    def _over(cls, store: Store, namespace: str | None) -> InMemoryStorage:
        """An instance over an existing shared *store* (``namespace=None``: the persist store)."""
        storage = cls(namespace=namespace, max_bytes=store.max_bytes, on_full=store.on_full)
        storage._use(store)
        return storage

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InMemoryStorage):
            return NotImplemented
        return bool(self._deconstructed() == other._deconstructed())

    def __hash__(self) -> int:
        return hash(self._deconstructed()[0])

    def _deconstructed(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        # Added by @deconstructible, which type checkers cannot see.
        return self.deconstruct()  # type: ignore[attr-defined,no-any-return]

    # Settings, read when asked for (SettingProperty), not cached in the instance's
    # __dict__ as Django's storages cache them: that would slow every attribute lookup.

    @SettingProperty
    def base_location(self) -> str:
        return str(self._value_or_setting(self._location, settings.MEDIA_ROOT))

    @SettingProperty
    def location(self) -> str:
        return os.path.abspath(str(self.base_location))

    @SettingProperty
    def base_url(self) -> str | None:
        return self._value_or_setting(self._given_base_url(), settings.MEDIA_URL)  # type: ignore[no-any-return]  # a setting

    def _given_base_url(self) -> str | None:
        """The ``base_url`` argument, ending in ``/`` as Django's storages make it end."""
        if self._base_url is not None and not self._base_url.endswith("/"):
            self._base_url += "/"
        return self._base_url

    @SettingProperty
    def file_permissions_mode(self) -> int | None:
        return self._value_or_setting(self._file_permissions_mode, settings.FILE_UPLOAD_PERMISSIONS)  # type: ignore[no-any-return]  # a setting

    @SettingProperty
    def directory_permissions_mode(self) -> int | None:
        return self._value_or_setting(  # type: ignore[no-any-return]  # a setting
            self._directory_permissions_mode, settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS
        )

    # The store.

    @property
    def max_bytes(self) -> int | None:
        """The bound on bytes held, or ``None``."""
        return self._store.max_bytes

    @property
    def on_full(self) -> OnFull:
        """What a save that does not fit does: ``"evict"`` or ``"error"``."""
        return self._store.on_full

    def stats(self) -> StoreStats:
        """A consistent snapshot: files, dirs, bytes used, the bound, and the counters."""
        return self._store.stats()

    def clear(self) -> None:
        """Remove every file and directory (of the whole namespace, if shared)."""
        self._store.clear()

    def snapshot(self, name: str) -> tuple[bytes, FileInfo]:
        """The content of *name* and its metadata, taken in one step; counts as a read.

        For callers that need both to agree, such as a view that sends
        ``Content-Length`` and ``ETag`` with the body.

        Raises:
            PathDoesNotExist: nothing is stored under *name*.
            IsADirectoryError: *name* is a directory.
        """
        with self._names:
            return self._store.read_with_info(self._name(name))

    def _read_versioned(self, name: str) -> tuple[bytes, int, float]:
        """The content of *name*, its version and its modified time, from one moment.

        :meth:`snapshot` for :func:`inmemorystorage.views.serve`, which needs no
        more and answers many requests a second.
        """
        try:  # as `with self._names`, which costs two calls on every request
            return self._store.read_versioned(self._name(name))
        except (UnsafePath, NotADirectory) as exc:
            self._names.reraise(exc)
            raise

    def recent_eviction(self, name: str | os.PathLike[str]) -> Eviction | None:
        """How and when the file at *name* was evicted, if that is among the latest evictions.

        The store remembers its last 1,024 evictions at most (charged to its
        budget, which keeps a sixteenth of itself for them) until a file is
        saved under that name again; ``None`` otherwise. While remembered,
        ``save()`` gives the name to no new file.
        """
        with self._names:
            return self._store.recent_eviction(self._name(name))

    def recent_evictions(self) -> list[Eviction]:
        """Every eviction the store remembers (its last 1,024 at most), newest first.

        For pages that show what a storage dropped and when (the storage page,
        the debug-toolbar panel): each has the file's name, its content's
        length and ``evicted_at``, seconds since the epoch.
        """
        return self._store.recent_evictions()

    def repair(self) -> int:
        """Count a shared namespace again from the keys its server holds; the entries mended.

        With ``server``: the bytes charged, the listings and the recency order
        become what the server really holds, after keys were changed by hand
        or dropped by the server (each process does this on its own after a
        restart of the server). In this process's own store nothing can
        disagree: 0.

        Raises:
            EngineUnavailable: the server does not answer.
        """
        return self._store.repair()

    def stored_files(self, *, by_recency: bool = False) -> list[StoredFile]:
        """Every file with its content and times, from one moment, sorted by name.

        With *by_recency*, least recently used first instead (for a
        :meth:`load_files` with ``keep_what_fits``).
        """
        return self._store.files(by_recency=by_recency)

    def file_listing(self) -> list[ListedFile]:
        """Every file's name, size and times, from one moment, sorted by name.

        What :meth:`stored_files` gives without the content: for showing a
        store (the storage page, the ``inmemorystorage ls`` command), where a
        shared engine's server then sends a few bytes a file, not every file.

        Raises:
            EngineUnavailable: the server does not answer.
        """
        return self._store.listing()

    def load_files(
        self,
        files: Iterable[StoredFile],
        *,
        replace: bool = False,
        keep_what_fits: bool = False,
    ) -> list[str]:
        """Store many files with their times at once: all of them, or none.

        Each name is checked as :meth:`save` checks it, before anything
        changes; evictions are logged and signalled as for a save.

        With *keep_what_fits* and ``on_full="evict"``, *files* come least
        recently used first, and those the budget cannot hold beside the
        later ones are left out and remembered as evicted, without a log line
        each (their caller says how many: the reload hand-off into a smaller
        ``max_bytes``); with ``on_full="error"`` it changes nothing.

        Returns:
            The names stored, in the order given.

        Raises:
            FileExistsError: not *replace*, and something is already stored at a name.
            StorageFull: the files do not fit together; nothing changed.
            SuspiciousFileOperation: a name escapes the storage.
            ValueError: a name is blank or holds a NUL byte or a lone surrogate,
                or a time is not finite or not within the years 1 to 9999.
            OSError: a name is longer than 4,096 bytes, or a segment longer
                than 255 (``ENAMETOOLONG``).
        """
        checked = [
            StoredFile(self._name(file.name), file.content, file.created, file.modified)
            for file in files
        ]
        for file in checked:
            validate_file_name(file.name, allow_relative_path=True)
        with self._names:
            loaded = self._store.load(checked, replace=replace, keep_what_fits=keep_what_fits)
        if loaded.evictions:
            self._report(loaded.evictions)
        return list(loaded.names)

    def _name(self, name: str | os.PathLike[str]) -> str:
        """*name* as the store takes it: a ``str``, relative to ``location``.

        ``pathlib.Path`` names work as in Django's storages, and an absolute
        name inside ``location`` means the file at its relative name, as
        ``FileSystemStorage`` and Django's ``InMemoryStorage`` take it.

        Raises:
            SuspiciousFileOperation: an absolute name outside ``location``.
        """
        if type(name) is str and _ONLY_SLASH_IS_ABSOLUTE and not name.startswith("/"):
            return name  # the usual name, relative: os.path.isabs() costs a call on every use
        if type(name) is not str and isinstance(name, os.PathLike):  # str spares the ABC check
            name = os.fspath(name)
        if isinstance(name, str) and os.path.isabs(name):
            try:
                joined = safe_join(self.location, name)
            except SuspiciousFileOperation:
                msg = f"the absolute name {name!r} is outside the storage's {self.location=}"
                raise SuspiciousFileOperation(msg) from None
            relative = os.path.relpath(joined, self.location)
            return "" if relative == "." else relative
        return name

    # Opening and saving.

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Save *content* under *name*, or an alternative if taken; return the name used.

        Raises:
            TypeError: *content* is ``None``.
            StorageFull: the content does not fit the budget; nothing changed.
        """
        if file_saved.receivers and not _observing_save.get():
            return self._save_observed(name, content, max_length)
        if type(content) not in _PLAIN_CONTENT_TYPES:
            if content is None or isinstance(content, _RAW_CONTENT_TYPES):
                kind = "None" if content is None else type(content).__name__
                msg = (
                    f"save() needs a File, not {kind}: wrap raw content in "
                    "django.core.files.base.ContentFile, as in save(name, ContentFile(data))"
                )
                raise TypeError(msg)
            if not hasattr(content, "chunks"):
                content = File(content, name if name is not None else content.name)
        if name is None:
            name = content.name
        if is_canonical(name) and (max_length or len(name)) >= len(name) and self._hooks_are_ours():
            return self._save_canonical(name, content, max_length)
        if name is not None and not isinstance(name, str):
            name = self._name(name)
        return str(super().save(name, content, max_length=max_length))

    def open(self, name: str, mode: str = "rb") -> SnapshotFile | WriterFile:
        """Open *name*: a snapshot for reading, or a private writer published at ``close()``.

        Raises:
            PathDoesNotExist: reading a name where nothing is stored.
            IsADirectoryError: *name* is a directory.
            ValueError: *mode* is not a valid mode for Python's :func:`open`.
            SuspiciousFileOperation: *name* escapes the storage.
        """
        # Overrides Storage.open to spare the hottest path its calls: a stored
        # canonical name is read here as Store.read() would read it.
        if file_opened.receivers:
            return self._open_observed(name, mode)
        if mode == "rb":
            # Only the in-process engine's lookup finds content; a server's answers None.
            store: Store = self._store  # type: ignore[assignment]  # see the line above
            try:
                content = store.lookup(name)
            except TypeError:  # unhashable: _open() says what a name must be
                content = None
            if content is not None:
                reads = store.pending_reads
                reads.append((name, store.read_clock()))
                if len(reads) >= READS_BEFORE_DRAIN and not store.taking_in:
                    store.take_in_reads()
                file = _new_file(SnapshotFile)  # SnapshotFile(content, name, store), one frame less
                file._content = file._unread = content  # noqa: SLF001
                file.name = name
                file._store = store  # noqa: SLF001
                return file
        return self._open(name, mode)

    def _open_observed(self, name: str, mode: str) -> SnapshotFile | WriterFile:
        """``open()`` while ``file_opened`` has receivers: timed, then signalled."""
        started = time.perf_counter()
        file = self._open(name, mode)
        self._observed(file_opened, started, name=file.name, mode=mode, size=file.size)
        return file

    def _save_observed(self, name: str | None, content: Any, max_length: int | None) -> str:
        """``save()`` while ``file_saved`` has receivers: timed, then signalled."""
        started = time.perf_counter()
        token = _observing_save.set(True)
        try:
            name = self.save(name, content, max_length)
        finally:
            _observing_save.reset(token)
        stored = self._store.lookup(name)  # None if another thread removed it already
        self._observed(file_saved, started, name=name, size=None if stored is None else len(stored))
        return name

    def _observed(self, signal: Signal, started: float, **arguments: Any) -> None:
        """Send an observing *signal* for an operation begun at *started* (``perf_counter()``)."""
        duration = time.perf_counter() - started
        for receiver, result in signal.send_robust(
            type(self), storage=self, duration=duration, **arguments
        ):
            if isinstance(result, Exception):
                logger.error("storage signal receiver %r raised", receiver, exc_info=result)

    def _open(self, name: str, mode: str = "rb") -> SnapshotFile | WriterFile:
        parsed = parse_mode(mode)
        store = self._store
        name = self._name(name)
        with self._names:
            if not parsed.writing:
                return SnapshotFile(store.read(name), name, store, mode)
            initial = None
            if parsed.kind == "r" or (parsed.kind == "a" and store.exists(name)):
                try:
                    initial = store.read(name)
                except PathDoesNotExist:
                    if parsed.kind == "r":
                        raise
                    # Deleted since exists() looked (another thread or process): an
                    # append to a missing file creates it.
            if initial is None:
                store.check_writable(name, exclusive=parsed.kind == "x")
                initial = b""
            return WriterFile(name, mode, store, initial, publish=self._publish)

    def _save(self, name: str, content: Any) -> str:
        """Django's generic ``save()`` found *name* free: claim it, or the next free one."""
        try:  # as `with self._names`, which costs two calls on the hot path below
            data = self._gather(name, content)
            exclusive = not self._allow_overwrite
            while True:
                try:
                    name, evictions = self._store.put(
                        name, data, exclusive=exclusive, avoid_evicted=exclusive
                    )
                    break
                except (FileExistsError, IsADirectoryError) as exc:
                    if isinstance(exc, NotADirectoryError) or not exclusive:
                        raise
                    # Taken since Django's save() looked: its search for another
                    # name goes on, the content already in hand. A hook that
                    # gives back the very name refused means to keep it: the
                    # file is replaced, as Django's InMemoryStorage does,
                    # rather than looping forever.
                    alternative = self.get_available_name(name)
                    exclusive = alternative != name
                    name = alternative
        except (UnsafePath, NotADirectory) as exc:
            self._names.reraise(exc)
            raise
        self._saved(content, evictions)
        return name

    def _save_canonical(self, name: str, content: Any, max_length: int | None) -> str:
        """``save()`` of a canonical *name* while no hook of Django's ``save()`` is overridden.

        Django's name checks are provably no-ops here, so what is left of
        its ``save()`` is its search for a free name: the same names as
        ``get_available_name()`` would try (see :meth:`_alternative_names`),
        each checked and claimed in one step.
        """
        store = self._store
        exclusive = not self._allow_overwrite
        alternatives = None
        canonical = True
        try:
            data = self._gather(name, content)
            if exclusive and store.lookup(name) is not None:  # spares a claim that would fail
                alternatives = self._alternative_names(name, max_length)
                name = next(alternatives)
                canonical = is_canonical(name)
            while True:
                try:
                    name, evictions = store.put(
                        name,
                        data,
                        exclusive=exclusive,
                        canonical=canonical,
                        avoid_evicted=exclusive,
                    )
                    break
                except (FileExistsError, IsADirectoryError) as exc:
                    if isinstance(exc, NotADirectoryError) or not exclusive:
                        raise
                    if alternatives is None:
                        alternatives = self._alternative_names(name, max_length)
                    name = next(alternatives)
                    canonical = is_canonical(name)
        except (UnsafePath, NotADirectory) as exc:
            self._names.reraise(exc)
            raise
        if evictions or type(content) not in _PLAIN_CONTENT_TYPES:
            self._saved(content, evictions)
        return name

    def _alternative_names(self, name: str, max_length: int | None) -> Iterator[str]:
        """The names ``get_available_name()`` tries after a taken *name*, in its order.

        Each from ``get_alternative_name()``, its root cut so that the name
        fits *max_length*, as Django's loop cuts it.

        Raises:
            SuspiciousFileOperation: cutting would leave no root, as in Django.
        """
        dir_name, _, file_name = name.rpartition("/")
        file_ext = file_extension(file_name)
        file_root = file_name.removesuffix(file_ext)
        while True:
            name = _joined(dir_name, self.get_alternative_name(file_root, file_ext))
            truncation = 0 if max_length is None else len(name) - max_length
            if truncation > 0:
                file_root = file_root[:-truncation]
                if not file_root:
                    msg = (
                        f'Storage can not find an available filename for "{name}". Please make '
                        'sure that the corresponding file field allows sufficient "max_length".'
                    )
                    raise SuspiciousFileOperation(msg)
                name = _joined(dir_name, self.get_alternative_name(file_root, file_ext))
            yield name

    def _saved(self, content: Any, evictions: tuple[Eviction, ...]) -> None:
        """Finish a save: report its evictions, remove the content's temporary file."""
        if evictions:
            self._report(evictions)
        # Django's own content classes have no temporary file (and asking costs an exception).
        if type(content) not in _PLAIN_CONTENT_TYPES and hasattr(content, "temporary_file_path"):
            os.remove(content.temporary_file_path())

    def _hooks_are_ours(self) -> bool:
        """Whether every method Django's ``save()`` would call is this class's own.

        Looked up on each save, so that a subclass, or a test that patches a
        hook on the class or the instance, gets its override called. The
        instance's own hooks are known from :meth:`__setattr__`, not from
        ``__dict__``: asking an instance for its ``__dict__`` makes every later
        attribute lookup on it slower (CPython then keeps the attributes in a
        dict object of their own), and the lock-free reads are a few lookups.
        """
        cls = type(self)
        return (
            not self._instance_hooks
            and (
                cls.get_available_name,
                cls.is_name_available,
                cls.exists,
                cls.get_alternative_name,
                cls._save,
            )
            == _ORIGINAL_HOOKS
        )

    #: The save hooks (:data:`_SAVE_HOOKS`) set on the instance, overriding the class's.
    _instance_hooks: frozenset[str] = frozenset()
    #: The settings assigned to the instance (:class:`SettingProperty`): replaced, never changed.
    _assigned_settings: dict[str, Any] = {}  # noqa: RUF012  # never changed: see above

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _SAVE_HOOKS:
            super().__setattr__("_instance_hooks", self._instance_hooks | {name})

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        if name in _SAVE_HOOKS:
            super().__setattr__("_instance_hooks", self._instance_hooks - {name})

    def _publish(self, name: str, data: bytes, *, exclusive: bool) -> str:
        """Publish a writer's content (at its ``close()``) and report any evictions."""
        started = time.perf_counter()
        name, evictions = self._store.put(name, data, exclusive=exclusive)
        if evictions:
            self._report(evictions)
        if file_saved.receivers:
            self._observed(file_saved, started, name=name, size=len(data))
        return name

    def _gather(self, name: str, content: Any) -> bytes:
        """The content's bytes, read through its ``chunks()``: refused early when too large.

        Content that already is bytes in a buffer is taken without a copy, but
        only where that is provably what ``chunks()`` would yield: one of
        Django's own content classes over a plain ``BytesIO`` or ``StringIO``,
        with nothing that reads replaced on the instance.
        """
        inner = getattr(content, "file", None)
        if (
            type(content) in _PLAIN_CONTENT_TYPES
            and type(inner) in _PLAIN_BUFFER_TYPES
            and _READING_ATTRIBUTES.isdisjoint(vars(content))
        ):
            value: bytes | str = inner.getvalue()  # type: ignore[union-attr]  # a BytesIO or StringIO
            if isinstance(value, str):  # characters never outnumber bytes
                self._store.check_size(canonical_name(name), len(value))
                value = value.encode()
            return value  # the store checks its size before it takes a lock
        try:
            size = content.size
        except (AttributeError, OSError, ValueError):  # unknown, or a stream that cannot tell
            size = None
        charged = canonical_name(name)  # as stored: "./a.txt" costs what "a.txt" costs
        if isinstance(size, int):
            self._store.check_size(charged, size)
        chunks = []
        total = 0
        for chunk in content.chunks():
            piece = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            total += len(piece)
            self._store.check_size(charged, total)
            chunks.append(piece)
        return b"".join(chunks)

    def _report(self, evictions: tuple[Eviction, ...]) -> None:
        """Log and signal evictions; runs with no store lock held."""
        for eviction in evictions:
            logger.info(
                "evicted %r (%d bytes) from %s to make room",
                eviction.name,
                eviction.size,
                self.namespace or "the in-memory storage",
            )
            for receiver, result in file_evicted.send_robust(
                type(self), storage=self, name=eviction.name, size=eviction.size
            ):
                if isinstance(result, Exception):
                    logger.error("file_evicted receiver %r raised", receiver, exc_info=result)

    # The rest of the Storage API.

    def path(self, name: str) -> str:
        """Not available: the files live in memory. Use :meth:`open`."""
        msg = "InMemoryStorage keeps files in memory and has no local paths; use open()"
        raise NotImplementedError(msg)

    def delete(self, name: str | os.PathLike[str]) -> None:
        """Delete the file, or the directory with everything below it; quiet if missing."""
        if not name:
            msg = "The name must be given to delete()."
            raise ValueError(msg)
        started = time.perf_counter()
        with self._names:
            self._store.delete(self._name(name))
        if file_deleted.receivers:
            self._observed(file_deleted, started, name=self._name(name))

    def exists(self, name: str | os.PathLike[str]) -> bool:
        """Whether a file or directory is stored at *name*.

        ``False`` for a name that no store could hold (a segment longer than
        255 bytes), so that Django's ``get_available_name()`` can shorten it.
        """
        try:
            if name in self._files_index:  # a stored file's name: one lookup
                return True
            if name in self._canonical_seen:  # canonical, so no other spelling: one more
                return name in self._dirs_index
        except TypeError:  # unhashable: the store says what a name must be
            pass
        if type(name) is str:
            try:
                return self._store.exists(name, found=False)  # the usual, relative name
            except (UnsafePath, OSError):  # absolute, or too long: see below
                pass
        with self._names:
            try:
                return self._store.exists(self._name(name))
            except OSError as exc:
                if exc.errno == errno.ENAMETOOLONG:
                    return False
                raise

    def listdir(self, path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
        with self._names:
            return self._store.listdir(self._name(path))

    def size(self, name: str | os.PathLike[str]) -> int:
        info = self._stat(name)
        if info.is_dir:
            raise is_a_directory(info.name)
        return info.size

    def url(self, name: str | os.PathLike[str] | None) -> str:
        base_url = self.base_url
        if base_url is None:
            msg = "This file is not accessible via a URL."
            raise ValueError(msg)
        url = filepath_to_uri(None if name is None else os.fspath(name))
        if url is not None:
            url = url.lstrip("/")
        return urljoin(str(base_url), url)

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        """Whether ``save()`` may give *name* to a new file.

        Not when a file is there, nor when the file that was there was
        evicted lately (see :meth:`recent_eviction`): a link to it must
        stay a 404, never serve another file's bytes.
        """
        if self._allow_overwrite:
            return not (max_length and len(name) > max_length)
        if not super().is_name_available(name, max_length=max_length):
            return False
        try:
            return self.recent_eviction(name) is None
        except (SuspiciousFileOperation, ValueError, OSError):
            return True  # not a name a store could hold: save() says why

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        if self._allow_overwrite:
            return f"{file_root}{file_ext}"
        return str(super().get_alternative_name(file_root, file_ext))

    def get_accessed_time(self, name: str | os.PathLike[str]) -> datetime:
        return self._datetime(self._stat(name).accessed)

    def get_created_time(self, name: str | os.PathLike[str]) -> datetime:
        return self._datetime(self._stat(name).created)

    def get_modified_time(self, name: str | os.PathLike[str]) -> datetime:
        return self._datetime(self._stat(name).modified)

    def _stat(self, name: str | os.PathLike[str]) -> FileInfo:
        with self._names:
            return self._store.stat(self._name(name))

    @staticmethod
    def _datetime(timestamp: float) -> datetime:
        """Aware in UTC with ``USE_TZ``, naive local time otherwise, as FileSystemStorage does."""
        return datetime.fromtimestamp(timestamp, tz=UTC if settings.USE_TZ else None)


def file_extension(file_name: str) -> str:
    """The extension ``get_available_name()`` keeps: every suffix, as ``pathlib`` finds them.

    ``"photo.tar.gz"`` gives ``".tar.gz"``; ``".bashrc"`` and ``"notes."`` give ``""``.
    """
    if file_name.startswith(".") or file_name.endswith("."):
        return "".join(pathlib.PurePath(file_name).suffixes)  # the edge cases, as pathlib has them
    dot = file_name.find(".")
    return "" if dot < 0 else file_name[dot:]


def _joined(dir_name: str, file_name: str) -> str:
    """``os.path.join()`` of a canonical directory name and a file name without slashes."""
    return f"{dir_name}/{file_name}" if dir_name else file_name


_ORIGINAL_HOOKS = tuple(getattr(InMemoryStorage, hook) for hook in _SAVE_HOOKS)
#: The options :class:`InMemoryStorage` accepts, in the order of its signature.
OPTION_NAMES = tuple(
    parameter.name
    for parameter in inspect.signature(InMemoryStorage.__init__).parameters.values()
    if parameter.name != "self" and parameter.kind is not parameter.VAR_KEYWORD
)
