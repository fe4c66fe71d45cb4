"""Run one operation loop from N threads at once, bounded in time and in count.

Each thread calls its loop in batches (few clock reads, so the clock costs next
to nothing) until the deadline passes or it has done ``max_ops``; the elapsed
time runs from the moment all threads are released to the last one's finish.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

BATCH = 32

#: A loop runs *n* operations and returns ``(wrong, errors)`` for them.
Loop = Callable[[int], tuple[int, int]]


@dataclass
class Run:
    """What one timed run did."""

    ops: int
    seconds: float
    wrong: int
    errors: int


def run_threads(
    make_loop: Callable[[int], Loop], threads: int, duration: float, max_ops: int
) -> Run:
    """Run ``make_loop(index)`` from *threads* threads for *duration* s or *max_ops* ops each."""
    loops = [make_loop(index) for index in range(threads)]
    counts = [[0, 0, 0] for _ in range(threads)]
    failures: list[BaseException] = []
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def body(index: int) -> None:
        loop, tally = loops[index], counts[index]
        start.wait()
        end = deadline[0]
        done = wrong = errors = 0
        try:
            while done < max_ops and time.perf_counter() < end:
                bad, failed = loop(BATCH)
                done += BATCH
                wrong += bad
                errors += failed
        except BaseException as exc:  # recorded and re-raised in the caller
            failures.append(exc)
        tally[:] = [done, wrong, errors]

    workers = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    deadline[0] = time.perf_counter() + duration
    began = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join(duration + 60)
    seconds = time.perf_counter() - began
    if failures:
        raise failures[0]
    return Run(
        ops=sum(c[0] for c in counts),
        seconds=seconds,
        wrong=sum(c[1] for c in counts),
        errors=sum(c[2] for c in counts),
    )
