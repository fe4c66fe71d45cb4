"""A large save's content goes to the server beside its script, never through Lua.

Redis's Lua hashes every byte of each string it makes (since Redis 7.0), so a
content given to a script costs the server about 1.3 ms a MiB before the script's
first line. From ``STAGED_FROM`` bytes on, a save sends the content in a plain
``SET`` of a key of its own (with an expiry), the script renames it to the file's
key, and a ``DEL`` of that key ends the request: whatever the script answered,
nothing of it stays. From ``STAGED_READS_FROM`` bytes on, a read's script copies the
content to a stage of the read's own (``COPY``, in C), taken by a second request.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

import pytest
import redis
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.redis_lane import packed
from inmemorystorage.redis_lua import STAGE_EXPIRY_MS, STAGED_READS_FROM
from inmemorystorage.redis_store import STAGED_FROM, RedisStore, file_charge

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def namespace_keys(url: str, namespace: str) -> dict[bytes, object]:
    """Every key of *namespace* (a stage among them) with its whole value."""
    admin = redis.Redis.from_url(url)
    dumped = {key: admin.dump(key) for key in sorted(admin.keys(f"ims:{{{namespace}}}:*"))}
    admin.close()
    return dumped


def renames(url: str) -> int:
    """How many RENAMEs the server has run: one for each staged save it published."""
    admin = redis.Redis.from_url(url)
    calls = admin.info("commandstats").get("cmdstat_rename", {}).get("calls", 0)
    admin.close()
    return int(calls)


@contextlib.contextmanager
def memory_policy(url: str, policy: str, maxmemory: int) -> Iterator[None]:
    """The server's maxmemory and its policy set for the block, then as they were."""
    admin = redis.Redis.from_url(url)
    before = admin.config_get("maxmemory-policy")["maxmemory-policy"]
    admin.config_set("maxmemory-policy", policy)
    admin.config_set("maxmemory", maxmemory)
    try:
        yield
    finally:
        admin.config_set("maxmemory", 0)
        admin.config_set("maxmemory-policy", before)
        admin.close()


@pytest.mark.parametrize("size", [STAGED_FROM - 1, STAGED_FROM, 3 * 1024 * 1024])
def test_a_save_of_any_size_reads_back_whole_and_is_charged_alike(clean_redis, size):
    """Below STAGED_FROM the content is the script's argument; from it on, staged."""
    storage = InMemoryStorage(server=clean_redis, namespace="stage")
    content = os.urandom(size)
    before = renames(clean_redis)

    assert "big.bin" == storage.save("big.bin", ContentFile(content))

    assert content == storage.open("big.bin").read()
    assert size == storage.size("big.bin")
    assert int(size >= STAGED_FROM) == renames(clean_redis) - before
    assert file_charge("big.bin", size) == storage.stats().bytes_used
    assert -1 == redis.Redis.from_url(clean_redis).ttl("ims:{stage}:f:big.bin")  # never expires
    assert not [key for key in namespace_keys(clean_redis, "stage") if b":up:" in key]


def test_a_staged_save_over_a_file_keeps_its_creation_time(clean_redis):
    """The staged content replaces the old whole, and the file keeps when it was made."""
    storage = InMemoryStorage(server=clean_redis, namespace="stage", allow_overwrite=True)
    storage.save("a.bin", ContentFile(b"small"))
    created = storage.get_created_time("a.bin")
    large = os.urandom(STAGED_FROM * 2)

    storage.save("a.bin", ContentFile(large))

    assert (large, created) == (storage.open("a.bin").read(), storage.get_created_time("a.bin"))


def test_a_refused_staged_save_changes_nothing_and_leaves_no_stage(clean_redis):
    """A name taken, a directory, a parent that is a file, no room: the namespace as it was."""
    store = RedisStore(clean_redis, "stage", max_bytes=4 * STAGED_FROM, on_full="error")
    store.put("taken.bin", b"x")
    store.put("docs/a.txt", b"a")
    before = namespace_keys(clean_redis, "stage")
    large = os.urandom(STAGED_FROM)

    with pytest.raises(FileExistsError):
        store.put("taken.bin", large, exclusive=True)
    with pytest.raises(IsADirectoryError):
        store.put("docs", large)
    with pytest.raises(NotADirectoryError):
        store.put("taken.bin/inner.bin", large)
    store.put("fits.bin", os.urandom(3 * STAGED_FROM))
    after_fit, used = namespace_keys(clean_redis, "stage"), store.stats().bytes_used
    with pytest.raises(StorageFull):
        store.put("too-much.bin", large)

    refused = namespace_keys(clean_redis, "stage")
    meta = b"ims:{stage}:meta"
    assert (store.stats().bytes_used, 1) == (used, store.stats().refusals)  # counted, no more
    assert {k: v for k, v in refused.items() if k != meta} == {
        k: v for k, v in after_fit.items() if k != meta
    }
    assert set(before) | {b"ims:{stage}:f:fits.bin"} == set(refused)


def test_a_staged_save_after_the_server_lost_its_scripts_is_published_once(clean_redis):
    """NOSCRIPT: the scripts are loaded and the whole request sent again, the stage with it."""
    storage = InMemoryStorage(server=clean_redis, namespace="stage")
    storage.save("warm.txt", ContentFile(b"w"))
    redis.Redis.from_url(clean_redis).script_flush()
    large = os.urandom(STAGED_FROM)

    assert "big.bin" == storage.save("big.bin", ContentFile(large))

    assert (large, ["big.bin", "warm.txt"]) == (
        storage.open("big.bin").read(),
        sorted(storage.listdir("")[1]),
    )
    assert not [key for key in namespace_keys(clean_redis, "stage") if b":up:" in key]


def test_a_staged_save_at_maxmemory_is_storage_full_and_changes_nothing(clean_redis):
    """The server refuses the stage's SET (noeviction): StorageFull naming its maxmemory."""
    storage = InMemoryStorage(server=clean_redis, namespace="stage")
    storage.save("a.txt", ContentFile(b"a"))
    before = namespace_keys(clean_redis, "stage")
    used = redis.Redis.from_url(clean_redis).info("memory")["used_memory"]

    with memory_policy(clean_redis, "noeviction", used // 2), pytest.raises(StorageFull) as full:
        storage.save("big.bin", ContentFile(os.urandom(STAGED_FROM)))

    assert (errno.ENOSPC, "maxmemory") == (full.value.errno, full.value.limit)
    assert before == namespace_keys(clean_redis, "stage")


def test_a_stage_that_is_gone_when_its_script_runs_publishes_nothing(clean_redis):
    """Where the server dropped the stage for room (a volatile-* policy), PUT says so: NOSTAGE.

    The store raises StorageFull for it, naming the server's maxmemory. Timing a
    real eviction between the two commands of one request is beyond a test: the
    script is given a stage that is not there.
    """
    store = RedisStore(clean_redis, "stage")
    store.put("a.txt", b"a")
    before = namespace_keys(clean_redis, "stage")
    bound, on_full, origin = store._put_arguments  # white box: the script's own arguments
    flags = (packed(0), packed(0), origin)

    answer = store._call("PUT", bound, on_full, b"b.bin", packed(b""), *flags, b"ims:{stage}:up:0")

    assert [b"NOSTAGE", b"b.bin"] == answer
    assert before == namespace_keys(clean_redis, "stage")


def copies(url: str) -> int:
    """How many COPYs the server has run: one for each read it staged."""
    admin = redis.Redis.from_url(url)
    calls = admin.info("commandstats").get("cmdstat_copy", {}).get("calls", 0)
    admin.close()
    return int(calls)


@pytest.mark.parametrize("size", [STAGED_READS_FROM - 1, STAGED_READS_FROM, 2 * 1024 * 1024])
def test_a_read_of_any_size_is_the_content_and_counts_one_use(clean_redis, size):
    """From STAGED_READS_FROM on, the content comes from a copy, taken in a second request."""
    storage = InMemoryStorage(server=clean_redis, namespace="stage")
    content = os.urandom(size)
    storage.save("big.bin", ContentFile(content))
    before = copies(clean_redis)

    with storage.open("big.bin") as read:
        assert content == read.read()

    assert int(size >= STAGED_READS_FROM) == copies(clean_redis) - before
    assert 1 == storage.stats().hits
    assert not [key for key in namespace_keys(clean_redis, "stage") if b":up:" in key]


def test_a_staged_read_is_the_version_of_its_moment(clean_redis):
    """The copy is the script's: a save after it never changes what the read takes."""
    store = RedisStore(clean_redis, "stage")
    first, second = os.urandom(STAGED_READS_FROM), os.urandom(STAGED_READS_FROM)
    store.put("a.bin", first)
    answer = store._call("READ", b"a.bin", packed(0), b"0123abcd")  # white box: its first request
    assert b"STAGED" == answer[0]
    assert (
        0 < redis.Redis.from_url(clean_redis).pttl(answer[1]) <= STAGE_EXPIRY_MS
    )  # if never taken

    store.put("a.bin", second)

    assert first == store._take_stage(answer[1])
    assert second == store.read("a.bin")


def test_a_stage_the_server_dropped_makes_the_read_ask_for_the_content_itself(clean_redis):
    """A volatile-* policy may drop a read's copy (it expires): the content comes all the same."""
    store = RedisStore(clean_redis, "stage")
    content = os.urandom(STAGED_READS_FROM)
    store.put("a.bin", content)
    answer = store._call("READ", b"a.bin", packed(0), b"0123abcd")
    redis.Redis.from_url(clean_redis).delete(answer[1])  # as the server's eviction would

    assert store._take_stage(answer[1]) is None
    assert content == store.read("a.bin")  # a fresh read stages again, and is taken
    assert [b"OK", content] == store._call("READ", b"a.bin", packed(1), b"")[:2]  # inline asked


def test_a_read_whose_stage_the_server_evicted_comes_whole_and_counts_once(clean_redis):
    """volatile-lru: the read's copy takes the server past maxmemory, and is what it evicts.

    The server evicts before the read's second request (the copy alone expires), so
    the read asks again for the content in the answer, without counting itself twice.
    """
    storage = InMemoryStorage(server=clean_redis, namespace="stage")
    content = os.urandom(1024 * 1024)
    storage.save("a.bin", ContentFile(content))
    admin = redis.Redis.from_url(clean_redis)
    used, evicted = admin.info("memory")["used_memory"], admin.info("stats")["evicted_keys"]

    with memory_policy(clean_redis, "volatile-lru", used + len(content) // 2):
        assert content == storage.open("a.bin").read()

    assert 1 == admin.info("stats")["evicted_keys"] - evicted  # the copy, made and dropped
    assert 1 == storage.stats().hits
    assert not [key for key in namespace_keys(clean_redis, "stage") if b":up:" in key]
    admin.close()


def test_a_read_asked_again_after_its_stage_was_dropped_says_the_file_is_gone(clean_redis):
    """The read asks again, and hears what any read would: the file is gone."""
    store = RedisStore(clean_redis, "stage")
    store.put("a.bin", os.urandom(STAGED_READS_FROM))
    answer = store._call("READ", b"a.bin", packed(0), b"0123abcd")  # white box: its first request
    redis.Redis.from_url(clean_redis).delete(answer[1])  # dropped by the server
    store.delete("a.bin")

    again = store._staged_read("a.bin", answer)

    with pytest.raises(FileNotFoundError):
        store._raise(again, "a.bin")
    assert 0 == store.stats().misses  # counted by its first request, as a hit


def test_a_stage_that_vanished_is_never_another_read_s(clean_redis):
    """Each read names its stage at random: after clear(), a new read's copy is elsewhere."""
    store = RedisStore(clean_redis, "stage")
    store.put("a.bin", os.urandom(STAGED_READS_FROM))
    answer = store._call("READ", b"a.bin", packed(0), b"0123abcd")
    redis.Redis.from_url(clean_redis).delete(answer[1])
    store.clear()
    other = os.urandom(STAGED_READS_FROM)
    store.put("b.bin", other)
    new = store._call("READ", b"b.bin", packed(0), os.urandom(8).hex().encode())

    assert new[1] != answer[1]
    assert store._take_stage(answer[1]) is None
    assert other == store._take_stage(new[1])


def test_a_large_read_at_maxmemory_comes_in_the_answer(clean_redis):
    """The server refuses the read's writes (noeviction): no copy, the content answered."""
    storage = InMemoryStorage(server=clean_redis, namespace="stage")
    content = os.urandom(STAGED_READS_FROM)
    storage.save("a.bin", ContentFile(content))
    before, copied = namespace_keys(clean_redis, "stage"), copies(clean_redis)
    used = redis.Redis.from_url(clean_redis).info("memory")["used_memory"]

    with memory_policy(clean_redis, "noeviction", used // 2):
        assert content == storage.open("a.bin").read()

    assert (before, copied) == (namespace_keys(clean_redis, "stage"), copies(clean_redis))
