"""The app: evictions printed on the console when logging leaves them nowhere to go."""

from __future__ import annotations

import logging

import pytest
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage
from inmemorystorage.apps import show_evictions_on_console


@pytest.fixture
def lonely_logger():
    """A logger with no handler of its own nor above it, as Django's default LOGGING leaves ours.

    Made outside the logging hierarchy, where pytest's capturing handlers cannot reach it.
    """
    return logging.Logger("inmemorystorage")  # noqa: LOG001  # outside the hierarchy on purpose


def test_a_logger_without_handlers_gets_one_at_info(lonely_logger, capsys):
    """An INFO record of a logger nobody configured is printed on stderr, once, with the time."""
    assert show_evictions_on_console(lonely_logger)
    lonely_logger.info("evicted %r (%d bytes) from %s to make room", "a.bin", 3, "default")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("[")
    assert line.endswith("] evicted 'a.bin' (3 bytes) from default to make room")


def test_a_configured_logger_is_left_alone(lonely_logger):
    """A logger with a handler (from LOGGING) gets no second one: each line once."""
    lonely_logger.addHandler(logging.NullHandler())
    assert (False, 1) == (show_evictions_on_console(lonely_logger), len(lonely_logger.handlers))


def test_a_level_set_in_logging_is_kept(lonely_logger):
    """A level the project chose for the logger stays, even when a handler is added."""
    lonely_logger.setLevel(logging.ERROR)
    show_evictions_on_console(lonely_logger)
    assert logging.ERROR == lonely_logger.level


def test_the_storage_logs_each_eviction_once_with_file_size_and_store(lonely_logger, caplog):
    """What the console shows: one INFO line per evicted file, naming it, its size and store."""
    storage = InMemoryStorage(max_bytes=4000)
    storage.save("old.bin", ContentFile(b"o" * 2000))
    with caplog.at_level(logging.INFO, "inmemorystorage"):
        storage.save("new.bin", ContentFile(b"n" * 2000))
    assert ["evicted 'old.bin' (2000 bytes) from the in-memory storage to make room"] == [
        record.getMessage() for record in caplog.records if record.name == "inmemorystorage"
    ]


def test_ready_under_debug_leaves_a_configured_root_logger_alone(settings):
    """With DEBUG on and a root handler (here pytest's), the app adds no handler of its own."""
    settings.DEBUG = True
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "inmemorystorage"]
    assert [] == logging.getLogger("inmemorystorage").handlers
