"""Memory: bytes a backend holds per small file, and what a reader of a 1 MiB file costs.

Measured with :mod:`tracemalloc` in the backend's own process: the content is
made inside the traced span, and the caller keeps no reference to it, so what
remains afterwards is what the storage holds. FileSystemStorage keeps its
content in files, so its on-disk bytes are reported beside.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from typing import Any

from django.core.files.base import ContentFile

from .content import make_content
from .scenarios import MIB, Env

SMALL_FILE = 100
READERS = 32


def _traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def per_file(env: Env) -> dict[str, Any]:
    """Bytes held per file after saving N files of 100 bytes (N = 10,000 by default)."""
    count = env.sizes.get("memory_files", 10_000)
    storage = env.new_storage(sub="memory")
    tracemalloc.start()
    try:
        before = _traced_now()
        for i in range(count):
            name = f"many/f{i:05d}.txt"
            storage.save(name, ContentFile(make_content(name, 0, SMALL_FILE)))
        held = _traced_now() - before
    finally:
        tracemalloc.stop()
    # A bounded backend evicts some: divide by the files it still holds.
    kept = len(storage.listdir("many")[1])
    disk = _disk_bytes(env.scratch / "memory")
    return {
        "files": count,
        "kept": kept,
        "content_bytes": SMALL_FILE,
        "bytes_per_file": held / kept,
        "overhead_per_file": held / kept - SMALL_FILE,
        "disk_bytes_per_file": disk / kept if disk else None,
    }


def _disk_bytes(root: os.PathLike[str]) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            total += os.stat(os.path.join(folder, name)).st_blocks * 512
    return total


def reader_cost(env: Env) -> dict[str, Any]:
    """Extra bytes per open reader of one 1 MiB file, each read in full and all kept alive."""
    size = env.sizes.get("read_large", MIB)
    storage = env.new_storage(sub="readers")
    data = make_content("big/blob.bin", 1, size)
    name = storage.save("big/blob.bin", ContentFile(data))
    readers = []
    wrong = 0
    tracemalloc.start()
    try:
        before = _traced_now()
        for _ in range(READERS):
            f = storage.open(name, "rb")
            got = f.read()
            wrong += got != data
            readers.append((f, got))
        extra = _traced_now() - before
    finally:
        tracemalloc.stop()
        for f, _got in readers:
            f.close()
    return {"size": size, "readers": READERS, "extra_per_reader": extra / READERS, "wrong": wrong}
