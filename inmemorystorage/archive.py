r"""``dump()`` and ``load()``: a storage to and from a tar archive, or from a directory on disk.

The archive is a standard tar (``tarfile``, POSIX pax format): one regular
member per file, with its name, its bytes, its modification time (to the
microsecond, in the pax ``mtime``) and its creation time in the pax ``ctime``.
``ctime`` is a keyword GNU tar, bsdtar and ``tarfile`` all know, so that GNU
tar lists and extracts a dump without a warning (bsdtar's own
``LIBARCHIVE.creationtime``, which dumps carried before, made GNU tar warn
about every member); it is also what Django's ``FileSystemStorage`` reports as
a file's creation time (``os.path.getctime()``). Loading takes a creation time
from ``LIBARCHIVE.creationtime`` where a tar has one (bsdtar's birth time, and
older dumps), else from ``ctime`` (GNU tar's pax archives carry it), else the
modification time. Directories are implicit in the storage, so they are not
written, and directory members are skipped when loading.

A tar is untrusted input, read as GNU tar reads it and refused whole where GNU
tar refuses it:

- **Formats**: plain tar (ustar, pax, GNU), or the whole of it compressed with
  gzip, bzip2 or xz (and lzma), recognised by their magic bytes, every member
  of a multi-member gzip and every stream of a multi-stream bzip2 or xz read,
  with their checks (gzip's CRC and length trailer, xz's check); NUL padding
  after a stream is allowed (for xz, in fours), anything else is not.
- **Refused** (``tarfile.ReadError``): a bad checksum, a truncated header or
  content, a damaged compressed stream or one cut short, a pax header that is
  malformed, has a number field (``size``, ``uid``, ``gid``, ``mtime``,
  ``atime``, ``ctime``) that is not a plain decimal (``tarfile`` reads
  ``size=zz`` as 0 and takes ``nan``; GNU tar reads ``mtime=1e-05`` as 1), a
  run of more than 256 digits (``tarfile``'s pax parser is quadratic in them
  on Python before 3.12.6, CVE-2024-6232), or more than
  :data:`MAX_EXTENSION_BYTES` of data; a pax or GNU long-name header of more
  than that size, or with bytes in its padding (which ``tarfile`` reads and
  GNU tar does not); more than :data:`MAX_EXTENSION_HEADERS` of them before
  one member; a negative size; sparse members; an xz stream whose decoder
  needs more memory than :func:`xz_memory_limit` allows (80 MiB; less for
  stores under 20 MiB). Three of these are stricter than GNU tar, which
  accepts a last header cut short (listing what precedes it), garbage after a
  bzip2 stream, and times in exponent form. Links, devices and FIFOs raise
  ``SuspiciousFileOperation``, as absolute names and ``..`` do, and two
  members whose different names are one storage name (``a\b`` and ``a/b``);
  a later member of the very same name replaces an earlier one, as tar
  extracts them.
- **Bounded**: each member is charged at least what the store will charge it
  (:func:`~inmemorystorage.budget.file_charge`, directories
  :func:`~inmemorystorage.budget.dir_charge`, a name the lesser of what it
  takes in process and on a server) before its content is read, and
  the load is refused with ``StorageFull`` as soon as the charges pass
  ``max_bytes``; the input read and the tar bytes it decompresses to are each
  bounded by :func:`input_limit`, 4 x ``max_bytes`` + 1 MiB (a tar of files
  that fit needs less: its headers cost at most about 3 times a file's
  charge). So a refused input allocates at most about 96 MiB + 2 x
  ``max_bytes`` (20 MiB + 6 x ``max_bytes`` for stores under 20 MiB): the
  decoder (for xz :func:`xz_memory_limit`, 16 to 80 MiB; 4 MiB for bzip2),
  the files read so far (``max_bytes`` at their charges), one more file's
  content while it is joined, and a few small buffers. A store without
  ``max_bytes`` takes what fits this machine: the input and what it
  decompresses to are each bounded by :func:`unbounded_input_limit`, half
  the machine's memory, so that a small bomb is refused before it takes the
  server down.

A directory on disk is read without following links: every directory is
opened relative to its parent's descriptor with ``O_NOFOLLOW``, every file
too, then checked with ``fstat()`` and read up to one byte past the size that
check gave, so that a file swapped for a link, or growing, after it was listed
is refused rather than read. Two files whose names are one storage name (such
as ``sub\c.txt`` and ``sub/c.txt``) refuse the load. The path the caller names
is opened as ``open()`` opens it: only what lies below it is untrusted.

``dump()`` to a path writes a new file beside the target and renames it into
place: a symbolic link at the target is refused (``ELOOP``), a hard link is
replaced, never written into, and a reader never sees half an archive.
"""

from __future__ import annotations

import bz2
import contextlib
import decimal
import errno
import gzip
import io
import lzma
import os
import re
import secrets
import stat
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Protocol

from django.core.exceptions import SuspiciousFileOperation

from .budget import DIR_OVERHEAD, FILE_OVERHEAD, name_charge, server_name_charge
from .exceptions import StorageFull
from .store import StoredFile
from .tree import canonical_name, is_absolute, parent_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from .storage import InMemoryStorage

__all__ = [
    "MAX_EXTENSION_BYTES",
    "MAX_EXTENSION_HEADERS",
    "XZ_MEMORY_FLOOR",
    "XZ_MEMORY_LIMIT",
    "dump",
    "input_limit",
    "load",
    "read_files",
    "unbounded_input_limit",
    "xz_memory_limit",
]

_MiB = 1024 * 1024
#: The most data one pax header or GNU long-name header may carry: twice the
#: longest name a store takes (4,096 bytes), with room for the other keywords.
MAX_EXTENSION_BYTES = 8 * 1024
#: The most pax and GNU long-name headers before one member's own header (a
#: global, an extended, a long name and a long link header make four); each
#: nests a call in ``tarfile``, so a long chain would be a ``RecursionError``.
MAX_EXTENSION_HEADERS = 8
#: The most memory an xz (or lzma) stream may make its decoder use: enough for
#: ``xz -9`` (a 64 MiB dictionary); a header that asks for more is refused
#: before the decoder allocates it. See :func:`xz_memory_limit`.
XZ_MEMORY_LIMIT = 80 * _MiB
#: The memory an xz decoder may always use: enough for ``xz -6`` (8 MiB), the
#: default of xz, GNU tar and ``tarfile``.
XZ_MEMORY_FLOOR = 16 * _MiB
#: The longest run of digits a pax header may hold (see the module docstring).
_MAX_DIGITS = 256
#: The creation time as bsdtar writes it (its file birth time); read, no longer written.
CREATED_HEADER = "LIBARCHIVE.creationtime"
#: The pax header a dump writes the creation time in.
CTIME_HEADER = "ctime"
#: Files in an archive are plain data: readable by everyone, writable by the owner.
_MEMBER_MODE = 0o644
#: How much of the input or the decompressed tar is read at once.
_CHUNK = 64 * 1024
_EXTENSION_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
#: The header types checked before tarfile reads them.
_CHECKED_TYPES = _EXTENSION_TYPES | {tarfile.GNUTYPE_SPARSE}
_PAX_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
#: pax numbers as POSIX writes them; ``tarfile`` reads what ``int()`` and
#: ``float()`` take (``nan``, `` 4``, ``1_0``) and turns a failure into 0.
_PAX_NUMBERS = {
    b"size": re.compile(rb"[0-9]+"),
    b"uid": re.compile(rb"[0-9]+"),
    b"gid": re.compile(rb"[0-9]+"),
    b"mtime": re.compile(rb"-?[0-9]+(?:\.[0-9]*)?"),
    b"atime": re.compile(rb"-?[0-9]+(?:\.[0-9]*)?"),
    b"ctime": re.compile(rb"-?[0-9]+(?:\.[0-9]*)?"),
}
_PAX_TIME = _PAX_NUMBERS[b"mtime"]
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (_MAX_DIGITS + 1))


def input_limit(max_bytes: int) -> int:
    """The most bytes an archive loaded under *max_bytes* may read, and decompress to.

    A tar of files that fit the budget is smaller: a member's headers (a
    ustar header, a pax header and its data, about 1.5 KiB) and padding cost
    at most about three times the smallest file's charge.
    """
    return 4 * max_bytes + _MiB


def unbounded_input_limit() -> int | None:
    """The most bytes an archive may read, and decompress to, loaded into a store without a budget.

    Half this machine's memory: a load that needs more could not be held
    beside everything else, and a bomb of a few kilobytes (bzip2 packs a
    gigabyte of zeros in under a kilobyte) would take the server down before
    it failed. ``None`` where the OS does not say (no ``sysconf``).
    """
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return pages * page_size // 2


def xz_memory_limit(max_bytes: int | None) -> int:
    """The memory an xz stream loaded under *max_bytes* may make its decoder use.

    No more than the archive may decompress to (:func:`input_limit`): a
    larger dictionary could only serve an archive that is refused anyway. At
    least :data:`XZ_MEMORY_FLOOR`, at most :data:`XZ_MEMORY_LIMIT`: an
    ``xz -9`` archive (65 MiB) loads into stores of ``max_bytes`` >= 16 MiB.
    """
    if max_bytes is None:
        return XZ_MEMORY_LIMIT
    return min(XZ_MEMORY_LIMIT, max(XZ_MEMORY_FLOOR, input_limit(max_bytes)))


def dump(
    storage: InMemoryStorage,
    target: IO[bytes] | str | os.PathLike[str],
    *,
    by_recency: bool = False,
) -> list[str]:
    """Write every file of *storage* to *target* as a tar archive; return the names written.

    The files are one consistent snapshot: a concurrent save lands wholly in
    the archive or not at all. Names are written in sorted order, or with
    *by_recency* least recently used first (as the reload hand-off writes
    them, so that a smaller budget keeps the most recently used).

    Args:
        storage: The in-memory storage to copy (its whole namespace, if shared).
        target: A binary file object open for writing (it may be a pipe or a
            socket: the tar is written as a stream), or the path of a file to
            create or replace. A path is written as a new file beside it,
            renamed into place once complete: a symbolic link there is
            refused and a hard link replaced, never written through.
        by_recency: Write the files least recently used first, not by name.

    Returns:
        The names of the files written, in the order written.

    Raises:
        OSError: the file cannot be written, or *target* names a link, a
            directory, a device or a FIFO (pass an open file object to write
            to one of those); ``errno.ELOOP`` for a link.

    .. versionadded:: 3.0.0
    """
    files = storage.stored_files(by_recency=by_recency)
    if isinstance(target, str | os.PathLike):
        _write_new_file(Path(target), files)
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
    room, with ``on_full="error"`` a load that does not fit is refused. The
    source is untrusted: see the module's documentation for what is read and
    what is refused.

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
            with ``..``; a member is a link, a device or a FIFO; below a
            directory, a link or special file, a file that changed while it
            was read, or two files whose names are one storage name.
        ValueError: a name with a NUL byte or a lone surrogate (what tarfile
            and ``os.listdir()`` make of bytes that are not UTF-8), or a blank
            name; a time that is not finite or outside what ``datetime``
            represents.
        FileExistsError: a name exists already and *replace* is false.
        StorageFull: the files do not fit the budget, or the archive reads
            or decompresses to more than 4 x ``max_bytes`` + 1 MiB.
        tarfile.TarError: *source* is not a readable tar archive, or a
            corrupt one (``tarfile.ReadError``: checksums, truncation, gzip
            CRC and trailer, malformed pax headers; see the module).
        OSError: *source* cannot be read (a directory that cannot be
            listed), or a name is longer than the OS allows
            (``errno.ENAMETOOLONG``).

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
    ``..``, names that collide); the storage checks the rest when the files
    are loaded. With *max_bytes*, the files are charged as the store will
    charge them while they are read, and the input is bounded (see
    :func:`input_limit`).

    Raises:
        SuspiciousFileOperation: an unsafe name, a link, a device or a FIFO.
        StorageFull: the files are charged more than *max_bytes*, found out
            before the member that passes the bound is read, or the archive
            is larger than :func:`input_limit` allows.
        tarfile.TarError: *source* is not a readable tar archive, or a corrupt one.
        OSError: a directory or file cannot be read.
    """
    if not isinstance(source, str | os.PathLike):
        return _read_tar(source, max_bytes, "the archive")
    label = os.fspath(source)
    try:
        root = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except NotADirectoryError:
        with Path(source).open("rb") as archive:
            return _read_tar(archive, max_bytes, label)
    try:
        return _read_directory(root, _Files(max_bytes, label))
    finally:
        os.close(root)


# Writing.


def _write_new_file(path: Path, files: list[StoredFile]) -> None:
    """Write the tar to a new file beside *path*, then rename it to *path*."""
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileNotFoundError):
            existing = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISREG(existing.st_mode):
                raise _not_a_regular_target(path, existing.st_mode)
        temporary = f".{path.name}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(temporary, flags, 0o666, dir_fd=parent)
        try:
            with os.fdopen(descriptor, "wb") as output:
                _write(files, output)
            os.replace(temporary, path.name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=parent)
            raise
    finally:
        os.close(parent)


def _not_a_regular_target(path: Path, mode: int) -> OSError:
    """The error for a dump to a path where something else than a regular file is."""
    if stat.S_ISLNK(mode):
        msg = f"{os.fspath(path)!r} is a symbolic link: dump() does not write through links"
        return OSError(errno.ELOOP, msg, os.fspath(path))
    if stat.S_ISDIR(mode):
        return IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    msg = (
        f"{os.fspath(path)!r} is not a regular file: dump() replaces files only "
        "(pass an open file object to write to a device or a FIFO)"
    )
    return OSError(errno.EEXIST, msg, os.fspath(path))


def _write(files: Iterable[StoredFile], output: IO[bytes]) -> None:
    with tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for file in files:
            member = tarfile.TarInfo(file.name)
            member.size = len(file.content)
            member.mode = _MEMBER_MODE
            member.pax_headers = {CTIME_HEADER: _decimal(file.created)}
            if "e" in repr(file.modified):
                # tarfile writes a float mtime as str() does, which can be 1e-05:
                # GNU tar refuses that, so the pax mtime is written here instead.
                member.mtime = int(file.modified)
                member.pax_headers["mtime"] = _decimal(file.modified)
            else:
                member.mtime = file.modified  # a float: pax keeps the fraction
            archive.addfile(member, _Reader(file.content))


def _decimal(seconds: float) -> str:
    """*seconds* as a pax time: plain decimal digits (never an exponent), exactly *seconds*."""
    text = repr(float(seconds))
    return format(decimal.Decimal(text), "f") if "e" in text else text


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


# Reading: the bound on what a load holds.


class _Files:
    """The files read so far, by canonical name, each charged as the store will charge it.

    Raises ``StorageFull`` as soon as the charges pass *max_bytes*, before
    the content that would pass it is read.
    """

    def __init__(self, max_bytes: int | None, label: str) -> None:
        self.max_bytes = max_bytes
        self.label = label
        self.charged = 0
        # canonical name -> (the name as found, the file, its charge)
        self.found: dict[str, tuple[str, StoredFile, int]] = {}
        # The directories charged, by canonical name: a tar may hold one several times.
        self.dirs: set[str] = set()

    def charge_dir(self, name: str) -> None:
        """Charge a directory, as the store charges it once a file is stored below it; once."""
        self._charge_dirs(name, canonical_name(name))

    def claim(self, name: str) -> str:
        """The canonical name of the file found at *name*, checked against the files before it.

        A file found before under the very same name is dropped (a tar
        appended to holds the newer version later); one found under another
        name that is the same storage name refuses the load.
        """
        canonical = canonical_name(name)
        previous = self.found.get(canonical)
        if previous is not None:
            if previous[0] != name:
                msg = (
                    f"{name!r} and {previous[0]!r} in {self.label} are both the storage name "
                    f"{canonical!r}: one would be lost."
                )
                raise SuspiciousFileOperation(msg)
            del self.found[canonical]
            self.charged -= previous[2]
        return canonical

    def charge_file(self, name: str, canonical: str, size: int) -> int:
        """Charge a file of *size* bytes at its *canonical* name; return its own charge.

        The directories on its way that no member named are charged too: the
        store makes them, and a deep name's hold its length squared over four.
        """
        self._charge_dirs(name, parent_name(canonical))
        charge = size + FILE_OVERHEAD + _least_name_charge(canonical)
        self._charge(name, size, charge)
        return charge

    def add(self, name: str, canonical: str, file: StoredFile, charge: int) -> None:
        """Keep *file*, claimed and charged *charge*."""
        self.found[canonical] = (name, file, charge)

    def files(self) -> list[StoredFile]:
        """The files kept, in the order they were last found."""
        return [file for _name, file, _charge in self.found.values()]

    def _charge_dirs(self, name: str, directory: str) -> None:
        # Charge *directory* and those above it, up to the first one charged already (whose
        # own are then charged too), each as it is named: the names held never pass the charges.
        while directory and directory not in self.dirs:
            self.dirs.add(directory)
            self._charge(name, 0, DIR_OVERHEAD + _least_name_charge(directory))
            directory = parent_name(directory)

    def _charge(self, name: str, size: int, charge: int) -> None:
        self.charged += charge
        if self.max_bytes is not None and self.charged > self.max_bytes:
            detail = f"the files of {self.label} are charged at least {self.charged:,} bytes"
            raise StorageFull(name, size, self.max_bytes, detail)


# Reading a tar: bytes in, decompressed, counted.


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes | None: ...


class _Input:
    """The raw input, counted against a limit; the bytes sniffed for a magic number come first."""

    def __init__(
        self, raw: _Readable, limit: int | None, label: str, max_bytes: int | None
    ) -> None:
        self.raw = raw
        self.limit = limit
        self.label = label
        self.max_bytes = max_bytes
        self.count = 0
        self.head = b""

    def sniff(self, size: int) -> bytes:
        """The first *size* bytes (fewer for a shorter input), left to be read again."""
        while len(self.head) < size:
            piece = self.raw.read(size - len(self.head))
            if not piece:
                break
            self.head += piece
        return self.head[:size]

    def read(self, size: int = _CHUNK) -> bytes:
        """Up to *size* bytes (``b""`` at the end); refuses past the limit."""
        if self.head:
            piece, self.head = self.head[:size], self.head[size:]
        else:
            piece = self.raw.read(size) or b""
        self.count += len(piece)
        if self.limit is not None and self.count > self.limit:
            raise _too_long(self.label, "reads", self.count, self.limit, self.max_bytes)
        return piece

    def seek(self, _offset: int) -> int:
        """Not seekable: part of the file protocol ``gzip`` declares (it seeks only to rewind)."""
        raise io.UnsupportedOperation(self.label)


def _too_long(label: str, verb: str, count: int, limit: int, max_bytes: int | None) -> StorageFull:
    """The refusal of an archive whose input or tar bytes pass its limit.

    :func:`input_limit` for a store with *max_bytes*, :func:`unbounded_input_limit` without.
    """
    if max_bytes is None:
        detail = (
            f"{label} {verb} more than {limit:,} bytes, half this machine's memory, which a "
            "store without max_bytes takes at most from one archive"
        )
        return StorageFull(label, count, limit, detail, what=label, limit="memory")
    detail = (
        f"{label} {verb} more than {limit:,} bytes (4 x max_bytes + 1 MiB), "
        "more than an archive of files that fit needs"
    )
    return StorageFull(label, count, max_bytes, detail, what=label)


class _Decoder(Protocol):
    """A decompressed stream: ``read(size)`` returns up to *size* bytes, ``b""`` at its end."""

    def read(self, size: int, /) -> bytes: ...


class _Gzip:
    """Every member of a gzip stream, checked (CRC and length) as gzip checks them."""

    def __init__(self, source: _Input) -> None:
        self.label = source.label
        self.file = gzip.GzipFile(fileobj=source, mode="rb")

    def read(self, size: int) -> bytes:
        try:
            return self.file.read(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            msg = f"{self.label} is not a valid gzip stream: {error}"
            raise tarfile.ReadError(msg) from error


class _Streams:
    """Every stream of a multi-stream bzip2 or xz input, each checked to its end.

    NUL padding between and after streams is allowed (xz defines it, in
    fours; gzip allows it); anything else after a stream must be another
    stream.
    """

    def __init__(
        self, source: _Input, new: Callable[[], bz2.BZ2Decompressor | lzma.LZMADecompressor]
    ) -> None:
        self.source = source
        self.new = new
        self.decompressor = new()
        self.pending = b""
        self.kind = "bzip2" if isinstance(self.decompressor, bz2.BZ2Decompressor) else "xz"

    def read(self, size: int) -> bytes:
        while True:
            if self.decompressor.eof:
                rest = self._after_padding(self.decompressor.unused_data)
                if not rest:
                    return b""
                self.decompressor = self.new()
                self.pending = rest
            if self.decompressor.needs_input and not self.pending:
                self.pending = self.source.read()
                if not self.pending:
                    msg = f"{self.source.label} ends inside a {self.kind} stream"
                    raise tarfile.ReadError(msg)
            try:
                data = self.decompressor.decompress(self.pending, size)
            except (OSError, EOFError, lzma.LZMAError) as error:
                msg = f"{self.source.label} is not a valid {self.kind} stream: {error}"
                if "memory" in str(error).lower():
                    limit = xz_memory_limit(self.source.max_bytes) // _MiB
                    msg = (
                        f"{self.source.label} is an xz stream whose decoder needs more than the "
                        f"{limit} MiB it may use under max_bytes={self.source.max_bytes} "
                        "(see inmemorystorage.archive.xz_memory_limit)"
                    )
                raise tarfile.ReadError(msg) from error
            self.pending = b""
            if data:
                return data

    def _after_padding(self, rest: bytes) -> bytes:
        """What follows the NUL bytes after a stream (``b""``: the end of the input)."""
        padding = 0
        while True:
            following = rest.lstrip(b"\0")
            padding += len(rest) - len(following)
            if following:
                break
            rest = self.source.read()
            if not rest:
                break
        if self.kind == "xz" and padding % 4:
            msg = f"{self.source.label} has {padding} NUL bytes after an xz stream, not 4k"
            raise tarfile.ReadError(msg)
        return following


def _bzip2() -> bz2.BZ2Decompressor:
    return bz2.BZ2Decompressor()


def _xz(max_bytes: int | None) -> Callable[[], lzma.LZMADecompressor]:
    limit = xz_memory_limit(max_bytes)
    return lambda: lzma.LZMADecompressor(format=lzma.FORMAT_AUTO, memlimit=limit)


class _Tar:
    """The tar bytes of an archive, decompressed as its magic number says, counted.

    A forward-only file object for ``tarfile`` (which seeks only forward
    when it reads members in order), with :meth:`peek` so that a header's
    data can be checked before ``tarfile`` parses it.
    """

    def __init__(self, source: _Input) -> None:
        self.source = source
        self.label = source.label
        self.limit = source.limit
        self.position = 0
        self.produced = 0
        self.pending = b""
        self.extensions = 0  # extension headers read before the current member's header
        magic = source.sniff(6)
        self.compressed = True
        self.decoder: _Decoder
        if magic.startswith(b"\x1f\x8b"):
            self.decoder = _Gzip(source)
        elif magic.startswith(b"BZh"):
            self.decoder = _Streams(source, _bzip2)
        elif magic.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
            self.decoder = _Streams(source, _xz(source.max_bytes))
        else:
            self.decoder = source
            self.compressed = False

    def read(self, size: int = -1) -> bytes:
        """Up to *size* bytes of the tar (all the rest for a negative size)."""
        wanted = size if size >= 0 else float("inf")
        parts = []
        got = 0
        if self.pending:
            piece = self.pending[:size] if size >= 0 else self.pending
            self.pending = self.pending[len(piece) :]
            parts.append(piece)
            got = len(piece)
        while got < wanted:
            chunk = self._produce(int(min(wanted - got, _MiB)))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        self.position += got
        return b"".join(parts)

    def peek(self, size: int) -> bytes:
        """The next *size* bytes (fewer at the end), left to be read."""
        data = self.read(size)
        self.pending = data + self.pending
        self.position -= len(data)
        return data

    def tell(self) -> int:
        """The position in the tar."""
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Skip forward to *offset*; a tar read in order never goes back."""
        target = offset if whence == io.SEEK_SET else self.position + offset
        if whence not in (io.SEEK_SET, io.SEEK_CUR) or target < self.position:
            msg = "an archive is read as a stream: forward only"
            raise io.UnsupportedOperation(msg)
        while self.position < target and self.read(min(target - self.position, _CHUNK)):
            pass
        return self.position

    def write(self, _data: bytes) -> int:
        """Not writable: part of the file protocol ``tarfile`` declares."""
        raise io.UnsupportedOperation(self.label)

    def close(self) -> None:
        """Nothing to close: the caller owns the input."""

    def drain(self) -> None:
        """Read a compressed stream to its end, so that its checks and trailers are read."""
        if self.compressed:
            self.pending = b""
            while self._produce(_CHUNK):
                pass

    def _produce(self, size: int) -> bytes:
        chunk = self.decoder.read(size)
        self.produced += len(chunk)
        if self.limit is not None and self.produced > self.limit:
            raise _too_long(
                self.label, "decompresses to", self.produced, self.limit, self.source.max_bytes
            )
        return chunk


class _StrictInfo(tarfile.TarInfo):
    """A ``TarInfo`` that refuses what GNU tar refuses, and headers ``tarfile`` mishandles.

    ``tarfile`` ends the archive silently at a bad checksum or a truncated
    header past the first member, and reads past any size of pax or long-name
    data: this class checks each header (and the data of an extension header)
    before ``tarfile`` processes it. It reads from a :class:`_Tar`.
    """

    __slots__ = ()

    @classmethod
    def fromtarfile(cls, archive: tarfile.TarFile) -> _StrictInfo:
        """The next member, each of its headers checked first (``tarfile.ReadError``)."""
        tar = archive.fileobj
        if not isinstance(tar, _Tar):
            msg = f"a strict header reads from the archive's own reader, not {tar!r}"
            raise TypeError(msg)
        header = tar.peek(tarfile.BLOCKSIZE)
        if header.count(0) == len(header):
            # The end of the archive (zero blocks, or no more bytes): as tarfile finds it.
            return super().fromtarfile(archive)
        if tar.position == archive.offset:
            tar.extensions = 0  # the first header of a member
        position = tar.position
        try:
            if header[156:157] in _CHECKED_TYPES:
                _check_header(cls.frombuf(header, archive.encoding, archive.errors), tar)
            info = super().fromtarfile(archive)
        except tarfile.HeaderError as error:
            # Past the first member, tarfile would end the archive here without a word.
            if position == 0:
                msg = f"{tar.label} is not a tar archive ({error})"
            else:
                msg = f"{tar.label} has a damaged header at byte {position:,}: {error}"
            raise tarfile.ReadError(msg) from None
        _check_size(info, tar.label)
        return info


def _check_header(info: tarfile.TarInfo, tar: _Tar) -> None:
    """Refuse a header whose size or extension data GNU tar refuses, or tarfile mishandles."""
    label = tar.label
    _check_size(info, label)
    if info.type == tarfile.GNUTYPE_SPARSE:
        raise _sparse(label, info.name)
    tar.extensions += 1
    if tar.extensions > MAX_EXTENSION_HEADERS:
        msg = f"{label} has more than {MAX_EXTENSION_HEADERS} extension headers before one member"
        raise tarfile.ReadError(msg)
    if info.size > MAX_EXTENSION_BYTES:
        msg = (
            f"{label} has a pax or long-name header of {info.size:,} bytes; at most "
            f"{MAX_EXTENSION_BYTES:,} are read (a storage name is at most 4,096 bytes)"
        )
        raise tarfile.ReadError(msg)
    blocks = tarfile.BLOCKSIZE + -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    data = tar.peek(blocks)[tarfile.BLOCKSIZE :]
    if len(data) < info.size:
        msg = f"{label} ends inside an extension header ({info.size:,} bytes announced)"
        raise tarfile.ReadError(msg)
    if data[info.size :].count(0) != len(data) - info.size:
        # tarfile reads records and names on into the padding; GNU tar does not.
        msg = f"{label} has bytes after the end of an extension header's data"
        raise tarfile.ReadError(msg)
    if info.type in _PAX_TYPES:
        _check_pax(data[: info.size], label)


def _check_size(info: tarfile.TarInfo, label: str) -> None:
    """Refuse a negative size (a GNU base-256 number can be one; GNU tar refuses it)."""
    if info.size < 0:
        msg = f"{label} has a member of negative size ({info.size:,} bytes): {info.name!r}"
        raise tarfile.ReadError(msg)


def _check_pax(data: bytes, label: str) -> None:
    """Refuse pax data that is not well-formed records, or that tarfile would misread."""
    if _LONG_DIGITS.search(data):
        msg = (
            f"{label} has a pax header with a run of more than {_MAX_DIGITS} digits, "
            "which tarfile parses in quadratic time (CVE-2024-6232)"
        )
        raise tarfile.ReadError(msg)
    position = 0
    while position < len(data):
        space = data.find(b" ", position, position + 21)
        digits = data[position:space] if space > position else b""
        length = int(digits) if digits.isdigit() else 0
        end = position + length
        keyword, equals, value = data[space + 1 : end - 1].partition(b"=")
        if (
            not length
            or end > len(data)
            or data[end - 1 : end] != b"\n"
            or not (keyword and equals)
        ):
            msg = (
                f"{label} has a malformed pax header record near {data[position : position + 40]!r}"
            )
            raise tarfile.ReadError(msg)
        if keyword.startswith(b"GNU.sparse."):
            raise _sparse(label, "")
        number = _PAX_NUMBERS.get(keyword)
        if number is not None and not number.fullmatch(value):
            name = keyword.decode("ascii")
            shown = value[:40].decode("ascii", "backslashreplace")
            msg = f"{label} has an invalid pax {name}={shown!r}: not a decimal number"
            raise tarfile.ReadError(msg)
        position = end


def _sparse(label: str, name: str) -> tarfile.ReadError:
    """The refusal of a sparse member (whose map tarfile would build in memory unbounded)."""
    what = f" {name!r}" if name else ""
    msg = f"{label} has a sparse member{what} (GNU tar --sparse): sparse files are not loaded"
    return tarfile.ReadError(msg)


def _read_tar(raw: _Readable, max_bytes: int | None, label: str) -> list[StoredFile]:
    """The files of the tar read from *raw*, every member and byte checked and counted."""
    limit = input_limit(max_bytes) if max_bytes is not None else unbounded_input_limit()
    tar = _Tar(_Input(raw, limit, label, max_bytes))
    files = _Files(max_bytes, label)
    archive = tarfile.TarFile(fileobj=tar, mode="r", tarinfo=_StrictInfo)
    with archive:
        while (member := archive.next()) is not None:
            # Read once, in order: no member is looked up again, and each kept costs ~2 KiB.
            archive.members.clear()  # type: ignore[attr-defined]  # public, missing from typeshed
            if member.isdir():
                _check_name(member.name, "directory", label)
                files.charge_dir(member.name)
                continue
            if not member.isreg():
                kind = _member_kind(member)
                msg = f"The archive's member {member.name!r} is a {kind}; only files are loaded."
                raise SuspiciousFileOperation(msg)
            _check_name(member.name, "file", label)
            canonical = files.claim(member.name)
            charge = files.charge_file(member.name, canonical, member.size)
            content = tar.read(member.size)  # the content follows the header just read
            if len(content) != member.size:
                msg = f"{label} ends inside {member.name!r} ({member.size:,} bytes announced)"
                raise tarfile.ReadError(msg)
            file = StoredFile(member.name, content, _created(member), float(member.mtime))
            files.add(member.name, canonical, file, charge)
    tar.drain()
    return files.files()


def _least_name_charge(name: str) -> int:
    """The least either engine charges for *name*: a refusal here holds for both.

    What a non-ASCII name takes differs: CPython's ``str`` in process, its
    UTF-8 bytes on a server. The store charges its own exactly once the
    batch is read.
    """
    return min(name_charge(name), server_name_charge(name))


def _check_name(name: str, kind: str, label: str) -> None:
    r"""Refuse a name in *label* that is absolute or climbs out with ``..``, before reading on.

    Backslashes separate as slashes do, as in every storage name (``..\x``, ``C:\x``):
    a directory on disk may hold a file of either name.
    """
    posix = name.replace("\\", "/")
    if is_absolute(posix) or ".." in PurePosixPath(posix).parts:
        msg = f"The {kind} {name!r} in {label} is outside the storage (absolute, or with '..')."
        raise SuspiciousFileOperation(msg)


def _created(member: tarfile.TarInfo) -> float:
    """The creation time: bsdtar's, else the pax ``ctime``, else the modification time.

    A ``LIBARCHIVE.creationtime`` that is not a decimal number is ignored, as
    GNU tar ignores that header; ``ctime`` was checked with the header.
    """
    for keyword in (CREATED_HEADER, CTIME_HEADER):
        value = member.pax_headers.get(keyword)
        if value is not None and _PAX_TIME.fullmatch(value.encode("ascii", "replace")):
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


# Reading a directory, through descriptors, following no link.


def _read_directory(root: int, files: _Files) -> list[StoredFile]:
    """The regular files below the directory open at *root*, by relative name, sorted."""
    for relative, directory, name in _walk(root, files):
        canonical = files.claim(relative)
        descriptor = _open_below(directory, name, os.O_RDONLY | os.O_NONBLOCK, relative, files)
        with os.fdopen(descriptor, "rb", buffering=0) as reader:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise _changed(relative, files.label, "is no longer a regular file")
            charge = files.charge_file(relative, canonical, info.st_size)
            content = _read_up_to(reader, info.st_size + 1)
        if len(content) != info.st_size:
            detail = f"has {len(content):,} bytes, not the {info.st_size:,} it had when opened"
            raise _changed(relative, files.label, detail)
        file = StoredFile(relative, content, info.st_mtime, info.st_mtime)
        files.add(relative, canonical, file, charge)
    return sorted(files.files(), key=lambda file: file.name)


def _walk(root: int, files: _Files) -> Iterator[tuple[str, int, str]]:
    """``(relative name, its directory's descriptor, its name there)`` of each regular file.

    Depth first, with one directory descriptor (and its listing) open per
    level; each directory is charged as it is entered. A link or a special
    file refuses the load.
    """
    levels: list[tuple[int, str, _Listing]] = []
    try:
        levels.append((root, "", os.scandir(root)))
        while levels:
            directory, prefix, entries = levels[-1]
            entry = next(entries, None)
            if entry is None:
                levels.pop()
                entries.close()
                if directory != root:
                    os.close(directory)
                continue
            relative = prefix + entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            _check_name(relative, "directory" if stat.S_ISDIR(mode) else "file", files.label)
            if stat.S_ISDIR(mode):
                files.charge_dir(relative)
                flags = os.O_RDONLY | os.O_DIRECTORY
                child = _open_below(directory, entry.name, flags, relative, files)
                levels.append((child, relative + "/", _listing(child)))
            elif stat.S_ISREG(mode):
                yield relative, directory, entry.name
            else:
                kind = "symbolic link" if stat.S_ISLNK(mode) else "special file"
                msg = f"{relative!r} in {files.label!r} is a {kind}; only files are loaded."
                raise SuspiciousFileOperation(msg)
    finally:
        for directory, _prefix, entries in levels:
            entries.close()
            if directory != root:
                os.close(directory)


class _Listing(Protocol):
    """A directory listing being read (what ``os.scandir()`` returns)."""

    def __next__(self) -> os.DirEntry[str]: ...
    def close(self) -> None: ...


def _listing(directory: int) -> _Listing:
    """The listing of the directory open at *directory*; closes it if listing fails."""
    try:
        return os.scandir(directory)
    except OSError:
        os.close(directory)
        raise


def _open_below(directory: int, name: str, flags: int, relative: str, files: _Files) -> int:
    """Open *name* in *directory* without following a link (one there refuses the load)."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _changed(relative, files.label, "was replaced (by a link?)") from error
        raise


def _changed(relative: str, label: str, detail: str) -> SuspiciousFileOperation:
    """The refusal of a file that changed between listing and reading."""
    msg = f"{relative!r} in {label!r} {detail} while it was loaded; nothing was loaded."
    return SuspiciousFileOperation(msg)


def _read_up_to(reader: io.RawIOBase, size: int) -> bytes:
    """At most *size* bytes of *reader* (fewer at its end), read in pieces."""
    parts = []
    left = size
    while left > 0:
        piece = reader.read(min(left, _MiB))
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
    return b"".join(parts)
