"""Names are handled as Django handles them; bad ones raise and store nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from hypothesis import example, given
from hypothesis import strategies as st

from inmemorystorage.exceptions import NotADirectory
from inmemorystorage.tree import canonical_name, is_canonical

BAD_NAMES = [
    pytest.param("../x", SuspiciousFileOperation, id="parent-escape"),
    pytest.param("a/../../x", SuspiciousFileOperation, id="nested-escape"),
    pytest.param("..\\x", SuspiciousFileOperation, id="backslash-escape"),
    pytest.param("/etc/passwd", SuspiciousFileOperation, id="absolute"),
    pytest.param("", SuspiciousFileOperation, id="empty"),
    pytest.param("a\x00b", ValueError, id="nul-byte"),
    pytest.param("   ", ValueError, id="whitespace-only"),
    pytest.param("x" * 300, OSError, id="overlong-segment"),
]


@pytest.fixture
def populated(storage):
    storage.save("keep/me.txt", ContentFile(b"kept"))
    return storage


def snapshot(storage):
    stats = storage.stats()
    return (stats.files, stats.dirs, stats.bytes_used, storage.listdir(""))


@pytest.mark.parametrize(("name", "error"), BAD_NAMES)
def test_save_refuses_bad_names(populated, name, error):
    """save() raises the documented error and changes nothing."""
    before = snapshot(populated)
    with pytest.raises(error):
        populated.save(name, ContentFile(b"x"))
    assert before == snapshot(populated)


@pytest.mark.parametrize(("name", "error"), BAD_NAMES)
def test_open_for_writing_refuses_bad_names(populated, name, error):
    """open(name, 'wb') raises the documented error and changes nothing."""
    before = snapshot(populated)
    expected = IsADirectoryError if name == "" else error
    with pytest.raises(expected):
        populated.open(name, "wb")
    assert before == snapshot(populated)


@pytest.mark.parametrize(
    "name", ["../x", "a/../../x", "..\\x", "/etc/passwd"], ids=["up", "nested", "backslash", "abs"]
)
@pytest.mark.parametrize("method", ["open", "exists", "size", "delete", "listdir"])
def test_every_method_refuses_escapes(populated, name, method):
    """Every name-taking method rejects escapes with SuspiciousFileOperation."""
    with pytest.raises(SuspiciousFileOperation):
        getattr(populated, method)(name)
    assert populated.open("keep/me.txt").read() == b"kept"


def test_a_file_cannot_be_a_parent(populated):
    """Saving below a file raises NotADirectory (a FileExistsError, as in Django)."""
    before = snapshot(populated)
    with pytest.raises(FileExistsError) as info:
        populated.save("keep/me.txt/child.txt", ContentFile(b"x"))
    assert isinstance(info.value, NotADirectory)
    assert before == snapshot(populated)


def test_saving_onto_a_directory_name_picks_another_name(populated):
    """A name taken by a directory is not available: save() picks an alternative."""
    name = populated.save("keep", ContentFile(b"x"))
    assert name != "keep"
    assert populated.listdir("keep") == ([], ["me.txt"])


def test_non_string_names(populated):
    """A name that is not a string raises TypeError."""
    with pytest.raises(TypeError):
        populated.open(42)


def test_none_content(populated):
    """save() of None content raises and changes nothing."""
    before = snapshot(populated)
    with pytest.raises(TypeError, match="not None"):
        populated.save("x.txt", None)
    assert before == snapshot(populated)


_NAME_PIECES = st.sampled_from(
    [
        "a",
        "b.txt",
        "é",
        "/",
        "//",
        ".",
        "..",
        " ",
        "\t",
        "\u00a0",
        "\\",
        "\x00",
        "C:",
        "1:",
        "x" * 63,
        "x" * 64,
        "\U0001f600" * 63,
        "\U0001f600" * 64,
    ]
)


@given(st.lists(_NAME_PIECES, max_size=6).map("".join))
@example("a/b.txt")
@example("x" * 64)
@example("\U0001f600" * 64)
def test_a_name_called_canonical_is_what_the_store_keeps(path):
    """is_canonical(), the fast paths' test, never accepts a name the store would change.

    The store keeps a name as canonical_name() gives it; a name the cheap
    test calls canonical must be exactly that, or the fast paths would store
    or find it under another name.
    """
    if is_canonical(path):
        assert canonical_name(path) == path


@pytest.mark.parametrize("path", ["a/b.txt", "up/t0-r0-1.bin", "é/ü.txt", "x" * 63, "a b/c d.txt"])
def test_usual_names_take_the_fast_path(path):
    """Ordinary names are recognised as canonical, so saving and opening them skip the slow path."""
    assert is_canonical(path)
    assert canonical_name(path) == path
