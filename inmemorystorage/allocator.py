"""Giving freed memory back to the operating system, where the C allocator allows it.

A bounded store frees contents all the time (evictions, replaced files), in
whichever thread happens to write. glibc's allocator keeps what a thread
frees in that thread's arena for reuse and, for contents of a few hundred
KiB, raises its threshold for mapping large blocks directly; so a process
whose store holds ``max_bytes`` can stay resident at twice that after a long
churn (measured by ``nox -s bench``). ``malloc_trim(0)`` returns the free
pages of every arena to the system. It is safe to call from any thread at any
time (glibc locks each arena), so the store calls it, outside its own lock,
once it has freed a good part of its budget since the last call.

Nothing happens where the C library has no ``malloc_trim`` (musl, macOS,
Windows): there, the allocator's own policy decides.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["release_free_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim``, or ``None`` where it has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # no such library, or no such function in it
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Ask the C allocator to return its free memory to the system; whether it could be asked."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
