"""The shared engine counts its namespace again from what the server really holds.

Our scripts keep the bytes charged, the listings, the recency order and the
file keys in agreement. Keys changed by hand (a ``DEL`` in ``redis-cli``), or
dropped by a server that evicts, break that agreement: ``repair()`` (and
``manage.py inmemorystorage repair``) counts the namespace again from its own
structures (its listings and its recency order), so that the budget is what
is really there. A server that restarts comes back with whatever its
snapshot held: the first call of each process, and its first after the
server did not answer, counts again wherever the server's run is not the one
the namespace was last counted in. Real servers, never mocks.
"""

from __future__ import annotations

import io
import logging
import subprocess
import time
from pathlib import Path

import pytest
import redis
from django.core.files.base import ContentFile
from django.core.management import call_command

from inmemorystorage import InMemoryStorage
from inmemorystorage import storage as storage_module
from inmemorystorage.budget import FILE_OVERHEAD
from inmemorystorage.exceptions import EngineUnavailable

from .redis_server import binary, free_port

pytestmark = pytest.mark.usefixtures("forget_shared_stores")

PREFIX = b"ims:{media}:"


def fresh_process_store() -> None:
    """Forget this process's stores, as a new process would start without them."""
    with storage_module._shared_stores_lock:
        storage_module._server_stores.clear()


def with_the_command(settings, default: dict[str, object]) -> None:
    """The app installed, so that Django finds ``manage.py inmemorystorage``, and *default*."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "inmemorystorage"]
    settings.STORAGES = {
        "default": default,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def saved(server: str, files: dict[str, bytes], **options) -> InMemoryStorage:
    storage = InMemoryStorage(namespace="media", server=server, **options)
    for name, content in files.items():
        assert name == storage.save(name, ContentFile(content))
    return storage


def bytes_of(server: str, files: dict[str, bytes]) -> int:
    """What *files* alone are charged, in a namespace of their own on *server*."""
    storage = InMemoryStorage(namespace="reference", server=server)
    for name, content in files.items():
        storage.save(name, ContentFile(content))
    used = storage.stats().bytes_used
    storage.clear()
    return used


def test_a_file_key_deleted_by_hand_leaves_the_budget_listing_and_recency(clean_redis, caplog):
    storage = saved(clean_redis, {"a/one.txt": b"1" * 100, "a/two.txt": b"2" * 200})
    client = redis.Redis.from_url(clean_redis)
    client.delete(PREFIX + b"f:a/one.txt")  # behind the storage's back

    with caplog.at_level(logging.WARNING, logger="inmemorystorage"):
        assert storage.repair() > 0
    stats = storage.stats()

    assert bytes_of(clean_redis, {"a/two.txt": b"2" * 200}) == stats.bytes_used
    assert (1, 1) == (stats.files, stats.dirs)
    assert ([], ["two.txt"]) == storage.listdir("a")
    assert [b"a/two.txt"] == client.zrange(PREFIX + b"lru", 0, -1)
    assert "did not agree with its keys" in caplog.text


def test_a_file_its_directory_does_not_list_is_listed_again_with_its_directories(
    clean_redis, settings
):
    storage = saved(clean_redis, {"deep/er/file.txt": b"x" * 50})
    client = redis.Redis.from_url(clean_redis)
    client.delete(PREFIX + b"ls:deep/er", PREFIX + b"d:deep", PREFIX + b"ls:")
    client.hset(PREFIX + b"meta", b"fb", 12345)

    options = {"namespace": "media", "server": clean_redis}
    with_the_command(settings, {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": options})
    err = io.StringIO()
    call_command("inmemorystorage", "repair", stderr=err)
    assert "3 entries mended" in err.getvalue()

    assert (["deep"], []) == storage.listdir("")
    assert ([], ["file.txt"]) == storage.listdir("deep/er")
    assert b"x" * 50 == storage.open("deep/er/file.txt").read()
    stats = storage.stats()
    assert bytes_of(clean_redis, {"deep/er/file.txt": b"x" * 50}) == stats.bytes_used
    assert (1, 2) == (stats.files, stats.dirs)


def test_a_file_made_by_hand_over_a_directory_takes_everything_below_it(clean_redis):
    """The repair leaves no directory below the new file: a save there is refused, not kept."""
    storage = saved(clean_redis, {"a/b/old.txt": b"old"})
    client = redis.Redis.from_url(clean_redis)
    client.set(PREFIX + b"f:a", b"\0" * 24 + b"file")  # a file's value, header first, by hand

    assert storage.repair() > 0

    assert [] == client.keys(PREFIX + b"*:a/*")  # no key of the old tree is left
    assert [("a", 4)] == [(file.name, file.size) for file in storage.file_listing()]
    with pytest.raises(NotADirectoryError):
        storage.save("a/b/new.txt", ContentFile(b"new"))
    assert bytes_of(clean_redis, {"a": b"file"}) == storage.stats().bytes_used


@pytest.mark.parametrize("name", ["/x", "x/", "a//b", "./x", "a/../b", ""])
def test_a_name_no_store_could_make_is_removed_not_listed(clean_redis, name):
    """A hand-made entry such as ``/x`` would list the root in itself: it goes instead."""
    storage = saved(clean_redis, {"kept.txt": b"k"})
    client = redis.Redis.from_url(clean_redis)
    key = PREFIX + b"f:" + name.encode()
    client.set(key, bytes(24) + b"content")  # a file's header (three doubles), then its content
    client.zadd(PREFIX + b"lru", {name: 0})
    assert storage.repair() > 0
    assert not client.exists(key)
    assert [b"kept.txt"] == client.zrange(PREFIX + b"lru", 0, -1)
    assert ([], ["kept.txt"]) == storage.listdir("")


def test_a_file_value_too_short_for_its_header_is_replaced_whole(clean_redis):
    """A value made by hand, shorter than a file's times: a save over it writes a whole file."""
    storage = saved(clean_redis, {"a.txt": b"old"}, allow_overwrite=True)
    redis.Redis.from_url(clean_redis).set(PREFIX + b"f:a.txt", b"abc")

    assert "a.txt" == storage.save("a.txt", ContentFile(b"new"))
    assert b"new" == storage.open("a.txt").read()
    assert storage.get_created_time("a.txt") == storage.get_modified_time("a.txt")


def test_a_new_process_counts_again_only_where_the_server_has_restarted(clean_redis):
    """Within one run of the server, a process start costs no walk of the namespace."""
    saved(clean_redis, {"a.txt": b"a" * 100})
    client = redis.Redis.from_url(clean_redis)
    client.hincrby(PREFIX + b"meta", b"fb", 5)  # a hand-made change, within the same run

    fresh_process_store()
    storage = InMemoryStorage(namespace="media", server=clean_redis)
    assert bytes_of(clean_redis, {"a.txt": b"a" * 100}) + 5 == storage.stats().bytes_used
    client.hset(PREFIX + b"meta", b"run", b"a run before a restart")

    fresh_process_store()
    storage = InMemoryStorage(namespace="media", server=clean_redis)
    assert bytes_of(clean_redis, {"a.txt": b"a" * 100}) == storage.stats().bytes_used


def test_the_command_says_a_store_of_this_process_has_nothing_to_mend(settings):
    with_the_command(settings, {"BACKEND": "inmemorystorage.InMemoryStorage"})
    err = io.StringIO()
    call_command("inmemorystorage", "repair", stderr=err)
    assert "nothing to mend" in err.getvalue()


def test_a_namespace_in_agreement_is_left_as_it_is(clean_redis, caplog):
    files = {"a.txt": b"a" * 10, "b/c.txt": b"c" * 20}
    storage = saved(clean_redis, files, max_bytes=10_000)
    before = storage.stats()
    store = storage._store
    with caplog.at_level(logging.WARNING, logger="inmemorystorage"):
        assert 0 == store.repair()
    assert before == storage.stats()
    assert "" == caplog.text


def test_the_budget_holds_after_a_repair_that_found_less_than_was_charged(clean_redis):
    """Charged bytes nobody holds would make a bounded store evict for nothing: not after."""
    limit = 10 * (1000 + FILE_OVERHEAD + 20)
    storage = saved(clean_redis, {f"f{i}.bin": bytes(1000) for i in range(5)}, max_bytes=limit)
    client = redis.Redis.from_url(clean_redis)
    client.hincrby(PREFIX + b"meta", b"fb", 8 * 1000)  # as if more were held than is

    storage.repair()
    storage.save("g.bin", ContentFile(bytes(1000)))
    assert 0 == storage.stats().evictions  # six small files fit: nothing was evicted
    assert 6 == storage.stats().files


def _start(port: int, directory: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return server
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    server.kill()
    msg = f"redis-server did not start on port {port}"
    raise RuntimeError(msg)


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)


def test_a_server_restarted_mid_run_from_an_older_snapshot_is_counted_again(tmp_path):
    """Down: a documented error and nothing half-done; back: what the snapshot holds, counted."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = _start(port, tmp_path)
    try:
        storage = saved(url, {"kept.txt": b"k" * 300}, max_bytes=100_000)
        redis.Redis(port=port).save()  # the snapshot the server comes back with
        storage.save("lost.txt", ContentFile(b"l" * 400))
        # The snapshot lacks lost.txt, and a key is changed by hand in it as well.
        snapshot = tmp_path / "dump.rdb"
        kept = snapshot.read_bytes()
        _stop(server)  # the server saves nothing more on the way down ("--save ''")
        snapshot.write_bytes(kept)

        with pytest.raises(EngineUnavailable):
            storage.save("during.txt", ContentFile(b"d"))
        with pytest.raises(EngineUnavailable):
            storage.open("kept.txt")

        server = _start(port, tmp_path)
        redis.Redis(port=port).hset(PREFIX + b"meta", b"fb", 999_999)
        assert b"k" * 300 == storage.open("kept.txt").read()
        assert not storage.exists("lost.txt")
        assert not storage.exists("during.txt")
        assert ([], ["kept.txt"]) == storage.listdir("")
        stats = storage.stats()
        assert 1 == stats.files
        assert bytes_of(url, {"kept.txt": b"k" * 300}) == stats.bytes_used
    finally:
        _stop(server)


def test_a_server_that_refuses_info_still_repairs_on_request(clean_redis, caplog):
    """An ACL without INFO (``-@dangerous``, as managed servers often give): no run_id, no crash."""
    admin = redis.Redis.from_url(clean_redis)
    admin.acl_setuser("limited", enabled=True, passwords=["+secret"], keys=["*"],
                      channels=["*"], commands=["+@all", "-@dangerous"])  # fmt: skip
    try:
        url = clean_redis.replace("redis://", "redis://limited:secret@")
        with pytest.raises(redis.exceptions.NoPermissionError):
            redis.Redis.from_url(url).info("server")
        with caplog.at_level(logging.WARNING, logger="inmemorystorage"):
            storage = saved(url, {"a.txt": b"a" * 100})
        assert "" == caplog.text  # the first call counted the namespace without a word
        admin.hincrby(PREFIX + b"meta", b"fb", 7)
        assert storage.repair() == 0  # the bytes were wrong, no entry was
        assert bytes_of(clean_redis, {"a.txt": b"a" * 100}) == storage.stats().bytes_used
    finally:
        admin.acl_deluser("limited")


def test_clear_leaves_the_namespace_its_root_and_nothing_else(clean_redis):
    storage = saved(clean_redis, {"a/b/c/one.txt": b"1", "a/two.txt": b"2", "top.txt": b"3"})
    client = redis.Redis.from_url(clean_redis)

    storage.clear()

    assert [PREFIX + b"d:"] == client.keys(PREFIX.decode() + "*")
    assert 0 == storage.repair()  # nothing left that disagrees
    assert ([], []) == storage.listdir("")
