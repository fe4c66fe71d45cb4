"""The pytest plugin: the inmemory_storage fixture and marker, here and in a pytester project."""

from __future__ import annotations

import textwrap

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages

from inmemorystorage import InMemoryStorage

from .imports import django_modules_imported_by

TWO_TESTS = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def test_first(inmemory_storage):
    assert "report.txt" == default_storage.save("report.txt", ContentFile(b"first"))


def test_second(inmemory_storage):
    assert not default_storage.exists("report.txt")
    assert "report.txt" == default_storage.save("report.txt", ContentFile(b"second"))
"""


def test_loading_the_plugin_imports_no_django():
    """pytest loads the plugin in every run; Django is imported only when a test uses it."""
    assert [] == django_modules_imported_by("inmemorystorage.pytest_plugin")


def test_the_fixture_is_the_default_storage(inmemory_storage):
    """The fixture yields the storage that storages["default"] and default_storage use."""
    assert isinstance(inmemory_storage, InMemoryStorage)
    assert inmemory_storage is storages["default"]
    default_storage.save("a.txt", ContentFile(b"a"))
    assert inmemory_storage.exists("a.txt")


@pytest.mark.inmemory_storage(max_bytes=2048, on_full="error")
def test_the_marker_gives_options(inmemory_storage):
    """Marker keywords are the storage's options."""
    assert (2048, "error") == (inmemory_storage.max_bytes, inmemory_storage.on_full)


@pytest.mark.inmemory_storage(max_bytes=1024)
def test_the_marker_alone_installs_the_storage():
    """A test that carries the marker gets the storage without asking for the fixture."""
    assert 1024 == storages["default"].max_bytes


@pytest.mark.inmemory_storage(max_bytes=1024, on_full="error")
class TestMarkersMerge:
    """A class marker gives defaults; a closer marker overrides them."""

    @pytest.mark.inmemory_storage(max_bytes=4096)
    def test_the_closest_marker_wins(self, inmemory_storage):
        """The function's max_bytes wins; the class's on_full stays."""
        assert (4096, "error") == (inmemory_storage.max_bytes, inmemory_storage.on_full)


def test_a_second_test_does_not_see_the_first_ones_file(pytester):
    """In a project of two tests, both save 'report.txt' under that very name."""
    pytester.makepyfile(test_two=TWO_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:django")
    result.assert_outcomes(passed=2)


def test_the_marker_is_registered(pytester):
    """--strict-markers accepts the marker: the plugin registers it."""
    pytester.makepyfile(
        test_marked="""
        import pytest
        from django.core.files.storage import storages

        @pytest.mark.inmemory_storage(max_bytes=100)
        def test_marked():
            assert 100 == storages["default"].max_bytes
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:django", "--strict-markers")
    result.assert_outcomes(passed=1)


def test_positional_marker_arguments_are_refused(pytester):
    """The marker takes keywords only, and says so."""
    pytester.makepyfile(
        test_positional="""
        import pytest

        @pytest.mark.inmemory_storage(1024)
        def test_positional():
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:django")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*takes InMemoryStorage options as keywords*(1024,)*"])


def test_the_plugin_can_be_disabled(pytester):
    """-p no:inmemorystorage removes the fixture: it comes from the pytest11 entry point."""
    pytester.makepyfile(test_two=TWO_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:django", "-p", "no:inmemorystorage")
    result.stdout.fnmatch_lines(["*fixture 'inmemory_storage' not found*"])


def test_it_works_with_pytest_django(pytester, tmp_path):
    """With pytest-django configuring Django in a fresh process, the project's media stays
    off the disk and the second test does not see the first one's file."""
    media = tmp_path / "media"
    pytester.makepyfile(
        project_settings=textwrap.dedent(
            f"""
            SECRET_KEY = "pytester"
            INSTALLED_APPS = []
            STORAGES = {{
                "default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
            }}
            MEDIA_ROOT = {str(media)!r}
            """
        ),
        test_two=TWO_TESTS,
    )
    result = pytester.runpytest_subprocess(
        "-p", "django", "--ds=project_settings", "-p", "no:cacheprovider", timeout=120
    )
    result.assert_outcomes(passed=2)
    assert not media.exists()
