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
import socket
import threading
import time
from typing import Any
from urllib.parse import urlparse

from django.core.files.base import File
from django.core.files.storage import Storage


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

    Each thread has its own socket and speaks RESP itself (no redis-py): a
    save writes the whole content under its name in one command, a taken name
    gets Django's alternative, a read is one ``GET``. No budget, no recency,
    no checks of the name, no metadata: every store that several processes
    share on this server pays at least this, so the shared engine's goals
    against FileSystemStorage apply only where this floor itself reaches them.
    Its keys live in their own database (:data:`DATABASE`), which
    :meth:`clear` empties.
    """

    #: The server's database the floor's keys live in (the shared engine uses database 0).
    DATABASE = 15

    def __init__(self, url: str, *, allow_overwrite: bool = False) -> None:
        parsed = urlparse(url)
        self._address = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
        self._local = threading.local()
        self._allow_overwrite = allow_overwrite
        self._sockets: list[socket.socket] = []  # every thread's, for close()

    def _reader(self) -> tuple[socket.socket, io.BufferedReader]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            sock = socket.create_connection(self._address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = self._local.connection = (sock, sock.makefile("rb"))
            self._sockets.append(sock)
            self._call(b"SELECT", str(self.DATABASE).encode())
        return connection

    def _call(self, *parts: bytes) -> bytes | None:
        """Send one command, read its one reply: a bulk string's bytes, ``None`` for nil."""
        sock, reader = self._reader()
        command = [b"*%d\r\n" % len(parts)]
        for part in parts:
            command += (b"$%d\r\n" % len(part), part, b"\r\n")
        sock.sendall(b"".join(command))
        line = reader.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else reader.read(size + 2)[:-2]
        if kind == b"-":
            raise OSError(rest.decode())
        return rest  # +OK, :integer

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        name = str(name if name is not None else content.name)
        data = content.read()
        if self._allow_overwrite:
            self._call(b"SET", name.encode(), data)
            return name
        while self._call(b"SET", name.encode(), data, b"NX") is None:
            name = self.get_alternative_name(*os.path.splitext(name))
        return name

    def open(self, name: str, mode: str = "rb") -> File:
        data = self._call(b"GET", name.encode())
        if data is None:
            raise FileNotFoundError(name)
        return File(io.BytesIO(data), name)

    def exists(self, name: str) -> bool:
        return self._call(b"EXISTS", name.encode()) == b"1"

    def delete(self, name: str) -> None:
        self._call(b"DEL", name.encode())

    def size(self, name: str) -> int:
        return int(self._call(b"STRLEN", name.encode()) or 0)

    def clear(self) -> None:
        """Drop every key of the floor's database."""
        self._call(b"FLUSHDB")

    def close(self) -> None:
        """Close every thread's connection (a thread that calls again opens a new one)."""
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        self._local = threading.local()


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
