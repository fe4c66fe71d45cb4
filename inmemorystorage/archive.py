"""``dump()`` and ``load()``: a storage to and from a tar archive, or from a directory on disk.

The archive is a standard tar (``tarfile``, POSIX pax format): one regular
member per file, with its name, its bytes and its modification time (to the
microsecond, in a pax header); the creation time travels in the
``LIBARCHIVE.creationtime`` pax header, which GNU tar and bsdtar keep.
Directories are implicit in the storage, so they are not written, and
directory members are skipped when loading.

A tar is untrusted input: loading refuses links, devices and FIFOs, checks
every name as ``save()`` checks it (absolute names and ``..`` raise
``SuspiciousFileOperation``), stops reading as soon as the files add up to
more than ``max_bytes``, and stores all of the files or none of them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from django.core.exceptions import SuspiciousFileOperation

from .exceptions import StorageFull
from .store import StoredFile

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from .storage import InMemoryStorage

__all__ = ["dump", "load", "read_files"]

#: The pax header that carries a file's creation time (bsdtar's name for it).
CREATED_HEADER = "LIBARCHIVE.creationtime"
#: Files in an archive are plain data: readable by everyone, writable by the owner.
_MEMBER_MODE = 0o644


def dump(storage: InMemoryStorage, target: IO[bytes] | str | os.PathLike[str]) -> list[str]:
    """Write every file of *storage* to *target* as a tar archive; return the names written.

    The files are one consistent snapshot: a concurrent save lands wholly in
    the archive or not at all. Names are written in sorted order.

    Args:
        storage: The in-memory storage to copy (its whole namespace, if shared).
        target: A binary file object open for writing (it may be a pipe or a
            socket: the tar is written as a stream), or a path to create.

    Returns:
        The names of the files written, sorted.

    .. versionadded:: 3.0.0
    """
    files = sorted(storage.stored_files(), key=lambda file: file.name)
    if isinstance(target, str | os.PathLike):
        with Path(target).open("wb") as output:
            _write(files, output)
    else:
        _write(files, target)
    return [file.name for file in files]


def load(
    storage: InMemoryStorage,
    source: IO[bytes] | str | os.PathLike[str],
    *,
    replace: bool = False,
) -> list[str]:
    """Store the files of a tar archive, or of a directory on disk, in *storage*; all or none.

    Modification and creation times come with the files. The storage's
    budget applies: with ``on_full="evict"`` least recently used files make
    room, with ``on_full="error"`` a load that does not fit is refused.

    Args:
        storage: The in-memory storage to fill.
        source: A binary file object to read a tar from (plain or compressed
            with gzip, bzip2 or xz; read as a stream), or the path of a tar
            file or of a directory (its regular files, below it, by their
            relative names).
        replace: Overwrite files that already exist under the same names;
            without it, an existing name refuses the whole load.

    Returns:
        The canonical names of the files stored.

    Raises:
        SuspiciousFileOperation: a member's name is absolute or climbs out
            with ``..``, or a member is a link, a device or a FIFO.
        ValueError: a name with a NUL byte or a blank name.
        FileExistsError: a name exists already and *replace* is false.
        StorageFull: the files do not fit the budget.
        tarfile.TarError: *source* is not a readable tar archive.

        Nothing is stored when any of these is raised.

    .. versionadded:: 3.0.0
    """
    files = read_files(source, max_bytes=storage.max_bytes)
    return list(storage.load_files(files, replace=replace))


def read_files(
    source: IO[bytes] | str | os.PathLike[str], *, max_bytes: int | None = None
) -> list[StoredFile]:
    """The files of a tar archive or a directory, checked as untrusted input, without storing them.

    For callers that must read several archives before storing any (the
    reload hand-off). Names are checked for what a tar can smuggle (absolute,
    ``..``); the storage checks the rest when the files are loaded.

    Raises:
        SuspiciousFileOperation: an unsafe name, a link, a device or a FIFO.
        StorageFull: the contents add up to more than *max_bytes*, found out
            before the member that passes the bound is read.
        tarfile.TarError: *source* is not a readable tar archive.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            return _bounded(_directory_files(path), max_bytes, os.fspath(path))
        with tarfile.open(os.fspath(path), "r|*") as archive:
            return _bounded(_tar_files(archive), max_bytes, os.fspath(path))
    with tarfile.open(fileobj=source, mode="r|*") as archive:
        return _bounded(_tar_files(archive), max_bytes, "the archive")


def _write(files: Iterable[StoredFile], output: IO[bytes]) -> None:
    with tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for file in files:
            member = tarfile.TarInfo(file.name)
            member.size = len(file.content)
            member.mtime = file.modified  # a float: pax keeps the fraction
            member.mode = _MEMBER_MODE
            member.pax_headers = {CREATED_HEADER: repr(file.created)}
            archive.addfile(member, _Reader(file.content))


class _Reader:
    """``read()`` over bytes without copying them into a BytesIO first."""

    __slots__ = ("content", "offset")

    def __init__(self, content: bytes) -> None:
        self.content = memoryview(content)
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.content) if size < 0 else self.offset + size
        piece = bytes(self.content[self.offset : end])
        self.offset += len(piece)
        return piece


def _tar_files(archive: tarfile.TarFile) -> Generator[tuple[str, int, float, float, IO[bytes]]]:
    """``(name, size, created, modified, reader)`` of each regular member; others refused."""
    for member in archive:
        if member.isdir():
            _check_name(member.name, "directory")
            continue
        if not member.isreg():
            kind = _member_kind(member)
            msg = f"The archive's member {member.name!r} is a {kind}; only files are loaded."
            raise SuspiciousFileOperation(msg)
        _check_name(member.name, "file")
        created = _created(member)
        reader = archive.extractfile(member)
        if reader is None:  # pragma: no cover  # isreg() members always have one
            msg = f"The archive's member {member.name!r} has no content."
            raise SuspiciousFileOperation(msg)
        yield member.name, member.size, created, member.mtime, reader


def _directory_files(root: Path) -> Generator[tuple[str, int, float, float, IO[bytes]]]:
    """The regular files below *root*, by their ``/``-separated relative names, sorted."""
    found: list[tuple[str, Path, os.stat_result]] = []
    for directory, subdirectories, names in os.walk(root, onerror=_raise):
        # os.walk() lists a link to a directory among the subdirectories (and does
        # not follow it): lstat() of every entry finds links wherever they are.
        for name in [*names, *subdirectories]:
            path = Path(directory, name)
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                kind = "symbolic link" if stat.S_ISLNK(info.st_mode) else "special file"
                msg = f"{relative!r} in {os.fspath(root)!r} is a {kind}; only files are loaded."
                raise SuspiciousFileOperation(msg)
            found.append((relative, path, info))
    for relative, path, info in sorted(found, key=lambda entry: entry[0]):
        with path.open("rb") as reader:
            yield relative, info.st_size, info.st_mtime, info.st_mtime, reader


def _raise(error: OSError) -> None:
    """os.walk() ignores unreadable directories; a load must not lose files silently."""
    raise error


def _bounded(
    entries: Generator[tuple[str, int, float, float, IO[bytes]]], max_bytes: int | None, label: str
) -> list[StoredFile]:
    """Read each entry, refusing as soon as the sizes add up to more than *max_bytes*."""
    files: list[StoredFile] = []
    total = 0
    with contextlib.closing(entries):  # an error here closes the file the walk has open
        for name, size, created, modified, reader in entries:
            total += size
            if max_bytes is not None and total > max_bytes:
                detail = f"the files of {label} add up to at least {total:,} bytes"
                raise StorageFull(name, size, max_bytes, detail)
            content = reader.read()
            if len(content) != size:
                msg = f"{name!r} in {label} has {len(content):,} bytes, not the {size:,} announced."
                raise SuspiciousFileOperation(msg)
            files.append(StoredFile(name=name, content=content, created=created, modified=modified))
    return files


def _check_name(name: str, kind: str) -> None:
    """Refuse a member name that is absolute or climbs out with ``..``, before reading further."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        msg = f"The archive's {kind} {name!r} is outside the storage (absolute, or with '..')."
        raise SuspiciousFileOperation(msg)


def _created(member: tarfile.TarInfo) -> float:
    """The creation time from the pax header, or the modification time if absent or invalid."""
    value = member.pax_headers.get(CREATED_HEADER)
    if value is not None:
        with contextlib.suppress(ValueError):  # a foreign tool's header: fall back to mtime
            return float(value)
    return float(member.mtime)


def _member_kind(member: tarfile.TarInfo) -> str:
    """What a non-regular member is, in words."""
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return "special member"
