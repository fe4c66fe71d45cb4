"""Resident memory after a long churn of uploads through a bounded store, as runserver makes it.

A bounded store promises to hold at most ``max_bytes``; what the *process*
keeps resident can be more: the allocator keeps freed memory for reuse, and
contents made in one thread and freed from another (eviction) spread over its
per-thread arenas. Here each request is a new thread (as runserver does it,
a few at a time) that makes a fresh upload of 1 KiB to 3 MiB (log-uniform),
saves it into a store with ``max_bytes`` = 64 MiB that evicts, reads it back
and reads another recent file. The figure is the resident set size above the
process's baseline (taken after the store was made, before the first request)
divided by ``max_bytes``. One run per process: :func:`churn` runs in a fresh
worker each time (see ``worker.py``); the goal takes the median and the worst
of three.
"""

from __future__ import annotations

import gc
import math
import os
import random
import threading
from collections import deque
from typing import Any

from django.core.files.base import ContentFile

from .content import HEADER_BYTES, header
from .scenarios import KIB, MIB, Env

REQUESTS = 40_000
STORE_BYTES = 64 * MIB
SMALLEST = 1 * KIB
LARGEST = 3 * MIB
IN_FLIGHT = 8


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


def churn(env: Env, seed: int) -> dict[str, Any]:
    """One run: N thread-per-request uploads and reads; resident memory above the baseline."""
    count = env.sizes.get("churn_requests", REQUESTS)
    budget = env.sizes.get("churn_max_bytes", STORE_BYTES)
    sizes = _sizes(seed, count, SMALLEST, env.sizes.get("churn_largest", LARGEST))
    storage = env.new_storage(sub="churn", budget=budget)
    slots = threading.BoundedSemaphore(IN_FLIGHT)
    lock = threading.Lock()
    tally = dict.fromkeys(("right", "wrong", "evicted", "lost", "none"), 0)
    recent: deque[str] = deque(maxlen=64)

    def request(index: int, size: int) -> None:
        try:
            name = f"churn/u{index}.bin"
            # One allocation, made in this thread, as a request body would be.
            data = header(name, seed) * (size // HEADER_BYTES)
            saved = storage.save(name, ContentFile(data))
            with lock:
                other = recent[index % len(recent)] if recent else None
            mine = _read(storage, saved, data if saved == name else b"")
            del data
            theirs = _read(storage, other) if other else "none"
            if mine == "evicted" and not storage.stats().evictions:
                mine = "lost"
            with lock:
                recent.append(saved)
                tally[mine] += 1
                tally[theirs] += 1
        except Exception:  # a request that failed lost its upload; counted, never hidden
            with lock:
                tally["lost"] += 1
        finally:
            slots.release()

    gc.collect()
    baseline = resident_bytes()
    threads: list[threading.Thread] = []
    for index, size in enumerate(sizes):
        slots.acquire()
        thread = threading.Thread(target=request, args=(index, size), daemon=True)
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
        "seed": seed,
        "requests": count,
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
