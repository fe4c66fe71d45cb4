"""The view's 404 for a file evicted recently says so: when, and the budget that made it go."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.http import Http404
from django.test import Client, RequestFactory

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


def test_a_new_file_of_an_evicted_name_gets_another_name(storage):
    """save() gives the name to no new file: the old link stays a 404, never another file."""
    name = storage.save("old.bin", ContentFile(b"someone else's"))
    assert "old.bin" != name
    assert "was evicted" in not_found(storage, "old.bin")


def test_a_file_written_again_on_purpose_after_its_eviction_is_served(storage):
    """Writing the name with open(name, "wb") means that name: the eviction is forgotten."""
    with storage.open("old.bin", "wb") as file:
        file.write(b"back")
    response = serve(RequestFactory().get("/media/old.bin"), "old.bin", storage)
    assert (200, b"back") == (response.status_code, response.content)


class _Enclosing(HTMLParser):
    """The open elements around the first text that contains *needle*, and the page's CSS."""

    def __init__(self, needle):
        super().__init__()
        self.needle, self.open, self.around, self.css = needle, [], None, ""

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)

    def handle_endtag(self, tag):
        while self.open and self.open.pop() != tag:
            pass

    def handle_data(self, data):
        if self.open and self.open[-1] == "style":
            self.css += data
        if self.around is None and self.needle in data:
            self.around = list(self.open)


@pytest.fixture
def debug_client(settings):
    """A client of the view under DEBUG; the default storage evicted 'old.bin' for 'new.bin'."""
    settings.DEBUG = True
    settings.ROOT_URLCONF = "tests.view_urls"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": {"max_bytes": 8000}},
    }
    storage = storages["default"]
    storage.save("old.bin", ContentFile(b"o" * 3000))
    storage.save("new.bin", ContentFile(b"n" * 4000))
    return Client()


def test_under_debug_the_remedy_is_a_paragraph_that_wraps(debug_client):
    """The page gives the remedy in a paragraph, not in a <pre> line that runs off-screen."""
    response = debug_client.get("/media/old.bin", headers={"accept": "text/html"})
    parser = _Enclosing("on_full='error'")
    parser.feed(response.content.decode())
    assert (404, ["html", "body", "p"]) == (response.status_code, parser.around)


def test_under_debug_a_long_name_wraps_too(debug_client):
    """The page's CSS breaks a long name (which has no spaces) at the page's edge."""
    response = debug_client.get("/media/old.bin", headers={"accept": "text/html"})
    parser = _Enclosing("never")
    parser.feed(response.content.decode())
    assert "overflow-wrap: anywhere" in parser.css


def test_under_debug_a_client_without_html_gets_text(debug_client):
    """A client that does not accept HTML gets the same explanation in plain text."""
    response = debug_client.get("/media/old.bin", headers={"accept": "text/plain"})
    text = response.content.decode()
    assert (404, "text/plain; charset=utf-8", True) == (
        response.status_code,
        response["Content-Type"],
        "was evicted at" in text and "on_full='error'" in text,
    )


def test_under_debug_the_page_at_an_active_name_is_sandboxed(debug_client):
    """The page answers at the file's own URL: it gets the policy the file would have had."""
    response = debug_client.get("/media/old.bin", headers={"accept": "text/html"})
    assert (404, "sandbox") == (response.status_code, response["Content-Security-Policy"])
