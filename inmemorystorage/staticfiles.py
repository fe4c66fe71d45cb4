"""Static files in memory: ``collectstatic`` and ``{% static %}`` without touching disk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.contrib.staticfiles.utils import check_settings
from django.core.signals import setting_changed
from django.utils.deconstruct import deconstructible

from .storage import InMemoryStorage, SettingProperty, _shared_store

if TYPE_CHECKING:
    from .budget import OnFull
    from .engine import Engine

__all__ = [
    "STATICFILES_NAMESPACE",
    "InMemoryManifestStaticFilesStorage",
    "InMemoryStaticFilesStorage",
]

#: The prefix of the shared stores that hold static files by destination.
STATICFILES_NAMESPACE = "staticfiles"


@deconstructible(path="inmemorystorage.InMemoryStaticFilesStorage")
class InMemoryStaticFilesStorage(InMemoryStorage):
    """An ``InMemoryStorage`` with the defaults of Django's ``StaticFilesStorage``.

    ``location`` defaults to ``STATIC_ROOT`` (reported, never touched on
    disk) and ``base_url`` to ``STATIC_URL``, both following
    ``setting_changed``. Without a ``namespace``, the files are shared by
    every static storage with the same ``location``, as two directories on
    disk would be: Django builds a new staticfiles storage whenever a test
    overrides ``STORAGES``, ``STATIC_URL`` or ``STATIC_ROOT``, and what
    ``collectstatic`` put there must still be there, while a test with a
    fresh ``STATIC_ROOT`` starts with none of it. A ``namespace`` shares one
    store whatever the location.

    Raises:
        ImproperlyConfigured: as ``StaticFilesStorage``, when ``STATIC_URL`` is
            unset or equal to ``MEDIA_URL`` (on first use of ``base_url``).

    .. versionadded:: 3.0.0
    """

    def __init__(
        self,
        location: str | None = None,
        base_url: str | None = None,
        file_permissions_mode: int | None = None,
        directory_permissions_mode: int | None = None,
        *,
        allow_overwrite: bool = False,
        namespace: str | None = None,
        max_bytes: int | None = None,
        on_full: OnFull = "evict",
    ) -> None:
        super().__init__(
            location,
            base_url,
            file_permissions_mode,
            directory_permissions_mode,
            allow_overwrite=allow_overwrite,
            namespace=namespace,
            max_bytes=max_bytes,
            on_full=on_full,
        )
        setting_changed.connect(self._follow_static_root)

    @SettingProperty
    def base_location(self) -> str:
        """``location`` as given, or ``STATIC_ROOT`` (``""`` when unset)."""
        return str(self._value_or_setting(self._location, settings.STATIC_ROOT) or "")

    @SettingProperty
    def base_url(self) -> str:
        """``base_url`` as given, or ``STATIC_URL``, checked as ``StaticFilesStorage`` checks it."""
        url = self._value_or_setting(self._given_base_url(), settings.STATIC_URL)
        check_settings(url)
        return str(url)

    def _choose_store(self) -> Engine:
        """The namespace's store, or the one for this ``location``."""
        if self.namespace is not None:
            return super()._choose_store()
        max_bytes, on_full = self._budget_options
        self.shared = True
        return _shared_store(f"{STATICFILES_NAMESPACE}:{self.location}", max_bytes, on_full)

    def _follow_static_root(self, setting: str, **_: Any) -> None:
        """Take the store of the new ``STATIC_ROOT`` when it changes."""
        if setting == "STATIC_ROOT":
            self._use(self._choose_store())


@deconstructible(path="inmemorystorage.InMemoryManifestStaticFilesStorage")
class InMemoryManifestStaticFilesStorage(  # type: ignore[misc]  # url(name: str) in the mixin's stub, as for Django's own class
    ManifestFilesMixin, InMemoryStaticFilesStorage
):
    """Django's ``ManifestStaticFilesStorage`` in memory: hashed names, manifest included.

    After ``collectstatic``, ``{% static "app.css" %}`` renders the hashed
    name (``/static/app.3f2a1c9b0e4d.css``) as in production, without a file
    on disk. As with Django's class, a name missing from the manifest raises
    ``ValueError`` (set ``manifest_strict = False`` on a subclass to relax it).

    .. versionadded:: 3.0.0
    """
