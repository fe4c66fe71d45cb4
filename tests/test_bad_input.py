"""The bad-input catalogue: each bad call raises its documented error and changes nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage


def content_of(storage: InMemoryStorage) -> dict[str, object]:
    """Everything observable: every file's bytes, the directory listing and the stats."""
    files: dict[str, bytes] = {}
    dirs: list[str] = []
    pending = [""]
    while pending:
        directory = pending.pop()
        subdirs, names = storage.listdir(directory)
        prefix = f"{directory}/" if directory else ""
        dirs += [prefix + d for d in subdirs]
        pending += [prefix + d for d in subdirs]
        for name in names:
            files[prefix + name] = storage._store.read(prefix + name)
    stats = storage.stats()
    return {
        "files": files,
        "dirs": sorted(dirs),
        "counts": (stats.files, stats.dirs, stats.bytes_used, stats.evictions),
    }


CATALOGUE = [
    # (id, call, expected error, words the message must contain)
    ("traversal", lambda s: s.save("../x", ContentFile(b"x")), SuspiciousFileOperation, ".."),
    ("nested-traversal", lambda s: s.open("a/../../x", "wb"), SuspiciousFileOperation, ".."),
    ("backslash-traversal", lambda s: s.open("..\\x", "wb"), SuspiciousFileOperation, ".."),
    ("absolute", lambda s: s.open("/etc/passwd", "wb"), SuspiciousFileOperation, "absolute"),
    ("absolute-read", lambda s: s.open("/etc/passwd"), SuspiciousFileOperation, "absolute"),
    ("nul-byte", lambda s: s.save("a\x00b", ContentFile(b"x")), ValueError, "NUL"),
    # What Python makes of a file name that is not UTF-8: no URL or page can carry it.
    ("lone-surrogate", lambda s: s.save("\udcff.txt", ContentFile(b"x")), ValueError, "surrogate"),
    ("lone-surrogate-write", lambda s: s.open("d/\udcff", "wb"), ValueError, "surrogate"),
    ("empty-name", lambda s: s.save("", ContentFile(b"x")), SuspiciousFileOperation, "''"),
    ("empty-open", lambda s: s.open("", "wb"), IsADirectoryError, "Is a directory"),
    ("blank-name", lambda s: s.save("   ", ContentFile(b"x")), ValueError, "blank"),
    ("directory-read", lambda s: s.open("dir"), IsADirectoryError, "dir"),
    ("directory-write", lambda s: s.open("dir", "wb"), IsADirectoryError, "dir"),
    ("directory-size", lambda s: s.size("dir"), IsADirectoryError, "dir"),
    (
        "file-as-directory",
        lambda s: s.save("file.txt/x", ContentFile(b"x")),
        FileExistsError,
        "file.txt",
    ),
    ("listdir-of-file", lambda s: s.listdir("file.txt"), NotADirectoryError, "file.txt"),
    ("overlong-name", lambda s: s.save("x" * 300, ContentFile(b"x")), OSError, "255 bytes"),
    ("non-str-name", lambda s: s.open(42), TypeError, "int"),
    ("bytes-name", lambda s: s.open(b"file.txt"), TypeError, "bytes"),
    ("invalid-mode", lambda s: s.open("file.txt", "rq"), ValueError, "'rq'"),
    ("read-write-mode", lambda s: s.open("file.txt", "rw"), ValueError, "'rw'"),
    ("none-content", lambda s: s.save("n.txt", None), TypeError, "None"),
    ("missing-file", lambda s: s.open("missing.txt"), FileNotFoundError, "missing.txt"),
    ("delete-without-name", lambda s: s.delete(""), ValueError, "name"),
    ("bad-max-bytes", lambda s: InMemoryStorage(max_bytes=-1), ImproperlyConfigured, "max_bytes"),
    ("bool-max-bytes", lambda s: InMemoryStorage(max_bytes=True), ImproperlyConfigured, "True"),
    ("float-max-bytes", lambda s: InMemoryStorage(max_bytes=1.5), ImproperlyConfigured, "1.5"),
    ("bad-on-full", lambda s: InMemoryStorage(on_full="drop"), ImproperlyConfigured, "'drop'"),
    ("bad-namespace", lambda s: InMemoryStorage(namespace=""), ImproperlyConfigured, "namespace"),
]


@pytest.fixture
def populated():
    storage = InMemoryStorage(max_bytes=1024 * 1024)
    storage.save("file.txt", ContentFile(b"file"))
    storage.save("dir/inner.txt", ContentFile(b"inner"))
    storage.save("dir/sub/deep.bin", ContentFile(bytes(range(256))))
    return storage


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [pytest.param(call, error, words, id=name) for name, call, error, words in CATALOGUE],
)
def test_bad_input_raises_and_changes_nothing(populated, call, error, words):
    """Each bad call raises the documented error, says what is wrong, and leaves every byte."""
    before = content_of(populated)
    with pytest.raises(error) as info:
        call(populated)
    assert words in str(info.value)
    assert before == content_of(populated)
