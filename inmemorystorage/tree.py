"""The node tree a store holds, and walking it by path; no locking here (the store locks)."""

from __future__ import annotations

import errno
import functools
import os
from typing import TYPE_CHECKING

import attrs

from .exceptions import InvalidPath, NotADirectory, PathDoesNotExist, UnsafePath

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DirNode",
    "FileNode",
    "Node",
    "ancestors",
    "find",
    "is_a_directory",
    "iter_dirs",
    "iter_files",
    "join",
    "lookup",
    "split_path",
]

#: The longest name one path segment may have, in UTF-8 bytes (POSIX ``NAME_MAX``).
MAX_SEGMENT_BYTES = 255


@attrs.define(slots=True, eq=False, weakref_slot=False)
class FileNode:
    """One stored file: immutable content and its times (seconds since the epoch)."""

    path: str
    content: bytes
    created: float
    modified: float
    accessed: float
    #: Store-wide publication number: tells two contents apart even within one clock tick.
    version: int


@attrs.define(slots=True, eq=False, weakref_slot=False)
class DirNode:
    """One directory: its children by name, and its times."""

    created: float
    modified: float
    accessed: float
    children: dict[str, FileNode | DirNode] = attrs.field(factory=dict)


Node = FileNode | DirNode


@functools.lru_cache(maxsize=1024)
def split_path(path: str) -> tuple[str, ...]:
    """Split a storage name into its segments; ``()`` is the root.

    Backslashes count as separators, ``.`` and empty segments are dropped and
    ``..`` is resolved lexically, as ``django.utils._os.safe_join`` would.

    Raises:
        TypeError: *path* is not a ``str``.
        InvalidPath: *path* holds a NUL byte or a whitespace-only segment.
        UnsafePath: *path* is absolute or climbs above the root.
        OSError: a segment is longer than 255 bytes (``ENAMETOOLONG``).
    """
    if not isinstance(path, str):
        msg = f"a storage name must be a str, not {type(path).__name__}: {path!r}"
        raise TypeError(msg)
    if "\x00" in path:
        msg = f"a storage name must not contain a NUL byte: {path!r}"
        raise InvalidPath(msg)
    posix = path.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":" and posix[0].isalpha()):
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


def join(parts: tuple[str, ...]) -> str:
    """The canonical name of a split path."""
    return "/".join(parts)


def lookup(root: DirNode, parts: tuple[str, ...]) -> Node:
    """Return the node at *parts*.

    Raises:
        PathDoesNotExist: nothing is stored there.
        NotADirectory: a segment before the last is a file.
    """
    node: Node = root
    for depth, part in enumerate(parts):
        if isinstance(node, FileNode):
            raise NotADirectory(join(parts[:depth]))
        try:
            node = node.children[part]
        except KeyError:
            raise PathDoesNotExist(join(parts)) from None
    return node


def find(root: DirNode, parts: tuple[str, ...]) -> Node | None:
    """Return the node at *parts*, or ``None`` where nothing (or a file on the way) is."""
    node: Node = root
    for part in parts:
        if isinstance(node, FileNode):
            return None
        child = node.children.get(part)
        if child is None:
            return None
        node = child
    return node


def ancestors(root: DirNode, parts: tuple[str, ...]) -> tuple[list[DirNode], int]:
    """The directories that exist on the way to *parts* (root first) and how many are missing.

    Raises:
        NotADirectory: a segment before the last is a file.
    """
    existing = [root]
    node: DirNode = root
    for depth, part in enumerate(parts[:-1]):
        child = node.children.get(part)
        if child is None:
            return existing, len(parts) - 1 - depth
        if isinstance(child, FileNode):
            raise NotADirectory(join(parts[: depth + 1]))
        existing.append(child)
        node = child
    return existing, 0


def iter_files(directory: DirNode) -> Iterator[FileNode]:
    """Every file below *directory*, at any depth."""
    stack = [directory]
    while stack:
        for child in stack.pop().children.values():
            if isinstance(child, FileNode):
                yield child
            else:
                stack.append(child)


def iter_dirs(directory: DirNode) -> Iterator[tuple[str, DirNode]]:
    """Every directory below *directory*, at any depth, with its own name."""
    stack = [directory]
    while stack:
        for name, child in stack.pop().children.items():
            if isinstance(child, DirNode):
                yield name, child
                stack.append(child)


def is_a_directory(name: str) -> IsADirectoryError:
    """The error for a file operation on a directory."""
    return IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
