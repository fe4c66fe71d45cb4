"""The errors this package raises: each subclasses the builtin that callers already catch."""

from __future__ import annotations

import errno
import os
from typing import Literal

__all__ = [
    "EngineUnavailable",
    "InvalidPath",
    "NotADirectory",
    "PathDoesNotExist",
    "StorageFull",
    "UnsafePath",
]


class PathDoesNotExist(FileNotFoundError):
    """No file or directory is stored under the name (dj-inmemorystorage 2.1.0's name for it)."""

    def __init__(self, name: str) -> None:
        super().__init__(errno.ENOENT, os.strerror(errno.ENOENT), name)


class NotADirectory(NotADirectoryError, FileExistsError):
    """A path goes through a stored file as if it were a directory.

    It is a ``NotADirectoryError``, as the operating system says, and also a
    ``FileExistsError``, which is what Django's own ``InMemoryStorage`` raises.
    """

    def __init__(self, name: str) -> None:
        super().__init__(errno.ENOTDIR, f"{name} exists and is not a directory.", name)


class StorageFull(OSError):
    """The byte budget cannot hold the content; nothing was stored (errno ``ENOSPC``).

    ``filename`` is the refused file's name (for several files at once, the
    last one's), ``size`` its content's bytes (or theirs, together),
    ``max_bytes`` the budget. ``what`` names the refused files in messages:
    the name, quoted, for one file, or a count such as ``"3 files"``.
    ``could_fit`` is true when the content would fit an emptier storage, and
    only ``on_full="error"`` kept it out: there is no room *now*. ``limit``
    says which bound refused: ``"max_bytes"``, the storage's budget;
    ``"maxmemory"``, the Redis server's own memory (the shared engine's;
    ``max_bytes`` is then the server's ``maxmemory``, 0 where it will not say);
    or ``"memory"``, half this machine's memory, the most a store without a
    budget takes from one archive (``max_bytes`` is then that bound).
    """

    def __init__(
        self,
        name: str,
        size: int,
        max_bytes: int,
        detail: str,
        *,
        what: str | None = None,
        could_fit: bool = False,
        limit: Literal["max_bytes", "maxmemory", "memory"] = "max_bytes",
    ) -> None:
        self.what = what or repr(name)
        msg = f"cannot store {self.what} ({size:,} bytes): {detail}"
        if limit == "max_bytes":
            msg += f" (max_bytes={max_bytes:,})"
        super().__init__(errno.ENOSPC, msg, name)
        self.size = size
        self.max_bytes = max_bytes
        self.could_fit = could_fit
        self.limit = limit

    def __str__(self) -> str:
        return str(self.strerror)


class InvalidPath(ValueError):
    """A name the store cannot hold: empty, with a NUL byte, or not a string."""


class UnsafePath(InvalidPath):
    """A name that is absolute or climbs out of the store with ``..``."""


class EngineUnavailable(ConnectionError):
    """The shared engine's server did not answer; nothing is known to have changed.

    A ``ConnectionError``, so an ``OSError``: code that handles a storage's
    ``OSError`` handles this too.
    """
