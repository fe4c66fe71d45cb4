"""Evictions on a shared server are seen by every process: remembered on the server, and published.

Two ``RedisStore`` objects on one namespace stand for two processes here (a
process has one per namespace); the real-process proof is in
``test_shared_engine_site.py``.
"""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage
from inmemorystorage.apps import serves_requests, show_evictions_of_other_processes
from inmemorystorage.budget import file_charge
from inmemorystorage.exceptions import EngineUnavailable
from inmemorystorage.redis_store import RedisStore

from .redis_server import free_port

KIB = 1024
BUDGET = 2 * file_charge("f0.bin", 8 * KIB) + 2 * KIB


def wait_for(event: threading.Event) -> bool:
    return event.wait(timeout=10)


def test_another_process_hears_of_an_eviction_and_its_404_says_so(clean_redis):
    """B evicts; A's listener is told, A's recent_eviction() knows, and A's own are not echoed."""
    here = RedisStore(clean_redis, "shared", BUDGET)
    there = RedisStore(clean_redis, "shared", BUDGET)
    heard: list[str] = []
    got = threading.Event()

    def show(eviction):
        heard.append(eviction.name)
        got.set()

    listening = here.listen(show)
    try:
        here.put("f0.bin", b"0" * (8 * KIB))  # this process's own: evicted by itself below
        here.put("f1.bin", b"1" * (8 * KIB))
        here.put("f2.bin", b"2" * (8 * KIB))  # here evicts f0: not heard, reported by put()
        there.put("f3.bin", b"3" * (8 * KIB))  # there evicts f1: heard here
        assert wait_for(got)
    finally:
        listening.stop()
    assert ["f1.bin"] == heard
    assert here.recent_eviction("f1.bin") is not None


def test_runserver_listens_for_every_storage_on_a_server(settings, clean_redis, caplog):
    """The app's listener logs, on the inmemorystorage logger, what other processes evict."""
    settings.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "media", "server": clean_redis, "max_bytes": BUDGET},
        },
        "local": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": {"namespace": "x"}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    got = threading.Event()
    logger = logging.getLogger("inmemorystorage")

    class Signal(logging.Handler):
        def emit(self, record):
            if "in another process" in record.getMessage():
                got.set()

    handler = Signal()
    logger.addHandler(handler)
    threads = show_evictions_of_other_processes()
    try:
        caplog.set_level(logging.INFO, "inmemorystorage")
        assert 1 == len(threads)  # one storage on a server; the local one needs no listener
        other = RedisStore(clean_redis, "media", BUDGET)
        for i in range(3):
            other.put(f"f{i}.bin", b"x" * (8 * KIB))
        assert wait_for(got)
    finally:
        logger.removeHandler(handler)
        for thread in threads:
            thread.stop()


def test_a_server_that_does_not_answer_is_reported_not_listened_to(settings, caplog):
    """No listener, one warning: runserver still starts (check E004 says more)."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "media", "server": url},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert [] == show_evictions_of_other_processes()
    assert "Not showing evictions of other processes in media" in caplog.text
    with pytest.raises(EngineUnavailable):
        InMemoryStorage(namespace="media", server=url)._store.listen(print)


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["manage.py", "runserver"], {"RUN_MAIN": "true"}, True),
        (["manage.py", "runserver"], {}, False),  # the reloader's parent serves nothing
        (["manage.py", "runserver", "--noreload"], {}, True),
        (["manage.py", "shell"], {"RUN_MAIN": "true"}, False),
    ],
)
def test_only_runserver_s_server_process_listens(argv, environ, expected, monkeypatch):
    """The process that serves requests, with or without the reloader; no other."""
    monkeypatch.delenv("RUN_MAIN", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert expected == serves_requests(argv)


def test_a_storage_on_a_server_saves_contents_in_one_value_at_most(clean_redis):
    """A file larger than one Redis value can hold is refused, EFBIG, before anything is sent."""
    storage = InMemoryStorage(namespace="big", server=clean_redis)
    store = storage._store
    with pytest.raises(OSError, match="one Redis value") as raised:
        store.check_size("huge.bin", 600 * 1024 * 1024)
    assert 27 == raised.value.errno  # EFBIG
    storage.save("small.bin", ContentFile(b"s"))
    assert 1 == storage.stats().files
