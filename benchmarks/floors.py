"""Reference storages: the unlocked floor, the locked floor, and a deliberately broken one.

The floor is the thinnest storage Django's API allows over a ``dict[str, bytes]``:
no tree, no lock, no metadata. It is the practical speed limit of any
in-process Python store, and it is *not* thread-safe. The locked floor adds one
plain :class:`threading.Lock` around each dict access: the cost of the simplest
correct lock. :class:`SharedPositionStorage` hands every reader one shared file
object, as Django's ``InMemoryStorage`` and dj-inmemorystorage 2.1.0 do, with a
forced thread switch in the middle of each read, and calls every name free; the
test suite uses it to prove that the harness counts wrong reads and lost writes.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

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
