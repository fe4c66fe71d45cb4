"""Handing a storage's files over as a whole, remembering evictions, and checking options."""

from __future__ import annotations

import errno

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStaticFilesStorage, InMemoryStorage, StorageFull
from inmemorystorage.budget import dir_charge, file_charge
from inmemorystorage.storage import check_options, shared_storages
from inmemorystorage.store import StoredFile

from .stress import check_consistency
from .test_budget import with_records

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def files_of(storage):
    return [(f.name, f.content, f.created, f.modified) for f in storage.stored_files()]


def test_stored_files_round_trip_with_their_times():
    """What stored_files() gives, load_files() puts back: names, bytes and times."""
    source = InMemoryStorage()
    source.save("a.txt", ContentFile(b"alpha"))
    source.save("docs/b.txt", ContentFile(b"beta"))
    target = InMemoryStorage()
    assert ["a.txt", "docs/b.txt"] == target.load_files(source.stored_files())
    assert files_of(source) == files_of(target)
    assert source.get_modified_time("docs/b.txt") == target.get_modified_time("docs/b.txt")


def test_load_is_all_or_nothing_on_a_bad_name():
    """One escaping name refuses the whole load before anything is stored."""
    storage = InMemoryStorage()
    batch = [StoredFile("ok.txt", b"1", 0.0, 0.0), StoredFile("../evil", b"2", 0.0, 0.0)]
    with pytest.raises(SuspiciousFileOperation):
        storage.load_files(batch)
    assert [] == storage.stored_files()


def test_load_refuses_existing_names_unless_replacing():
    """Without replace=True an existing name refuses the load; with it, the file is replaced."""
    storage = InMemoryStorage()
    storage.save("a.txt", ContentFile(b"old"))
    batch = [StoredFile("new.txt", b"n", 1.0, 2.0), StoredFile("a.txt", b"new", 1.0, 2.0)]
    with pytest.raises(FileExistsError):
        storage.load_files(batch)
    assert ["a.txt"] == [f.name for f in storage.stored_files()]
    storage.load_files(batch, replace=True)
    assert b"new" == storage.open("a.txt").read()


def test_load_refuses_a_file_where_the_batch_needs_a_directory():
    """A batch holding both 'a' and 'a/b' cannot be stored, and stores nothing."""
    storage = InMemoryStorage()
    batch = [StoredFile("a", b"1", 0.0, 0.0), StoredFile("a/b", b"2", 0.0, 0.0)]
    with pytest.raises(NotADirectoryError):
        storage.load_files(batch)
    assert [] == storage.stored_files()


def test_load_respects_a_refusing_budget():
    """on_full='error': a load that does not fit raises StorageFull and changes nothing."""
    storage = InMemoryStorage(max_bytes=2 * file_charge("a", 100), on_full="error")
    storage.save("a", ContentFile(b"x" * 100))
    batch = [StoredFile(name, b"y" * 100, 0.0, 0.0) for name in ("b", "c")]
    with pytest.raises(StorageFull) as info:
        storage.load_files(batch)
    assert errno.ENOSPC == info.value.errno
    assert ["a"] == [f.name for f in storage.stored_files()]
    used = storage.stats().bytes_used
    needed = 2 * file_charge("b", 100)
    expected = f"they need {needed:,} bytes, the rest of the storage holds {used:,} bytes"
    assert expected in str(info.value)
    assert info.value.could_fit


def test_load_evicts_to_make_room_and_reports_it(caplog):
    """With on_full='evict', a load evicts least recently used files, logged as for a save."""
    storage = InMemoryStorage(max_bytes=with_records(2 * file_charge("a", 100)))
    storage.save("a", ContentFile(b"x" * 100))
    storage.save("b", ContentFile(b"x" * 100))
    with caplog.at_level("INFO", logger="inmemorystorage"):
        storage.load_files([StoredFile("c", b"z" * 100, 0.0, 0.0)])
    assert ["b", "c"] == [f.name for f in storage.stored_files()]
    assert "evicted 'a'" in caplog.text
    assert [] == check_consistency(storage._store)


def test_a_load_larger_than_the_budget_is_refused():
    """Files that together exceed max_bytes are refused even when the store is empty."""
    storage = InMemoryStorage(max_bytes=file_charge("a", 100))
    batch = [StoredFile(name, b"y" * 100, 0.0, 0.0) for name in ("a", "b")]
    with pytest.raises(StorageFull) as refused:
        storage.load_files(batch)
    assert not refused.value.could_fit
    charge = 2 * file_charge("a", 100)
    assert (
        "cannot store 2 files (200 bytes): with their names and per-file overheads they need "
        f"{charge:,} bytes, more than the whole budget (max_bytes={storage.max_bytes:,})"
    ) == str(refused.value)


def test_a_refused_batch_replacement_counts_only_the_other_files_as_the_rest():
    """on_full='error': the files a load replaces are freed, not 'the rest of the storage'."""
    storage = InMemoryStorage(max_bytes=2 * file_charge("a", 1000), on_full="error")
    storage.save("a", ContentFile(b"x" * 1000))
    storage.save("b", ContentFile(b"x" * 1000))
    with pytest.raises(StorageFull) as refused:
        storage.load_files([StoredFile("a", b"y" * 1500, 0.0, 0.0)], replace=True)
    needed, rest = file_charge("a", 1500), file_charge("b", 1000)
    expected = f"it needs {needed:,} bytes, the rest of the storage holds {rest:,} bytes"
    assert expected in str(refused.value)
    assert refused.value.could_fit
    assert b"x" * 1000 == storage.open("a").read()


def test_a_refused_batch_names_the_directories_it_brings():
    """Files under new directories: the directories are counted in what the batch needs."""
    storage = InMemoryStorage(max_bytes=file_charge("d/e/a", 100) * 2, on_full="error")
    storage.save("keep", ContentFile(b"k" * 100))
    batch = [StoredFile(name, b"y" * 100, 0.0, 0.0) for name in ("d/e/a", "d/e/b")]
    with pytest.raises(StorageFull) as refused:
        storage.load_files(batch)
    needed = (
        sum(file_charge(n, 100) for n in ("d/e/a", "d/e/b")) + dir_charge("d") + dir_charge("d/e")
    )
    assert f"and 2 new directories they need {needed:,} bytes" in str(refused.value)


def test_a_batch_that_fits_only_without_its_parent_directories_says_so():
    """Eviction never removes the batch's existing parents: the refusal says what they hold."""
    storage = InMemoryStorage(max_bytes=2 * file_charge("d/a", 100) + 50)
    storage.save("d/a", ContentFile(b"x" * 100))
    batch = [StoredFile(name, b"y" * 100, 0.0, 0.0) for name in ("d/b", "d/c")]
    assert 2 * file_charge("d/b", 100) <= storage.max_bytes  # alone, they would fit
    with pytest.raises(StorageFull) as refused:
        storage.load_files(batch)
    held = f"({dir_charge('d'):,} bytes)"
    assert f"more than the whole budget beside their directories {held}" in str(refused.value)
    assert not refused.value.could_fit
    assert ["d/a"] == [f.name for f in storage.stored_files()]


def test_one_file_that_its_bookkeeping_takes_over_the_budget_is_named_as_one():
    """A hand-off of one small file into a tiny budget: '1 file', and the bytes it is charged."""
    storage = InMemoryStorage(max_bytes=20)
    with pytest.raises(StorageFull) as refused:
        storage.load_files([StoredFile("f.txt", b"x" * 11, 0.0, 0.0)])
    assert (
        "cannot store 'f.txt' (11 bytes): with its name and the per-file overhead it needs "
        f"{file_charge('f.txt', 11):,} bytes, more than the whole budget (max_bytes=20)"
    ) == str(refused.value)


def test_an_evicted_name_is_remembered_until_written_again():
    """recent_eviction() tells when a file was evicted; writing the name on purpose forgets it."""
    storage = InMemoryStorage(max_bytes=with_records(2 * file_charge("a", 4000)))
    for name in ("a", "b", "c"):
        storage.save(name, ContentFile(b"x" * 4000))
    eviction = storage.recent_eviction("a")
    assert ("a", 4000) == (eviction.name, eviction.size)
    assert eviction.evicted_at > 0
    assert storage.recent_eviction("b") is None
    with storage.open("a", "wb") as rewritten:
        rewritten.write(b"again")
    assert storage.recent_eviction("a") is None


def test_remembered_evictions_are_charged_and_keep_a_share_of_the_budget():
    """Records count in bytes_used; up to a sixteenth of the budget they cost files their place."""
    storage = InMemoryStorage(max_bytes=2 * file_charge("a", 100))
    for name in ("a", "b", "c"):
        storage.save(name, ContentFile(b"x" * 100))
    # The budget holds exactly two files; remembering 'a' costs 'b' its place.
    assert storage.recent_eviction("a") is not None
    assert ["c"] == [f.name for f in storage.stored_files()]
    assert storage.stats().bytes_used <= storage.max_bytes
    roomy = InMemoryStorage(max_bytes=with_records(2 * file_charge("a", 4000)))
    for name in ("a", "b", "c"):
        roomy.save(name, ContentFile(b"x" * 4000))
    assert ["b", "c"] == [f.name for f in roomy.stored_files()]
    assert roomy.recent_eviction("a") is not None
    assert 2 * file_charge("a", 4000) < roomy.stats().bytes_used <= roomy.max_bytes
    assert [] == check_consistency(roomy._store)


def test_shared_storages_cover_every_namespace():
    """shared_storages() gives one storage per namespace, with its budget, sharing its files."""
    InMemoryStorage(namespace="bulk-one", max_bytes=10_000, on_full="error").save(
        "x", ContentFile(b"1")
    )
    found = {s.namespace: s for s in shared_storages()}
    one = found["bulk-one"]
    assert (10_000, "error") == (one.max_bytes, one.on_full)
    assert b"1" == one.open("x").read()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"max_bytse": 10}, "'max_bytse'; the options are: location, base_url"),
        ({"max_bytes": -1}, "max_bytes"),
        ({"on_full": "error"}, "no effect without max_bytes"),
        ({"on_full": "drop", "max_bytes": 1}, "on_full"),
    ],
)
def test_check_options_says_what_is_wrong(options, words):
    """check_options() raises ImproperlyConfigured naming the option and the valid choices."""
    with pytest.raises(ImproperlyConfigured) as info:
        check_options(**options)
    assert words in str(info.value)


def test_an_unknown_option_is_improperly_configured():
    """The constructor names the valid options instead of raising a bare TypeError."""
    with pytest.raises(ImproperlyConfigured, match="max_bytes, on_full"):
        InMemoryStorage(max_size=10)


def test_good_options_pass_the_check():
    """The options the README shows pass."""
    check_options(namespace="media", max_bytes=64 * 1024 * 1024, on_full="evict")


def test_a_file_that_fits_only_without_its_overhead_says_so():
    """StorageFull for a file smaller than max_bytes explains the per-file overhead."""
    storage = InMemoryStorage(max_bytes=1000)
    expected = r"with its name and the per-file overhead it needs 1,541 bytes, more than the whole"
    with pytest.raises(StorageFull, match=expected):
        storage.save("a", ContentFile(b"x" * 900))


@pytest.mark.parametrize("raw", [b"raw bytes", "raw text", bytearray(b"raw")])
def test_raw_content_is_a_type_error_that_says_what_to_do(raw):
    """save(name, b"...") raises a TypeError that says to wrap the content in ContentFile."""
    with pytest.raises(TypeError, match=r"ContentFile\(data\)"):
        InMemoryStorage().save("a.txt", raw)


def test_shared_says_whether_other_instances_see_the_files():
    """A namespace or a static files location shares the files; a plain instance keeps its own."""
    assert (False, True, True) == (
        InMemoryStorage().shared,
        InMemoryStorage(namespace="bulk-shared").shared,
        InMemoryStaticFilesStorage(location="/srv/static").shared,
    )
