"""A thread-safe, size-bounded, in-memory file storage for Django.

The core (``inmemorystorage.store``) imports no Django; the Django adapter,
:class:`InMemoryStorage`, is imported on first use, so that importing the core
alone never pulls Django in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import EngineUnavailable, PathDoesNotExist, StorageFull
from .store import StoreStats

if TYPE_CHECKING:
    from .archive import dump, load
    from .staticfiles import InMemoryManifestStaticFilesStorage, InMemoryStaticFilesStorage
    from .storage import InMemoryStorage

__all__ = [
    "EngineUnavailable",
    "InMemoryManifestStaticFilesStorage",
    "InMemoryStaticFilesStorage",
    "InMemoryStorage",
    "PathDoesNotExist",
    "StorageFull",
    "StoreStats",
    "dump",
    "load",
]

_STATICFILES_NAMES = frozenset({"InMemoryManifestStaticFilesStorage", "InMemoryStaticFilesStorage"})
_ARCHIVE_NAMES = frozenset({"dump", "load"})


def __getattr__(name: str) -> Any:
    if name == "InMemoryStorage":
        from .storage import InMemoryStorage  # noqa: PLC0415  # lazy: the core must not import Django

        return InMemoryStorage
    if name in _STATICFILES_NAMES:
        from . import staticfiles  # noqa: PLC0415  # lazy: the core must not import Django

        return getattr(staticfiles, name)
    if name in _ARCHIVE_NAMES:
        from . import archive  # noqa: PLC0415  # lazy: the core must not import Django

        return getattr(archive, name)
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415  # only when asked for

        return version("dj-inmemorystorage")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    """The module's names, those imported on first use (PEP 562) included, for ``dir()``."""
    return sorted({*globals(), *__all__, "__version__"})
