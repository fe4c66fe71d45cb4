"""The nodes a store holds and the names it keeps them under; no locking here (the store locks)."""

from __future__ import annotations

import errno
import os
import re
from typing import TYPE_CHECKING

import attrs

from .exceptions import InvalidPath, UnsafePath

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DirNode",
    "ancestor_names",
    "ancestors",
    "base_name",
    "canonical_name",
    "clear_name_caches",
    "is_a_directory",
    "is_absolute",
    "is_canonical",
    "join",
    "parent_name",
    "split_path",
]

#: The longest name one path segment may have, in UTF-8 bytes (POSIX ``NAME_MAX``).
MAX_SEGMENT_BYTES = 255
#: The longest name a store takes, in UTF-8 bytes (Linux's ``PATH_MAX``): longer ones
#: are refused with ``ENAMETOOLONG``, as the OS refuses them, so that what one name
#: makes a store hold (its directories' names add up to about its length squared
#: over four) stays small and is charged to the budget.
MAX_NAME_BYTES = 4096
#: Names up to this many characters are remembered by the name cache; longer ones
#: are worked out each time, so that no cache holds much of what requests sent.
CACHED_NAME_CHARS = 256
#: How many short names the name cache (:data:`canonical_seen` and
#: :data:`canonical_forms` together) keeps before it starts afresh.
CACHED_NAMES = 4096
#: The short names seen lately that are canonical as they are. With
#: :data:`canonical_forms`, the name cache: at most :data:`CACHED_NAMES` names of
#: :data:`CACHED_NAME_CHARS` characters or fewer (about 2 MiB at worst, whatever
#: requests send), emptied when full. A plain set, so that the lock-free
#: ``exists()`` tells a canonical name with one membership test; its reads and
#: writes are each atomic (under the GIL one C call, on free-threaded builds
#: under the set's own lock).
canonical_seen: set[str] = set()
#: The canonical form of each short name seen lately that is not canonical as it is.
canonical_forms: dict[str, str] = {}


@attrs.define(slots=True, eq=False, weakref_slot=False)
class DirNode:
    """One directory, its times in nanoseconds, and its children by their full canonical names.

    A child directory maps to its ``DirNode``; a child file to its *stamp*:
    the ``int`` nanoseconds since the epoch at which its content was
    published, its modification time and, being unique within a store, also
    the version of its content. A file costs no object of its own: its
    content lives in the store's index, its stamp here (a small file's
    memory is mostly these entries).
    """

    created: int
    modified: int
    accessed: int
    children: dict[str, int | DirNode] = attrs.field(factory=dict)
    #: How many of the children are directories: with none, a listing needs no sorting out.
    subdirs: int = 0
    #: The children's base names, directories then files, as the last listing found
    #: them; ``None`` since the set of children last changed. Its names cost about as
    #: much as the base names Django's own storage keeps, within ``FILE_OVERHEAD``.
    listing: tuple[list[str], list[str]] | None = None


#: One segment of a canonical name: 1 to 63 characters (so at most 255 UTF-8
#: bytes), neither ``.`` nor ``..``, not only whitespace, no ``/``, ``\\``, NUL
#: or lone surrogate.
_CANONICAL_SEGMENT = (
    rf"(?!\s*(?:/|\Z))(?!\.\.?(?:/|\Z))[^/\\\x00\ud800-\udfff]{{1,{MAX_SEGMENT_BYTES // 4}}}"
)
#: What a name holds where a str was decoded from bytes that are not UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: A canonical name: segments joined by single slashes, and nothing that reads
#: as a Windows drive (``C:``) at its start.
_match_canonical = re.compile(rf"(?!\w:){_CANONICAL_SEGMENT}(?:/{_CANONICAL_SEGMENT})*").fullmatch


def is_canonical(path: object) -> bool:
    """Whether *path* is a file name already in the form a store keeps it.

    The common case, tested cheaply (one regular expression): ``False`` may
    also mean an unusual but valid name (a segment of over 63 characters, a
    first segment like ``1:x``, a name of over 1,024 characters), never the
    reverse.
    """
    return (
        type(path) is str
        and len(path) <= MAX_NAME_BYTES // 4  # shorter ones fit: 4 bytes a character at most
        and _match_canonical(path) is not None
    )


def parent_name(name: str) -> str:
    """The canonical name of the directory that holds *name* (``""``: the root)."""
    cut = name.rfind("/")
    return name[:cut] if cut > 0 else ""


def base_name(name: str) -> str:
    """The last segment of a canonical name."""
    return name[name.rfind("/") + 1 :]


def ancestors(name: str) -> Iterator[str]:
    """The canonical names of the directories above *name*, outermost first, root excluded.

    One at a time: a caller that stops early (at the first file on the way)
    never holds them all, which for a deep name would be its length squared
    over four.
    """
    cut = name.find("/")
    while cut > 0:
        yield name[:cut]
        cut = name.find("/", cut + 1)


def ancestor_names(name: str) -> list[str]:
    """The canonical names of the directories above *name*, outermost first, root excluded."""
    names = []
    cut = name.find("/")
    while cut > 0:
        names.append(name[:cut])
        cut = name.find("/", cut + 1)
    return names


def split_path(path: str) -> tuple[str, ...]:
    """Split a storage name into its segments; ``()`` is the root.

    Backslashes count as separators, ``.`` and empty segments are dropped and
    ``..`` is resolved lexically, as ``django.utils._os.safe_join`` would.

    Raises:
        TypeError: *path* is not a ``str``.
        InvalidPath: *path* holds a NUL byte, a lone surrogate or a
            whitespace-only segment.
        UnsafePath: *path* is absolute or climbs above the root.
        OSError: *path* is longer than 4,096 bytes, or one of its segments
            longer than 255 bytes (``ENAMETOOLONG``).
    """
    if not isinstance(path, str):
        msg = f"a storage name must be a str, not {type(path).__name__}: {path!r}"
        raise TypeError(msg)
    if len(path) > MAX_NAME_BYTES // 4 and _utf8_length(path) > MAX_NAME_BYTES:
        # The message quotes an excerpt: a whole 60,000-character name helps nobody.
        msg = (
            f"a storage name is longer than {MAX_NAME_BYTES:,} bytes "
            f"({len(path):,} characters): {path[:40]!r}..."
        )
        raise OSError(errno.ENAMETOOLONG, msg)
    if "\x00" in path:
        msg = f"a storage name must not contain a NUL byte: {path!r}"
        raise InvalidPath(msg)
    if not path.isascii() and _LONE_SURROGATE.search(path):
        # What tarfile and os.listdir() make of bytes that are not UTF-8: no URL,
        # page or server can carry such a name, so no store keeps it.
        msg = f"a storage name must be text, without lone surrogates: {path!r}"
        raise InvalidPath(msg)
    posix = path.replace("\\", "/")
    if is_absolute(posix):
        msg = f"a storage name must be relative, not absolute: {path!r}"
        raise UnsafePath(msg)
    segments = posix.split("/")
    if (
        "" not in segments
        and "." not in segments
        and ".." not in segments
        and max(map(len, segments)) <= MAX_SEGMENT_BYTES // 4  # 4 bytes a character at most
        and not any(map(str.isspace, segments))
    ):
        return tuple(segments)  # the common case, checked without a Python-level loop
    return _split_slowly(path, segments)


def is_absolute(posix: str) -> bool:
    """Whether a name, its backslashes made slashes, is absolute: ``/x``, or a drive as ``C:/x``."""
    return posix.startswith("/") or (len(posix) > 1 and posix[1] == ":" and posix[0].isalpha())


def _utf8_length(path: str) -> int:
    """The length of *path* in UTF-8 bytes, counting no further than one byte past the limit."""
    if len(path) > MAX_NAME_BYTES:
        return len(path)  # one byte a character at least
    return len(path.encode("utf-8", "surrogatepass"))


def _split_slowly(path: str, segments: list[str]) -> tuple[str, ...]:
    parts: list[str] = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                msg = f"the name {path!r} climbs out of the storage with '..'"
                raise UnsafePath(msg)
            parts.pop()
        elif segment.isspace():
            msg = f"a storage name must not have a blank segment: {path!r}"
            raise InvalidPath(msg)
        elif (
            len(segment) > MAX_SEGMENT_BYTES // 4  # shorter ones fit: 4 bytes a character at most
            and len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES
        ):
            # The message quotes an excerpt: a whole 5,000-character name helps nobody.
            msg = (
                f"a name segment is longer than {MAX_SEGMENT_BYTES} bytes "
                f"({len(segment):,} characters): {segment[:40]!r}..."
            )
            raise OSError(errno.ENAMETOOLONG, msg)
        else:
            parts.append(segment)
    return tuple(parts)


def canonical_name(path: str) -> str:
    """The name a store keeps *path* under (``""``: the root); raises as :func:`split_path`."""
    if type(path) is str and len(path) <= CACHED_NAME_CHARS:
        if path in canonical_seen:
            return path
        name = canonical_forms.get(path)
        if name is None:
            name = join(split_path(path))
            if len(canonical_seen) + len(canonical_forms) >= CACHED_NAMES:
                clear_name_caches()
            if name == path:
                canonical_seen.add(path)
                return path
            canonical_forms[path] = name
        return name
    return join(split_path(path))


def clear_name_caches() -> None:
    """Forget every name the cache of :func:`canonical_name` holds."""
    canonical_seen.clear()
    canonical_forms.clear()


def join(parts: tuple[str, ...]) -> str:
    """The canonical name of a split path."""
    return "/".join(parts)


def is_a_directory(name: str) -> IsADirectoryError:
    """The error for a file operation on a directory."""
    return IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
