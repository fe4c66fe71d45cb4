"""``InMemoryStorage``: Django's Storage API over a thread-safe store."""

from __future__ import annotations

import io
import logging
import os
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import Storage
from django.core.files.storage.mixins import StorageSettingsMixin
from django.core.signals import setting_changed
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri
from django.utils.functional import cached_property

from .exceptions import UnsafePath
from .files import SnapshotFile, WriterFile, parse_mode
from .signals import file_evicted
from .store import Eviction, FileInfo, Store, StoreStats
from .tree import is_a_directory

if TYPE_CHECKING:
    from types import TracebackType

    from .budget import OnFull

__all__ = ["InMemoryStorage"]

logger = logging.getLogger("inmemorystorage")

_ON_FULL_CHOICES = ("evict", "error")

# Stores shared by namespace; None is the store that INMEMORYSTORAGE_PERSIST shares.
_shared_stores: dict[str | None, Store] = {}  # guarded by _shared_stores_lock
_shared_stores_lock = threading.Lock()


class _DjangoNames:
    """Report names that escape the storage as Django does, with SuspiciousFileOperation."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, UnsafePath):
            raise SuspiciousFileOperation(str(exc)) from exc


_django_names = _DjangoNames()


def _check_options(max_bytes: object, on_full: object, namespace: object) -> None:
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
    ) -> None:
        _check_options(max_bytes, on_full, namespace)
        self._location = location
        self._base_url = base_url
        self._file_permissions_mode = file_permissions_mode
        self._directory_permissions_mode = directory_permissions_mode
        self._allow_overwrite = bool(allow_overwrite)
        self.namespace = namespace
        if namespace is not None:
            self._store = _shared_store(namespace, max_bytes, on_full)
        elif getattr(settings, "INMEMORYSTORAGE_PERSIST", False):
            self._store = _shared_store(None, max_bytes, on_full)
        else:
            self._store = Store(max_bytes, on_full)
        setting_changed.connect(self._clear_cached_properties)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InMemoryStorage):
            return NotImplemented
        return bool(self._deconstructed() == other._deconstructed())

    def __hash__(self) -> int:
        return hash(self._deconstructed()[0])

    def _deconstructed(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        # Added by @deconstructible, which type checkers cannot see.
        return self.deconstruct()  # type: ignore[attr-defined,no-any-return]

    # Settings, read lazily and reset on setting_changed (StorageSettingsMixin).

    @cached_property
    def base_location(self) -> str:
        return str(self._value_or_setting(self._location, settings.MEDIA_ROOT))

    @cached_property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    @cached_property
    def base_url(self) -> str | None:
        return self._value_or_setting(self._given_base_url(), settings.MEDIA_URL)  # type: ignore[no-any-return]  # a setting

    def _given_base_url(self) -> str | None:
        """The ``base_url`` argument, ending in ``/`` as Django's storages make it end."""
        if self._base_url is not None and not self._base_url.endswith("/"):
            self._base_url += "/"
        return self._base_url

    @cached_property
    def file_permissions_mode(self) -> int | None:
        return self._value_or_setting(self._file_permissions_mode, settings.FILE_UPLOAD_PERMISSIONS)  # type: ignore[no-any-return]  # a setting

    @cached_property
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
        with _django_names:
            return self._store.read_with_info(name)

    # Opening and saving.

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Save *content* under *name*, or an alternative if taken; return the name used.

        Raises:
            TypeError: *content* is ``None``.
            StorageFull: the content does not fit the budget; nothing changed.
        """
        if content is None:
            msg = "save() needs content: a File, a ContentFile or a file-like object, not None"
            raise TypeError(msg)
        return str(super().save(name, content, max_length=max_length))

    def open(self, name: str, mode: str = "rb") -> SnapshotFile | WriterFile:
        """Open *name*: a snapshot for reading, or a private writer published at ``close()``.

        Raises:
            PathDoesNotExist: reading a name where nothing is stored.
            IsADirectoryError: *name* is a directory.
            ValueError: *mode* is not a valid mode for Python's :func:`open`.
            SuspiciousFileOperation: *name* escapes the storage.
        """
        # Overrides Storage.open only to spare the hottest path one call.
        if mode == "rb":
            store = self._store
            try:
                return SnapshotFile(store.read_node(name).content, name, store)
            except UnsafePath as exc:
                raise SuspiciousFileOperation(str(exc)) from exc
        return self._open(name, mode)

    def _open(self, name: str, mode: str = "rb") -> SnapshotFile | WriterFile:
        parsed = parse_mode(mode)
        store = self._store
        with _django_names:
            if not parsed.writing:
                return SnapshotFile(store.read(name), name, store, mode)
            if parsed.kind == "r" or (parsed.kind == "a" and store.exists(name)):
                initial = store.read(name)
            else:
                store.check_writable(name, exclusive=parsed.kind == "x")
                initial = b""
            return WriterFile(name, mode, store, initial, publish=self._publish)

    def _save(self, name: str, content: Any) -> str:
        with _django_names:
            data = self._gather(name, content)
            while True:
                try:
                    written = self._publish(name, data, exclusive=not self._allow_overwrite)
                except (FileExistsError, IsADirectoryError) as exc:
                    if isinstance(exc, NotADirectoryError) or self._allow_overwrite:
                        raise
                    # Another thread claimed the name since get_available_name().
                    name = self.get_available_name(name)
                else:
                    break
        if hasattr(content, "temporary_file_path"):
            os.remove(content.temporary_file_path())
        return written

    def _publish(self, name: str, data: bytes, *, exclusive: bool) -> str:
        written = self._store.write(name, data, exclusive=exclusive)
        if written.evictions:
            self._report(written.evictions)
        return written.name

    def _gather(self, name: str, content: Any) -> bytes:
        """The content's bytes: refused early when too large, never copied when already bytes."""
        inner = getattr(content, "file", None)
        if type(content).chunks is File.chunks and isinstance(inner, io.BytesIO | io.StringIO):
            value = inner.getvalue()
            self._store.check_size(name, len(value))  # characters never outnumber bytes
            if isinstance(value, str):
                value = value.encode()
                self._store.check_size(name, len(value))
            return value
        size = getattr(content, "size", None) if hasattr(type(content), "size") else None
        if isinstance(size, int):
            self._store.check_size(name, size)
        chunks = []
        total = 0
        for chunk in content.chunks():
            piece = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            total += len(piece)
            self._store.check_size(name, total)
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

    def delete(self, name: str) -> None:
        """Delete the file, or the directory with everything below it; quiet if missing."""
        if not name:
            msg = "The name must be given to delete()."
            raise ValueError(msg)
        with _django_names:
            self._store.delete(name)

    def exists(self, name: str) -> bool:
        with _django_names:
            return self._store.exists(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        with _django_names:
            return self._store.listdir(path)

    def size(self, name: str) -> int:
        info = self._stat(name)
        if info.is_dir:
            raise is_a_directory(name)
        return info.size

    def url(self, name: str | None) -> str:
        if self.base_url is None:
            msg = "This file is not accessible via a URL."
            raise ValueError(msg)
        url = filepath_to_uri(name)
        if url is not None:
            url = url.lstrip("/")
        return urljoin(self.base_url, url)

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        if self._allow_overwrite:
            return not (max_length and len(name) > max_length)
        return bool(super().is_name_available(name, max_length=max_length))

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        if self._allow_overwrite:
            return f"{file_root}{file_ext}"
        return str(super().get_alternative_name(file_root, file_ext))

    def get_accessed_time(self, name: str) -> datetime:
        return self._datetime(self._stat(name).accessed)

    def get_created_time(self, name: str) -> datetime:
        return self._datetime(self._stat(name).created)

    def get_modified_time(self, name: str) -> datetime:
        return self._datetime(self._stat(name).modified)

    def _stat(self, name: str) -> FileInfo:
        with _django_names:
            return self._store.stat(name)

    @staticmethod
    def _datetime(timestamp: float) -> datetime:
        """Aware in UTC with ``USE_TZ``, naive local time otherwise, as FileSystemStorage does."""
        return datetime.fromtimestamp(timestamp, tz=UTC if settings.USE_TZ else None)
