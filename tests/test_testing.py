"""use_inmemory_storage(): a fresh in-memory default storage per test, block or class."""

from __future__ import annotations

import asyncio
import unittest

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.test import SimpleTestCase, override_settings

from inmemorystorage import InMemoryStorage
from inmemorystorage.testing import use_inmemory_storage

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def test_a_with_block_installs_the_storage_as_default():
    """Inside the block, default_storage and storages["default"] are the yielded storage."""
    with use_inmemory_storage() as storage:
        assert isinstance(storage, InMemoryStorage)
        assert storage is storages["default"]
        name = default_storage.save("a.txt", ContentFile(b"a"))
        assert (True, "a.txt") == (storage.exists("a.txt"), name)


def test_the_storage_starts_empty():
    """A block starts with no files, even when its options share a store."""
    InMemoryStorage(namespace="shared").save("left-over.txt", ContentFile(b"x"))
    with use_inmemory_storage(namespace="shared") as storage:
        assert ([], []) == storage.listdir("")


def test_files_are_gone_after_the_block():
    """The block's files are cleared when it ends, and the previous storage is back."""
    before = storages["default"]
    with use_inmemory_storage(namespace="gone") as storage:
        storage.save("a.txt", ContentFile(b"a"))
    assert not storage.exists("a.txt")
    assert not InMemoryStorage(namespace="gone").exists("a.txt")
    assert before == storages["default"]


def test_options_reach_the_storage():
    """Keyword options are the storage's OPTIONS."""
    with use_inmemory_storage(max_bytes=4096, on_full="error") as storage:
        assert (4096, "error") == (storage.max_bytes, storage.on_full)


def test_other_storages_are_kept():
    """Only the default alias changes; staticfiles keeps its configuration."""
    with (
        override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
                "staticfiles": {
                    "BACKEND": "inmemorystorage.InMemoryStorage",
                    "OPTIONS": {"base_url": "/s/"},
                },
            }
        ),
        use_inmemory_storage(),
    ):
        assert "/s/" == storages["staticfiles"].base_url


def test_blocks_nest():
    """An inner block has its own empty storage; the outer one is back after it."""
    with use_inmemory_storage() as outer:
        outer.save("outer.txt", ContentFile(b"o"))
        with use_inmemory_storage() as inner:
            assert not inner.exists("outer.txt")
        assert outer == storages["default"]
        assert storages["default"].exists("outer.txt")


def test_files_survive_a_rebuild_of_the_storages():
    """Files stay when an inner override_settings makes Django rebuild the default storage."""
    with use_inmemory_storage() as storage:
        storage.save("kept.txt", ContentFile(b"k"))
        with override_settings(STATIC_URL="/elsewhere/"):
            assert storages["default"].exists("kept.txt")
        assert storages["default"].exists("kept.txt")


def test_one_object_used_twice_nests():
    """The same decorator object can be entered again while active."""
    use = use_inmemory_storage()
    with use as outer, use as inner:
        outer.save("outer.txt", ContentFile(b"o"))
        assert not inner.exists("outer.txt")
        assert inner is storages["default"]


def test_bad_options_leave_the_settings_alone():
    """A bad option raises ImproperlyConfigured, and STORAGES is as before."""
    before = storages["default"]
    with pytest.raises(ImproperlyConfigured, match="max_bytes"):
        use_inmemory_storage(max_bytes=-1).enable()
    assert before == storages["default"]


@use_inmemory_storage(kwarg_name="storage")
def test_as_a_function_decorator(storage):
    """On a function, kwarg_name passes the storage in."""
    assert storage is storages["default"]


def test_as_an_async_function_decorator():
    """Async tests are decorated too: the storage is installed while they run."""

    @use_inmemory_storage(kwarg_name="storage")
    async def check(storage):
        return storage is storages["default"]

    assert asyncio.run(check())


@use_inmemory_storage(attr_name="storage")
class _TwoTests(SimpleTestCase):
    """A TestCase class whose tests each save 'report.txt'; run by the test below."""

    __test__ = False  # run by the test below, not collected by pytest
    names: list[str] = []  # noqa: RUF012  # collected across the two tests on purpose

    def setUp(self):
        self.names.append(default_storage.save("report.txt", ContentFile(b"r")))

    def test_first(self):
        assert self.storage is storages["default"]

    def test_second(self):
        assert self.storage is storages["default"]


def test_as_a_class_decorator_each_test_starts_empty():
    """On a TestCase class, each test gets a fresh storage: both save 'report.txt' unrenamed."""
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(_TwoTests)
    result = unittest.TestResult()
    suite.run(result)
    assert ([], [], 2) == (result.errors, result.failures, result.testsRun)
    assert ["report.txt", "report.txt"] == _TwoTests.names
