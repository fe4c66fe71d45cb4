"""Static files in memory: a real collectstatic, then {% static %} in a template."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.template import Context, Engine
from django.test import override_settings

import inmemorystorage
from inmemorystorage import (
    InMemoryManifestStaticFilesStorage,
    InMemoryStaticFilesStorage,
    InMemoryStorage,
)
from inmemorystorage.testing import use_inmemory_storage

APP_CSS = Path(__file__).parent / "testapp" / "static" / "testapp" / "app.css"


def static_settings(backend, tmp_path, **options):
    """Settings with staticfiles installed and the given backend for STORAGES["staticfiles"]."""
    return override_settings(
        INSTALLED_APPS=["django.contrib.staticfiles", "tests.testapp"],
        STATIC_URL="/static/",
        STATIC_ROOT=str(tmp_path / "static_root"),
        STORAGES={
            "default": {"BACKEND": "inmemorystorage.InMemoryStorage"},
            "staticfiles": {"BACKEND": backend, "OPTIONS": options},
        },
    )


def render(template):
    """Render a template string with the static tag library."""
    engine = Engine(libraries={"static": "django.templatetags.static"})
    return engine.from_string("{% load static %}" + template).render(Context())


def collectstatic():
    call_command("collectstatic", interactive=False, verbosity=0)


pytestmark = pytest.mark.usefixtures("forget_shared_stores")


@pytest.fixture
def static_storage(tmp_path):
    """InMemoryStaticFilesStorage as the staticfiles storage."""
    with static_settings("inmemorystorage.InMemoryStaticFilesStorage", tmp_path):
        yield staticfiles_storage


@pytest.fixture
def manifest_storage(tmp_path):
    """InMemoryManifestStaticFilesStorage as the staticfiles storage."""
    with static_settings("inmemorystorage.InMemoryManifestStaticFilesStorage", tmp_path):
        yield staticfiles_storage


def test_collectstatic_copies_into_memory(static_storage, tmp_path):
    """collectstatic stores each static file in memory, and nothing under STATIC_ROOT."""
    collectstatic()
    with static_storage.open("testapp/app.css") as file:
        assert APP_CSS.read_bytes() == file.read()
    assert static_storage.exists("testapp/img/dot.svg")
    assert not (tmp_path / "static_root").exists()


def test_static_tag_resolves(static_storage):
    """{% static %} gives STATIC_URL plus the name."""
    collectstatic()
    assert "/static/testapp/app.css" == render("{% static 'testapp/app.css' %}")


def test_collectstatic_twice_keeps_the_names(static_storage):
    """A second collectstatic replaces or skips files; it never adds renamed copies."""
    collectstatic()
    call_command("collectstatic", interactive=False, verbosity=0, clear=True)
    assert (["img"], ["app.css"]) == static_storage.listdir("testapp")


def test_plain_storage_with_static_options(tmp_path):
    """InMemoryStorage itself serves as the staticfiles storage with the documented OPTIONS."""
    options = {"base_url": "/static/", "namespace": "staticfiles"}
    with static_settings("inmemorystorage.InMemoryStorage", tmp_path, **options):
        collectstatic()
        assert staticfiles_storage.exists("testapp/app.css")
        assert "/static/testapp/app.css" == render("{% static 'testapp/app.css' %}")


def test_manifest_static_tag_gives_hashed_names(manifest_storage):
    """After collectstatic, {% static %} renders the hashed name, whose file is in memory."""
    collectstatic()
    url = render("{% static 'testapp/app.css' %}")
    name = url.removeprefix("/static/")
    assert "testapp/app.css" != name
    assert (name[:12], name[-4:]) == ("testapp/app.", ".css")
    assert manifest_storage.exists(name)


def test_manifest_rewrites_references(manifest_storage):
    """The hashed CSS points at the hashed image, as ManifestStaticFilesStorage does."""
    collectstatic()
    css = manifest_storage.stored_name("testapp/app.css")
    svg = manifest_storage.stored_name("testapp/img/dot.svg")
    with manifest_storage.open(css) as file:
        assert svg.removeprefix("testapp/") in file.read().decode()


def test_manifest_survives_a_rebuilt_storage(manifest_storage):
    """The shared namespace keeps the collected files when Django rebuilds the static storage."""
    collectstatic()
    expected = render("{% static 'testapp/app.css' %}")
    before = storages["staticfiles"]
    with use_inmemory_storage():
        assert storages["staticfiles"] is not before
        assert expected == render("{% static 'testapp/app.css' %}")


def test_missing_manifest_entries_raise(manifest_storage):
    """Without collectstatic, a name is missing from the manifest: ValueError, as in Django."""
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        render("{% static 'testapp/app.css' %}")


@override_settings(STATIC_URL="/assets/", STATIC_ROOT="collected")
def test_defaults_are_static_settings():
    """location and base_url default to STATIC_ROOT and STATIC_URL, and follow changes."""
    storage = InMemoryStaticFilesStorage()
    assert ("/assets/", "collected") == (storage.base_url, storage.base_location)
    with override_settings(STATIC_URL="/other/", STATIC_ROOT="elsewhere"):
        assert ("/other/", "elsewhere") == (storage.base_url, storage.base_location)
    assert storage.url("app.css") == "/assets/app.css"


@override_settings(STATIC_ROOT=None, STATIC_URL="/static/")
def test_explicit_values_win():
    """Given location and base_url are used as given, with a slash added to the URL."""
    storage = InMemoryStaticFilesStorage(location="here", base_url="/s")
    assert ("/s/", "here") == (storage.base_url, storage.base_location)
    assert "" == InMemoryStaticFilesStorage().base_location


@override_settings(STATIC_URL="/media/", MEDIA_URL="/media/")
def test_static_url_must_differ_from_media_url():
    """As with StaticFilesStorage, STATIC_URL equal to MEDIA_URL is improperly configured."""
    with pytest.raises(ImproperlyConfigured, match="MEDIA_URL and STATIC_URL"):
        InMemoryStaticFilesStorage().url("app.css")


def test_static_storages_with_one_location_share_their_files():
    """Two static storages over the same STATIC_ROOT see the same files, as one directory would."""
    InMemoryStaticFilesStorage(location="/srv/static").save("app.css", ContentFile(b"a{}"))
    assert InMemoryStaticFilesStorage(location="/srv/static").exists("app.css")


def test_static_storages_with_different_locations_do_not():
    """Different locations are different destinations: one's files do not show in another."""
    InMemoryStaticFilesStorage(location="/srv/one").save("app.css", ContentFile(b"a{}"))
    assert not InMemoryStaticFilesStorage(location="/srv/two").exists("app.css")
    assert not InMemoryManifestStaticFilesStorage(location="/srv/two").exists("app.css")


def test_a_fresh_static_root_starts_empty(tmp_path):
    """collectstatic into one STATIC_ROOT leaves a test with another STATIC_ROOT empty."""
    backend = "inmemorystorage.InMemoryStaticFilesStorage"
    with static_settings(backend, tmp_path / "first"):
        collectstatic()
        assert staticfiles_storage.exists("testapp/app.css")
    with static_settings(backend, tmp_path / "second"):
        assert not staticfiles_storage.exists("testapp/app.css")


def test_collectstatic_copies_a_changed_source_into_a_fresh_root(tmp_path):
    """A source changed since another root was collected is copied, not skipped as unmodified."""
    backend = "inmemorystorage.InMemoryStaticFilesStorage"
    source = tmp_path / "src" / "site.css"
    source.parent.mkdir()
    source.write_text("old")
    with override_settings(STATICFILES_DIRS=[str(source.parent)]):
        with static_settings(backend, tmp_path / "first"):
            collectstatic()
        source.write_text("new")
        with static_settings(backend, tmp_path / "second"):
            collectstatic()
            assert b"new" == staticfiles_storage.open("site.css").read()


def test_a_namespace_shares_whatever_the_location():
    """An explicit namespace puts static storages of any location in one store."""
    one = InMemoryStaticFilesStorage(location="/srv/one", namespace="assets")
    one.save("app.css", ContentFile(b"a{}"))
    assert InMemoryStaticFilesStorage(location="/srv/two", namespace="assets").exists("app.css")


@pytest.mark.parametrize(
    "cls",
    [InMemoryStaticFilesStorage, InMemoryManifestStaticFilesStorage],
    ids=lambda c: c.__name__,
)
def test_static_storages_deconstruct_to_public_paths(cls):
    """Each class deconstructs to its public import path and is an InMemoryStorage."""
    assert f"inmemorystorage.{cls.__name__}" == cls().deconstruct()[0]
    assert issubclass(cls, InMemoryStorage)
    assert cls is getattr(inmemorystorage, cls.__name__)
