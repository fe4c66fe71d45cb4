"""Put the backend under test in place of Django's ``FileSystemStorage``.

Many of Django's storage tests build ``FileSystemStorage(location=...)``
themselves (``model_fields`` keeps every ImageField's files in one), so
switching ``STORAGES["default"]`` alone never reaches them. In the stand-in
pass, ``FileSystemStorage`` names a subclass of the backend under test,
before any test module imports it. Tests that look at the disk fail with
every in-memory backend; ``compare.py`` only reports the ones that pass with
Django's ``InMemoryStorage`` and fail with ours.
"""

from __future__ import annotations

from typing import Any

import django.contrib.staticfiles.finders
import django.contrib.staticfiles.storage
import django.core.files.storage
import django.core.files.storage.filesystem
from django.utils.module_loading import import_string

# The staticfiles app keeps the real class: it reads from disk on purpose. The
# imports above bind its names first.
_ = (django.contrib.staticfiles.finders, django.contrib.staticfiles.storage)
_FILESYSTEM_STORAGE = django.core.files.storage.filesystem.FileSystemStorage


def stand_in(backend_path: str) -> type:
    """A subclass of the backend that takes ``FileSystemStorage``'s arguments."""
    backend = import_string(backend_path)

    class FileSystemStandIn(backend):  # type: ignore[misc,valid-type]
        """The backend under test, built as ``FileSystemStorage`` is."""

        def __init__(
            self,
            location: Any = None,
            base_url: Any = None,
            file_permissions_mode: Any = None,
            directory_permissions_mode: Any = None,
            allow_overwrite: bool = False,
        ) -> None:
            kwargs = {"allow_overwrite": True} if allow_overwrite else {}
            super().__init__(
                location, base_url, file_permissions_mode, directory_permissions_mode, **kwargs
            )

    if hasattr(_FILESYSTEM_STORAGE, "OS_OPEN_FLAGS"):
        # Django 5.2's tests derive an overwriting subclass from these flags.
        FileSystemStandIn.OS_OPEN_FLAGS = _FILESYSTEM_STORAGE.OS_OPEN_FLAGS
    FileSystemStandIn.__qualname__ = FileSystemStandIn.__name__ = "FileSystemStorage"
    return FileSystemStandIn


def install(backend_path: str) -> None:
    """Make ``django.core.files.storage.FileSystemStorage`` the backend's stand-in."""
    cls = stand_in(backend_path)
    # deconstruct() (migrations, pickling FileFields) finds the class by this name.
    globals()["FileSystemStorage"] = cls
    django.core.files.storage.FileSystemStorage = cls  # type: ignore[misc]
    django.core.files.storage.filesystem.FileSystemStorage = cls  # type: ignore[misc]
