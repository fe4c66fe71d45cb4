"""The words of a refusal, shared by every engine: what a file or a batch needs, and why not.

Every byte a message counts is named, so that its figures add up; the
engines decide whether to refuse, and build these only to raise.
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from .engine import Eviction, StoredFile

__all__ = [
    "batch_label",
    "batch_over_the_whole_budget",
    "full_detail",
    "needs",
    "over_the_whole_budget",
    "taken_by",
]


def batch_label(batch: dict[str, StoredFile]) -> tuple[str, str | None]:
    """The name a batch's refusal carries (its last file's), and how it names the files.

    One file is named by its name (``None``: the default); more are counted,
    ``"3 files"``, so that no message quotes a count as if it were a name.
    """
    last = next(reversed(batch))
    return last, f"{len(batch):,} files" if len(batch) > 1 else None


def needs(charge: int, count: int = 1, new_dirs: int = 0) -> str:
    """What *count* files and the *new_dirs* directories they add are charged in all.

    Every byte a refusal message counts is named, so that its figures add up.
    """
    if count == 1:
        parts, verb = ["its name", "the per-file overhead"], "it needs"
    else:
        parts, verb = ["their names", "per-file overheads"], "they need"
    if new_dirs:
        parts.append(f"{new_dirs:,} new director{'y' if new_dirs == 1 else 'ies'}")
    return f"with {', '.join(parts[:-1])} and {parts[-1]} {verb} {charge:,} bytes"


def over_the_whole_budget(size: int, charge: int, max_bytes: int, count: int = 1) -> str:
    """Why *count* files of *size* bytes in all, charged *charge*, can never fit *max_bytes*."""
    if size > max_bytes:
        return "larger than the whole budget"
    return f"{needs(charge, count)}, more than the whole budget"


def batch_over_the_whole_budget(
    batch: dict[str, StoredFile], max_bytes: int | None, charge_file: Callable[[str, int], int]
) -> tuple[str, int, str, str | None] | None:
    """Why *batch*, each file charged by *charge_file*, can never fit *max_bytes*; else ``None``.

    Both engines refuse such a batch before anything else is checked, each
    charging names its own way and raising its own way: so this gives the
    refusal's parts, the batch's last name, its size, the detail and its label.
    """
    if max_bytes is None:
        return None
    total = sum(charge_file(name, len(file.content)) for name, file in batch.items())
    if total <= max_bytes:
        return None
    size = sum(len(file.content) for file in batch.values())
    last, label = batch_label(batch)
    return last, size, over_the_whole_budget(size, total, max_bytes, len(batch)), label


def full_detail(needed: str, others: int) -> str:
    """Why ``on_full="error"`` refused: what is needed beside what the rest holds."""
    return (
        f"{needed}, the rest of the storage holds {others:,} bytes, "
        "and on_full='error' evicts nothing"
    )


def taken_by(eviction: Eviction) -> FileExistsError:
    """The error for a new file at the name of a file evicted lately (see Engine.put)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(eviction.evicted_at))
    msg = (
        f"{eviction.name!r} was evicted at {when} to make room; its name stays taken while "
        "the store remembers the eviction, so that links to it never serve another file"
    )
    return FileExistsError(errno.EEXIST, msg, eviction.name)
