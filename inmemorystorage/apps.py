"""The ``inmemorystorage`` app: what ``manage.py runserver`` users need, on when it is installed.

Without ``"inmemorystorage"`` in ``INSTALLED_APPS`` the storage works alone,
as a plain backend. With it:

- the system checks of :mod:`inmemorystorage.checks` run with ``manage.py
  check`` (and before runserver serves);
- under ``DEBUG``, evictions show on the console when nothing else handles
  the ``inmemorystorage`` logger (Django's default ``LOGGING`` configures only
  ``django`` loggers);
- runserver's autoreloader hands every in-memory store from the old server
  process to the new one (:mod:`inmemorystorage.handoff`).
"""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings
from django.core import checks as django_checks

__all__ = ["InMemoryStorageConfig", "show_evictions_on_console"]

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
        handoff.start()


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
