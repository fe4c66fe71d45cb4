"""The shared engine where a server, a URL or a name is not the usual one: each promise still holds.

A URL that asks redis-py to retry never makes a script run twice; a server at
its ``maxmemory`` refuses a write as a full storage and still serves reads; a
load that keeps what fits remembers what it left out; a name's charge is the
same in Python and on the server; a listener outlives a name with a newline
and a message it cannot read. Real servers, never mocks.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage, StorageFull, budget, dump, load
from inmemorystorage.budget import DIR_OVERHEAD, FILE_OVERHEAD, RECORD_SHARE
from inmemorystorage.engine import Eviction, ListedFile, StoredFile
from inmemorystorage.exceptions import EngineUnavailable
from inmemorystorage.middleware import storage_full_response
from inmemorystorage.redis_store import RedisStore, client_for, file_charge, name_charge

pytestmark = pytest.mark.usefixtures("forget_shared_stores")

MIB = 1024 * 1024

#: A Lua busy loop of ARGV[1] microseconds: the server answers no one meanwhile.
BUSY = (
    "local t = redis.call('TIME'); local s = t[1] * 1e6 + t[2]; while true do "
    "local u = redis.call('TIME'); if u[1] * 1e6 + u[2] > s + tonumber(ARGV[1]) then break end "
    "end return 1"
)


@contextlib.contextmanager
def busy_server(url: str, seconds: float) -> Iterator[None]:
    """Keep the server at *url* busy for *seconds*, from another connection, before the body."""
    admin = redis.Redis.from_url(url)
    started = threading.Event()

    def run() -> None:
        started.set()
        admin.eval(BUSY, 0, int(seconds * 1_000_000))

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    time.sleep(0.1)  # the busy script has reached the server
    try:
        yield
    finally:
        thread.join()
        admin.close()


def retrying_url(url: str, *, lane: bool) -> str:
    """*url* asking redis-py to retry a timed-out command, with a short timeout of its own.

    With *lane* false the URL bounds the pool, so that every script goes through
    redis-py's own path (see ``RedisStore``); a client name makes the client new.
    """
    query = f"socket_timeout=0.3&retry_on_timeout=true&client_name=r{uuid.uuid4().hex[:8]}"
    return f"{url}?{query}" if lane else f"{url}?{query}&max_connections=4"


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "redis-py"])
def test_a_save_whose_answer_is_lost_is_never_sent_twice(clean_redis, lane):
    """A late answer raises EngineUnavailable; the one save left one file or none, never two."""
    storage = InMemoryStorage(server=retrying_url(clean_redis, lane=lane), namespace="once")
    storage.save("warm.txt", ContentFile(b"w"))
    with busy_server(clean_redis, 0.55), pytest.raises(EngineUnavailable):
        storage.save("once.txt", ContentFile(b"data"))
    saved = [name for name in storage.listdir("")[1] if name.startswith("once")]
    assert saved in ([], ["once.txt"])


def test_a_client_never_retries_whatever_its_url_asks(redis_url):
    """Connections made before and after the first call keep no retry of redis-py's."""
    url = f"{redis_url}?retry_on_timeout=true&retry_on_error=ConnectionError"
    client = client_for(url)
    first = client.connection_pool.get_connection()
    second = client.connection_pool.get_connection()
    try:
        assert [0, 0] == [first.retry.get_retries(), second.retry.get_retries()]
    finally:
        client.connection_pool.release(first)
        client.connection_pool.release(second)


def test_a_listener_shows_a_name_with_a_newline_and_skips_what_is_no_eviction(clean_redis, caplog):
    """Another process evicts 'bad\\nname.txt', someone publishes junk: both shown, junk skipped."""
    listener = RedisStore(clean_redis, "listen", max_bytes=4000)
    writer = RedisStore(clean_redis, "listen", max_bytes=4000)  # another process's store
    heard: list[str] = []
    second = threading.Event()

    def show(eviction: Eviction) -> None:
        heard.append(eviction.name)
        if eviction.name == "b.txt":
            second.set()

    caplog.set_level(logging.DEBUG, logger="inmemorystorage")
    listening = listener.listen(show)
    try:
        writer.put("bad\nname.txt", b"x" * 1500)
        writer.put("b.txt", b"x" * 1500)  # evicts 'bad\nname.txt'
        admin = redis.Redis.from_url(clean_redis)
        for junk in (b"hello", b"someone\nelse\nsize", b"someone\n\xff\n1\n2"):
            admin.publish("ims:{listen}:evictions", junk)
        admin.close()
        writer.put("c.txt", b"x" * 1500)  # evicts 'b.txt'
        assert second.wait(timeout=10)
    finally:
        listening.stop()
    assert ["bad\nname.txt", "b.txt"] == heard
    assert 3 == caplog.text.count("that is no eviction")


#: A name whose characters CPython keeps four bytes wide (1,000 bytes), and the server in 248.
WIDE = "a" * 240 + "\U0001f600.txt"


def test_a_non_ascii_name_is_charged_its_utf8_bytes_before_the_script_as_by_it(clean_redis):
    """A file that fits by the server's count is saved, even where CPython's count is larger."""
    size = 10
    charge = size + len(WIDE.encode()) + FILE_OVERHEAD
    assert budget.file_charge(WIDE, size) > charge + 500  # the in-process engine's count
    store = RedisStore(clean_redis, "wide", max_bytes=charge)

    assert WIDE == store.put(WIDE, b"x" * size)[0]
    assert charge == store.stats().bytes_used
    with pytest.raises(StorageFull):
        store.put(WIDE, b"x" * (size + 1))  # refused before the script, by the same count


def test_stats_bytes_are_the_sum_of_the_utf8_charges(clean_redis):
    """Non-ASCII files and directories: the namespace's bytes, as the Python side counts them."""
    store = RedisStore(clean_redis, "charges")
    names = ["é.txt", "dossier/ünï.txt", "dossier/日本/語.bin", WIDE]
    for i, name in enumerate(names):
        store.put(name, bytes(i))
    dirs = ["dossier", "dossier/日本"]
    expected = sum(file_charge(name, i) for i, name in enumerate(names))
    expected += sum(name_charge(d) + DIR_OVERHEAD for d in dirs)
    assert expected == store.stats().bytes_used
    assert [len(n.encode()) for n in names] == [name_charge(n) for n in names]
    assert budget.name_charge("ascii/only.txt") == name_charge("ascii/only.txt")


def test_a_load_keeps_what_fits_by_the_utf8_charges(clean_redis):
    """Three non-ASCII names that fit by the server's count are all loaded, none left out."""
    names = [f"{'a' * 240}\U0001f600{i}.txt" for i in range(3)]
    files = [StoredFile(name, bytes(100), 1.7e9, 1.7e9) for name in names]
    charges = sum(file_charge(name, 100) for name in names)
    store = RedisStore(clean_redis, "wide-load", max_bytes=3300)
    assert charges <= 3300 - 3300 // RECORD_SHARE < sum(budget.file_charge(n, 100) for n in names)

    loaded = store.load(files, keep_what_fits=True)
    assert (tuple(names), ()) == (loaded.names, loaded.dropped)
    assert charges == store.stats().bytes_used


@contextlib.contextmanager
def at_maxmemory(url: str) -> Iterator[int]:
    """Set the server's maxmemory below what it uses (policy noeviction); yield it; undo."""
    admin = redis.Redis.from_url(url)
    policy = admin.config_get("maxmemory-policy")["maxmemory-policy"]
    maxmemory = admin.info("memory")["used_memory"] // 2
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", maxmemory)
    try:
        yield maxmemory
    finally:
        admin.config_set("maxmemory", 0)
        admin.config_set("maxmemory-policy", policy)
        admin.close()


def namespace_keys(url: str, namespace: str) -> dict[bytes, object]:
    """Every key of *namespace* with its whole value, to see that nothing changed."""
    admin = redis.Redis.from_url(url)
    dumped = {key: admin.dump(key) for key in sorted(admin.keys(f"ims:{{{namespace}}}:*"))}
    admin.close()
    return dumped


def test_a_load_refused_for_room_leaves_the_namespace_s_clock_where_it_was(clean_redis):
    """All or nothing includes the clock the namespace's stamps follow."""
    storage = InMemoryStorage(
        server=clean_redis, namespace="clock", max_bytes=3000, on_full="error"
    )
    storage.save("a.txt", ContentFile(b"x" * 1000))
    admin = redis.Redis.from_url(clean_redis)
    clock = admin.hget("ims:{clock}:meta", "clock")
    with pytest.raises(StorageFull):
        storage.load_files([StoredFile("b.txt", b"y" * 1000, 5.0, 5.0)])
    assert clock == admin.hget("ims:{clock}:meta", "clock")
    admin.close()


def test_a_server_at_its_maxmemory_still_serves_reads_and_writes_nothing(clean_redis):
    """Reads, sizes, listings and misses answer; the read's bookkeeping is skipped whole."""
    storage = InMemoryStorage(server=clean_redis, namespace="oom")
    storage.save("docs/a.txt", ContentFile(b"hello"))
    before = namespace_keys(clean_redis, "oom")
    with at_maxmemory(clean_redis):
        assert b"hello" == storage.open("docs/a.txt").read()
        assert (5, True) == (storage.size("docs/a.txt"), storage.exists("docs/a.txt"))
        assert ([], ["a.txt"]) == storage.listdir("docs")
        with pytest.raises(FileNotFoundError):
            storage.open("docs/missing.txt")
    assert before == namespace_keys(clean_redis, "oom")


def test_a_write_refused_at_maxmemory_is_storage_full_and_changes_nothing(clean_redis):
    """save() and load_files() raise StorageFull (ENOSPC) naming the server's maxmemory."""
    storage = InMemoryStorage(server=clean_redis, namespace="oom")
    storage.save("a.txt", ContentFile(b"hello"))
    before = namespace_keys(clean_redis, "oom")
    with at_maxmemory(clean_redis) as maxmemory:
        with pytest.raises(StorageFull) as saved:
            storage.save("b.txt", ContentFile(b"x"))
        with pytest.raises(StorageFull) as loaded:
            storage.load_files([StoredFile("c.txt", b"c", 1.7e9, 1.7e9)])
    for refusal in (saved.value, loaded.value):
        assert (errno.ENOSPC, maxmemory, "maxmemory") == (
            refusal.errno,
            refusal.max_bytes,
            refusal.limit,
        )
        assert f"maxmemory of {maxmemory:,} bytes" in str(refusal)
        assert "max_bytes=" not in str(refusal)  # the storage's budget did not refuse
    assert before == namespace_keys(clean_redis, "oom")


def test_the_full_page_of_a_server_at_its_maxmemory_names_the_server_s_setting(clean_redis, rf):
    """StorageFullMiddleware answers 507 and says to free memory or raise maxmemory."""
    storage = InMemoryStorage(server=clean_redis, namespace="oom")
    storage.save("a.txt", ContentFile(b"hello"))
    with at_maxmemory(clean_redis) as maxmemory, pytest.raises(StorageFull) as refused:
        storage.save("b.txt", ContentFile(b"x"))
    response = storage_full_response(rf.get("/", HTTP_ACCEPT="text/plain"), refused.value)
    page = response.content.decode()
    assert 507 == response.status_code
    assert f"at its maxmemory of {maxmemory:,} bytes" in page
    assert "raise the server's maxmemory" in page
    assert "on_full" not in page


def test_a_delete_frees_memory_even_at_maxmemory(clean_redis):
    """A file and a directory are deleted on a server that refuses other writes."""
    storage = InMemoryStorage(server=clean_redis, namespace="oom")
    storage.save("a.txt", ContentFile(b"hello"))
    storage.save("d/e/b.txt", ContentFile(b"hello"))
    with at_maxmemory(clean_redis):
        storage.delete("a.txt")
        storage.delete("d")
    assert ([], []) == storage.listdir("")
    assert (0, 0) == (storage.stats().files, storage.stats().dirs)


def test_a_tar_of_wide_names_loads_where_the_server_s_charges_fit(clean_redis):
    """The archive's early check charges a name the lesser of the two engines' charges.

    Emoji take four bytes in UTF-8 and four in CPython's ``str``, plus its
    header: a tar that fits the server's charges is not refused before it is read.
    """
    names = [f"{index:02d}" + "😀" * 60 + ".txt" for index in range(20)]
    needed = sum(file_charge(name, 1) for name in names)
    assert needed < sum(budget.file_charge(name, 1) for name in names)  # CPython's are more
    source = InMemoryStorage()
    for name in names:
        source.save(name, ContentFile(b"x"))
    archive = io.BytesIO()
    dump(source, archive)
    archive.seek(0)
    shared = InMemoryStorage(
        server=clean_redis, namespace="wide", max_bytes=needed, on_full="error"
    )
    assert sorted(names) == sorted(load(shared, archive))
    assert needed == shared.stats().bytes_used


def _bytes_sent_by(server: redis.Redis, call: Callable[[], object]) -> int:
    """How many bytes the server sent to its clients while *call* ran (INFO's own count)."""
    before = server.info("stats")["total_net_output_bytes"]
    call()
    return int(server.info("stats")["total_net_output_bytes"]) - int(before)


def test_a_listing_brings_no_content_over_from_the_server(clean_redis):
    """The page and ``ls`` list a namespace of large files in a reply of a few bytes a file."""
    storage = InMemoryStorage(server=clean_redis, namespace="big")
    for index in range(4):
        storage.save(f"videos/{index}.mp4", ContentFile(b"v" * MIB))
    server = redis.Redis.from_url(clean_redis)
    # What a listing that copied each content would cost, measured the same way.
    assert _bytes_sent_by(server, storage.stored_files) > 4 * MIB
    listing: list[ListedFile] = []
    assert _bytes_sent_by(server, lambda: listing.extend(storage.file_listing())) < 4096
    assert [(f"videos/{index}.mp4", MIB) for index in range(4)] == [
        (file.name, file.size) for file in listing
    ]
