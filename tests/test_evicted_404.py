"""The view's 404 for a file evicted recently says so: when, and the budget that made it go."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.http import Http404
from django.test import RequestFactory

from inmemorystorage import InMemoryStorage
from inmemorystorage.views import serve


@pytest.fixture
def storage():
    """A storage that had to evict 'old.bin' to make room for 'new.bin'."""
    storage = InMemoryStorage(max_bytes=8000)
    storage.save("old.bin", ContentFile(b"o" * 3000))
    storage.save("new.bin", ContentFile(b"n" * 4000))
    assert not storage.exists("old.bin")
    return storage


def not_found(storage, name):
    with pytest.raises(Http404) as raised:
        serve(RequestFactory().get(f"/media/{name}"), name, storage)
    return str(raised.value)


def test_the_404_of_an_evicted_file_says_when_and_why(storage):
    """The message names the file, its size, the time of eviction and max_bytes."""
    message = not_found(storage, "old.bin")
    assert re.fullmatch(
        r"'old\.bin' \(3,000 bytes\) was evicted at \d\d:\d\d:\d\d to make room, "
        r"max_bytes=8,000: .*",
        message,
    ), message


def test_the_404_of_a_name_never_saved_is_the_plain_one(storage):
    """A name nothing was evicted from gets the usual message."""
    assert "evicted" not in not_found(storage, "never.bin")


def test_a_file_saved_again_after_its_eviction_is_served(storage):
    """Saving the name again forgets the eviction: the file is there."""
    storage.save("old.bin", ContentFile(b"back"))
    response = serve(RequestFactory().get("/media/old.bin"), "old.bin", storage)
    assert (200, b"back") == (response.status_code, response.content)
