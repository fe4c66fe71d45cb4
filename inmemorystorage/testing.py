"""Test helpers: a fresh, empty in-memory ``default`` storage for each test.

:func:`use_inmemory_storage` works with Django's test runner (``manage.py
test``, ``--parallel`` included: each process has its own store) and anywhere
a decorator or a ``with`` block fits; the pytest plugin
(:mod:`inmemorystorage.pytest_plugin`) is built on it.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, cast

from django.conf import DEFAULT_STORAGE_ALIAS, settings
from django.core.files.storage import storages
from django.test.utils import TestContextDecorator, override_settings

if TYPE_CHECKING:
    from .storage import InMemoryStorage

__all__ = ["InMemoryStorageOverride", "use_inmemory_storage"]

BACKEND = "inmemorystorage.InMemoryStorage"

# One entry per use active in this process, for the nesting depth. Test helpers
# run in the thread that runs the test; this is not meant for other threads.
_depth: list[None] = []


class InMemoryStorageOverride(TestContextDecorator):
    """Install a fresh, empty ``InMemoryStorage`` as the ``default`` storage while active.

    Built with :func:`use_inmemory_storage`. Unlike Django's
    ``override_settings``, which applies a class decorator once for the whole
    class, this one is entered around *each test* of a decorated class, so no
    test sees another's files; and it reads ``STORAGES`` when a test starts,
    never at import time, keeping every other alias (``staticfiles``) as
    configured.

    Args:
        options: ``OPTIONS`` for the storage (``max_bytes``, ``on_full``,
            ``namespace`` ...), as in ``STORAGES``.
        attr_name: On a ``TestCase`` class, the attribute of the test that
            receives the storage.
        kwarg_name: On a test function, the keyword argument that receives
            the storage.
    """

    def __init__(
        self,
        options: dict[str, Any],
        attr_name: str | None = None,
        kwarg_name: str | None = None,
    ) -> None:
        super().__init__(attr_name=attr_name, kwarg_name=kwarg_name)
        self.options = dict(options)
        # One entry per active use of this object, innermost last.
        self._active: list[tuple[override_settings, InMemoryStorage]] = []

    def __enter__(self) -> InMemoryStorage:  # type: ignore[override]  # the stub types isolate_apps's
        return self.enable()

    def enable(self) -> InMemoryStorage:
        """Override ``STORAGES["default"]`` and return the new, emptied storage.

        Raises:
            ImproperlyConfigured: an option has a value the storage cannot
                take; the settings are left as they were.
        """
        options = dict(self.options)
        options.setdefault("namespace", _namespace(len(_depth), options))
        configured: dict[str, dict[str, Any]] = dict(settings.STORAGES)
        configured[DEFAULT_STORAGE_ALIAS] = {"BACKEND": BACKEND, "OPTIONS": options}
        override = override_settings(STORAGES=configured)
        with ExitStack() as undo:
            override.enable()
            undo.callback(override.disable)
            storage = cast("InMemoryStorage", storages[DEFAULT_STORAGE_ALIAS])
            # A test starts with no files, even in a store used before.
            storage.clear()
            undo.pop_all()
        _depth.append(None)
        self._active.append((override, storage))
        return storage

    def disable(self) -> None:
        """Empty the storage this use installed and restore the settings before it."""
        override, storage = self._active.pop()
        _depth.pop()
        try:
            storage.clear()
        finally:
            override.disable()


def _namespace(depth: int, options: dict[str, Any]) -> str:
    """The store of a use at this nesting depth with this budget.

    Django rebuilds ``storages["default"]`` whenever a test overrides
    ``STORAGES``, ``STATIC_URL`` or ``STATIC_ROOT`` (and again when that
    override ends); a namespace makes the rebuilt instance see the same
    files. The budget is part of the name because a namespace keeps the
    budget it was first built with; the number of stores stays bounded by
    the depths and budgets a test suite uses.
    """
    max_bytes = options.get("max_bytes")
    on_full = options.get("on_full", "evict")
    return f"inmemorystorage.testing/{depth}/max_bytes={max_bytes}/on_full={on_full}"


def use_inmemory_storage(
    *, attr_name: str | None = None, kwarg_name: str | None = None, **options: Any
) -> InMemoryStorageOverride:
    """A fresh, empty in-memory ``default`` storage, for a test class, a test or a block.

    ``default_storage``, ``storages["default"]`` and every ``FileField``
    without its own storage use it; the files are gone when the test (or the
    ``with`` block) ends::

        @use_inmemory_storage()
        class UploadTests(TestCase): ...


        @use_inmemory_storage(max_bytes=1024, kwarg_name="storage")
        def test_upload(storage): ...


        with use_inmemory_storage() as storage: ...

    On a ``TestCase`` class the storage is installed in ``setUp`` (before the
    class's own ``setUp`` runs), so files saved in ``setUpClass`` or
    ``setUpTestData`` go to the storage configured before it.

    Without a ``namespace`` option the storage gets one of its own, so that
    when Django rebuilds ``storages["default"]`` during the test (an inner
    ``override_settings`` of ``STORAGES``, ``STATIC_URL`` or ``STATIC_ROOT``
    does), the new instance still holds the test's files.

    Args:
        attr_name: On a ``TestCase`` class, the attribute of the test that
            receives the storage (for example ``"storage"``).
        kwarg_name: On a test function, the keyword argument that receives it.
        options: :class:`~inmemorystorage.InMemoryStorage` options, such as
            ``max_bytes`` and ``on_full``.

    Returns:
        A decorator that is also a context manager; ``with`` gives the storage.

    .. versionadded:: 3.0.0
    """
    return InMemoryStorageOverride(options, attr_name=attr_name, kwarg_name=kwarg_name)
