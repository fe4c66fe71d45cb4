"""A shared save sends its content ahead of its script, to a staged key that the script takes.

``RedisStore.put`` sends ``SET <staged> <value> PX ...`` and the ``PUT``
script in one request: the script renames the staged key to the file's key,
or deletes it when it refuses, so that no save, kept or refused, leaves a
staged value behind, and no file inherits the staged key's expiry. Real
servers, never mocks.
"""

from __future__ import annotations

import pytest
import redis
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.exceptions import NotADirectory

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def staged_keys(url: str, namespace: str) -> list[bytes]:
    return redis.Redis.from_url(url).keys(f"ims:{{{namespace}}}:staged:*")


def test_a_saved_file_keeps_no_expiry_and_leaves_no_staged_value(clean_redis):
    storage = InMemoryStorage(server=clean_redis, namespace="kept", allow_overwrite=True)
    storage.save("notes/a.txt", ContentFile(b"first"))
    storage.save("notes/a.txt", ContentFile(b"second"))  # a replacement takes the same path

    server = redis.Redis.from_url(clean_redis)
    assert -1 == server.ttl("ims:{kept}:f:notes/a.txt")  # -1: a key without an expiry
    assert b"second" == storage.open("notes/a.txt").read()
    assert [] == staged_keys(clean_redis, "kept")


def test_every_refused_save_deletes_its_staged_value(clean_redis):
    storage = InMemoryStorage(server=clean_redis, namespace="refused", max_bytes=8192)
    store = storage._store
    store.put("a.txt", b"a")
    store.put("d/b.txt", b"b")

    with pytest.raises(FileExistsError):
        store.put("a.txt", b"again", exclusive=True)
    with pytest.raises(IsADirectoryError):
        store.put("d", b"over a directory")
    with pytest.raises(NotADirectory):
        store.put("a.txt/c.txt", b"below a file")
    store.put("big.bin", b"x" * 7000)  # evicts the least recently used: a.txt, then d/b.txt
    assert not store.exists("a.txt")
    with pytest.raises(FileExistsError):
        store.put("a.txt", b"a name evicted lately", avoid_evicted=True)

    assert [] == staged_keys(clean_redis, "refused")
    assert ["big.bin"] == [f.name for f in store.files()]


def test_a_full_storage_deletes_the_staged_value_it_refused(clean_redis):
    storage = InMemoryStorage(server=clean_redis, namespace="full", max_bytes=8192, on_full="error")
    storage.save("kept.bin", ContentFile(b"k" * 5000))

    with pytest.raises(StorageFull):
        storage.save("refused.bin", ContentFile(b"r" * 3000))

    assert [] == staged_keys(clean_redis, "full")
    assert ["kept.bin"] == [f.name for f in storage._store.files()]


def test_the_script_refuses_a_staged_value_that_is_not_there_and_changes_nothing(clean_redis):
    storage = InMemoryStorage(server=clean_redis, namespace="gone")
    store = storage._store
    gone = b"ims:{gone}:staged:never-set"

    answer = store._run("PUT", -1, "evict", b"lost.txt", gone, 0, 0, b"origin")

    assert [b"NOVALUE", b"lost.txt"] == answer
    assert 0 == storage.stats().files
