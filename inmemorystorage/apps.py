"""The ``inmemorystorage`` app: what ``manage.py runserver`` users need, on when it is installed.

Without ``"inmemorystorage"`` in ``INSTALLED_APPS`` the storage works alone,
as a plain backend. With it:

- the system checks of :mod:`inmemorystorage.checks` run with ``manage.py
  check`` (and before runserver serves);
- under ``DEBUG``, evictions show on the console when nothing else handles
  the ``inmemorystorage`` logger (Django's default ``LOGGING`` configures only
  ``django`` loggers), and runserver's console shows those that other
  processes make in a storage on a Redis server;
- runserver's autoreloader hands every in-memory store from the old server
  process to the new one (:mod:`inmemorystorage.handoff`).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks as django_checks
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

__all__ = [
    "InMemoryStorageConfig",
    "serves_requests",
    "show_evictions_of_other_processes",
    "show_evictions_on_console",
]

#: runserver's own date format, so that eviction lines read like its request lines.
_CONSOLE_FORMAT = logging.Formatter("[%(asctime)s] %(message)s", "%d/%b/%Y %H:%M:%S")


class InMemoryStorageConfig(AppConfig):
    """Registers the checks, shows evictions under ``DEBUG``, hands stores over on reload."""

    name = "inmemorystorage"
    verbose_name = "In-memory storage"

    def ready(self) -> None:
        """Connect the app to Django: checks, the console logger and the reload hand-off."""
        from . import checks, handoff  # noqa: PLC0415  # both import the storage, thus settings

        django_checks.register(checks.check_removed_settings, django_checks.Tags.compatibility)
        django_checks.register(checks.check_storages, django_checks.Tags.compatibility)
        django_checks.register(checks.check_middleware, django_checks.Tags.compatibility)
        django_checks.register(checks.check_deploy, django_checks.Tags.compatibility, deploy=True)
        if settings.DEBUG:
            show_evictions_on_console(logging.getLogger("inmemorystorage"))
            if serves_requests(sys.argv):
                show_evictions_of_other_processes()
        handoff.start()


def serves_requests(argv: list[str]) -> bool:
    """Whether this process is runserver's server: the reloader's child, or ``--noreload``."""
    if argv[1:2] != ["runserver"]:
        return False
    return os.environ.get(DJANGO_AUTORELOAD_ENV) == "true" or "--noreload" in argv


def show_evictions_of_other_processes() -> list[Any]:
    """Log the evictions other processes make in every storage of ``STORAGES`` on a server.

    So that runserver's console shows them all, whichever process (a
    ``manage.py shell``, a worker, another server) made them. A server that
    does not answer is reported once and not listened to (check E004 says
    more).

    Returns:
        The listening threads.
    """
    from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415  # with the storages
    from django.core.files.storage import storages  # noqa: PLC0415  # reads the settings

    from .configured import in_memory_storages  # noqa: PLC0415  # imports the storage
    from .redis_store import RedisStore  # noqa: PLC0415  # with the storage
    from .storage import InMemoryStorage  # noqa: PLC0415  # reads the settings

    logger = logging.getLogger("inmemorystorage")
    listening: dict[int, Any] = {}
    for alias, _config, _class in in_memory_storages():
        try:
            storage = storages[alias]
        except (ImproperlyConfigured, TypeError):
            continue  # check E002 says why
        if not isinstance(storage, InMemoryStorage):
            continue
        store = storage._store  # noqa: SLF001  # package-internal
        if not isinstance(store, RedisStore) or id(store) in listening:
            continue
        label = storage.namespace or "the in-memory storage"

        def show(eviction: Any, label: str = label) -> None:
            logger.info(
                "evicted %r (%d bytes) from %s to make room, in another process",
                eviction.name,
                eviction.size,
                label,
            )

        try:
            listening[id(store)] = store.listen(show)
        except OSError as exc:
            logger.warning("Not showing evictions of other processes in %s: %s", label, exc)
    return list(listening.values())


def show_evictions_on_console(logger: logging.Logger) -> bool:
    """Print *logger*'s INFO records (evictions) to stderr, unless logging is configured for it.

    Django's default ``LOGGING`` configures only the ``django`` loggers, so an
    eviction logged at INFO on ``inmemorystorage`` reaches no handler and
    Python drops it. When neither *logger* nor an ancestor has a handler,
    this adds one that prints beside runserver's request lines, and lowers
    the logger's level to INFO if it was not set. A ``LOGGING`` setting that
    configures the logger (or the root logger) is left in charge.

    Returns:
        Whether a handler was added.
    """
    if logger.hasHandlers():
        return False
    handler = logging.StreamHandler()
    handler.setFormatter(_CONSOLE_FORMAT)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return True
