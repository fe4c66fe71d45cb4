"""The in-memory stores this process holds, each with the ``STORAGES`` aliases that use it.

For what shows a process's files to a person: the storage page, the
debug-toolbar panel and the ``inmemorystorage`` management command. A store
is found through ``STORAGES`` (each in-memory alias, built as Django's
``storages`` handler builds it) and through the shared stores (namespaces,
``INMEMORYSTORAGE_PERSIST``, static files by location); an instance with a
private store built elsewhere in the code is not found, as the reload
hand-off does not find it either.

Everything here is of *this* process: another process (``manage.py shell``,
a Celery worker, a second runserver) has stores of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages

from .configured import in_memory_storages
from .redis_store import redacted
from .staticfiles import STATICFILES_NAMESPACE, InMemoryStaticFilesStorage
from .storage import InMemoryStorage, shared_storages

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["BrokenAlias", "HeldStore", "Inventory", "take_inventory"]

#: The key of the store that ``INMEMORYSTORAGE_PERSIST`` shares.
PERSIST_KEY = "persist"
_NAMESPACE_KEY = "namespace:"


@attrs.frozen
class HeldStore:
    """One store of this process and how the settings reach it."""

    #: Names the store in URLs and on the command line: its first alias, else
    #: ``"namespace:<name>"``, else ``"persist"``.
    key: str
    #: The ``STORAGES`` aliases whose storage uses this store, in settings order.
    aliases: tuple[str, ...]
    #: The namespace that shares it (a static storage's is ``"staticfiles:<location>"``),
    #: or ``None`` for the ``INMEMORYSTORAGE_PERSIST`` store and a private one.
    namespace: str | None
    #: A storage over the store: an alias's own instance where there is one.
    storage: InMemoryStorage

    @property
    def server(self) -> str | None:
        """The Redis server holding the store's files (password hidden); ``None``: this process."""
        url = self.storage.server
        return None if url is None else redacted(url)

    @property
    def label(self) -> str:
        """The store as the user configured it, e.g. ``STORAGES['default'], namespace 'media'``."""
        parts = [f"STORAGES[{alias!r}]" for alias in self.aliases]
        if self.server is not None:
            parts.append(f"namespace {self.namespace or 'default'!r} on {self.server}")
            return ", ".join(parts)
        if self.namespace is not None:
            parts.append(describe_namespace(self.namespace))
        elif self.storage.shared:
            parts.append("the INMEMORYSTORAGE_PERSIST store")
        elif not parts:  # pragma: no cover  # a private store is only found through an alias
            parts.append("a private store")
        return ", ".join(parts)


@attrs.frozen
class BrokenAlias:
    """A ``STORAGES`` alias of an in-memory backend that cannot be built (check E002 says why)."""

    alias: str
    error: str


@attrs.frozen
class Inventory:
    """What :func:`take_inventory` found: the stores, and the aliases that cannot be built."""

    stores: tuple[HeldStore, ...]
    broken: tuple[BrokenAlias, ...]

    def find(self, key: str) -> HeldStore | None:
        """The store with *key* (see :attr:`HeldStore.key`), or ``None``.

        ``namespace:<name>`` also finds a namespace's store that an alias
        reaches (its key is then the alias), as the command's help says.
        """
        held = next((held for held in self.stores if held.key == key), None)
        if held is None and key.startswith(_NAMESPACE_KEY):
            namespace = key.removeprefix(_NAMESPACE_KEY)
            held = next((held for held in self.stores if held.namespace == namespace), None)
        return held

    def label_of(self, storage: InMemoryStorage) -> str:
        """How *storage*'s store is configured, for a person; its namespace if not found here."""
        for held in self.stores:
            if _store_of(held.storage) is _store_of(storage):
                return held.label
        if storage.namespace is not None:
            return describe_namespace(storage.namespace)
        return "a private store"


def take_inventory() -> Inventory:
    """Every in-memory store of this process: configured aliases first, then other shared stores."""
    found: list[HeldStore] = []
    broken: list[BrokenAlias] = []
    for alias, _config, _class in in_memory_storages():
        try:
            storage = storages[alias]
        except (ImproperlyConfigured, TypeError) as exc:
            broken.append(BrokenAlias(alias, str(exc)))
            continue
        assert isinstance(storage, InMemoryStorage)  # noqa: S101  # in_memory_storages() checked
        for index, held in enumerate(found):
            if _store_of(held.storage) is _store_of(storage):
                found[index] = attrs.evolve(held, aliases=(*held.aliases, alias))
                break
        else:
            found.append(HeldStore(alias, (alias,), _namespace_of(storage), storage))
    for storage in shared_storages():
        if not any(_store_of(held.storage) is _store_of(storage) for held in found):
            key = PERSIST_KEY if storage.namespace is None else _NAMESPACE_KEY + storage.namespace
            found.append(HeldStore(key, (), storage.namespace, storage))
    return Inventory(tuple(found), tuple(broken))


def describe_namespace(namespace: str) -> str:
    """A namespace as a person reads it; a static storage's location key says what it is."""
    kind, _, location = namespace.partition(":")
    if kind == STATICFILES_NAMESPACE and location:
        return f"static files of {location}"
    return f"namespace {namespace!r}"


def _namespace_of(storage: InMemoryStorage) -> str | None:
    """The namespace key that shares *storage*'s store, or ``None`` (persist, or private)."""
    if storage.namespace is not None:
        return storage.namespace
    if isinstance(storage, InMemoryStaticFilesStorage):  # shares the store of its location
        return f"{STATICFILES_NAMESPACE}:{storage.location}"
    return None


def _store_of(storage: InMemoryStorage) -> Engine:
    """The store behind *storage*: two storages with the same one share files and budget."""
    return storage._store  # noqa: SLF001  # package-internal: storages expose no store identity
