"""The in-memory storages that ``STORAGES`` configures, found without building them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

from .storage import InMemoryStorage

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["in_memory_class", "in_memory_storages"]


def in_memory_storages() -> Iterator[tuple[str, dict[str, Any], type[InMemoryStorage]]]:
    """``(alias, config, class)`` of each storage in ``STORAGES`` that keeps files in memory."""
    for alias, config in settings.STORAGES.items():
        storage_class = in_memory_class(config.get("BACKEND", ""))
        if storage_class is not None:
            yield alias, config, storage_class


def in_memory_class(backend: str) -> type[InMemoryStorage] | None:
    """The class *backend* names if it is an in-memory storage, else None.

    A backend that cannot be imported is Django's to report, when it is used.
    """
    try:
        storage_class = import_string(backend)
    except ImportError:
        return None
    if isinstance(storage_class, type) and issubclass(storage_class, InMemoryStorage):
        return storage_class
    return None
