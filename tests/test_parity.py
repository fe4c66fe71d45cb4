"""What Django's storages accept, ours accepts: Path, absolute and long names, content."""

from __future__ import annotations

import errno
import io
import os
import types
from pathlib import Path, PurePath
from unittest import mock

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import InMemoryStorage as DjangosInMemoryStorage
from django.core.files.storage import Storage
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from hypothesis import example, given
from hypothesis import strategies as st

from inmemorystorage import InMemoryStorage
from inmemorystorage.storage import _SAVE_HOOKS, file_extension


@pytest.fixture
def storage():
    storage = InMemoryStorage(location="/srv/media", base_url="/media/")
    storage.save("docs/a.txt", ContentFile(b"alpha"))
    return storage


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(lambda s, n: s.exists(n), True, id="exists"),
        pytest.param(lambda s, n: s.size(n), 5, id="size"),
        pytest.param(lambda s, n: s.open(n).read(), b"alpha", id="open"),
        pytest.param(lambda s, n: s.open(n, "r").read(), "alpha", id="open-text"),
        pytest.param(lambda s, n: s.url(n), "/media/docs/a.txt", id="url"),
        pytest.param(lambda s, n: s.snapshot(n)[0], b"alpha", id="snapshot"),
        pytest.param(lambda s, n: s.get_modified_time(n).year > 2000, True, id="modified"),
        pytest.param(lambda s, n: s.get_created_time(n).year > 2000, True, id="created"),
        pytest.param(lambda s, n: s.get_accessed_time(n).year > 2000, True, id="accessed"),
    ],
)
def test_path_names_work_like_str_names(storage, call, expected):
    """Every method that takes a name takes a pathlib.Path, as Django's storages do."""
    assert expected == call(storage, Path("docs/a.txt"))


def test_path_names_list_and_delete(storage):
    """listdir(Path("")) lists the root; delete(Path(...)) deletes."""
    assert (["docs"], []) == storage.listdir(Path(""))
    assert ([], ["a.txt"]) == storage.listdir(Path("docs"))
    storage.delete(Path("docs/a.txt"))
    assert not storage.exists("docs/a.txt")


def test_save_takes_a_path_name(storage):
    """save() takes a Path and returns the str name used."""
    assert "b.txt" == storage.save(Path("b.txt"), ContentFile(b"beta"))


def test_absolute_names_inside_location_mean_the_relative_name(storage):
    """An absolute name inside location is the file at its relative name."""
    absolute = os.path.join(storage.location, "docs", "a.txt")
    assert storage.exists(absolute)
    assert b"alpha" == storage.open(absolute).read()
    assert 5 == storage.size(Path(absolute))
    assert ([], ["a.txt"]) == storage.listdir(os.path.join(storage.location, "docs"))
    assert (["docs"], []) == storage.listdir(storage.location)
    storage.delete(absolute)
    assert not storage.exists("docs/a.txt")


@pytest.mark.parametrize("name", ["/etc/passwd", "/srv/media/../secret", "/srv/media-other/a"])
def test_absolute_names_outside_location_are_suspicious(storage, name):
    """An absolute name outside location raises SuspiciousFileOperation and stores nothing."""
    before = storage.stats()
    for call in (storage.exists, storage.open, storage.delete, storage.size):
        with pytest.raises(SuspiciousFileOperation, match="outside"):
            call(name)
    with pytest.raises(SuspiciousFileOperation):
        storage.save(name, ContentFile(b"x"))
    assert before == storage.stats()


def test_a_path_through_a_file_reads_as_djangos_message(storage):
    """Saving below a file says, as Django does, that it exists and is not a directory."""
    with pytest.raises(FileExistsError, match=r"docs/a\.txt exists and is not a directory\."):
        storage.save("docs/a.txt/b", ContentFile(b"x"))


def test_an_overlong_name_does_not_exist(storage):
    """exists() of a name no store could hold is False, not an OSError."""
    assert storage.exists("x" * 300) is False


def test_an_overlong_name_is_shortened_to_max_length(storage):
    """Like a FileField(max_length=100), get_available_name() truncates and the save succeeds."""
    name = storage.save("x" * 300 + ".txt", ContentFile(b"x"), max_length=100)
    assert (100, ".txt") == (len(name), name[-4:])
    assert storage.exists(name)


def test_storing_an_overlong_segment_quotes_a_bounded_excerpt(storage):
    """ENAMETOOLONG still refuses it, and the message quotes an excerpt, not 5,000 characters."""
    with pytest.raises(OSError) as info:
        storage.save("y" * 5000, ContentFile(b"x"))
    assert errno.ENAMETOOLONG == info.value.errno
    assert len(str(info.value)) < 300


class Shouting(ContentFile):
    """A content subclass whose read() transforms what it reads."""

    def read(self, *args):
        return self.file.read(*args).upper()


class Doubling(File):
    """A content subclass whose chunks() yields every chunk twice."""

    def chunks(self, chunk_size=None):
        for chunk in super().chunks(chunk_size):
            yield chunk
            yield chunk


def replaced_chunks():
    content = ContentFile(b"plain")
    content.chunks = lambda chunk_size=None: iter([b"from ", b"chunks"])
    return content


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(Shouting(b"quiet"), b"QUIET", id="read-override"),
        pytest.param(Doubling(io.BytesIO(b"ab")), b"abab", id="chunks-override"),
        pytest.param(replaced_chunks(), b"from chunks", id="instance-chunks"),
        pytest.param(ContentFile(b"bytes"), b"bytes", id="plain-bytes"),
        pytest.param(ContentFile("text \u00e9"), "text \u00e9".encode(), id="plain-text"),
        pytest.param(SimpleUploadedFile("u.txt", b"upload"), b"upload", id="upload"),
    ],
)
def test_save_reads_content_through_its_own_methods(storage, content, expected):
    """save() stores what the content's chunks() yields, overrides included."""
    name = storage.save("c.bin", content)
    assert expected == storage.open(name).read()


def test_plain_content_is_stored_without_a_copy(storage):
    """Django's own ContentFile over bytes is stored as the very same bytes object."""
    data = b"z" * 10_000
    name = storage.save("big.bin", ContentFile(data))
    assert storage._store.read(name) is data


def test_an_in_memory_upload_is_read_from_its_start(storage):
    """An upload whose position was moved is still stored whole, as chunks() reads it."""
    buffer = io.BytesIO(b"whole upload")
    upload = InMemoryUploadedFile(buffer, "f", "u.txt", "text/plain", 12, None)
    upload.read(5)
    name = storage.save("u.txt", upload)
    assert b"whole upload" == storage.open(name).read()


def test_a_failing_chunks_raises_and_stores_nothing(storage):
    """A chunks() that raises propagates its error; the store is unchanged."""
    content = ContentFile(b"never")

    def failing(chunk_size=None):
        yield b"partial"
        raise ConnectionResetError("client went away")

    content.chunks = failing
    before = storage.stats()
    with pytest.raises(ConnectionResetError):
        storage.save("never.bin", content)
    assert before == storage.stats()
    assert not storage.exists("never.bin")


def test_path_raises_not_implemented(storage):
    """path() raises NotImplementedError, Django's contract for storages without local files."""
    with pytest.raises(NotImplementedError):
        storage.path("docs/a.txt")


@pytest.mark.parametrize("hook", _SAVE_HOOKS)
@pytest.mark.parametrize("where", ["subclass", "class", "instance"])
def test_save_calls_an_overridden_hook(hook, where, monkeypatch):
    """A hook of Django's save() that is overridden is called, wherever the override lives.

    save() skips Django's generic path only while every hook is this
    class's own; a subclass, a patch on the class (as a test's mock would
    do) or one on the instance sends it back through the override.
    """
    calls = []
    original = getattr(InMemoryStorage, hook)

    def spy(self, *args, **kwargs):
        calls.append(hook)
        return original(self, *args, **kwargs)

    if where == "subclass":
        storage = type("Overriding", (InMemoryStorage,), {hook: spy})()
    elif where == "class":
        monkeypatch.setattr(InMemoryStorage, hook, spy)
        storage = InMemoryStorage()
    else:
        storage = InMemoryStorage()
        monkeypatch.setattr(storage, hook, types.MethodType(spy, storage))
    first = storage.save("a.txt", ContentFile(b"one"))
    # Django's save() calls every hook for a new name but get_alternative_name().
    assert (hook in calls) is (hook != "get_alternative_name")
    second = storage.save("a.txt", ContentFile(b"two"))  # taken: an alternative is needed
    assert hook in calls
    assert first == "a.txt"
    assert second != "a.txt"
    assert storage.open(second).read() == b"two"


def test_save_skips_django_s_generic_path_when_no_hook_is_overridden(monkeypatch):
    """With every hook its own, save() checks and claims the name in one step."""

    def refuse(*args, **kwargs):
        raise AssertionError("Django's generic save() was used")

    monkeypatch.setattr(Storage, "save", refuse)
    storage = InMemoryStorage()
    assert storage.save("a.txt", ContentFile(b"one")) == "a.txt"
    assert storage.save("a.txt", ContentFile(b"two")) != "a.txt"


_ALTERNATIVES = ["AAAAAAA", "BBBBBBB", "CCCCCCC", "DDDDDDD"]


@pytest.mark.parametrize(
    ("taken", "name", "max_length"),
    [
        pytest.param(["a.txt"], "a.txt", None, id="root"),
        pytest.param(["d/a.txt"], "d/a.txt", None, id="in-a-directory"),
        pytest.param(["d/a.tar.gz"], "d/a.tar.gz", None, id="two-suffixes"),
        pytest.param(["d/.bashrc"], "d/.bashrc", None, id="dotfile"),
        pytest.param(["d/x"], "d", None, id="a-directory"),
        pytest.param(["d/a.txt", "d/a_AAAAAAA.txt"], "d/a.txt", None, id="alternative-taken"),
        pytest.param(["d/" + "r" * 20 + ".txt"], "d/" + "r" * 20 + ".txt", 30, id="cut-to-fit"),
        pytest.param(["d/rrrr.txt"], "d/rrrr.txt", 10, id="cut-to-nothing"),
        pytest.param([], "d/" + "r" * 30 + ".txt", 30, id="free-but-too-long"),
    ],
)
def test_a_taken_name_gets_the_alternative_django_would_choose(
    taken, name, max_length, monkeypatch
):
    """The lean save() chooses exactly the name Django's get_available_name() would.

    Both draw the same random suffixes (patched to a fixed sequence here) and
    cut them to max_length the same way, or both refuse with the same message.
    """

    def outcome(storage):
        for existing in taken:
            storage.save(existing, ContentFile(b"old"))
        draws = iter(_ALTERNATIVES)
        monkeypatch.setattr(
            "django.core.files.storage.base.get_random_string", lambda length: next(draws)
        )
        try:
            return storage.save(name, ContentFile(b"new"), max_length=max_length)
        except SuspiciousFileOperation as exc:
            return str(exc)
        finally:
            monkeypatch.undo()

    assert outcome(InMemoryStorage()) == outcome(DjangosInMemoryStorage())


@pytest.mark.parametrize("taken_by", ["file", "directory"])
def test_an_alternative_too_long_for_a_store_is_refused_whole(taken_by):
    """A taken 252-byte segment has no 260-byte alternative: ENAMETOOLONG, and nothing stored."""
    storage = InMemoryStorage()
    name = "d/" + "\N{GRINNING FACE}" * 63  # 252 bytes: the longest segment of 4-byte characters
    storage.save(name if taken_by == "file" else f"{name}/x", ContentFile(b"first"))
    with pytest.raises(OSError) as info:
        storage.save(name, ContentFile(b"second"))
    assert errno.ENAMETOOLONG == info.value.errno
    assert storage.listdir("d") == (([], [name[2:]]) if taken_by == "file" else ([name[2:]], []))


@given(st.text(alphabet=".ab\N{GRINNING FACE}", max_size=8).filter(lambda s: s not in {".", ".."}))
@example("photo.tar.gz")
@example(".bashrc")
@example("notes.")
@example("a..b")
def test_the_extension_is_every_suffix_pathlib_finds(file_name):
    """file_extension() is what get_available_name() keeps: "".join(PurePath(name).suffixes)."""
    assert file_extension(file_name) == "".join(PurePath(file_name).suffixes)


def test_a_hook_set_on_the_instance_and_deleted_gives_the_one_step_save_back(monkeypatch):
    """Deleting an instance's own hook sends save() back to its one-step path."""
    storage = InMemoryStorage()
    storage.exists = storage.exists  # the instance's own now: Django's save() calls it
    assert not storage._hooks_are_ours()
    del storage.exists
    assert storage._hooks_are_ours()

    def refuse(*args, **kwargs):
        raise AssertionError("Django's generic save() was used")

    monkeypatch.setattr(Storage, "save", refuse)
    assert storage.save("a.txt", ContentFile(b"one")) == "a.txt"


def test_a_setting_assigned_on_the_instance_wins_until_deleted(settings):
    """As with Django's storages: a subclass may set base_url, and a test may patch it."""
    settings.MEDIA_URL = "/media/"

    class Elsewhere(InMemoryStorage):
        def __init__(self):
            super().__init__()
            self.base_url = "/elsewhere/"

    storage = Elsewhere()
    assert "/elsewhere/a.txt" == storage.url("a.txt")
    del storage.base_url
    assert "/media/a.txt" == storage.url("a.txt")  # the setting again

    storage = InMemoryStorage()
    with mock.patch.object(storage, "base_url", "/patched/"):
        assert "/patched/a.txt" == storage.url("a.txt")
    assert "/media/a.txt" == storage.url("a.txt")
    settings.MEDIA_URL = "/files/"
    assert "/files/a.txt" == storage.url("a.txt")  # read when asked for
