"""What a write costs while many threads that have read are still alive.

runserver starts a thread per request; a storage that registers something per
reader thread (a per-thread lock, say) can make every write visit all the
threads that are still alive. Here N threads each open and read a file and
then park on an :class:`threading.Event` (alive, blocked, holding nothing
open); the main thread then times ``save()`` of new 4 KiB files one by one.
The figure is the median latency with 10 and with 1,000 such threads,
alternating between the two counts, a fresh storage each time.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from django.core.files.base import ContentFile

from .content import HEADER_BYTES, header, make_content
from .scenarios import KIB, Env

READER_COUNTS = (10, 1_000)
WRITES = 2_000
ROUNDS = 2


def _park_readers(
    storage: Any, count: int
) -> tuple[threading.Event, list[threading.Thread], list[int]]:
    """Start *count* threads that each read a file once and then wait; return when all have read."""
    expected = make_content("live/read.bin", 1, 4 * KIB)
    name = storage.save("live/read.bin", ContentFile(expected))
    release = threading.Event()
    have_read = threading.Semaphore(0)
    wrong = [0]

    def reader() -> None:
        try:
            f = storage.open(name, "rb")
            try:
                wrong[0] += f.read() != expected
            finally:
                f.close()
        finally:
            have_read.release()
        release.wait()

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for _ in threads:
        have_read.acquire()
    return release, threads, wrong


def _timed_writes(storage: Any, count: int, tag: str) -> tuple[list[int], int]:
    """Save *count* new 4 KiB files one at a time; their latencies (ns) and how many are wrong."""
    body = make_content("x", 0, 4 * KIB)
    latencies = []
    saved = []
    for i in range(count):
        name = f"live/{tag}-w{i}.bin"
        data = header(name, 0) + body[HEADER_BYTES:]
        content = ContentFile(data)
        began = time.perf_counter_ns()
        got = storage.save(name, content)
        latencies.append(time.perf_counter_ns() - began)
        saved.append((got, data))
    lost = 0
    for got, data in saved:
        f = storage.open(got, "rb")
        try:
            lost += f.read() != data
        finally:
            f.close()
    lost += len({got for got, _ in saved}) != len(saved)
    return latencies, lost


def write_latency(env: Env) -> dict[str, Any]:
    """Median ``save()`` latency with 10 and with 1,000 live reader threads, and their ratio."""
    writes = env.sizes.get("latency_writes", WRITES)
    counts: list[int] = list(env.sizes.get("live_readers", READER_COUNTS))
    medians: dict[int, list[float]] = {n: [] for n in counts}
    wrong = lost = 0
    for round_ in range(ROUNDS):
        for readers in counts:
            # A bounded backend gets room for every write: this measures the lock, not eviction.
            storage = env.new_storage(sub=f"live{readers}-{round_}", budget=64 * 1024 * KIB)
            release, threads, bad = _park_readers(storage, readers)
            try:
                latencies, missing = _timed_writes(storage, writes, f"{readers}-{round_}")
            finally:
                release.set()
                for thread in threads:
                    thread.join()
            medians[readers].append(statistics.median(latencies) / 1000)
            wrong += bad[0]
            lost += missing
    few, many = min(counts), max(counts)
    figures = {n: statistics.median(m) for n, m in medians.items()}
    return {
        "writes": writes,
        "readers": list(counts),
        "median_us": {str(n): v for n, v in figures.items()},
        "rounds_us": {str(n): m for n, m in medians.items()},
        "ratio": figures[many] / figures[few] if figures[few] else None,
        "wrong": wrong,
        "lost": lost,
        "checked": ROUNDS * len(counts) * (writes + 1),
    }
