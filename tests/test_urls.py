"""``inmemorystorage.urls.media_urlpatterns``: the URLconf line that serves MEDIA_URL."""

from __future__ import annotations

import types

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from inmemorystorage import InMemoryStorage
from inmemorystorage.urls import media_urlpatterns
from inmemorystorage.views import serve


@pytest.fixture
def debug(settings):
    """DEBUG on, as under runserver, and a fresh default storage."""
    settings.DEBUG = True
    settings.STORAGES = {**settings.STORAGES}  # a changed setting: storages builds anew
    return settings


def urlconf(patterns):
    """A URLconf module holding *patterns*, as a project's urls.py would."""
    module = types.ModuleType("media_urls")
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    return module


def test_media_url_is_served_from_the_default_storage(client, debug):
    """With DEBUG on, GET MEDIA_URL + name answers with the default storage's file."""
    storages["default"].save("notes.txt", ContentFile(b"hello"))
    debug.ROOT_URLCONF = urlconf(media_urlpatterns())
    response = client.get("/media/notes.txt")
    assert (200, b"hello") == (response.status_code, response.content)


def test_nothing_is_served_without_debug(settings):
    """With DEBUG off there are no patterns, as with django.conf.urls.static.static()."""
    settings.DEBUG = False
    assert [] == media_urlpatterns()


def test_the_pattern_passes_the_name_to_the_view(debug):
    """The pattern resolves a URL under the prefix to serve() with the rest as the name."""
    match = media_urlpatterns()[0].resolve("media/photos/cat.png")
    assert (serve, {"path": "photos/cat.png", "storage": None}) == (match.func, match.kwargs)


def test_prefix_and_storage_can_be_given(debug):
    """A prefix other than MEDIA_URL, and a storage alias or instance, reach the view."""
    storage = InMemoryStorage()
    match = media_urlpatterns("/uploads/", storage)[0].resolve("uploads/a.txt")
    assert {"path": "a.txt", "storage": storage} == match.kwargs


def test_special_characters_in_the_prefix_are_literal(debug):
    """The prefix is matched literally, not as a regular expression."""
    pattern = media_urlpatterns("/files.v2/")[0]
    assert (None, "a.txt") == (
        pattern.resolve("filesxv2/a.txt"),
        pattern.resolve("files.v2/a.txt").kwargs["path"],
    )


@pytest.mark.parametrize("prefix", ["", "/", "//"])
@pytest.mark.parametrize("is_debug", [True, False])
def test_an_empty_prefix_is_refused(settings, prefix, is_debug):
    """An empty prefix would serve every URL: ImproperlyConfigured, even without DEBUG."""
    settings.DEBUG = is_debug
    with pytest.raises(ImproperlyConfigured, match="needs a URL prefix"):
        media_urlpatterns(prefix)


def test_an_unset_media_url_is_refused_with_the_line_to_add(settings):
    """MEDIA_URL left at Django's default (""), as startproject leaves it, gets the fix to paste.

    Only with DEBUG on: without it there is nothing to serve (tests/test_rough_edges.py).
    """
    settings.DEBUG = True
    settings.MEDIA_URL = ""
    with pytest.raises(ImproperlyConfigured) as refused:
        media_urlpatterns()
    assert "MEDIA_URL, which is not set" in str(refused.value)
    assert 'set MEDIA_URL = "media/" in settings.py' in str(refused.value)


def test_an_absolute_url_prefix_is_refused(debug):
    """Files under another host cannot be served from the dev server: ImproperlyConfigured."""
    with pytest.raises(ImproperlyConfigured, match="absolute URL"):
        media_urlpatterns("https://cdn.example.com/media/")


def test_an_absolute_media_url_is_fine_in_production(settings):
    """With DEBUG off an absolute MEDIA_URL (a CDN) gives no patterns and no error."""
    settings.DEBUG = False
    settings.MEDIA_URL = "https://cdn.example.com/media/"
    assert [] == media_urlpatterns()
