"""Evicted names stay taken: a link to an evicted file never serves another file's bytes.

Issue 23, point 1: with ``max_bytes = 200 KiB``, ``files/doc.txt`` was
evicted, and a new upload of another ``doc.txt`` was saved as
``files/doc.txt`` again, so the first row's link served someone else's
document. Now ``save()`` picks another name while the store remembers the
eviction; writing the name on purpose still means that name.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.http import Http404
from django.test import RequestFactory

from inmemorystorage import InMemoryStorage
from inmemorystorage.budget import RECORD_SHARE, record_charge
from inmemorystorage.store import EVICTIONS_REMEMBERED
from inmemorystorage.views import serve

KIB = 1024


@pytest.fixture
def storage():
    """A 200 KiB storage whose 'files/doc.txt' was evicted by later uploads."""
    storage = InMemoryStorage(max_bytes=200 * KIB)
    assert "files/doc.txt" == storage.save("files/doc.txt", ContentFile(b"MY DOCUMENT"))
    for i in range(4):
        storage.save(f"files/photo{i}.jpg", ContentFile(b"p" * (60 * KIB)))
    assert not storage.exists("files/doc.txt")
    assert storage.recent_eviction("files/doc.txt") is not None
    return storage


def served(storage, name):
    """The bytes the dev server's view serves at *name*, or the 404's message."""
    try:
        return serve(RequestFactory().get(f"/media/{name}"), name, storage).content
    except Http404 as exc:
        return str(exc)


def test_a_new_upload_of_an_evicted_name_gets_another_name(storage):
    """The old row's link stays a 404 that says why; the new file has a name of its own."""
    name = storage.save("files/doc.txt", ContentFile(b"SOMEONE ELSE'S DOCUMENT"))
    assert name.startswith("files/doc_")
    assert b"SOMEONE ELSE'S DOCUMENT" == served(storage, name)
    assert "'files/doc.txt' (11 bytes) was evicted at" in served(storage, "files/doc.txt")


class HookedStorage(InMemoryStorage):
    """A subclass with its own name hook: Django's generic save() chooses the name."""

    def get_alternative_name(self, file_root, file_ext):
        return f"{file_root}-copy{file_ext}"


def test_django_s_own_name_choice_skips_an_evicted_name_too():
    """is_name_available() says no for an evicted name, so get_available_name() moves on."""
    storage = HookedStorage(max_bytes=200 * KIB)
    storage.save("doc.txt", ContentFile(b"MY DOCUMENT"))
    for i in range(4):
        storage.save(f"photo{i}.jpg", ContentFile(b"p" * (60 * KIB)))
    assert not storage.is_name_available("doc.txt")
    assert "doc-copy.txt" == storage.save("doc.txt", ContentFile(b"another"))


def test_allow_overwrite_keeps_its_meaning():
    """With allow_overwrite, a save of the name is a save of that name, evicted or not."""
    storage = InMemoryStorage(max_bytes=200 * KIB, allow_overwrite=True)
    storage.save("doc.txt", ContentFile(b"MY DOCUMENT"))
    for i in range(4):
        storage.save(f"photo{i}.jpg", ContentFile(b"p" * (60 * KIB)))
    assert "doc.txt" == storage.save("doc.txt", ContentFile(b"new"))
    assert storage.recent_eviction("doc.txt") is None


def test_open_for_writing_keeps_its_meaning(storage):
    """open(name, "wb") writes that name: the eviction is forgotten, the new file served."""
    with storage.open("files/doc.txt", "wb") as file:
        file.write(b"rewritten")
    assert b"rewritten" == served(storage, "files/doc.txt")


def test_delete_keeps_its_meaning(storage):
    """delete() of an evicted name is quiet, as for any missing name, and the name stays taken."""
    storage.delete("files/doc.txt")
    assert "files/doc.txt" != storage.save("files/doc.txt", ContentFile(b"x"))


def test_an_evicted_name_is_free_again_once_forgotten(storage):
    """After the store forgets the eviction (clear(), here), the name is a name like any other."""
    storage.clear()
    assert "files/doc.txt" == storage.save("files/doc.txt", ContentFile(b"x"))


def test_names_stay_taken_under_steady_pressure():
    """Many uploads later, the latest evicted names are still remembered, within their share."""
    storage = InMemoryStorage(max_bytes=200 * KIB)
    for i in range(200):
        storage.save(f"upload{i:03}.bin", ContentFile(b"u" * (20 * KIB)))
    remembered = storage.recent_evictions()
    share = storage.max_bytes // RECORD_SHARE
    assert len(remembered) >= share // record_charge("upload000.bin")
    assert [e.name for e in remembered] == sorted((e.name for e in remembered), reverse=True)
    assert not any(storage.is_name_available(eviction.name) for eviction in remembered)
    newest = remembered[0].name
    assert newest != storage.save(newest, ContentFile(b"x"))
    assert storage.stats().bytes_used <= storage.max_bytes


def test_the_record_of_evictions_is_bounded_in_count_and_bytes():
    """However many evictions, at most EVICTIONS_REMEMBERED are kept, charged in bytes_used."""
    storage = InMemoryStorage(max_bytes=8 * 1024 * KIB)
    for i in range(3000):
        storage.save(f"u{i}", ContentFile(b"u" * (16 * KIB)))
    stats = storage.stats()
    assert len(storage.recent_evictions()) <= EVICTIONS_REMEMBERED
    assert stats.bytes_used <= stats.max_bytes
