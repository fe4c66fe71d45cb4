"""Test content that names itself: every byte of a version says which file and version it is.

A wrong read (bytes of another version, a torn mix, a truncated tail, or
nothing) can then never pass for a right one, and a read can be traced back to
the write that produced it.
"""

from __future__ import annotations

import hashlib

HEADER_BYTES = 48


def header(name: str, version: int) -> bytes:
    """The fixed-width label ``name|version|`` that starts (and fills) the content."""
    label = f"{name}|{version}|".encode()
    if len(label) > HEADER_BYTES:
        msg = f"name too long for a bench header: {name!r}"
        raise ValueError(msg)
    return label.ljust(HEADER_BYTES, b".")


def make_content(name: str, version: int, size: int) -> bytes:
    """*size* bytes made of the header of (*name*, *version*) repeated."""
    label = header(name, version)
    return (label * (size // HEADER_BYTES + 1))[:size]


def version_of(data: bytes) -> int | None:
    """The version named in the header of *data*, or ``None`` if it has none."""
    parts = data[:HEADER_BYTES].split(b"|")
    if len(parts) < 3:
        return None
    try:
        return int(parts[1])
    except ValueError:
        return None


def digest(data: bytes) -> str:
    """A short hash of *data*, to record what each version was."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()
