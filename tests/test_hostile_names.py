"""Hostile names and loaded times: what a name or a time can make a store hold, allocate or break.

Issue 21's observations 1 to 4, each reproduced, and the invariants checked on
generated names: the bytes a store holds stay within 1.10 x ``max_bytes`` +
2 MiB (tracemalloc after ``gc.collect()``), a refusal is one of the documented
errors and changes nothing, and no loaded time moves the stamp counter past
the clock.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import gzip
import io
import math
import tarfile
import time
import tracemalloc
from collections.abc import Callable

import pytest
from django.core.files.base import ContentFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.archive import load
from inmemorystorage.exceptions import InvalidPath, NotADirectory, PathDoesNotExist
from inmemorystorage.store import Store, StoredFile
from inmemorystorage.tree import MAX_NAME_BYTES, clear_name_caches

MAX_BYTES = 8 * 1024 * 1024
HELD_LIMIT = 1.10 * MAX_BYTES + 2 * 1024 * 1024
#: The deepest name a store takes: 2,047 directories, 4,095 characters.
DEEPEST = "b/" * (MAX_NAME_BYTES // 2 - 1) + "x"


def peak_of(operation: Callable[[], object]) -> int:
    """The most bytes traced while *operation* ran (its exception, if any, swallowed)."""
    gc.collect()
    tracemalloc.start()
    try:
        operation()
    except OSError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def held_by(fill: Callable[[], object]) -> int:
    """Bytes still traced after *fill* ran and garbage was collected, name caches emptied."""
    clear_name_caches()
    gc.collect()
    tracemalloc.start()
    try:
        fill()
        clear_name_caches()
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def snapshot(store: Store) -> tuple[object, list[StoredFile]]:
    """What a refusal must leave unchanged: the counts and budget, and every file."""
    stats = store.stats()
    return (stats.files, stats.dirs, stats.bytes_used), store.files()


# Observation 1: reporting a missing deep name was quadratic in its length.


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.open(DEEPEST),
        lambda s: s.size(DEEPEST),
        lambda s: s.get_modified_time(DEEPEST),
        lambda s: s.listdir(DEEPEST),
        lambda s: s.exists(DEEPEST),
    ],
    ids=["open", "size", "get_modified_time", "listdir", "exists"],
)
def test_a_deep_missing_name_is_reported_in_memory_linear_in_its_length(operation):
    """A missing 4,095-character name of 2,047 levels costs kilobytes, not megabytes."""
    storage = InMemoryStorage(max_bytes=MAX_BYTES)
    storage.save("b/b/present.txt", ContentFile(b"x"))
    assert peak_of(lambda: operation(storage)) < 64 * 1024


def test_a_missing_name_under_a_file_is_still_reported_precisely():
    """The linear search still finds the file on the way (NotADirectoryError), however deep."""
    store = Store()
    store.write("b/b/file", b"x")
    with pytest.raises(NotADirectory):
        store.read("b/b/file/" + "c/" * 1000 + "x")
    with pytest.raises(PathDoesNotExist):
        store.read("b/c/" + "c/" * 1000 + "x")


@pytest.mark.parametrize("name", ["b/" * 30_000 + "x", "x" * 60_000, "é/" * 1_400 + "x"])
def test_a_name_longer_than_path_max_is_refused_as_the_os_refuses_it(name):
    """ENAMETOOLONG past 4,096 UTF-8 bytes, for every operation, in little memory."""
    store = Store(max_bytes=MAX_BYTES)
    for operation in (store.read, store.stat, store.listdir, lambda n: store.write(n, b"x")):
        with pytest.raises(OSError) as raised:
            operation(name)
        assert errno.ENAMETOOLONG == raised.value.errno
    assert peak_of(lambda: store.read(name)) < 64 * 1024 + 2 * len(name)
    assert (0, 0) == (store.stats().files, store.stats().dirs)


def test_a_name_of_exactly_path_max_bytes_is_stored():
    """4,096 bytes is the limit, inclusive, as the OS counts it (in UTF-8 bytes)."""
    store = Store()
    name = "d/" * 1000 + "/".join(["é" * 127] * 8) + "/" + "x" * (2096 - 8 * 255)
    assert MAX_NAME_BYTES == len(name.encode())
    store.write(name, b"x")
    assert b"x" == store.read(name)


def test_exists_of_a_name_no_store_could_hold_is_false():
    """So that Django's get_available_name() may shorten it, as for a long segment."""
    storage = InMemoryStorage()
    assert not storage.exists("a/" * 3000 + "x")


# Observation 2: deep names held far more than they were charged.


@pytest.mark.parametrize("depth", [1000, 2040])
def test_a_deep_name_is_charged_what_its_directories_hold(depth):
    """Directories are charged their full names: a deep save holds no more than it is charged."""
    store = Store(max_bytes=MAX_BYTES)
    held = held_by(lambda: store.write("a/" * depth + "f.txt", b"x"))
    assert held <= store.stats().bytes_used


def test_a_wide_character_in_a_name_is_charged_at_its_width():
    """A str with one emoji stores every character in four bytes; the charge says so."""
    store = Store(max_bytes=MAX_BYTES)
    held = held_by(lambda: store.write("\N{GRINNING FACE}/" + "a/" * 1000 + "f.txt", b"x"))
    assert held <= store.stats().bytes_used


def test_deep_saves_into_a_bounded_store_hold_at_most_its_budget():
    """Many deep names evict one another and hold at most 1.10 x max_bytes + 2 MiB."""
    store = Store(max_bytes=MAX_BYTES)

    def fill() -> None:
        for i in range(40):
            store.write(f"top{i}/" + "a/" * 1500 + "f.txt", b"x" * 1000)

    held = held_by(fill)
    assert store.stats().bytes_used <= MAX_BYTES
    assert held <= HELD_LIMIT, f"{held:,} bytes held"


def test_a_name_whose_directories_exceed_the_budget_is_refused_changing_nothing():
    """2,040 levels need about 4.7 MB of directories: refused by a 4 MiB store, all or nothing."""
    store = Store(max_bytes=4 * 1024 * 1024)
    store.write("keep.txt", b"k")
    before = snapshot(store)
    with pytest.raises(StorageFull, match="2,040 new directories"):
        store.write("a/" * 2040 + "f.txt", b"x")
    assert before == snapshot(store)


def test_an_archive_of_deep_names_is_refused_before_its_directories_are_made():
    """504 gzipped bytes name 15 files 1,990 levels deep: each needs 4 MB of directories.

    The reader charges the directories on each file's way as it reads the
    member, so the refusal comes before a store names them all (it held 120 MiB).
    """
    members = [(f"x{i}/" + "a/" * 1990 + "f", b"", {}) for i in range(15)]
    archive = io.BytesIO(gzip.compress(tar_of(*members).getvalue()))
    storage = InMemoryStorage(max_bytes=1024 * 1024)

    def refused() -> None:
        with pytest.raises(StorageFull):
            load(storage, archive)

    assert peak_of(refused) <= 4 * 1024 * 1024
    assert (0, 0) == (storage.stats().files, storage.stats().bytes_used)


# Observations 3 and 4: loaded times that are not times.


def tar_of(*members: tuple[str, bytes, dict[str, str]]) -> io.BytesIO:
    """A pax tar of *members*: (name, content, pax headers)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content, headers in members:
            member = tarfile.TarInfo(name)
            member.size = len(content)
            member.mtime = 1_700_000_000
            member.pax_headers = headers
            archive.addfile(member, io.BytesIO(content))
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(
    "headers",
    [
        {"mtime": "nan"},
        {"mtime": "1e308"},
        {"mtime": "-1e308"},
        {"mtime": "inf"},
        {"mtime": "1e12"},  # the year 33658: finite, but no datetime
        {"mtime": "99999999999999"},  # a decimal number, and still no datetime
    ],
)
@pytest.mark.parametrize("replace", [False, True])
def test_a_tar_with_a_time_that_is_no_time_is_refused_whole(headers, replace):
    """ValueError before anything is stored: the files, the budget count and the times unchanged."""
    storage = InMemoryStorage(max_bytes=10_000)
    storage.save("dir/good.txt", ContentFile(b"old" * 300))
    before = snapshot(storage._store)
    archive = tar_of(("dir/good.txt", b"G" * 1000, {}), ("bad.txt", b"B" * 1000, headers))
    # The tar reader refuses what no pax header may hold (tarfile.ReadError);
    # the store refuses what it may hold but no datetime can (ValueError).
    with pytest.raises((ValueError, tarfile.ReadError), match=r"bad\.txt|mtime|creationtime"):
        load(storage, archive, replace=replace)
    assert before == snapshot(storage._store)
    name = storage.save("after.txt", ContentFile(b"a"))
    assert abs(storage.get_modified_time(name).timestamp() - time.time()) < 60


@pytest.mark.parametrize("value", ["inf", "nan", "1e400"])
def test_a_creation_time_that_is_no_time_falls_back_to_the_modification_time(value):
    """A foreign tool's creation header is auxiliary: unreadable, it is ignored, as GNU tar does."""
    storage = InMemoryStorage()
    load(storage, tar_of(("a.txt", b"a", {"LIBARCHIVE.creationtime": value})))
    assert storage.get_created_time("a.txt") == storage.get_modified_time("a.txt")


@pytest.mark.parametrize("seconds", [4e9, 2.5e11, 253_402_300_799])
def test_a_time_in_the_future_is_taken_as_the_moment_of_the_load(seconds):
    """A far-future time cannot drag every later save's time (and the serve view) along."""
    store = Store()
    before = time.time()
    store.load([StoredFile("late.txt", b"x", created=seconds, modified=seconds)])
    after = time.time()
    assert before - 1 <= store.stat("late.txt").modified <= after + 1
    store.write("next.txt", b"y")
    assert store.stat("next.txt").modified <= time.time() + 1
    assert store._stamp <= time.time_ns()


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, 1e308, 1e12, -1e12])
def test_a_loaded_time_that_no_datetime_holds_is_refused_with_nothing_changed(seconds):
    """ValueError before anything is stored, whatever the other files of the batch."""
    storage = InMemoryStorage(max_bytes=10_000)
    storage.save("dir/good.txt", ContentFile(b"old" * 300))
    before = snapshot(storage._store)
    batch = [
        StoredFile("dir/good.txt", b"G" * 1000, created=1e9, modified=1e9),
        StoredFile("bad.txt", b"B" * 1000, created=1e9, modified=seconds),
    ]
    with pytest.raises(ValueError, match=r"the modified time of 'bad\.txt'"):
        storage.load_files(batch, replace=True)
    assert before == snapshot(storage._store)


def test_a_refused_load_leaves_the_stamp_counter_where_it_was():
    """All or nothing includes the clock: a refused batch moves no stamp."""
    store = Store()
    store.write("a.txt", b"a")
    stamp = store._stamp
    with pytest.raises(ValueError, match="not-a-time"):
        store.load(
            [
                StoredFile("ok.txt", b"x", created=1e9, modified=1e9),
                StoredFile("not-a-time", b"x", created=math.nan, modified=1e9),
            ]
        )
    assert stamp == store._stamp
    assert ["a.txt"] == [file.name for file in store.files()]


def test_a_load_refused_for_room_leaves_the_stamp_counter_where_it_was():
    """With the clock standing still, a batch that does not fit moves no stamp either."""
    store = Store(max_bytes=3000, on_full="error", clock=lambda: 1_000.0)
    store.write("a.txt", b"x" * 1000)
    stamp = store._stamp
    with pytest.raises(StorageFull):
        store.load([StoredFile("b.txt", b"y" * 1000, created=5.0, modified=5.0)])
    assert stamp == store._stamp


def test_clear_sets_the_stamp_counter_back_to_the_clock():
    """A counter run ahead (by a clock that jumped back, say) is reset by clear()."""
    store = Store()
    store._stamp = time.time_ns() + 10**18
    store.clear()
    store.write("a.txt", b"a")
    assert store.stat("a.txt").modified <= time.time() + 1


def test_a_second_load_says_how_to_replace():
    """FileExistsError names the file and the replace=True that overwrites it."""
    storage = InMemoryStorage()
    load(storage, tar_of(("a.txt", b"a", {})))
    with pytest.raises(FileExistsError, match=r"'a.txt' already exists; load with replace=True"):
        load(storage, tar_of(("a.txt", b"a", {})))


# Generated names against the invariants.

#: The errors a name may be refused with; anything else is a bug.
DOCUMENTED = (OSError, InvalidPath, StorageFull, FileExistsError, IsADirectoryError)

segments = st.one_of(
    st.sampled_from(["a", "b", ".", "..", "", " ", "é", "\N{GRINNING FACE}", "x" * 70]),
    st.text(min_size=1, max_size=12),
    st.text(alphabet="ab", min_size=200, max_size=300),
)
names = st.one_of(
    st.lists(segments, min_size=1, max_size=12).map("/".join),
    st.tuples(st.integers(1, 2500), st.sampled_from(["a/", "é/", "\\", "./"])).map(
        lambda depth_and_part: depth_and_part[1] * depth_and_part[0] + "f"
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(names, st.integers(0, 200_000)), min_size=1, max_size=8))
def test_generated_names_never_break_the_budget_or_change_anything_when_refused(saves):
    """Each save stores its file or raises a documented error, leaving the store as it was."""
    store = Store(max_bytes=MAX_BYTES // 4, on_full="evict")
    for name, size in saves:
        before = snapshot(store)
        try:
            store.write(name, b"z" * size)
        except DOCUMENTED:
            assert before == snapshot(store)
        assert store.stats().bytes_used <= MAX_BYTES // 4


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(names, min_size=20, max_size=40))
def test_generated_names_hold_at_most_the_budget(many):
    """Memory held after many generated names stays within 1.10 x max_bytes + 2 MiB."""
    store = Store(max_bytes=MAX_BYTES)

    def fill() -> None:
        for name in many:
            with contextlib.suppress(DOCUMENTED):
                store.write(name, b"z" * 4096)

    assert held_by(fill) <= HELD_LIMIT
