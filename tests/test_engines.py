"""One behaviour, two engines: every test here runs in this process and on a real Redis server.

As Django's own cache tests run one ``BaseCacheTests`` class against every
backend, these run the Storage API's promises against the in-process engine
and the shared one (``server=``), through the ``make_storage`` fixture.
"""

from __future__ import annotations

import errno
import io
import tarfile
import threading

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from inmemorystorage import PathDoesNotExist, StorageFull, dump, handoff, load
from inmemorystorage.budget import file_charge
from inmemorystorage.engine import StoredFile

KIB = 1024


def test_a_saved_file_reads_back(make_storage):
    """What is saved is read back, whole, under its name."""
    storage = make_storage()
    name = storage.save("docs/a.txt", ContentFile(b"hello"))
    with storage.open(name) as file:
        assert (name, b"hello") == ("docs/a.txt", file.read())


def test_a_taken_name_gets_an_alternative(make_storage):
    """Saving a taken name picks another, as Django's storages do."""
    storage = make_storage()
    first = storage.save("a.txt", ContentFile(b"1"))
    second = storage.save("a.txt", ContentFile(b"2"))
    assert first == "a.txt"
    assert second.startswith("a_")
    assert (b"1", b"2") == (storage.open(first).read(), storage.open(second).read())


def test_exists_size_and_listdir(make_storage):
    """A file and its directories exist; listdir() shows each level's children."""
    storage = make_storage()
    storage.save("d/e/f.txt", ContentFile(b"12345"))
    storage.save("d/g.txt", ContentFile(b"x"))
    assert (True, True, False) == (
        storage.exists("d/e/f.txt"),
        storage.exists("d/e"),
        storage.exists("d/nope"),
    )
    assert 5 == storage.size("d/e/f.txt")
    assert (["e"], ["g.txt"]) == storage.listdir("d")
    assert (["d"], []) == storage.listdir("")


def test_a_listing_is_every_file_s_name_size_and_times_by_name(make_storage):
    """file_listing() is stored_files() without the content: what the page and ls show."""
    storage = make_storage()
    storage.save("z.txt", ContentFile(b"last"))
    storage.save("d/e/f.bin", ContentFile(b"\0" * 3000))
    storage.save("d/a.txt", ContentFile(b""))
    listing = storage.file_listing()
    assert ["d/a.txt", "d/e/f.bin", "z.txt"] == [file.name for file in listing]
    assert [(f.name, len(f.content), f.created, f.modified) for f in storage.stored_files()] == [
        (f.name, f.size, f.created, f.modified) for f in listing
    ]


def test_missing_names_raise_what_callers_catch(make_storage):
    """FileNotFoundError for nothing, IsADirectoryError for a directory, NotADirectory below."""
    storage = make_storage()
    storage.save("d/f.txt", ContentFile(b"x"))
    with pytest.raises(PathDoesNotExist):
        storage.open("d/missing.txt")
    with pytest.raises(IsADirectoryError):
        storage.open("d")
    with pytest.raises(NotADirectoryError):
        storage.open("d/f.txt/below")
    with pytest.raises(NotADirectoryError):
        storage.listdir("d/f.txt")


def test_delete_removes_a_file_and_keeps_its_directory(make_storage):
    """delete() of a file leaves its directory, as in Django; of a directory, all below it."""
    storage = make_storage()
    storage.save("d/e/f.txt", ContentFile(b"x"))
    storage.delete("d/e/f.txt")
    assert (True, False) == (storage.exists("d/e"), storage.exists("d/e/f.txt"))
    storage.save("d/e/g.txt", ContentFile(b"y"))
    storage.delete("d")
    assert ([], []) == storage.listdir("")
    storage.delete("never/was.txt")  # quiet


def test_times_are_those_of_the_publication(make_storage):
    """Created stays, modified follows each write, accessed each read."""
    storage = make_storage()
    storage.save("t.txt", ContentFile(b"1"))
    created = storage.get_created_time("t.txt")
    with storage.open("t.txt", "wb") as file:
        file.write(b"2")
    modified = storage.get_modified_time("t.txt")
    storage.open("t.txt").close()
    assert created == storage.get_created_time("t.txt")
    assert created <= modified <= storage.get_accessed_time("t.txt")


def test_a_reader_keeps_its_snapshot(make_storage):
    """A later write never changes what an open reader reads."""
    storage = make_storage()
    storage.save("s.txt", ContentFile(b"old"))
    reader = storage.open("s.txt")
    with storage.open("s.txt", "wb") as file:
        file.write(b"new")
    assert (b"old", b"new") == (reader.read(), storage.open("s.txt").read())
    reader.close()


def test_a_writer_publishes_at_close_and_not_on_error(make_storage):
    """Nothing is visible before close(); a with block that raises publishes nothing."""
    storage = make_storage()
    writer = storage.open("w.txt", "wb")
    writer.write(b"data")
    assert not storage.exists("w.txt")
    writer.close()
    assert b"data" == storage.open("w.txt").read()
    with pytest.raises(RuntimeError), storage.open("x.txt", "wb") as file:
        file.write(b"lost")
        raise RuntimeError
    assert not storage.exists("x.txt")


def test_the_budget_evicts_least_recently_used(make_storage):
    """A full evicting storage makes room by evicting the least recently used file."""
    storage = make_storage(max_bytes=3 * file_charge("f0.bin", 4 * KIB) + 2 * KIB)
    for i in range(3):
        storage.save(f"f{i}.bin", ContentFile(bytes([i]) * (4 * KIB)))
    storage.open("f0.bin").close()  # a read is a use: f1 is now the least recent
    storage.save("f3.bin", ContentFile(b"3" * (4 * KIB)))
    assert ["f0.bin", "f2.bin", "f3.bin"] == sorted(storage.listdir("")[1])
    assert storage.recent_eviction("f1.bin") is not None
    stats = storage.stats()
    assert stats.bytes_used <= stats.max_bytes
    assert 1 == stats.evictions


def test_the_file_server_s_read_is_a_counted_use(make_storage):
    """The read that inmemorystorage.views.serve makes agrees with snapshot() and is a use."""
    storage = make_storage(max_bytes=3 * file_charge("f0.bin", 4 * KIB) + 2 * KIB)
    for i in range(3):
        storage.save(f"f{i}.bin", ContentFile(bytes([i]) * (4 * KIB)))
    content, info = storage.snapshot("f1.bin")
    before = storage.stats()
    assert (content, info.version, info.modified) == storage._read_versioned("f1.bin")
    storage._read_versioned("f0.bin")  # f2 is now the least recent
    with pytest.raises(PathDoesNotExist):
        storage._read_versioned("missing.bin")
    after = storage.stats()
    assert (2, 1) == (after.hits - before.hits, after.misses - before.misses)
    storage.save("f3.bin", ContentFile(b"3" * (4 * KIB)))
    assert ["f0.bin", "f1.bin", "f3.bin"] == sorted(storage.listdir("")[1])


def test_an_evicted_name_stays_taken(make_storage):
    """save() gives an evicted file's name to no new file."""
    storage = make_storage(max_bytes=2 * file_charge("f0.bin", 4 * KIB) + 2 * KIB)
    for i in range(3):
        storage.save(f"f{i}.bin", ContentFile(b"x" * (4 * KIB)))
    assert storage.recent_eviction("f0.bin") is not None
    assert "f0.bin" != storage.save("f0.bin", ContentFile(b"y"))
    assert "f0.bin" == storage.recent_evictions()[-1].name


def test_a_refusing_budget_refuses_and_changes_nothing(make_storage):
    """on_full='error' raises StorageFull (ENOSPC) and stores nothing."""
    storage = make_storage(max_bytes=file_charge("a.bin", 4 * KIB) + 100, on_full="error")
    storage.save("a.bin", ContentFile(b"a" * (4 * KIB)))
    before = storage.stats()
    with pytest.raises(StorageFull) as refused:
        storage.save("b.bin", ContentFile(b"b" * (4 * KIB)))
    assert (errno.ENOSPC, True) == (refused.value.errno, refused.value.could_fit)
    after = storage.stats()
    assert (before.files, before.bytes_used) == (after.files, after.bytes_used)


def test_a_file_larger_than_the_budget_is_refused(make_storage):
    """A file that could never fit is refused as too large, whatever on_full says."""
    storage = make_storage(max_bytes=KIB)
    with pytest.raises(StorageFull, match="larger than the whole budget"):
        storage.save("big.bin", ContentFile(b"x" * (2 * KIB)))
    assert 0 == storage.stats().files


def test_dump_and_load_round_trip(make_storage):
    """dump() then load() into an empty storage gives the same names, bytes and times."""
    storage = make_storage()
    storage.save("a/one.txt", ContentFile(b"1"))
    storage.save("two.txt", ContentFile(b"22"))
    archive = io.BytesIO()
    dump(storage, archive)
    expected = [(f.name, f.content) for f in storage.stored_files()]
    storage.clear()
    archive.seek(0)
    load(storage, archive)
    assert expected == [(f.name, f.content) for f in storage.stored_files()]


def test_a_load_is_all_or_nothing(make_storage):
    """A batch with one refused file stores none of them."""
    storage = make_storage()
    storage.save("taken.txt", ContentFile(b"t"))
    batch = [StoredFile("new.txt", b"n", 1e9, 1e9), StoredFile("taken.txt", b"x", 1e9, 1e9)]
    with pytest.raises(FileExistsError, match="replace=True"):
        storage.load_files(batch)
    assert ["taken.txt"] == [f.name for f in storage.stored_files()]


def test_loaded_times_come_back(make_storage):
    """A loaded file keeps its modification and creation times (to the microsecond)."""
    storage = make_storage()
    storage.load_files([StoredFile("old.txt", b"o", created=1e9, modified=1.5e9)])
    assert 1.5e9 == storage.get_modified_time("old.txt").timestamp()
    assert 1e9 == storage.get_created_time("old.txt").timestamp()


def test_clear_empties_the_namespace_only(make_storage):
    """clear() removes the namespace's files and counters, no other namespace's."""
    storage = make_storage(namespace="one")
    other = make_storage(namespace="two")
    storage.save("a.txt", ContentFile(b"a"))
    other.save("b.txt", ContentFile(b"b"))
    storage.clear()
    assert (0, 1) == (storage.stats().files, other.stats().files)


def test_concurrent_saves_of_one_name_get_distinct_names(make_storage):
    """Eight threads saving one name get eight names, and every file reads back."""
    storage = make_storage()
    names: list[str] = []
    lock = threading.Lock()

    def save(i: int) -> None:
        name = storage.save("same.txt", ContentFile(str(i).encode()))
        with lock:
            names.append(name)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 8 == len(set(names))
    assert sorted(str(i).encode() for i in range(8)) == sorted(
        storage.open(name).read() for name in names
    )


def test_a_tar_of_the_storage_is_a_tar(make_storage):
    """dump() writes a tar any tool reads."""
    storage = make_storage()
    storage.save("x.txt", ContentFile(b"x"))
    archive = io.BytesIO()
    dump(storage, archive)
    archive.seek(0)
    with tarfile.open(fileobj=archive) as tar:
        assert ["x.txt"] == tar.getnames()


def test_the_reload_hand_off_leaves_a_server_s_files_on_the_server(
    settings, clean_redis, tmp_path, forget_shared_stores
):
    """A storage on a server hands nothing over: the next process finds its files there."""
    settings.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "media", "server": clean_redis},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    storages["default"].save("kept.txt", ContentFile(b"k"))
    assert [] == [item.storage for item in handoff._outgoing()]


def test_a_name_too_long_for_the_os_is_refused_on_both_engines(make_storage):
    """ENAMETOOLONG past 4,096 bytes, and nothing stored: hostile names are refused alike."""
    storage = make_storage(max_bytes=1024 * KIB)
    with pytest.raises(OSError) as raised:
        storage.save("a/" * 3000 + "x", ContentFile(b"x"))
    assert errno.ENAMETOOLONG == raised.value.errno
    assert (False, 0) == (storage.exists("a/" * 3000 + "x"), storage.stats().files)


def test_deep_names_are_charged_their_directories_on_both_engines(make_storage):
    """A 1,000-level name is charged for every directory's whole name, within max_bytes."""
    storage = make_storage(max_bytes=2 * 1024 * KIB)
    storage.save("a/" * 1000 + "f.txt", ContentFile(b"x"))
    stats = storage.stats()
    assert 1000 == stats.dirs
    assert sum(len("a/" * i) - 1 + 400 for i in range(1, 1001)) < stats.bytes_used
    assert stats.bytes_used <= stats.max_bytes


def test_deleting_a_directory_deletes_it_however_deep(make_storage):
    """1,500 levels below a directory go with it, and the budget with them: no recursion limit."""
    storage = make_storage()
    storage.save("top/first.txt", ContentFile(b"1"))
    storage.save("top/" + "d/" * 1500 + "deep.txt", ContentFile(b"2"))
    storage.save("kept.txt", ContentFile(b"3"))
    storage.delete("top")
    stats = storage.stats()
    assert (False, 1, 0, file_charge("kept.txt", 1)) == (
        storage.exists("top"),
        stats.files,
        stats.dirs,
        stats.bytes_used,
    )


@pytest.mark.parametrize("replace", [False, True])
def test_a_load_under_a_stored_file_is_refused_as_not_a_directory(make_storage, replace):
    """A file in the way is no name that exists: replace=True cannot mend it, and nothing moves."""
    storage = make_storage()
    storage.save("x/y.txt", ContentFile(b"hi"))
    with pytest.raises(NotADirectoryError, match=r"y\.txt"):
        storage.load_files([StoredFile("x/y.txt/z", b"1", 1.7e9, 1.7e9)], replace=replace)
    assert (["y.txt"], 1) == (storage.listdir("x")[1], storage.stats().files)


def test_a_batch_larger_than_the_budget_is_refused_as_such_before_its_names(make_storage):
    """Both engines answer one batch with one error: it could never fit, whatever its names."""
    storage = make_storage(max_bytes=3000)
    storage.save("a", ContentFile(b"1"))
    batch = [StoredFile("a", b"x", 1.7e9, 1.7e9)]
    batch += [StoredFile(name, b"y" * 1200, 1.7e9, 1.7e9) for name in ("b", "c")]
    with pytest.raises(StorageFull, match=r"3 files.*more than the whole budget"):
        storage.load_files(batch)
    assert (["a"], file_charge("a", 1)) == (storage.listdir("")[1], storage.stats().bytes_used)


def test_the_files_a_load_leaves_out_are_remembered_as_evicted(make_storage):
    """keep_what_fits: the files left out are counted and recorded, and their names stay taken."""
    files = [StoredFile(f"f{i}.txt", b"x" * 3000, 1.7e9, 1.7e9) for i in range(4)]
    storage = make_storage(max_bytes=8000)  # two of the four, least recently used first
    loaded = storage.load_files(files, keep_what_fits=True)
    assert ["f2.txt", "f3.txt"] == loaded
    stats = storage.stats()
    assert (2, 2) == (stats.files, stats.evictions)
    assert (3000, 3000) == (
        storage.recent_eviction("f0.txt").size,
        storage.recent_eviction("f1.txt").size,
    )
    assert stats.bytes_used <= 8000
    assert storage.save("f0.txt", ContentFile(b"new")).startswith("f0_")


def test_a_load_that_keeps_nothing_still_remembers_what_it_left_out(make_storage):
    """Every file too large beside the records' share: none loaded, each recorded as evicted."""
    storage = make_storage(max_bytes=4000)
    big = StoredFile("big.bin", b"x" * 3900, 1.7e9, 1.7e9)
    loaded = storage.load_files([big], keep_what_fits=True)
    assert ([], 1) == (loaded, storage.stats().evictions)
    assert 3900 == storage.recent_eviction("big.bin").size


@pytest.mark.parametrize("name", ["./a.txt", "x/../a.txt", "." + "/." * 50 + "/a.txt"])
def test_a_writer_is_charged_its_stored_name_not_the_name_as_typed(make_storage, name):
    """A file that fits the budget exactly as 'a.txt' is written under any spelling of it."""
    size = 2000 - file_charge("a.txt", 0)
    storage = make_storage(max_bytes=2000, on_full="error")
    with storage.open(name, "wb") as file:
        file.write(b"x" * size)
    assert ([], ["a.txt"], 2000) == (*storage.listdir(""), storage.stats().bytes_used)
