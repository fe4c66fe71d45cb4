"""The file objects that ``InMemoryStorage.open()`` returns: reader snapshots and atomic writers.

A reader is a private position over the immutable ``bytes`` it was opened on:
a later write, delete or eviction of the name never changes what it reads.
A writer buffers privately and publishes everything at once when closed; a
``with`` block left by an exception publishes nothing. Modes mean what they
mean for Python's :func:`open`.
"""

from __future__ import annotations

import functools
import io
import warnings
import weakref
from typing import IO, TYPE_CHECKING, Any

import attrs
from django.core.files.base import File
from django.utils.functional import cached_property

from .tree import canonical_name

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from .engine import Engine

    _File = File[Any]
else:
    _File = File

__all__ = ["Mode", "SnapshotFile", "WriterFile", "parse_mode"]

_MODE_CHARS = frozenset("rwxabt+")


@attrs.frozen
class Mode:
    """What a mode string asks for, as Python's :func:`open` reads it."""

    text: str
    binary: bool
    reading: bool
    writing: bool
    #: ``"r"``: the file must exist; ``"w"``: start empty; ``"x"``: must not exist; ``"a"``: append.
    kind: str


@functools.lru_cache(maxsize=64)
def parse_mode(mode: str) -> Mode:
    """Validate *mode* exactly as Python's :func:`open` does.

    Raises:
        ValueError: *mode* is not a valid mode string (``"rq"``, ``"rw"``, ``"bt"``...).
        TypeError: *mode* is not a string.
    """
    if not isinstance(mode, str):
        msg = f"mode must be a str, not {type(mode).__name__}"
        raise TypeError(msg)
    kinds = [c for c in mode if c in "rwxa"]
    if (
        not mode
        or set(mode) - _MODE_CHARS
        or len(set(mode)) != len(mode)
        or len(kinds) != 1
        or ("b" in mode and "t" in mode)
    ):
        msg = f"invalid mode: {mode!r} (use one of r, w, x, a, optionally with b or t and +)"
        raise ValueError(msg)
    kind = kinds[0]
    plus = "+" in mode
    return Mode(
        text=mode,
        binary="b" in mode,
        reading=kind == "r" or plus,
        writing=kind != "r" or plus,
        kind=kind,
    )


class _ReadOnly:
    """Refuses every write, as a file opened for reading by Python's :func:`open` does."""

    def writable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        raise io.UnsupportedOperation("not writable")

    def writelines(self, lines: Any) -> None:
        raise io.UnsupportedOperation("not writable")

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("not writable")


class _Snapshot(_ReadOnly, io.BytesIO):
    """A read-only position over immutable bytes (shared, not copied)."""


def _text(binary: IO[bytes], newline: str | None) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8", newline=newline, write_through=True)


class _Position:
    """The reader's ``io.BytesIO``, made the first time something needs a position.

    Most readers are opened, read whole and closed; :meth:`SnapshotFile.read`
    and :meth:`SnapshotFile.close` serve those without one. Anything else
    (``seek()``, ``chunks()``, a partial ``read()``, ``.file`` itself) gets a
    ``BytesIO`` at the position those calls left, kept in ``_file`` from then
    on. Assigning ``.file`` replaces it, as on any Django ``File``.
    """

    def __get__(self, reader: SnapshotFile | None, owner: type | None = None) -> Any:
        if reader is None:
            return self
        position = reader._file  # noqa: SLF001  # this descriptor is part of the class
        if position is None:
            position = reader._file = reader._position()  # noqa: SLF001
        return position

    def __set__(self, reader: SnapshotFile, file: Any) -> None:
        reader._file = file  # noqa: SLF001
        reader._unread = None  # noqa: SLF001  # reads come from the new file now


class SnapshotFile(_ReadOnly, _File):
    """A file opened for reading: its own position over the content as it was at ``open()``.

    The position is an :class:`io.BytesIO` over the stored ``bytes``, which
    shares them without a copy. Writing through this object raises
    :class:`io.UnsupportedOperation`, as with Python's :func:`open`; and even
    writing to the underlying ``.file`` directly only changes this reader's
    private copy (a ``BytesIO`` copies on first write), never the store.
    """

    def __init__(
        self, content: bytes, name: str, store: Engine, mode: str = "rb", newline: str | None = None
    ) -> None:
        # File.__init__ only sets these; set them directly on this hot path, and
        # leave the class's defaults for the usual mode. InMemoryStorage.open()
        # sets the same three itself for "rb", without this call: keep them in step.
        if mode == "rb":
            self._content = self._unread = content
        else:
            self.file = _make_reader(content, mode, newline)
            self.mode = mode
            if newline is not None:
                self._newline = newline
        self.name = name
        self._store = store

    file: Any = _Position()
    #: What ``file`` gives: ``None`` until something needed a position.
    _file: Any = None
    mode = "rb"
    _newline: str | None = None
    _content = b""
    #: The whole content while nothing has moved the position from the start.
    _unread: bytes | None = None
    #: Closed before anything needed a position.
    _shut = False

    def _position(self) -> io.BytesIO:
        position = io.BytesIO(self._content)
        if self._shut:
            position.close()
        elif self._unread is None:  # read() has returned everything
            position.seek(0, io.SEEK_END)
        self._unread = None
        return position

    def read(self, size: int | None = -1) -> Any:
        """Read up to *size* bytes (all that is left by default), as ``io.BytesIO`` does."""
        unread = self._unread
        if unread is not None and (size is None or size < 0):
            self._unread = None
            return unread
        return self.file.read(size)

    def close(self) -> None:
        """Close the reader; reading it again raises :class:`ValueError`."""
        self._unread = None
        file = self._file
        if file is None:
            self._shut = True
        else:
            file.close()

    @cached_property
    def size(self) -> int:
        """The content's length in bytes, known without a position (even once closed)."""
        if self.mode == "rb":
            return len(self._content)
        return int(super().size)  # as Django's File measures its text stream

    @property
    def closed(self) -> bool:
        """Whether the reader is closed."""
        file = self._file
        return self._shut if file is None else file.closed

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> SnapshotFile:
        """Rewind, or if closed, reopen on the name's current content."""
        if not self.closed and mode in (None, self.mode):
            self.seek(0)
            return self
        mode = mode or self.mode
        content = self._store.read(str(self.name))
        self.file = _make_reader(content, mode, self._newline)
        self._content = content
        self._unread = None
        self.mode = mode
        self.__dict__.pop("size", None)
        return self


def _make_reader(content: bytes, mode: str, newline: str | None) -> IO[Any]:
    parsed = parse_mode(mode)
    if parsed.writing:
        msg = f"a reader cannot be opened with the writing mode {mode!r}"
        raise ValueError(msg)
    reader = _Snapshot(content)
    return reader if parsed.binary else _text(reader, newline)


class _WriteBuffer(io.BytesIO):
    """A private buffer that honours the mode's readability, append rule and byte limit."""

    def __init__(self, initial: bytes, *, readable: bool, append: bool, limit: Any) -> None:
        super().__init__(initial)
        self._readable = readable
        self._append = append
        self._limit = limit  # called with the size a write would reach; raises to refuse it
        self._size = len(initial)
        if append:
            self.seek(0, io.SEEK_END)

    def readable(self) -> bool:
        return self._readable

    def _check_readable(self) -> None:
        if not self._readable:
            raise io.UnsupportedOperation("not readable")

    def read(self, size: int | None = -1) -> bytes:
        self._check_readable()
        return super().read(size)

    def read1(self, size: int | None = -1) -> bytes:
        self._check_readable()
        return super().read1(size)

    def readinto(self, buffer: Any) -> int:
        self._check_readable()
        return super().readinto(buffer)

    def readline(self, size: int | None = -1) -> bytes:
        self._check_readable()
        return super().readline(size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        self._check_readable()
        return super().readlines(hint)

    def __next__(self) -> bytes:
        self._check_readable()
        return super().__next__()

    def write(self, data: Any) -> int:
        if self._append:
            self.seek(0, io.SEEK_END)
        with memoryview(data) as view:
            nbytes = view.nbytes
        reach = self.tell() + nbytes
        if nbytes and reach > self._size:  # writing nothing grows nothing, past the end too
            self._limit(reach)
            written = super().write(data)
            self._size = reach  # once written: a write that fails (BufferError) grows nothing
            return written
        return super().write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def truncate(self, size: int | None = None) -> int:
        target = self.tell() if size is None else size
        if target > self._size:  # a file grows with zeros, as open() makes one grow
            self._limit(target)
            position = self.tell()
            self.seek(self._size)
            super().write(bytes(target - self._size))
            self.seek(position)
            self._size = target
            return target
        new_size = super().truncate(size)
        self._size = min(self._size, new_size)
        return new_size

    @property
    def size(self) -> int:
        """The bytes written so far."""
        return self._size


def _refuse_through(writer: weakref.ref[WriterFile], name: str, size: int) -> None:
    alive = writer()
    if alive is not None:
        alive._refuse_if_too_large(name, size)  # noqa: SLF001  # the writer's own callback


class WriterFile(_File):
    """A file opened for writing: private until ``close()``, then published all at once.

    Leaving a ``with`` block by an exception discards it. A writer that is
    garbage-collected unclosed is discarded too, with a ``ResourceWarning``:
    publishing from a finalizer could run in any thread at any moment,
    including inside the store's own critical sections.
    """

    def __init__(
        self,
        name: str,
        mode: str,
        store: Engine,
        initial: bytes,
        publish: Callable[..., object],
        newline: str | None = None,
    ) -> None:
        parsed = parse_mode(mode)
        self._store = store
        self._publish = publish
        self._exclusive = parsed.kind == "x"
        self._buffer = _WriteBuffer(
            initial,
            readable=parsed.reading,
            append=parsed.kind == "a",
            # Weakly: a buffer that held its writer would make a cycle, keeping
            # a dropped writer (and its storage) until the cyclic gc ran.
            # Charged as stored: "./a.txt" costs what "a.txt" costs.
            limit=functools.partial(_refuse_through, weakref.ref(self), canonical_name(name)),
        )
        stream: IO[Any] = self._buffer if parsed.binary else _text(self._buffer, newline)
        if not parsed.binary and parsed.kind == "a":
            stream.seek(0, io.SEEK_END)
        super().__init__(stream, name)
        self._stream = stream
        self.mode = mode
        self._discarded = False

    def _refuse_if_too_large(self, name: str, size: int) -> None:
        try:
            self._store.check_size(name, size)
        except OSError:
            self.discard()
            raise

    @property
    def size(self) -> int:
        """The number of bytes written so far."""
        return self._buffer.size

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> WriterFile:
        """Rewind an open writer; a closed one cannot be reopened (open the name again)."""
        if self.closed:
            msg = f"the writer for {self.name!r} is closed; open the name again"
            raise ValueError(msg)
        self.seek(0)
        return self

    def close(self) -> None:
        """Publish the content under the name (unless discarded), then close."""
        if self._stream.closed:
            return
        try:
            self._stream.flush()
            if not self._discarded:
                self._publish(self.name, self._buffer.getvalue(), exclusive=self._exclusive)
        finally:
            self._discarded = True
            self._stream.close()

    def discard(self) -> None:
        """Close without publishing anything."""
        self._discarded = True
        self._stream.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def __del__(self) -> None:
        stream = self.__dict__.get("_stream")
        if stream is not None and not stream.closed:
            warnings.warn(
                f"unclosed in-memory writer for {self.name!r} discarded; close it or use 'with'",
                ResourceWarning,
                stacklevel=2,
            )
            stream.close()
