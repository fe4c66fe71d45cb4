"""InMemoryStorage through Django's Storage API."""

from __future__ import annotations

import importlib.metadata
import io
import time
from datetime import datetime

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import override_settings

import inmemorystorage
from inmemorystorage import InMemoryStorage, PathDoesNotExist
from inmemorystorage import storage as storage_module


def test_it_is_a_django_storage(storage):
    """InMemoryStorage is a Storage."""
    assert isinstance(storage, Storage)


def test_storages_setting_builds_it():
    """The test settings' STORAGES entry gives our class."""
    assert isinstance(storages["default"], InMemoryStorage)


def test_save_and_open(storage):
    """A saved file reads back, byte for byte."""
    name = storage.save("docs/a.txt", ContentFile(b"hello"))
    with storage.open(name) as file:
        assert (name, b"hello") == (file.name, file.read())


def test_save_text_is_stored_as_utf8(storage):
    """Text content is encoded as UTF-8."""
    storage.save("t.txt", ContentFile("héllo"))
    assert storage.open("t.txt").read() == "héllo".encode()


def test_save_bytes_content_file_without_copy(storage):
    """A ContentFile over bytes is stored as that very bytes object."""
    content = b"x" * 1_000_000
    storage.save("big.bin", ContentFile(content))
    assert storage._store.read("big.bin") is content


def test_save_an_uploaded_file(storage):
    """Uploads, small and spooled, are saved whole."""
    small = SimpleUploadedFile("s.txt", b"small upload")
    name = storage.save("up/s.txt", small)
    assert storage.open(name).read() == b"small upload"


def test_save_a_temporary_upload_removes_the_temporary_file(storage):
    """A temporary upload's file on disk is removed once its content is stored."""
    with TemporaryUploadedFile("t.bin", "application/octet-stream", 3, None) as upload:
        upload.write(b"abc")
        upload.flush()
        path = upload.temporary_file_path()
        storage.save("t.bin", upload)
        assert not __import__("os").path.exists(path)
    assert storage.open("t.bin").read() == b"abc"


def test_save_a_plain_file_object(storage):
    """Any file-like object is wrapped and read in chunks."""
    storage.save("plain.bin", io.BytesIO(b"plain"))
    assert storage.open("plain.bin").read() == b"plain"


def test_save_chunks_of_a_large_file(storage):
    """Content larger than one chunk is gathered whole."""
    data = bytes(range(256)) * 1000
    storage.save("big", File(io.BufferedReader(io.BytesIO(data)), name="big"))
    assert storage.open("big").read() == data


def test_save_the_same_name_twice_gives_two_names(storage):
    """Without allow_overwrite, a taken name gets an alternative."""
    first = storage.save("a.txt", ContentFile(b"1"))
    second = storage.save("a.txt", ContentFile(b"2"))
    assert first == "a.txt"
    assert second != first
    assert second.startswith("a_")
    assert second.endswith(".txt")
    assert (b"1", b"2") == (storage.open(first).read(), storage.open(second).read())


def test_allow_overwrite_replaces():
    """With allow_overwrite, saving a taken name replaces its content."""
    storage = InMemoryStorage(allow_overwrite=True)
    storage.save("a.txt", ContentFile(b"1"))
    assert storage.save("a.txt", ContentFile(b"2")) == "a.txt"
    assert storage.open("a.txt").read() == b"2"


def test_get_available_name_with_max_length(storage):
    """Alternatives respect max_length, as in Django."""
    storage.save("abcdef.txt", ContentFile(b"1"))
    name = storage.get_available_name("abcdef.txt", max_length=14)
    assert len(name) <= 14
    assert not storage.exists(name)


def test_generate_filename(storage):
    """generate_filename cleans the file name, as Django's Storage does."""
    assert storage.generate_filename("dir/some file?.txt") == "dir/some_file.txt"


def test_exists_and_delete(storage):
    """exists() follows saves and deletes."""
    storage.save("d/f.txt", ContentFile(b"x"))
    assert storage.exists("d/f.txt")
    storage.delete("d/f.txt")
    assert (False, True) == (storage.exists("d/f.txt"), storage.exists("d"))


def test_delete_directory(storage):
    """Deleting a directory removes everything below it."""
    storage.save("d/e/f.txt", ContentFile(b"x"))
    storage.save("d/g.txt", ContentFile(b"x"))
    storage.delete("d")
    assert not storage.exists("d/e/f.txt")
    assert storage.stats().files == 0


def test_delete_without_a_name(storage):
    """delete('') is an error, as in FileSystemStorage."""
    with pytest.raises(ValueError, match="name must be given"):
        storage.delete("")


def test_size(storage):
    """size() is the stored byte length."""
    storage.save("f", ContentFile("é"))
    assert storage.size("f") == 2


def test_size_of_a_directory(storage):
    """A directory has no size."""
    storage.save("d/f", ContentFile(b"x"))
    with pytest.raises(IsADirectoryError):
        storage.size("d")


def test_size_of_a_missing_file(storage):
    """A missing name raises PathDoesNotExist."""
    with pytest.raises(PathDoesNotExist):
        storage.size("missing")


def test_code_written_for_2_1_0_imports_path_does_not_exist_from_where_it_was(storage):
    """2.1.0 defined PathDoesNotExist in inmemorystorage.storage: that import still works."""
    assert storage_module.PathDoesNotExist is PathDoesNotExist
    with pytest.raises(storage_module.PathDoesNotExist) as missing:  # what 2.1.0 code catches
        storage.open("missing")
    assert "missing" == missing.value.filename


def test_listdir(storage):
    """listdir() separates directories and files."""
    storage.save("a.txt", ContentFile(b"x"))
    storage.save("sub/b.txt", ContentFile(b"x"))
    assert (["sub"], ["a.txt"]) == storage.listdir("")


def test_path_is_not_implemented(storage):
    """There is no local path: third-party code falls back to open()."""
    with pytest.raises(NotImplementedError):
        storage.path("f")


@override_settings(MEDIA_URL="/media/")
def test_url(storage):
    """URLs are MEDIA_URL plus the quoted name."""
    assert storage.url("a dir/é.txt") == "/media/a%20dir/%C3%A9.txt"


def test_url_with_explicit_base_url():
    """An explicit base_url gains its trailing slash."""
    assert InMemoryStorage(base_url="https://cdn.example").url("x") == "https://cdn.example/x"


@override_settings(MEDIA_URL=None)
def test_url_without_base_url(storage):
    """No MEDIA_URL means no URLs."""
    with pytest.raises(ValueError, match="not accessible via a URL"):
        storage.url("x")


@override_settings(USE_TZ=True)
def test_times_are_aware_with_use_tz(storage):
    """With USE_TZ the times are aware, in UTC."""
    storage.save("f", ContentFile(b"x"))
    times = [
        storage.get_created_time("f"),
        storage.get_modified_time("f"),
        storage.get_accessed_time("f"),
    ]
    assert all(t.utcoffset() is not None and t.utcoffset().total_seconds() == 0 for t in times)


@override_settings(USE_TZ=True)
@pytest.mark.parametrize("mode", ["rb", "r"], ids=["fast path", "other modes"])
def test_a_read_is_an_access_at_the_time_of_the_read(storage, mode):
    """get_accessed_time() is when the file was last read, not when it is asked."""
    storage.save("f", ContentFile(b"x"))
    for _ in range(3):  # more than one read pending
        before = time.time()
        storage.open("f", mode).close()
        after = time.time()
    time.sleep(0.05)
    accessed = storage.get_accessed_time("f").timestamp()
    assert before - 0.001 <= accessed <= after + 0.001
    assert storage.get_modified_time("f").timestamp() <= accessed


@override_settings(USE_TZ=False)
def test_times_are_naive_without_use_tz(storage):
    """Without USE_TZ the times are naive local times."""
    storage.save("f", ContentFile(b"x"))
    created = storage.get_created_time("f")
    assert created.tzinfo is None
    assert abs((datetime.now() - created).total_seconds()) < 60  # noqa: DTZ005  # naive on purpose


def test_times_of_a_missing_file(storage):
    """Times of a missing name raise FileNotFoundError."""
    with pytest.raises(FileNotFoundError):
        storage.get_modified_time("missing")


def test_stats_and_clear(storage):
    """stats() reflects saves; clear() empties."""
    storage.save("a/b", ContentFile(b"12345"))
    stats = storage.stats()
    assert (1, 1, None) == (stats.files, stats.dirs, stats.max_bytes)
    assert stats.bytes_used > 5
    storage.clear()
    assert storage.stats().files == 0


def test_snapshot_gives_content_and_info_together(storage):
    """snapshot() returns the bytes and the metadata of one version."""
    storage.save("f", ContentFile(b"abc"))
    content, info = storage.snapshot("f")
    assert (b"abc", 3, "f", False) == (content, info.size, info.name, info.is_dir)


@override_settings(FILE_UPLOAD_PERMISSIONS=0o640, FILE_UPLOAD_DIRECTORY_PERMISSIONS=0o750)
def test_permission_modes_come_from_settings(storage):
    """The permission modes default to their settings, as in Django (kept for compatibility)."""
    assert (0o640, 0o750) == (storage.file_permissions_mode, storage.directory_permissions_mode)


def test_url_of_none_is_the_base_url():
    """url(None) is the base URL, as in Django."""
    assert InMemoryStorage(base_url="/m/").url(None) == "/m/"


def test_allow_overwrite_truncates_to_max_length():
    """With allow_overwrite, a too-long name is cut to max_length, as in FileSystemStorage."""
    storage = InMemoryStorage(allow_overwrite=True)
    name = storage.get_available_name("abcdefgh.txt", max_length=8)
    assert name == "abcd.txt"


def test_version_is_the_installed_distribution_version():
    """inmemorystorage.__version__ reads the installed distribution's metadata."""
    assert importlib.metadata.version("dj-inmemorystorage") == inmemorystorage.__version__


def test_unknown_attributes_are_errors():
    """The package's lazy attributes do not hide typos."""
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        inmemorystorage.nope  # noqa: B018  # the access is the test
