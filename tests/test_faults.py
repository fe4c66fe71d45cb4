"""Faults midway through an operation: the store is left unchanged, unlocked and on budget."""

from __future__ import annotations

import threading

import pytest
from django.core.files.base import ContentFile, File

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.signals import file_evicted

from .contents import StreamedFile
from .stress import check_consistency

KIB = 1024


class Boom(Exception):
    """The fault a test injects."""


class Interrupt(BaseException):
    """A KeyboardInterrupt-like fault, which ``except Exception`` does not catch."""


@pytest.fixture
def storage():
    storage = InMemoryStorage(max_bytes=8 * KIB)
    storage.save("kept.txt", ContentFile(b"kept"))
    return storage


def observable(storage):
    stats = storage.stats()
    dirs, files = storage.listdir("")
    return (
        dirs,
        {name: storage._store.read(name) for name in files},
        (stats.files, stats.dirs, stats.bytes_used, stats.evictions),
    )


def assert_unchanged_and_free(storage, before):
    """Nothing changed, the books balance, and another thread can write and read at once."""
    assert before == observable(storage)
    assert [] == check_consistency(storage._store)
    done = threading.Event()

    def other_thread():
        storage.save("after.txt", ContentFile(b"after"))
        assert storage.open("after.txt").read() == b"after"
        storage.delete("after.txt")
        done.set()

    thread = threading.Thread(target=other_thread, daemon=True)
    thread.start()
    thread.join(10)
    assert done.is_set(), "the store stayed locked after the fault"


def test_content_whose_chunks_raise_midway(storage):
    """A save whose content fails after some chunks stores nothing."""
    before = observable(storage)

    with pytest.raises(Boom):
        storage.save("failing.bin", StreamedFile([b"first chunk"], then_raise=Boom()))
    assert_unchanged_and_free(storage, before)


def test_content_whose_read_raises(storage):
    """A file object whose read() fails midway stores nothing."""
    before = observable(storage)

    class FailingReader:
        calls = 0

        def read(self, size=-1):
            self.calls += 1
            if self.calls > 1:
                raise Boom
            return b"x" * 10

        def seek(self, offset, whence=0):
            return 0

    with pytest.raises(Boom):
        storage.save("reader.bin", File(FailingReader(), name="reader.bin"))
    assert_unchanged_and_free(storage, before)


def test_a_base_exception_inside_a_writer(storage):
    """An interrupt inside a writer's with block publishes nothing and frees everything."""
    before = observable(storage)
    with pytest.raises(Interrupt), storage.open("interrupted.bin", "wb") as writer:
        writer.write(b"half")
        raise Interrupt
    assert_unchanged_and_free(storage, before)


def test_a_receiver_that_raises_during_eviction(storage):
    """A failing eviction receiver neither breaks the save nor leaves the store locked."""

    def broken(**kwargs):
        raise Boom

    file_evicted.connect(broken)
    try:
        for i in range(8):
            storage.save(f"filler{i}.bin", ContentFile(b"f" * KIB))
    finally:
        file_evicted.disconnect(broken)
    stats = storage.stats()
    assert stats.evictions > 0
    assert stats.bytes_used <= stats.max_bytes
    assert [] == check_consistency(storage._store)
    assert_unchanged_and_free(storage, observable(storage))


def test_the_budget_hit_in_the_middle_of_a_streaming_write(storage):
    """A writer that passes max_bytes is refused at that write; nothing leaks."""
    before = observable(storage)
    with pytest.raises(StorageFull), storage.open("stream.bin", "wb") as writer:
        for _ in range(16):
            writer.write(b"s" * KIB)
    assert_unchanged_and_free(storage, before)
    assert storage.stats().refusals == 1


def test_the_budget_hit_in_the_middle_of_streaming_chunks(storage):
    """A save whose chunks pass max_bytes is refused then; nothing leaks."""
    before = observable(storage)

    with pytest.raises(StorageFull):
        storage.save("stream.bin", StreamedFile(b"c" * KIB for _ in range(16)))
    assert_unchanged_and_free(storage, before)
