"""Reference storages: the unlocked floor, the locked floor, the round-trip floor, a broken one.

The floor is the thinnest storage Django's API allows over a ``dict[str, bytes]``:
no tree, no lock, no metadata. It is the practical speed limit of any
in-process Python store, and it is *not* thread-safe. The locked floor adds one
plain :class:`threading.Lock` around each dict access: the cost of the simplest
correct lock. The round-trip floor (:class:`RoundTripFloorStorage`) is the
least a store that several processes share can cost on this machine: one bare
round trip to the bench's Redis server per call, nothing else.
:class:`SharedPositionStorage` hands every reader one shared file
object, as Django's ``InMemoryStorage`` and dj-inmemorystorage 2.1.0 do, with a
forced thread switch in the middle of each read, and calls every name free; the
test suite uses it to prove that the harness counts wrong reads and lost writes.
"""

from __future__ import annotations

import io
import os
import pathlib
import threading
import time
from typing import Any

from django.core.files.base import File
from django.core.files.storage import Storage

from .resp import Connection


class FloorStorage(Storage):
    """A ``dict[str, bytes]`` behind Django's Storage API; unlocked, so not thread-safe."""

    def __init__(self, *, allow_overwrite: bool = False) -> None:
        self._files: dict[str, bytes] = {}
        self._allow_overwrite = allow_overwrite

    def _open(self, name: str, mode: str = "rb") -> File:
        return File(io.BytesIO(self._files[name]), name)

    def _save(self, name: str, content: Any) -> str:
        self._files[name] = content.read()
        return name

    def exists(self, name: str) -> bool:
        return name in self._files

    def delete(self, name: str) -> None:
        self._files.pop(name, None)

    def size(self, name: str) -> int:
        return len(self._files[name])

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = path.rstrip("/") + "/" if path else ""
        start = len(prefix)
        names = [key[start:] for key in list(self._files) if key.startswith(prefix)]
        dirs = sorted({name.split("/", 1)[0] for name in names if "/" in name})
        return dirs, [name for name in names if "/" not in name]

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        if self._allow_overwrite:
            return not (max_length and len(name) > max_length)
        return super().is_name_available(name, max_length=max_length)


class LockedFloorStorage(FloorStorage):
    """The floor with one plain lock around each dict access: the simplest correct store."""

    def __init__(self, *, allow_overwrite: bool = False) -> None:
        super().__init__(allow_overwrite=allow_overwrite)
        self._lock = threading.Lock()

    def _open(self, name: str, mode: str = "rb") -> File:
        with self._lock:
            data = self._files[name]
        return File(io.BytesIO(data), name)

    def _save(self, name: str, content: Any) -> str:
        data = content.read()
        with self._lock:
            self._files[name] = data
        return name

    def exists(self, name: str) -> bool:
        with self._lock:
            return name in self._files

    def delete(self, name: str) -> None:
        with self._lock:
            self._files.pop(name, None)

    def size(self, name: str) -> int:
        with self._lock:
            return len(self._files[name])

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        with self._lock:
            keys = list(self._files)
        prefix = path.rstrip("/") + "/" if path else ""
        start = len(prefix)
        names = [key[start:] for key in keys if key.startswith(prefix)]
        dirs = sorted({name.split("/", 1)[0] for name in names if "/" in name})
        return dirs, [name for name in names if "/" not in name]


class RoundTripFloorStorage(Storage):
    """One bare round trip per call: ``SET NX`` to save, ``GET`` to read, on the bench's server.

    It speaks RESP itself (``resp.py``, no redis-py), on connections kept in a
    pool that every thread takes one from for each call and gives back: a save
    writes the whole content under its name in one command, a taken name gets
    an alternative as Django's ``get_available_name()`` makes it, a read is one
    ``GET``. No budget, no recency, no checks of the name, no metadata: a store
    that asks the server on every call, as the shared engine does, pays at
    least this, so the shared engine's goals against FileSystemStorage apply
    only where this floor itself reaches them. Its keys live in their own
    database (:data:`DATABASE`), one for every instance: :meth:`clear`
    empties it (the bench's save scenarios clear after each repetition).
    """

    #: The server's database the floor's keys live in (the shared engine uses database 0).
    DATABASE = 15
    #: How many alternative names a save tries before it gives up.
    MAX_TRIES = 100

    def __init__(self, url: str, *, allow_overwrite: bool = False) -> None:
        self._url = url
        self._allow_overwrite = allow_overwrite
        self._idle: list[Connection] = []  # list.pop() and .append() are atomic
        self._all: list[Connection] = []

    def _call(self, *parts: bytes) -> Any:
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = Connection(self._url, self.DATABASE)
            self._all.append(connection)
        answer = connection.call(*parts)
        self._idle.append(connection)  # not given back after a failure: it may be out of step
        return answer

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        name = str(name if name is not None else content.name)
        data = content.read()
        if self._allow_overwrite:
            self._call(b"SET", name.encode(), data)
            return name
        folder, file_name = os.path.split(name)
        extension = "".join(pathlib.PurePath(file_name).suffixes)
        root = file_name.removesuffix(extension)
        for _ in range(self.MAX_TRIES):
            if self._call(b"SET", name.encode(), data, b"NX") is not None:
                return name
            name = os.path.join(folder, self.get_alternative_name(root, extension))
        msg = f"no free name for {name!r} in {self.MAX_TRIES} tries"
        raise FileExistsError(msg)

    def open(self, name: str, mode: str = "rb") -> File:
        data = self._call(b"GET", name.encode())
        if data is None:
            raise FileNotFoundError(name)
        return File(io.BytesIO(data), name)

    def exists(self, name: str) -> bool:
        return bool(int(self._call(b"EXISTS", name.encode())))

    def delete(self, name: str) -> None:
        self._call(b"DEL", name.encode())

    def clear(self) -> None:
        """Drop every key of the floor's database."""
        self._call(b"FLUSHDB")

    def close(self) -> None:
        """Close every connection; a later call opens a new one."""
        for connection in self._all:
            connection.close()
        self._all.clear()
        self._idle.clear()


class _SharedFile(File):
    """One file object handed to every reader; ``close()`` keeps it open for the next."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(io.BytesIO(data), name)
        self.data = data

    def read(self, size: int = -1) -> bytes:
        # Read in two halves with a forced thread switch between them, so that
        # a concurrent reader's seek(0) lands in the middle, as it does by chance
        # with Django's InMemoryStorage and dj-inmemorystorage 2.1.0.
        if size != -1:
            return self.file.read(size)
        first = self.file.read(max(1, len(self.data) // 2))
        time.sleep(0)
        return first + self.file.read()

    def close(self) -> None:
        return None


class SharedPositionStorage(FloorStorage):
    """Deliberately broken: readers of a name share one file position, and every name is free.

    For the test suite only: its reads go wrong under threads, and its saves
    of one name all get that name, each replacing the last.
    """

    def __init__(self, *, allow_overwrite: bool = False) -> None:
        super().__init__(allow_overwrite=allow_overwrite)
        self._shared: dict[str, _SharedFile] = {}

    def _open(self, name: str, mode: str = "rb") -> File:
        data = self._files[name]
        shared = self._shared.get(name)
        if shared is None or shared.data is not data:
            shared = self._shared[name] = _SharedFile(data, name)
        shared.seek(0)
        return shared

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        return True
