"""What each index the design considered costs per file: ``python -m benchmarks.containers``.

The design first planned an attrs node per file in a tree, and an LRU byte
budget through cachetools' ``LRUCache`` with ``getsizeof``; the store as built
keeps each file's content in one index by name, a plain ``dict`` without a
bound and an ``OrderedDict`` (its own recency order) with one. This measures
both with :mod:`tracemalloc`, for N files (20,000 by default):

* **container bytes per entry**: the keys and values are made before the
  span, so only what the container itself allocates counts;
* **bytes per 100-byte file**: the name, the content and the container (and
  the node and its times, for the node design), all made inside the span.

cachetools is not a dependency of this project: install it to measure it
(``python -m pip install cachetools``); without it, its rows say so.
"""

from __future__ import annotations

import collections
import gc
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

FILES = 20_000
CONTENT_BYTES = 100


@attrs.define(slots=True)
class FileNode:
    """A file as the first plan had it: its content and its times, in a slotted attrs class."""

    content: bytes
    created: float
    modified: float
    accessed: float
    version: int


def _lru_cache() -> Any:
    import cachetools  # optional: only this measure needs it

    return cachetools.LRUCache(maxsize=sys.maxsize, getsizeof=len)


def _traced(build: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes still allocated after *build* ran, and what it built (kept alive until measured)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = build()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before, built
    finally:
        tracemalloc.stop()


def container_bytes(make: Callable[[], Any], count: int = FILES) -> float:
    """What the container made by *make* allocates per entry, keys and values made beforehand."""
    names = [f"many/f{i:05d}.txt" for i in range(count)]
    contents = [bytes(CONTENT_BYTES) + i.to_bytes(4, "little") for i in range(count)]

    def fill() -> Any:
        index = make()
        for name, content in zip(names, contents, strict=True):
            index[name] = content
        return index

    held, _index = _traced(fill)
    return held / count


def file_bytes(make: Callable[[], Any], *, nodes: bool = False, count: int = FILES) -> float:
    """Bytes per 100-byte file: its name, its content and its entry (with *nodes*, a node too)."""

    def fill() -> Any:
        index = make()
        for i in range(count):
            content = bytes(CONTENT_BYTES - 4) + i.to_bytes(4, "little")
            if nodes:
                now = time.time()
                index[f"many/f{i:05d}.txt"] = FileNode(content, now, now + 0.0, now + 0.0, i)
            else:
                index[f"many/f{i:05d}.txt"] = content
        return index

    held, _index = _traced(fill)
    return held / count


def measure(count: int = FILES) -> dict[str, dict[str, float | None]]:
    """Per entry and per file, for a dict, an OrderedDict, cachetools' LRUCache and attrs nodes."""
    makers: dict[str, Callable[[], Any]] = {
        "dict": dict,
        "OrderedDict": collections.OrderedDict,
        "cachetools.LRUCache(getsizeof=len)": _lru_cache,
    }
    rows: dict[str, dict[str, float | None]] = {}
    for label, make in makers.items():
        try:
            rows[label] = {
                "container_per_entry": container_bytes(make, count),
                "per_file": file_bytes(make, count=count),
            }
        except ImportError:
            rows[label] = {"container_per_entry": None, "per_file": None}
    rows["dict of attrs nodes (the first plan's files)"] = {
        "container_per_entry": container_bytes(dict, count),
        "per_file": file_bytes(dict, nodes=True, count=count),
    }
    return rows


def main() -> None:
    """Print the table."""
    print(
        f"Python {sys.version.split()[0]}, {FILES:,} entries, tracemalloc; "
        f"files of {CONTENT_BYTES} bytes named like many/f00001.txt"
    )
    print(f"{'index':48} {'container B/entry':>18} {'B per file':>11}")
    for label, row in measure().items():
        cells = [
            f"{row[key]:.0f}" if row[key] is not None else "not installed"
            for key in ("container_per_entry", "per_file")
        ]
        print(f"{label:48} {cells[0]:>18} {cells[1]:>11}")


if __name__ == "__main__":
    main()
