"""Resident memory after a long churn of uploads through a bounded store, as runserver makes it.

A bounded store promises to hold at most ``max_bytes``; what the *process*
keeps resident can be more: the allocator keeps freed memory for reuse, and
contents made in one thread and freed from another (eviction) spread over its
per-thread arenas. Here each request is a new thread (as runserver does it,
a few at a time) that makes a fresh upload, saves it into a store with
``max_bytes`` = 64 MiB that evicts, reads it back and reads another file.
The figure is the resident set size above the process's baseline (taken
after the store was made, before the first request) divided by
``max_bytes``. One run per process: :func:`churn` runs in a fresh worker each
time (see ``worker.py``); the goals take the median and the worst of three.

Two mixes (:data:`MIXES`):

* ``log-uniform``: 8 requests in flight, sizes log-uniform from 1 KiB to
  3 MiB, a fresh name per request, and a read of a recent upload;
* ``harsh`` (issue 24): 16 in flight, sizes drawn uniformly from 1 KiB,
  16 KiB, 200 KiB, 1 MiB and 3 MiB (so most bytes come in large blocks that
  glibc serves from its arenas once its mmap threshold has risen), names
  drawn from 5,000 (a save whose name is taken gets another, as Django
  gives it), and a read of one of the 64 latest uploads drawn at random.
  (A read of a name drawn from the 5,000 would mostly miss: the store holds
  about 80 files at a time. Reading large contents that other threads
  saved, while they are evicted, is what holds memory longer.)

Each run also records what glibc's allocator says it holds
(``mallinfo2()``), so that a high figure can be told apart: bytes in use,
free bytes kept in the arenas, or mapped blocks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
import os
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile

from .content import HEADER_BYTES, header
from .scenarios import KIB, MIB, Env

REQUESTS = 40_000
STORE_BYTES = 64 * MIB
SMALLEST = 1 * KIB
LARGEST = 3 * MIB
IN_FLIGHT = 8
#: Each request reads one of this many latest uploads.
RECENT = 64
#: The harsh mix's sizes, drawn uniformly (a run's largest caps them: tiny runs).
HARSH_SIZES = (1 * KIB, 16 * KIB, 200 * KIB, 1 * MIB, 3 * MIB)
HARSH_IN_FLIGHT = 16
#: The harsh mix draws its names, and the names it reads, from this many.
HARSH_NAMES = 5_000


@dataclass(frozen=True)
class Mix:
    """One churn workload: requests in flight, and where sizes and names come from."""

    key: str
    label: str
    in_flight: int
    #: Names are drawn from this many (a taken one gets another); None: one fresh name each.
    names: int | None


MIXES = {
    "log-uniform": Mix(
        "log-uniform", "sizes log-uniform 1 KiB-3 MiB, 8 in flight, fresh names", IN_FLIGHT, None
    ),
    "harsh": Mix(
        "harsh",
        "sizes 1 KiB, 16 KiB, 200 KiB, 1 MiB or 3 MiB, 16 in flight, names drawn from 5,000",
        HARSH_IN_FLIGHT,
        HARSH_NAMES,
    ),
}


class _MallInfo2(ctypes.Structure):
    _fields_ = [  # ctypes reads it from the class
        (field, ctypes.c_size_t)
        for field in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def malloc_info() -> dict[str, int] | None:
    """glibc's own account of the heap, over every arena (``mallinfo2()``), or None elsewhere.

    ``in_use``: bytes handed out from the arenas; ``free_in_arenas``: bytes the
    arenas keep free for reuse (resident where they were touched);
    ``mapped``: blocks served by ``mmap`` (returned at ``free()``);
    ``arena_bytes``: the arenas' size in all.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        mallinfo2 = ctypes.CDLL(name).mallinfo2
    except (OSError, AttributeError):  # not glibc, or glibc before 2.33
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {
        "arena_bytes": info.arena,
        "in_use": info.uordblks,
        "free_in_arenas": info.fordblks,
        "mapped": info.hblkhd,
        "mapped_blocks": info.hblks,
    }


def resident_bytes() -> int | None:
    """This process's resident set size now (Linux ``/proc``), or ``None`` where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _sizes(seed: int, count: int, smallest: int, largest: int) -> list[int]:
    """*count* sizes, log-uniform between the bounds, each a whole number of headers."""
    rng = random.Random(seed)
    low, high = math.log(smallest), math.log(largest)
    return [
        max(1, round(math.exp(rng.uniform(low, high)) / HEADER_BYTES)) * HEADER_BYTES
        for _ in range(count)
    ]


def _harsh_sizes(seed: int, count: int, largest: int) -> list[int]:
    """*count* sizes drawn uniformly from :data:`HARSH_SIZES` (those up to *largest*)."""
    rng = random.Random(seed)
    choices = [size for size in HARSH_SIZES if size <= largest] or [largest]
    return [max(1, choices[rng.randrange(len(choices))] // HEADER_BYTES) * HEADER_BYTES
            for _ in range(count)]  # fmt: skip


def _plan(mix: Mix, seed: int, count: int, largest: int) -> list[tuple[str, int, int]]:
    """Each request's name to save, size, and which of the latest uploads it reads."""
    if mix.names is None:
        sizes = _sizes(seed, count, SMALLEST, largest)
        return [(f"churn/u{index}.bin", size, index) for index, size in enumerate(sizes)]
    sizes = _harsh_sizes(seed, count, largest)
    rng = random.Random(seed + 1)
    pool = mix.names
    return [(f"churn/n{rng.randrange(pool)}.bin", size, rng.randrange(RECENT)) for size in sizes]


def churn(env: Env, seed: int, mix_key: str = "log-uniform") -> dict[str, Any]:
    """One run: N thread-per-request uploads and reads; resident memory above the baseline."""
    mix = MIXES[mix_key]
    count = env.sizes.get("churn_requests", REQUESTS)
    budget = env.sizes.get("churn_max_bytes", STORE_BYTES)
    plan = _plan(mix, seed, count, env.sizes.get("churn_largest", LARGEST))
    storage = env.new_storage(sub="churn", budget=budget)
    slots = threading.BoundedSemaphore(mix.in_flight)
    lock = threading.Lock()
    tally = dict.fromkeys(("right", "wrong", "evicted", "lost", "none", "renamed"), 0)
    recent: deque[str] = deque(maxlen=RECENT)

    def request(name: str, size: int, pick: int) -> None:
        try:
            # One allocation, made in this thread, as a request body would be.
            data = header(name, seed) * (size // HEADER_BYTES)
            saved = storage.save(name, ContentFile(data))
            with lock:
                wanted = recent[pick % len(recent)] if recent else None
            # Fresh names: a save given another name lost its own. Drawn names: it is Django's way.
            mine = _read(storage, saved, data if saved == name or mix.names else b"")
            del data
            theirs = _read(storage, wanted) if wanted else "none"
            if mine == "evicted" and not storage.stats().evictions:
                mine = "lost"
            with lock:
                recent.append(saved)
                tally[mine] += 1
                tally[theirs] += 1
                tally["renamed"] += saved != name
        except Exception:  # a request that failed lost its upload; counted, never hidden
            with lock:
                tally["lost"] += 1
        finally:
            slots.release()

    gc.collect()
    baseline = resident_bytes()
    threads: list[threading.Thread] = []
    for name, size, pick in plan:
        slots.acquire()
        thread = threading.Thread(target=request, args=(name, size, pick), daemon=True)
        thread.start()
        threads.append(thread)
        if len(threads) >= 64:
            threads = [t for t in threads if t.is_alive()]
    for thread in threads:
        thread.join()
    gc.collect()
    after = resident_bytes()
    stats = storage.stats()
    above = after - baseline if after is not None and baseline is not None else None
    return {
        "mix": mix.key,
        "seed": seed,
        "requests": count,
        "in_flight": mix.in_flight,
        "max_bytes": budget,
        "bytes_used": stats.bytes_used,
        "evictions": stats.evictions,
        "baseline_rss": baseline,
        "rss": after,
        "above_baseline": above,
        "ratio": above / budget if above is not None else None,
        "wrong": tally["wrong"],
        "lost": tally["lost"],
        "evicted": tally["evicted"],
        "checked": tally["right"] + tally["wrong"],
        "renamed": tally["renamed"],
        "malloc": malloc_info(),
    }


def _read(storage: Any, name: str, expected: bytes | None = None) -> str:
    """Read *name* whole: ``right``, ``wrong`` or ``evicted`` (gone, as a bounded store may).

    Right content is *expected* where it is given; else it is its own 48-byte
    label repeated, which counting the label's occurrences checks without
    making a second copy of the content.
    """
    try:
        f = storage.open(name, "rb")
    except FileNotFoundError:
        return "evicted"
    try:
        data = f.read()
    finally:
        f.close()
    if expected is not None:
        return "right" if data == expected else "wrong"
    label = data[:HEADER_BYTES]
    whole = len(data) % HEADER_BYTES == 0 and data.count(label) == len(data) // HEADER_BYTES
    return "right" if data and whole else "wrong"
