"""The first-hour rough edges of issue 23, each as a user met it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import global_settings
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.test import override_settings

import inmemorystorage
from inmemorystorage import InMemoryStaticFilesStorage
from inmemorystorage.budget import FILE_OVERHEAD, file_charge
from inmemorystorage.checks import check_removed_settings, check_storages
from inmemorystorage.signals import file_evicted
from inmemorystorage.urls import media_urlpatterns
from tests.test_docs import blocks

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def docs_text() -> dict[Path, str]:
    """Every page a user reads: the docs and the README."""
    pages = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]
    return {page: page.read_text() for page in pages if page.name != "changelog.md"}


# The package's names.


def test_dir_lists_the_names_imported_on_first_use():
    """dir(inmemorystorage) shows InMemoryStorage, dump and load, which are imported lazily."""
    assert set(inmemorystorage.__all__) <= set(dir(inmemorystorage))


# media_urlpatterns().


def test_an_unset_media_url_gives_no_patterns_without_debug(settings):
    """With DEBUG off the line can stay in production even where MEDIA_URL is unset."""
    settings.DEBUG = False
    settings.MEDIA_URL = ""
    assert [] == media_urlpatterns()


def test_the_unset_media_url_message_ends_with_the_call_to_write(settings):
    """The message says both fixes in whole sentences, the second as the call to write."""
    settings.DEBUG = True
    settings.MEDIA_URL = ""
    with pytest.raises(ImproperlyConfigured) as refused:
        media_urlpatterns()
    expected = (
        "media_urlpatterns() serves the files under MEDIA_URL, which is not set "
        "(django-admin startproject leaves it empty) or is the site's root: "
        'set MEDIA_URL = "media/" in settings.py, or give the prefix to serve: '
        'media_urlpatterns(prefix="/media/").'
    )
    assert expected == str(refused.value)


# Checks.


def test_a_misspelt_option_gets_the_option_it_resembles(settings):
    """E002 for on_ful suggests on_full, as Django's own messages suggest close names."""
    settings.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "media", "max_bytes": 1024, "on_ful": "error"},
        },
        "staticfiles": STATIC,
    }
    (message,) = check_storages()
    assert "inmemorystorage.E002" == message.id
    assert "Did you mean 'on_full' for 'on_ful'? Fix STORAGES['default']['OPTIONS']." == (
        message.hint
    )


def test_the_removed_settings_hint_names_the_media_namespace(settings):
    """E001's STORAGES gives the default storage the namespace the docs use, "media"."""
    settings.STORAGES = {"staticfiles": STATIC}
    settings.DEFAULT_FILE_STORAGE = "inmemorystorage.InMemoryStorage"
    (message,) = check_removed_settings()
    assert "'OPTIONS': {'namespace': 'media'}" in message.hint


def test_the_no_namespace_hint_names_the_media_namespace_for_default(settings):
    """W003 for STORAGES["default"] suggests "media", as the docs do."""
    settings.STORAGES = {
        "default": {"BACKEND": "inmemorystorage.InMemoryStorage"},
        "staticfiles": STATIC,
    }
    (message,) = check_storages()
    assert "inmemorystorage.W003" == message.id
    assert message.hint.startswith("Add \"namespace\": 'media' to STORAGES['default']['OPTIONS']")


# The docs.


def test_the_default_storage_has_the_namespace_media_everywhere():
    """Every page that names a namespace for the default storage names "media"."""
    found = {
        page.relative_to(ROOT).as_posix(): namespace
        for page, text in docs_text().items()
        for namespace in re.findall(r'"default": \{[^}]*?"namespace": "(\w+)"', text, re.DOTALL)
        if namespace != "media"
    }
    assert {} == found


def test_the_per_file_overhead_is_stated_as_a_number():
    """The bounding-memory page gives the per-file overhead and an empty file's cost in bytes."""
    text = (DOCS / "howto" / "bounding-memory.md").read_text()
    empty = file_charge("a.txt", 0)
    assert (True, True) == (f"{FILE_OVERHEAD} bytes" in text, f"{empty:,} bytes" in text)


def test_the_eviction_receiver_prints_what_the_page_says(settings):
    """The bounding-memory page's receiver example prints exactly the eviction it announces."""
    page = DOCS / "howto" / "bounding-memory.md"
    (block,) = [b for b in blocks(page) if b.kind == "shell" and "was evicted" in b.arg]
    printed = []

    def note_eviction(sender, storage, name, size, **kwargs):
        printed.append(f"{name} ({size} bytes) was evicted")

    file_evicted.connect(note_eviction)
    try:
        exec(compile(block.code, repr(block), "exec"), {})  # noqa: S102  # our own docs
    finally:
        file_evicted.disconnect(note_eviction)
    assert [block.arg.removeprefix("expect ")] == printed


def test_the_migration_page_names_the_check_a_user_without_storages_gets(settings):
    """2.1.0's DEFAULT_FILE_STORAGE without STORAGES is E001, and the migration page says so."""
    settings.STORAGES = global_settings.STORAGES  # Django's own: the default storage on disk
    settings.DEFAULT_FILE_STORAGE = "inmemorystorage.InMemoryStorage"
    (message,) = check_removed_settings()
    text = (DOCS / "howto" / "migrating.md").read_text()
    assert ("inmemorystorage.E001", True) == (message.id, "`inmemorystorage.E001`" in text)


@override_settings(STATIC_ROOT=None, STATIC_URL="/static/")
def test_an_empty_static_root_differs_from_django_as_the_docs_say():
    """Django's static storage refuses to save without STATIC_ROOT; ours keeps the file in memory.

    docs/differences.md lists it among the differences.
    """
    with pytest.raises(ImproperlyConfigured, match="STATIC_ROOT"):
        StaticFilesStorage().save("app.css", ContentFile(b"a{}"))
    name = InMemoryStaticFilesStorage().save("app.css", ContentFile(b"a{}"))
    differences = (DOCS / "differences.md").read_text()
    row = next((line for line in differences.splitlines() if "`STATIC_ROOT`" in line), "")
    assert ("app.css", True) == (name, "ImproperlyConfigured" in row)
