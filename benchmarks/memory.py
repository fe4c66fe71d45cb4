"""Memory, traced: bytes a backend holds per small file, per reader, per finished request thread.

Measured with :mod:`tracemalloc` in the backend's own process: what is made
inside the traced span and still alive at its end is what the storage holds.

**Name strings and the intern table.** Django's name checks
(``validate_file_name``, ``get_available_name``) go through :mod:`pathlib`,
which interns every path segment it parses: each new name grows the
interpreter's string-intern table (about 96 B a name on Python 3.11; on
3.12 and later the interned segments are immortal, so they stay too), for
every backend that goes through those checks. That is not memory the storage
holds, so :func:`per_file` leaves out every block allocated on a line of
:mod:`pathlib` that calls ``sys.intern`` (:func:`intern_lines`), and reports
how many bytes that was per file (``intern_per_file``). Every other block
made in the span counts, the name strings a storage keeps among them.
"""

from __future__ import annotations

import gc
import os
import pathlib
import threading
import tracemalloc
from functools import cache
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile

from .content import make_content
from .scenarios import GIB, MIB, Env

SMALL_FILE = 100
MEMORY_FILES = 20_000
READERS = 32
#: A bounded backend's budget when its bytes per file are measured: room for
#: every file, so that the figure is its bookkeeping, not what it evicted.
ROOMY_BUDGET = GIB
#: Request threads in the retained-memory measure, and how many run at once
#: (runserver starts one per request; a few overlap).
REQUEST_THREADS = 4_000
IN_FLIGHT = 8


def _traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@cache
def intern_lines() -> frozenset[tuple[str, int]]:
    """Every ``(file, line)`` of :mod:`pathlib`'s source that calls ``sys.intern``."""
    origin = Path(pathlib.__file__)
    sources = sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
    return frozenset(
        (str(source), number)
        for source in sources
        for number, line in enumerate(source.read_text().splitlines(), 1)
        if "sys.intern(" in line
    )


def _interned_by_pathlib(snapshot: tracemalloc.Snapshot) -> int:
    lines = intern_lines()
    return sum(
        trace.size
        for trace in snapshot.traces
        if (trace.traceback[0].filename, trace.traceback[0].lineno) in lines
    )


def per_file(env: Env) -> dict[str, Any]:
    """Bytes held per file after saving N files of 100 bytes (N = 20,000 by default).

    A bounded backend gets a budget with room for all of them (nothing is
    evicted). What pathlib's interning of the names costs is left out.
    ``overhead_per_file`` is what is held beyond the content kept in memory
    (none of it, for a storage that writes files to disk).
    """
    count = env.sizes.get("memory_files", MEMORY_FILES)
    budget = ROOMY_BUDGET if env.backend.bounded else None
    storage = env.new_storage(sub="memory", budget=budget)
    tracemalloc.start()
    try:
        before = _traced_now()
        for i in range(count):
            name = f"many/f{i:05d}.txt"
            storage.save(name, ContentFile(make_content(name, 0, SMALL_FILE)))
        held = _traced_now() - before
        interned = _interned_by_pathlib(tracemalloc.take_snapshot())
    finally:
        tracemalloc.stop()
    kept = len(storage.listdir("many")[1])
    disk = _disk_bytes(env.scratch / "memory")
    per_file = (held - interned) / kept
    # A storage that keeps content on disk holds none of it in memory.
    content_in_memory = 0 if disk else SMALL_FILE
    return {
        "files": count,
        "kept": kept,
        "content_bytes": SMALL_FILE,
        "max_bytes": budget,
        "bytes_per_file": per_file,
        "overhead_per_file": per_file - content_in_memory,
        "intern_per_file": interned / kept,
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


def _requests(storage: Any, name: str, expected: bytes, count: int, threads: int) -> int:
    """Serve *count* reads from *threads* threads, a few at a time; return the wrong ones.

    With ``threads == count`` each read is a request with a thread of its own,
    as runserver serves them.
    """
    wrong = [0]
    share, extra = divmod(count, threads)

    def reads(n: int) -> None:
        for _ in range(n):
            f = storage.open(name, "rb")
            try:
                data = f.read()
            finally:
                f.close()
            if data != expected:
                wrong[0] += 1

    todo = [share + (i < extra) for i in range(threads)]
    for start in range(0, threads, IN_FLIGHT):
        batch = [
            threading.Thread(target=reads, args=(n,), daemon=True)
            for n in todo[start : start + IN_FLIGHT]
        ]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
    return wrong[0]


def _held_after_reads(env: Env, count: int, threads: int) -> tuple[int, int]:
    """Bytes a fresh storage still holds after *count* reads from *threads* threads; wrong reads."""
    storage = env.new_storage(sub=f"retained{threads}")
    expected = make_content("req/page.bin", 1, 4096)
    name = storage.save("req/page.bin", ContentFile(expected))
    tracemalloc.start()
    try:
        before = _traced_now()
        wrong = _requests(storage, name, expected, count, threads)
        return _traced_now() - before, wrong
    finally:
        tracemalloc.stop()


def retained_per_thread(env: Env) -> dict[str, Any]:
    """Bytes still held per finished request thread that read a file (no write in between).

    The same N reads twice, each time into a fresh storage: once from one
    thread, once from N threads that each read once and exit (as runserver
    serves requests). What the second holds beyond the first, per thread, is
    what the storage keeps for each thread that has read; what it keeps per
    read (a bounded queue of recent reads, say) is in both and cancels out.
    Threads are warmed up first; tracemalloc's noise is well under 1 B a thread.
    """
    count = env.sizes.get("request_threads", REQUEST_THREADS)
    warm = env.new_storage(sub="warm-up")
    warm_name = warm.save("req/warm.bin", ContentFile(b"warm"))
    wrong = _requests(warm, warm_name, b"warm", IN_FLIGHT * 8, IN_FLIGHT * 8)
    one_thread, bad = _held_after_reads(env, count, 1)
    per_request, worse = _held_after_reads(env, count, count)
    return {
        "threads": count,
        "bytes_per_thread": (per_request - one_thread) / count,
        "held_after_one_thread": one_thread,
        "held_after_thread_per_request": per_request,
        "wrong": wrong + bad + worse,
    }
