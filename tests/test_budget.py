"""The byte budget: max_bytes, least-recently-used eviction, refusal, and what is reported."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import threading

import pytest
from django.core.files.base import ContentFile, File

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.budget import RECORD_SHARE, dir_charge, file_charge
from inmemorystorage.signals import file_evicted
from inmemorystorage.store import Store

from .contents import StreamedFile
from .stress import broken_lock, check_consistency, run_threads

KIB = 1024


def room_for(count: int, size: int, name_length: int = 5) -> int:
    """A budget that holds *count* files of *size* bytes with names of *name_length*.

    With room beside them for the share of the budget that remembered
    evictions keep (so that evicted names stay taken).
    """
    return with_records(count * file_charge("x" * name_length, size))


def with_records(held: int) -> int:
    """A budget that leaves *held* bytes to files and directories beside its records' share."""
    return held + -(-held // (RECORD_SHARE - 1))


@pytest.fixture
def three_files():
    """A storage that holds exactly three 1 KiB files named a.bin, b.bin, c.bin..."""
    return InMemoryStorage(max_bytes=room_for(3, KIB))


def save(storage, name, size=KIB, fill=b"x"):
    return storage.save(name, ContentFile(fill * size))


def state(storage):
    stats = storage.stats()
    files = sorted(storage.listdir("")[1])
    return (
        files,
        stats.files,
        stats.dirs,
        stats.bytes_used,
        stats.hits,
        stats.misses,
        stats.evictions,
    )


def test_least_recently_saved_goes_first(three_files):
    """With the budget full, saving one more evicts the oldest."""
    for name in ("a.bin", "b.bin", "c.bin", "d.bin"):
        save(three_files, name)
    assert ["b.bin", "c.bin", "d.bin"] == sorted(three_files.listdir("")[1])
    assert three_files.stats().evictions == 1


def test_reading_counts_as_use(three_files):
    """Fill, read the oldest, add one more: the file that was read survives."""
    for name in ("a.bin", "b.bin", "c.bin"):
        save(three_files, name)
    three_files.open("a.bin").close()
    save(three_files, "d.bin")
    assert ["a.bin", "c.bin", "d.bin"] == sorted(three_files.listdir("")[1])


def test_overwriting_counts_as_use(three_files):
    """Writing a file again makes it the most recently used."""
    overwriting = InMemoryStorage(max_bytes=room_for(3, KIB), allow_overwrite=True)
    for name in ("a.bin", "b.bin", "c.bin"):
        save(overwriting, name)
    save(overwriting, "a.bin", fill=b"y")
    save(overwriting, "d.bin")
    assert ["a.bin", "c.bin", "d.bin"] == sorted(overwriting.listdir("")[1])


@pytest.mark.parametrize(
    "look",
    [
        lambda s: s.exists("a.bin"),
        lambda s: s.size("a.bin"),
        lambda s: s.listdir(""),
        lambda s: s.get_modified_time("a.bin"),
        lambda s: s.get_accessed_time("a.bin"),
        lambda s: s.get_created_time("a.bin"),
        lambda s: s.url("a.bin"),
    ],
    ids=["exists", "size", "listdir", "modified", "accessed", "created", "url"],
)
def test_looking_is_not_use(three_files, look):
    """exists(), size(), listdir() and the time getters leave the eviction order alone."""
    for name in ("a.bin", "b.bin", "c.bin"):
        save(three_files, name)
    look(three_files)
    save(three_files, "d.bin")
    assert not three_files.exists("a.bin")


def test_an_open_reader_of_an_evicted_file_keeps_reading(three_files):
    """Eviction never changes what an open reader reads."""
    save(three_files, "a.bin", fill=b"a")
    reader = three_files.open("a.bin")
    for name in ("b.bin", "c.bin", "d.bin"):
        save(three_files, name)
    assert not three_files.exists("a.bin")
    assert reader.read() == b"a" * KIB
    reader.close()


def test_eviction_prunes_the_directories_it_empties():
    """A directory left empty by eviction goes too: directories are charged."""
    held = 2 * file_charge("new/b.bin", KIB) + dir_charge("new")
    storage = InMemoryStorage(max_bytes=with_records(held))
    save(storage, "old/deep/a.bin")
    save(storage, "new/b.bin")
    save(storage, "new/c.bin")
    assert not storage.exists("old")
    assert (2, 1) == (storage.stats().files, storage.stats().dirs)


def test_delete_leaves_the_directory_but_eviction_can_reclaim_it():
    """An empty directory left by delete() stays, until only pruning it makes room."""
    storage = InMemoryStorage(max_bytes=file_charge("empty/x.bin", KIB) + dir_charge("empty"))
    save(storage, "empty/x.bin")
    storage.delete("empty/x.bin")
    assert storage.exists("empty")
    save(storage, "one.bin", size=KIB + 100)
    assert ([], ["one.bin"]) == storage.listdir("")
    assert storage.stats().bytes_used <= storage.max_bytes


def test_an_overwrite_that_needs_room_evicts_from_tree_and_budget_alike():
    """Regression: replacing a file frees its old charge once, and evictions leave no ghosts."""
    store = Store(max_bytes=file_charge("a", KIB) + file_charge("b", KIB))
    store.write("a", b"a" * KIB)
    store.write("b", b"b" * KIB)
    store.write("a", b"A" * (KIB + 10))
    assert (False, []) == (store.exists("b"), check_consistency(store))


def test_bytes_used_counts_files_and_directories():
    """bytes_used charges content, names and per-node overhead."""
    store = Store(max_bytes=10**6)
    store.write("d/f", b"12345")
    expected = file_charge("d/f", 5) + store._budget.dir_bytes
    assert expected == store.stats().bytes_used
    store.delete("d")
    assert store.stats().bytes_used == 0


def test_on_full_error_refuses_and_changes_nothing():
    """With on_full='error', a save that needs eviction raises StorageFull; nothing changes."""
    storage = InMemoryStorage(max_bytes=room_for(2, KIB), on_full="error")
    save(storage, "a.bin")
    save(storage, "b.bin")
    storage.open("a.bin").close()
    before = state(storage)
    with pytest.raises(StorageFull) as info:
        save(storage, "c.bin")
    assert before == state(storage)
    assert storage.stats().refusals == 1
    assert errno.ENOSPC == info.value.errno
    message = str(info.value)
    assert "c.bin" in message
    assert "1,024 bytes" in message
    assert f"max_bytes={storage.max_bytes:,}" in message
    # What is charged, not only the content: 2 x 1,024 < max_bytes, yet it does not fit.
    charge, used = file_charge("c.bin", KIB), storage.stats().bytes_used
    assert f"it needs {charge:,} bytes, the rest of the storage holds {used:,} bytes" in message
    assert charge + used > storage.max_bytes


def test_a_refused_replacement_counts_what_the_rest_of_the_storage_holds():
    """The file a save replaces is not 'the rest': the figures add up to more than max_bytes."""
    storage = InMemoryStorage(max_bytes=room_for(2, KIB), on_full="error", allow_overwrite=True)
    save(storage, "a.bin")
    save(storage, "b.bin")
    with pytest.raises(StorageFull) as info:
        save(storage, "a.bin", size=2 * KIB, fill=b"y")
    rest = file_charge("b.bin", KIB)
    needed = file_charge("a.bin", 2 * KIB)
    expected = f"it needs {needed:,} bytes, the rest of the storage holds {rest:,} bytes"
    assert expected in str(info.value)
    assert needed + rest > storage.max_bytes >= needed
    assert info.value.could_fit


def test_new_directories_are_named_in_what_a_refused_file_needs():
    """A refusal's figure counts the directories the file would add, and says so."""
    storage = InMemoryStorage(max_bytes=room_for(2, KIB), on_full="error")
    save(storage, "a.bin")
    with pytest.raises(StorageFull) as info:
        save(storage, "d1/d2/b.bin")
    needed = file_charge("d1/d2/b.bin", KIB) + dir_charge("d1") + dir_charge("d1/d2")
    assert f"and 2 new directories it needs {needed:,} bytes" in str(info.value)


@pytest.mark.parametrize("on_full", ["evict", "error"])
def test_a_file_that_no_eviction_could_fit_says_so_whatever_on_full(on_full):
    """In an empty store, on_full='error' has nothing to keep: the refusal is about the budget."""
    storage = InMemoryStorage(max_bytes=file_charge("a/b/c.bin", KIB) + 100, on_full=on_full)
    with pytest.raises(StorageFull) as info:
        save(storage, "a/b/c.bin")
    assert "more than the whole budget (max_bytes=" in str(info.value)
    assert not info.value.could_fit


@pytest.mark.parametrize("on_full", ["evict", "error"])
def test_a_file_larger_than_the_budget_is_refused_before_it_is_read(on_full):
    """When the size is known up front, an oversized file is refused without reading it."""
    storage = InMemoryStorage(max_bytes=10 * KIB, on_full=on_full)
    save(storage, "keep.bin")
    before = state(storage)

    class Unreadable(ContentFile):
        def chunks(self, chunk_size=None):
            raise AssertionError("the content was read")

    with pytest.raises(StorageFull, match="larger than the whole budget"):
        storage.save("huge.bin", Unreadable(b"x" * 11 * KIB))
    assert before == state(storage)


def test_streaming_content_is_refused_as_soon_as_it_passes_the_budget():
    """Content of unknown size is refused at the first chunk past max_bytes, not at the end."""
    storage = InMemoryStorage(max_bytes=10 * KIB)
    endless = StreamedFile(b"x" * KIB for _ in range(1000))
    with pytest.raises(StorageFull):
        storage.save("endless.bin", endless)
    assert endless.consumed <= 11
    assert (0, 1) == (storage.stats().files, storage.stats().refusals)


def test_a_writer_is_refused_as_soon_as_it_passes_the_budget():
    """write() past max_bytes raises StorageFull at once; nothing is published."""
    storage = InMemoryStorage(max_bytes=10 * KIB)
    with pytest.raises(StorageFull), storage.open("w.bin", "wb") as writer:
        for _ in range(20):
            writer.write(b"x" * KIB)
    assert not storage.exists("w.bin")
    assert storage.stats().refusals == 1


def test_a_writer_refused_at_close_publishes_nothing():
    """With on_full='error', a writer that does not fit fails at close(), publishing nothing."""
    storage = InMemoryStorage(max_bytes=room_for(1, KIB, name_length=5), on_full="error")
    save(storage, "a.bin")
    writer = storage.open("b.bin", "wb")
    writer.write(b"y" * KIB)
    with pytest.raises(StorageFull):
        writer.close()
    assert ["a.bin"] == storage.listdir("")[1]


def test_zero_bytes_refuses_everything():
    """max_bytes=0 is a valid bound that holds nothing."""
    storage = InMemoryStorage(max_bytes=0)
    with pytest.raises(StorageFull):
        save(storage, "a.bin", size=0)


def test_evictions_are_logged(three_files, caplog):
    """Each eviction is logged at INFO on the inmemorystorage logger, with name and size."""
    with caplog.at_level(logging.INFO, logger="inmemorystorage"):
        for name in ("a.bin", "b.bin", "c.bin", "d.bin"):
            save(three_files, name)
    [record] = [r for r in caplog.records if r.name == "inmemorystorage"]
    assert "a.bin" in record.getMessage()
    assert "1024 bytes" in record.getMessage()


def test_evictions_are_signalled_after_the_lock_is_released(three_files):
    """Receivers of file_evicted get storage, name and size, and may use the storage."""
    received = []

    def receiver(sender, storage, name, size, **kwargs):
        # Reading the storage here would deadlock if the store were still locked.
        received.append((sender, storage, name, size, storage.exists(name)))

    file_evicted.connect(receiver)
    try:
        worker = threading.Thread(
            target=lambda: [save(three_files, n) for n in ("a.bin", "b.bin", "c.bin", "d.bin")],
            daemon=True,
        )
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the receiver deadlocked: the lock was still held"
    finally:
        file_evicted.disconnect(receiver)
    assert [(InMemoryStorage, three_files, "a.bin", KIB, False)] == received


def test_a_failing_receiver_breaks_nothing(three_files, caplog):
    """A receiver that raises is logged; the save that evicted still succeeds."""

    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    file_evicted.connect(broken)
    try:
        with caplog.at_level(logging.ERROR, logger="inmemorystorage"):
            for name in ("a.bin", "b.bin", "c.bin", "d.bin"):
                save(three_files, name)
    finally:
        file_evicted.disconnect(broken)
    assert three_files.exists("d.bin")
    assert any("receiver" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert [] == check_consistency(three_files._store)


def test_stats_report_the_budget(three_files):
    """stats() reports bytes used against max_bytes, and evictions and refusals."""
    for name in ("a.bin", "b.bin", "c.bin", "d.bin"):
        save(three_files, name)
    stats = three_files.stats()
    assert (3, 0, 1, 0) == (stats.files, stats.dirs, stats.evictions, stats.refusals)
    assert stats.bytes_used <= stats.max_bytes == room_for(3, KIB)


def varying_overwrites(storage: InMemoryStorage) -> list[str]:
    """6 threads overwrite files of varying size under a 2 MiB budget, checking the bound."""
    problems: list[str] = []
    limit = storage.max_bytes

    def overwriter(thread_id: int) -> None:
        for i in range(60):
            size = (thread_id * 7919 + i * 104_729) % (192 * KIB) + 1
            storage.save(f"t{thread_id}/f{i % 12}.bin", ContentFile(b"z" * size))
            used = storage.stats().bytes_used
            if used > limit:
                problems.append(f"bytes_used {used} > max_bytes {limit}")

    def reader() -> None:
        for i in range(200):
            with contextlib.suppress(FileNotFoundError):
                storage.open(f"t{i % 6}/f{i % 12}.bin").close()

    errors = run_threads([lambda t=t: overwriter(t) for t in range(6)] + [reader] * 2)  # type: ignore[misc]
    return errors + problems + check_consistency(storage._store)


@pytest.mark.stress
@pytest.mark.usefixtures("fast_switching")
def test_the_bound_holds_under_concurrent_overwrites():
    """Under 6 overwriting threads and readers, bytes_used never exceeds max_bytes."""
    storage = InMemoryStorage(max_bytes=2 * 1024 * KIB, allow_overwrite=True)
    assert [] == varying_overwrites(storage)


@pytest.mark.stress
@pytest.mark.usefixtures("fast_switching")
def test_the_bound_check_detects_broken_budget_locking():
    """With the store's locks made no-ops, the same scenario sees the bound or the books break."""
    for _ in range(20):
        storage = InMemoryStorage(max_bytes=2 * 1024 * KIB, allow_overwrite=True)
        with broken_lock(storage._store):
            if varying_overwrites(storage):
                return
    pytest.fail("the scenario never noticed the broken budget locking")


def test_save_of_bytesio_content_is_measured_before_copy():
    """A plain file object's size is known up front, so an oversize one is refused early."""
    storage = InMemoryStorage(max_bytes=KIB)
    with pytest.raises(StorageFull):
        storage.save("big.bin", File(io.BytesIO(b"x" * 2 * KIB), name="big.bin"))
    assert storage.stats().files == 0
