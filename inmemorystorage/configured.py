"""The in-memory storages that ``STORAGES`` configures, found without building them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

from .storage import InMemoryStorage

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["in_memory_class", "in_memory_storages", "options_of"]


def in_memory_storages() -> Iterator[tuple[str, dict[str, Any], type[InMemoryStorage]]]:
    """``(alias, config, class)`` of each storage in ``STORAGES`` that keeps files in memory.

    An entry that is not a dict is Django's to report, when it is used.
    """
    for alias, config in settings.STORAGES.items():
        if not isinstance(config, dict):
            continue
        storage_class = in_memory_class(config.get("BACKEND", ""))
        if storage_class is not None:
            yield alias, config, storage_class


def in_memory_class(backend: object) -> type[InMemoryStorage] | None:
    """The class *backend* names if it is an in-memory storage, else None.

    A backend that is no dotted path, or that cannot be imported (whatever
    its module raises), is Django's to report, when it is used.
    """
    if not isinstance(backend, str):
        return None
    try:
        storage_class = import_string(backend)
    except Exception:  # noqa: BLE001  # a module's own error at import: Django's to report
        return None
    if isinstance(storage_class, type) and issubclass(storage_class, InMemoryStorage):
        return storage_class
    return None


def options_of(config: dict[str, Any]) -> dict[str, Any]:
    """The ``OPTIONS`` of a ``STORAGES`` entry: ``{}`` where missing, or not a dict.

    Not a dict, Django refuses it when it builds the storage, and
    ``manage.py check`` says so (``inmemorystorage.E002``).
    """
    options = config.get("OPTIONS", {})
    return options if isinstance(options, dict) else {}
