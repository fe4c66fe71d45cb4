"""The shared engine's consistency, from the server's own keys, as stress.py checks the core's.

Every key of a namespace is read back: the files, the directories, their
listings, the recency order and the remembered evictions must agree with
one another, and the bytes the namespace is charged must be exactly what
its files, directories and records weigh, within ``max_bytes``.
"""

from __future__ import annotations

from typing import Any

from inmemorystorage.budget import dir_charge, file_charge, record_charge
from inmemorystorage.redis_store import RedisStore


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogatepass")


def audit(store: RedisStore) -> list[str]:
    """What is wrong with the namespace of *store* on its server (``[]``: nothing)."""
    client: Any = store._client
    prefix = store._prefix
    problems: list[str] = []
    keys = [key[len(prefix) :] for key in client.scan_iter(match=prefix + b"*", count=1000)]
    files = {_text(key[2:]) for key in keys if key.startswith(b"f:")}
    dirs = {_text(key[2:]) for key in keys if key.startswith(b"d:")} - {""}
    listed_files: set[str] = set()
    listed_dirs: set[str] = set()
    for key in keys:
        if not key.startswith(b"ls:"):
            continue
        directory = _text(key[3:])
        for child, kind in client.hgetall(prefix + key).items():
            name = f"{directory}/{_text(child)}" if directory else _text(child)
            (listed_dirs if kind == b"d" else listed_files).add(name)
    if files != listed_files:
        problems.append(f"files and listings disagree: {sorted(files ^ listed_files)[:5]}")
    if dirs != listed_dirs:
        problems.append(f"directories and listings disagree: {sorted(dirs ^ listed_dirs)[:5]}")
    recency = {_text(name) for name in client.zrange(prefix + b"lru", 0, -1)}
    if recency != files:
        problems.append(f"the recency order and the files disagree: {sorted(recency ^ files)[:5]}")
    records = {_text(name) for name in client.hkeys(prefix + b"ev")}
    queued = {_text(name) for name in client.zrange(prefix + b"evq", 0, -1)}
    if records != queued:
        problems.append("the eviction records and their order disagree")
    file_bytes = sum(
        file_charge(name, client.strlen(prefix + b"f:" + name.encode()) - 24) for name in files
    )
    dir_bytes = sum(dir_charge(name) for name in dirs)
    record_bytes = sum(record_charge(name) for name in records)
    meta = client.hgetall(prefix + b"meta")
    charged = tuple(int(meta.get(field, 0)) for field in (b"fb", b"db", b"rb"))
    if charged != (file_bytes, dir_bytes, record_bytes):
        problems.append(
            f"charged {charged}, the keys weigh {(file_bytes, dir_bytes, record_bytes)}"
        )
    if int(meta.get(b"dirs", 0)) != len(dirs):
        problems.append(f"counts {int(meta.get(b'dirs', 0))} directories, holds {len(dirs)}")
    used = file_bytes + dir_bytes + record_bytes
    if store.max_bytes is not None and used > store.max_bytes:
        problems.append(f"holds {used} bytes, over max_bytes={store.max_bytes}")
    return problems
