"""The shared engine's own figures: the server's bytes per file, and where a call's time goes.

**Server memory per 100-byte file.** The server is flushed, then 20,000 files
of 100 bytes with short names (``many/f00000.txt``, as in the in-process
memory measure) are saved into one namespace (``media``). The server's own
``INFO memory`` ``used_memory`` before and after, divided by the count, is
the bytes each file costs the server; the raw bytes are its name and
content. ``MEMORY USAGE`` of each kind of key (every 100th file's value, the
whole directory listing, the recency set, the namespace's counters and the
directories) says where those bytes go, and ``OBJECT ENCODING`` how Redis
holds each. The same is measured once more with ``hash-max-listpack-value``
raised to 128 (Redis' default is 64: a hash with a longer value, such as a
100-byte file's content, is held as a hash table rather than one compact
listpack), to show what that setting is worth; the server's settings are put
back after.

**Where the time of a save and a read goes**, from one thread, each layer
timed on its own, in turn, the fastest of 15 passes of 200 calls (the least
disturbed by other load):
the Storage API call; the engine's call (``RedisStore.put`` / ``read``);
redis-py's script call (what the engine sends, without its checks); the same
``EVALSHA`` sent by a minimal client (one ``sendall``, a buffered read: the
round trip with next to no client); and the script's own time on the server
(``INFO commandstats``). The differences are each layer's share.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile

from .content import make_content
from .redisserver import url as server_url
from .resp import Connection

if TYPE_CHECKING:
    from collections.abc import Callable

    from .scenarios import Env

SMALL_FILE = 100
MEMORY_FILES = 20_000
#: The namespace of the memory measure: short, as a real one ("media").
MEMORY_NAMESPACE = "media"
#: Every how many files one file's value is measured with MEMORY USAGE.
FILE_SAMPLE_EVERY = 100
#: The Redis setting the second memory measure raises, and to what.
LISTPACK_SETTING = "hash-max-listpack-value"
LISTPACK_RAISED = 128
TIMING_OPS = 200
TIMING_PASSES = 15
TIMING_SIZE = 4096


def measure(env: Env) -> dict[str, Any]:
    """The server's bytes per file (with the default settings and raised), and the time split."""
    import redis

    url = server_url()
    client = redis.Redis.from_url(url)
    try:
        files = int(env.sizes.get("server_files", MEMORY_FILES))
        memory = server_memory(client, url, files)
        setting = client.config_get(LISTPACK_SETTING)[LISTPACK_SETTING]
        client.config_set(LISTPACK_SETTING, LISTPACK_RAISED)
        try:
            raised = server_memory(client, url, files)
        finally:
            client.config_set(LISTPACK_SETTING, setting)
        ops = int(env.sizes.get("timing_ops", TIMING_OPS))
        return {
            "memory": memory,
            "memory_listpack": raised | {"setting": f"{LISTPACK_SETTING} {LISTPACK_RAISED}"},
            "time": time_split(client, url, ops),
            "server": client.info("server").get("redis_version"),
        }
    finally:
        client.close()


def _used(client: Any) -> int:
    return int(client.info("memory")["used_memory"])


def server_memory(client: Any, url: str, files: int) -> dict[str, Any]:
    """Bytes the server holds per 100-byte file, in all and per kind of key.

    Returns:
        ``bytes_per_file`` (``used_memory`` after minus before, over the
        count), ``raw_per_file`` (name and content), their ``ratio``, and
        ``structures``: per kind of key, its bytes per file (``MEMORY USAGE``),
        its Redis encoding and its share of the whole; what no key accounts
        for (the keyspace's own table, the allocator's rounding) is ``rest``.
    """
    from inmemorystorage import InMemoryStorage

    client.flushall()
    storage = InMemoryStorage(server=url, namespace=MEMORY_NAMESPACE)
    storage.save("warm.txt", ContentFile(b"x"))  # the scripts are loaded before the baseline
    storage.clear()
    client.flushall()
    names = [f"many/f{i:05d}.txt" for i in range(files)]
    contents = [make_content(name, 0, SMALL_FILE) for name in names]
    before = _used(client)
    for name, content in zip(names, contents, strict=True):
        storage.save(name, ContentFile(content))
    held = _used(client) - before
    prefix = f"ims:{{{MEMORY_NAMESPACE}}}:"
    sampled = [prefix + "f:" + name for name in names[::FILE_SAMPLE_EVERY]]
    file_bytes = sum(client.memory_usage(key, samples=0) for key in sampled) / len(sampled)
    kinds = {
        "file value (f:<name>)": ([prefix + "f:" + names[0]], file_bytes * files),
        "directory listing (ls:many, ls:)": ([prefix + "ls:many", prefix + "ls:"], None),
        "recency set (lru)": ([prefix + "lru"], None),
        "counters (meta)": ([prefix + "meta"], None),
        "directories (d:many, d:)": ([prefix + "d:many", prefix + "d:"], None),
    }
    structures = []
    for kind, (keys, known) in kinds.items():
        total = known
        if total is None:
            total = sum(client.memory_usage(key, samples=0) or 0 for key in keys)
        encoding = client.object("encoding", keys[0])
        structures.append({
            "structure": kind,
            "encoding": encoding.decode() if isinstance(encoding, bytes) else str(encoding),
            "bytes_per_file": total / files,
            "share": total / held if held else 0.0,
        })  # fmt: skip
    rest = held - sum(s["bytes_per_file"] for s in structures) * files
    raw = len(names[0]) + SMALL_FILE
    keys = int(client.dbsize())
    storage.clear()
    return {
        "files": files,
        "bytes_per_file": held / files,
        "raw_per_file": raw,
        "ratio": held / files / raw,
        "structures": structures,
        "rest_per_file": rest / files,
        "keys": keys,
    }


def _fastest(
    layers: dict[str, Callable[[int], object]], ops: int, passes: int, reset: Callable[[], None]
) -> dict[str, float]:
    """Microseconds per call of each layer's ``call(i)``, the fastest of *passes* passes.

    In each pass every layer runs *ops* calls in turn (after ``reset()``), so
    that a burst of other load on a shared machine slows one pass of every
    layer alike rather than all passes of one; the fastest pass of each is
    the least disturbed.
    """
    best = dict.fromkeys(layers, float("inf"))
    offset = 0
    for _ in range(passes):
        for key, call in layers.items():
            reset()
            began = time.perf_counter()
            for i in range(offset, offset + ops):
                call(i)
            best[key] = min(best[key], (time.perf_counter() - began) / ops * 1e6)
        offset += ops
    return best


def _script_args(store: Any, script: str, *args: object) -> list[bytes]:
    """``EVALSHA`` of one of the engine's scripts, with the arguments the engine sends."""
    sha = store._scripts[script].sha  # the engine's registered script: the same code it runs
    head = [str(a).encode() if not isinstance(a, bytes) else a for a in (*store._head, *args)]
    return [b"EVALSHA", sha.encode(), b"1", store._prefix + b"meta", *head]


def _server_usec(client: Any, call: Callable[[int], object], ops: int) -> float:
    """The server's mean microseconds per ``EVALSHA`` over *ops* calls of *call* (its own count)."""
    client.config_resetstat()
    for i in range(ops):
        call(i)
    stats = client.info("commandstats").get("cmdstat_evalsha") or {}
    return float(stats.get("usec_per_call", 0.0))


def time_split(client: Any, url: str, ops: int, passes: int = TIMING_PASSES) -> dict[str, Any]:
    """Microseconds per save and per read of 4 KiB at each layer, from one thread."""
    from inmemorystorage import InMemoryStorage
    from inmemorystorage.redis_lua import HEADER_ROOM

    storage = InMemoryStorage(server=url, namespace="timing")
    store = storage._store
    data = make_content("timing", 0, TIMING_SIZE)
    bare = Connection(url)

    def fresh() -> None:
        storage.clear()
        storage.save("r/blob.bin", ContentFile(data))

    def stay() -> None:
        pass

    def read(_i: int) -> None:
        f = storage.open("r/blob.bin", "rb")
        f.read()
        f.close()

    save_args = _script_args(store, "PUT", -1, "evict")
    room = bytes(HEADER_ROOM)  # PUT takes the file's header room before its content
    roomy = room + data
    read_args = _script_args(store, "READ", b"r/blob.bin", b"0", b"r0")  # name, mode, stage

    def bare_save(i: int) -> object:
        # The name, the value, exclusive, avoid_evicted, no origin, and no stage (inline).
        return bare.call(*save_args, b"s/d%d.bin" % i, roomy, b"0", b"0", b"", b"")

    def bare_read(_i: int) -> object:
        return bare.call(*read_args)

    try:
        fresh()
        save = _fastest(
            {
                "storage": lambda i: storage.save(f"s/a{i}.bin", ContentFile(data)),
                "engine": lambda i: store.put(f"s/b{i}.bin", data),
                "client": lambda i: store._run(
                    "PUT", -1, "evict", b"s/c%d.bin" % i, (room, data), 0, 0, b"", b""
                ),
                "bare": bare_save,
            },
            ops, passes, fresh,
        )  # fmt: skip
        fresh()
        save["server"] = _server_usec(client, bare_save, ops * passes)
        reads = _fastest(
            {
                "storage": read,
                "engine": lambda _i: store.read("r/blob.bin"),
                "client": lambda _i: store._run("READ", b"r/blob.bin", 0, b"r0"),
                "bare": bare_read,
            },
            ops, passes, stay,
        )  # fmt: skip
        reads["server"] = _server_usec(client, bare_read, ops * passes)
        ping = _fastest({"ping": lambda _i: bare.call(b"PING")}, ops, passes, stay)["ping"]
    finally:
        bare.close()
        storage.clear()
    return {"ops": ops, "passes": passes, "size": TIMING_SIZE, "ping": ping,
            "save": save, "read": reads}  # fmt: skip


#: The layers of :func:`time_split`, outermost first: (key, what the difference to the next is).
LAYERS = (
    ("storage", "Django's Storage API and InMemoryStorage (names, the content, the file object)"),
    ("engine", "the engine, RedisStore (checks, arguments, the answer)"),
    ("client", "the client: the engine's lane packs the command, redis-py parses the reply"),
    ("bare", "the round trip: loopback TCP, the server reading the command and writing the reply"),
    ("server", "the script on the server (EVALSHA, INFO commandstats)"),
)


def split_rows(timing: dict[str, float]) -> list[tuple[str, float]]:
    """Each layer's own microseconds: the difference between it and the next one in."""
    keys = [key for key, _what in LAYERS]
    rows = []
    for i, (key, what) in enumerate(LAYERS):
        inner = timing[keys[i + 1]] if i + 1 < len(keys) else 0.0
        rows.append((what, max(0.0, timing[key] - inner)))
    return rows
