"""One process of the multi-process stress test: threads that save, overwrite, read and delete.

Run as ``python tests/shared_worker.py URL WORKER START SECONDS MAX_BYTES [split]``;
prints one JSON line: the names its saves got, the wrong reads it saw, and
the budget overruns it saw. With ``split``, saves claim names the broken way
(look, then write), to show that the test catches it.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from typing import Any

import django
from django.conf import settings

THREADS = 4
#: Every round, every thread of every process saves this round's one name at once.
ROUND_SECONDS = 0.25


def content(tag: str, size: int) -> bytes:
    """Bytes that name their writer and prove themselves whole: a header, then its digest."""
    head = f"{tag}|".encode()
    body = hashlib.sha256(head).digest() * (size // 32 + 1)
    return head + body[: max(size - len(head), 0)]


def whole(data: bytes) -> bool:
    """Whether *data* is one writer's content, whole (see content())."""
    head, _, body = data.partition(b"|")
    expected = hashlib.sha256(head + b"|").digest() * (len(body) // 32 + 1)
    return body == expected[: len(body)]


def split_the_claim(storage: Any) -> None:
    """Break the storage on purpose: look whether a name is free, then write it apart."""
    store = storage._store
    put = store.put

    def split_put(path, data, *, exclusive=False, canonical=False, avoid_evicted=False):
        if exclusive and store.exists(path):  # the bug: a look, then a write apart from it
            raise FileExistsError(17, "taken", path)
        return put(path, data, canonical=canonical)

    store.put = split_put


def read_whole(storage: Any, name: str) -> bool:
    """Whether reading *name* gives one write's bytes, whole (a missing file is no wrong read)."""
    try:
        with storage.open(name) as file:
            return whole(file.read())
    except FileNotFoundError:
        return True  # evicted or deleted meanwhile


def main() -> None:
    url, worker, start, seconds, max_bytes = sys.argv[1:6]
    split = sys.argv[6:] == ["split"]
    settings.configure(USE_TZ=True)
    django.setup()
    from django.core.files.base import ContentFile  # noqa: PLC0415  # after settings

    from inmemorystorage import InMemoryStorage  # noqa: PLC0415  # after settings

    # Saves of one name go to a namespace where nothing is ever deleted or evicted, so that
    # a name two saves got can only mean a broken claim; the rest churns in a bounded one.
    claims = InMemoryStorage(server=url, namespace="claims")
    storage = InMemoryStorage(server=url, namespace="stress", max_bytes=int(max_bytes))
    if split:
        split_the_claim(claims)
    begin, end = float(start), float(start) + float(seconds)
    saved: list[tuple[str, str]] = []
    wrong: list[str] = []
    overruns: list[int] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        rng = random.Random(f"{worker}-{thread}")  # noqa: S311  # a test's choices, no secret
        mine: list[str] = []
        round_number = 0
        while True:
            round_start = begin + round_number * ROUND_SECONDS
            if round_start >= end:
                return
            time.sleep(max(round_start - time.time(), 0))
            tag = f"{worker}.{thread}.{round_number}"
            name = claims.save(f"round-{round_number}.txt", ContentFile(content(tag, 600)))
            with lock:
                saved.append((name, tag))
            scratch = storage.save(f"scratch/{tag}.bin", ContentFile(content(tag, 2000)))
            mine.append(scratch)
            own = f"own/{worker}-{thread}.bin"
            with storage.open(own, "wb") as file:
                file.write(content(f"{tag}-own", rng.choice([100, 4000, 20000])))
            for _ in range(5):
                source, target = rng.choice(
                    [*((storage, m) for m in mine[-5:]), (storage, own), (claims, name)]
                )
                if not read_whole(source, target):
                    with lock:
                        wrong.append(target)
            if rng.random() < 0.2 and mine:
                storage.delete(mine.pop(0))
            used = storage.stats().bytes_used
            if used > int(max_bytes):
                with lock:
                    overruns.append(used)
            round_number += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stdout.write(json.dumps({"saved": saved, "wrong": wrong, "overruns": overruns}) + "\n")


if __name__ == "__main__":
    main()
