"""The Django-free core: a Store used directly."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage
from inmemorystorage.budget import dir_charge, file_charge
from inmemorystorage.exceptions import (
    InvalidPath,
    NotADirectory,
    PathDoesNotExist,
    StorageFull,
    UnsafePath,
)
from inmemorystorage.store import READS_BEFORE_DRAIN, Store

from .imports import django_modules_imported_by


def test_the_core_imports_without_django():
    """Importing the store pulls in no Django module."""
    modules = (
        "inmemorystorage.store",
        "inmemorystorage.engine",
        "inmemorystorage.refusals",
        "inmemorystorage.evictions",
        "inmemorystorage.redis_store",
        "inmemorystorage.budget",
        "inmemorystorage.locking",
    )
    assert [] == django_modules_imported_by(*modules)


def test_write_then_read(store):
    """What is written is read back, under its canonical name."""
    written = store.write("a/b.txt", b"hello")
    assert ("a/b.txt", b"hello") == (written.name, store.read("a/b.txt"))


def test_names_are_canonical(store):
    """Backslashes, '.' and repeated slashes name the same file."""
    store.write("a\\.\\b//c.txt", b"x")
    assert store.read("a/b/c.txt") == b"x"


def test_read_returns_the_published_object(store):
    """Reading hands out the stored bytes object itself, not a copy."""
    content = b"x" * 100_000
    store.write("big", content)
    assert store.read("big") is content


def test_missing_file(store):
    """A missing name raises PathDoesNotExist, a FileNotFoundError."""
    with pytest.raises(FileNotFoundError) as info:
        store.read("nope")
    assert isinstance(info.value, PathDoesNotExist)
    assert info.value.filename == "nope"


def test_reading_a_directory(store):
    """A directory cannot be read as a file."""
    store.write("d/f", b"x")
    with pytest.raises(IsADirectoryError):
        store.read("d")


def test_a_file_is_not_a_directory(store):
    """A path through a file raises NotADirectory, both NotADirectoryError and FileExistsError."""
    store.write("f", b"x")
    with pytest.raises(NotADirectory) as info:
        store.write("f/g", b"y")
    assert isinstance(info.value, NotADirectoryError)
    assert isinstance(info.value, FileExistsError)
    assert store.read("f") == b"x"


def test_exclusive_write_refuses_an_existing_name(store):
    """An exclusive write never replaces what is there."""
    store.write("f", b"first")
    with pytest.raises(FileExistsError):
        store.write("f", b"second", exclusive=True)
    assert store.read("f") == b"first"


def test_writing_over_a_directory(store):
    """A directory cannot be replaced by a file."""
    store.write("d/f", b"x")
    with pytest.raises(IsADirectoryError):
        store.write("d", b"y")


def test_writing_the_root(store):
    """The root is a directory."""
    with pytest.raises(IsADirectoryError):
        store.write("", b"y")


def test_overwrite_keeps_created_time():
    """Replacing content keeps the creation time and moves the modification time."""
    ticks = iter(range(100, 200))
    store = Store(clock=lambda: float(next(ticks)))
    store.write("f", b"one")
    first = store.stat("f")
    store.write("f", b"two")
    second = store.stat("f")
    assert first.created == second.created
    assert second.modified > first.modified
    assert second.version > first.version


def test_stat_of_a_directory(store):
    """Directories have times and no size."""
    store.write("d/f", b"x")
    info = store.stat("d")
    assert (True, 0, "d") == (info.is_dir, info.size, info.name)


def test_read_updates_the_access_time():
    """A read counts as an access, seen by the next stat."""
    ticks = iter(range(100, 200))
    store = Store(clock=lambda: float(next(ticks)))
    store.write("f", b"x")
    before = store.stat("f").accessed
    store.read("f")
    assert store.stat("f").accessed > before


def test_exists(store):
    """exists() sees files and directories, and says no through a file."""
    store.write("a/b/c", b"x")
    assert [True, True, True, True, False, False] == [
        store.exists(""),
        store.exists("a"),
        store.exists("a/b"),
        store.exists("a/b/c"),
        store.exists("a/b/c/d"),
        store.exists("z"),
    ]


def test_listdir(store):
    """listdir() gives directories and files apart, in order of creation."""
    store.write("top/one", b"1")
    store.write("top/sub/two", b"2")
    store.write("top/three", b"3")
    assert (["sub"], ["one", "three"]) == store.listdir("top")


def test_listdir_of_a_file(store):
    """A file cannot be listed."""
    store.write("f", b"x")
    with pytest.raises(NotADirectory):
        store.listdir("f")


def test_delete_a_file_keeps_its_directory(store):
    """Deleting a file leaves its parent directory, as Django's storage does."""
    store.write("d/f", b"x")
    store.delete("d/f")
    assert (False, True) == (store.exists("d/f"), store.exists("d"))


def test_delete_a_directory_removes_everything_below(store):
    """Deleting a directory removes its whole subtree and its charges."""
    store.write("d/a", b"x")
    store.write("d/e/b", b"y")
    store.write("keep", b"z")
    store.delete("d")
    stats = store.stats()
    assert (1, 0, False) == (stats.files, stats.dirs, store.exists("d"))


def test_delete_missing_is_quiet(store):
    """Deleting nothing, or through a file, does nothing."""
    store.write("f", b"x")
    store.delete("missing")
    store.delete("missing/deeper")
    store.delete("f/deeper")
    assert store.read("f") == b"x"


def test_delete_the_root_is_refused(store):
    """The root is emptied with clear(), not delete()."""
    with pytest.raises(InvalidPath):
        store.delete("")


def test_clear_empties_the_store(store):
    """clear() removes everything and resets the counters."""
    store.write("a/b", b"x")
    store.read("a/b")
    store.clear()
    stats = store.stats()
    assert (0, 0, 0, 0) == (stats.files, stats.dirs, stats.bytes_used, stats.hits)
    assert not store.exists("a")


def test_stats_count_files_dirs_hits_and_misses(store):
    """stats() counts what is held and how reads went."""
    store.write("a/b/c", b"xyz")
    store.read("a/b/c")
    with pytest.raises(FileNotFoundError):
        store.read("a/nope")
    stats = store.stats()
    assert (1, 2, 1, 1) == (stats.files, stats.dirs, stats.hits, stats.misses)


def test_readers_keep_their_snapshot(store):
    """Content already read is unchanged by a later overwrite or delete."""
    store.write("f", b"old")
    held = store.read("f")
    store.write("f", b"new")
    store.delete("f")
    assert held == b"old"


def test_reads_made_while_the_lock_is_busy_are_applied_later(store):
    """Readers never wait for the lock: their reads queue, and a later reader applies them."""
    store.write("f", b"x")
    store._lock.mutex.acquire()  # a long write, listdir... in another thread
    try:
        for _ in range(3000):
            assert store.read("f") == b"x"
        assert len(store.pending_reads) == 3000
    finally:
        store._lock.mutex.release()
    for _ in range(READS_BEFORE_DRAIN):
        store.read("f")
    assert len(store.pending_reads) < READS_BEFORE_DRAIN
    assert store.stats().hits == 3000 + READS_BEFORE_DRAIN


def test_readers_leave_pending_reads_to_the_reader_applying_them():
    """While one reader applies the queued reads (and may be preempted), the others do not try."""
    storage = InMemoryStorage()
    storage.save("f", ContentFile(b"x"))
    store = storage._store
    tries: list[str] = []
    store.take_in_reads = lambda: tries.append("tried")  # type: ignore[method-assign]
    store.taking_in = True
    for _ in range(2 * READS_BEFORE_DRAIN):
        store.read("f")
        storage.open("f").close()
    assert tries == []
    store.taking_in = False
    store.read("f")
    storage.open("f").close()
    assert tries == ["tried", "tried"]


def test_many_reads_between_writes_stay_bounded(store):
    """Pending access records are applied in batches, never piling up."""
    store.write("f", b"x")
    for _ in range(5000):
        store.read("f")
    assert len(store.pending_reads) < 1100
    assert store.stats().hits == 5000


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("../x", UnsafePath),
        ("a/../../x", UnsafePath),
        ("/abs", UnsafePath),
        ("C:/x", UnsafePath),
        ("a\x00b", InvalidPath),
        (" ", InvalidPath),
        ("a/ /b", InvalidPath),
        ("x" * 256, OSError),
        (b"bytes", TypeError),
        (None, TypeError),
    ],
)
def test_bad_paths_are_refused(store, path, error):
    """Unsafe or malformed paths raise and store nothing."""
    with pytest.raises(error):
        store.write(path, b"x")
    assert store.stats().files == 0


def test_dotdot_inside_the_store_resolves(store):
    """A '..' that stays inside the store is resolved, as safe_join does."""
    store.write("a/../b", b"x")
    assert store.read("b") == b"x"


def test_reading_through_a_file(store):
    """A read through a file names the file that is in the way."""
    store.write("f", b"x")
    with pytest.raises(NotADirectory) as info:
        store.read("f/g")
    assert info.value.filename == "f"


def test_new_directories_that_cannot_fit_are_refused():
    """A file whose new directories alone exceed the budget is refused, changing nothing."""
    store = Store(max_bytes=file_charge("deep/deeper/x", 10) + 100)
    store.write("keep", b"k")
    needed = file_charge("deep/deeper/x", 10) + dir_charge("deep") + dir_charge("deep/deeper")
    expected = f"and 2 new directories it needs {needed:,} bytes, more than the whole budget"
    with pytest.raises(StorageFull, match=expected):
        store.write("deep/deeper/x", b"0123456789")
    assert (["keep"], 1, 0) == (store.listdir("")[1], store.stats().files, store.stats().evictions)


def test_a_file_that_fits_only_without_its_parent_directories_says_so():
    """Eviction never removes a file's own parents: a refusal names what they hold."""
    store = Store(max_bytes=dir_charge("deep") + file_charge("deep/x", 10) + 100)
    store.write("deep/x", b"0123456789")
    big = b"y" * 150
    assert file_charge("deep/y", 150) <= store.max_bytes  # alone, it would fit
    held = f"({dir_charge('deep'):,} bytes)"
    with pytest.raises(StorageFull) as info:
        store.write("deep/y", big)
    assert f"more than the whole budget beside its parent directories {held}" in str(info.value)
    assert not info.value.could_fit
