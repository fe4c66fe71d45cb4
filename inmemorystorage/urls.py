"""URL patterns for the dev server: a storage's files, like ``static()``, and the storage page.

Add them to the project's URLconf; they are empty unless ``DEBUG`` is on, so
the line can stay in production, where a real web server serves the files::

    from inmemorystorage.urls import media_urlpatterns

    urlpatterns = [...] + media_urlpatterns()

Besides the files under ``MEDIA_URL``, that line serves the storage page
(:mod:`inmemorystorage.page`) at ``/__inmemorystorage__/``: what the
in-memory storages of the server process hold.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import path, re_path

from . import page as page_views
from .views import serve

if TYPE_CHECKING:
    from django.core.files.storage import Storage
    from django.urls import URLPattern

__all__ = ["PAGE_PREFIX", "media_urlpatterns", "storage_page_urlpatterns"]

#: Where :func:`media_urlpatterns` puts the storage page, as django-debug-toolbar
#: puts its views under ``__debug__/``: a path no upload or app is likely to use.
PAGE_PREFIX = "__inmemorystorage__/"


def media_urlpatterns(
    prefix: str | None = None, storage: Storage | str | None = None, *, page: bool = True
) -> list[URLPattern]:
    """URL patterns that serve *storage*'s files under *prefix*, with :func:`~.views.serve`.

    Like :func:`django.conf.urls.static.static`, for development only: with
    ``DEBUG`` off they are ``[]``, whatever ``MEDIA_URL`` is (unset, or a CDN's
    absolute URL), so the line can stay in production settings.

    Args:
        prefix: The URL prefix, such as ``"/media/"``; ``MEDIA_URL`` by default.
        storage: A storage, the alias of one in ``STORAGES``, or ``None`` for
            ``storages["default"]``, looked up at each request.
        page: Also serve the storage page at :data:`PAGE_PREFIX` (see
            :func:`storage_page_urlpatterns`); pass ``False`` in a second call
            for another storage, or to put the page elsewhere.

    Returns:
        The files' pattern, then the page's, or none when ``DEBUG`` is off.

    Raises:
        ImproperlyConfigured: *prefix* is given empty (it would serve every
            URL), or, with ``DEBUG`` on, ``MEDIA_URL`` is unset or the site's
            root, or the prefix is an absolute URL (``https://cdn.example/``):
            files under another host cannot be served from this one.

    .. versionchanged:: 3.0.0
        Serves the storage page too; ``MEDIA_URL`` unset with ``DEBUG`` off gives ``[]``.
    """
    from_settings = prefix is None
    if prefix is None:
        prefix = settings.MEDIA_URL
    if not from_settings and not _is_prefix(prefix):
        raise _no_prefix(prefix, from_settings=False)
    if not settings.DEBUG:
        return []
    if not _is_prefix(prefix):
        raise _no_prefix(prefix, from_settings=from_settings)
    if urlsplit(prefix).netloc:
        msg = (
            f"media_urlpatterns() cannot serve files under the absolute URL {prefix!r}: "
            "the dev server only answers its own paths; use a path prefix such as '/media/'"
        )
        raise ImproperlyConfigured(msg)
    pattern = rf"^{re.escape(prefix.lstrip('/'))}(?P<path>.*)$"
    patterns = [re_path(pattern, serve, kwargs={"storage": storage})]
    return patterns + storage_page_urlpatterns() if page else patterns


def storage_page_urlpatterns(prefix: str = PAGE_PREFIX) -> list[URLPattern]:
    """URL patterns of the storage page under *prefix*, for development only.

    The page lists every in-memory storage of the server process with its
    files, budget and recent evictions (see :mod:`inmemorystorage.page`).
    :func:`media_urlpatterns` includes it; use this to put it elsewhere::

        urlpatterns += media_urlpatterns(page=False) + storage_page_urlpatterns("dev/files/")

    Returns:
        The page's patterns, or none when ``DEBUG`` is off (its views also
        answer 404 whenever ``DEBUG`` is off).

    Raises:
        ImproperlyConfigured: *prefix* is empty: the page would take the site's root.

    .. versionadded:: 3.0.0
    """
    if not _is_prefix(prefix):
        msg = f"storage_page_urlpatterns() needs a prefix such as {PAGE_PREFIX!r}, not {prefix!r}"
        raise ImproperlyConfigured(msg)
    if not settings.DEBUG:
        return []
    root = prefix.strip("/") + "/"
    return [
        path(root, page_views.index, name="inmemorystorage-page"),
        path(f"{root}file", page_views.download, name="inmemorystorage-file"),
        path(f"{root}tar", page_views.archive, name="inmemorystorage-tar"),
        path(f"{root}load", page_views.load_archive, name="inmemorystorage-load"),
        path(f"{root}clear", page_views.clear, name="inmemorystorage-clear"),
    ]


def _is_prefix(prefix: str) -> bool:
    """Whether *prefix* has a path of its own: not empty, not only slashes."""
    return bool(prefix and prefix.strip("/"))


def _no_prefix(prefix: str, *, from_settings: bool) -> ImproperlyConfigured:
    """The error for a prefix that would serve every URL; one from settings names MEDIA_URL."""
    if from_settings:  # Django reads an unset MEDIA_URL as "/" (the script prefix)
        return ImproperlyConfigured(
            "media_urlpatterns() serves the files under MEDIA_URL, which is not set "
            "(django-admin startproject leaves it empty) or is the site's root: "
            'set MEDIA_URL = "media/" in settings.py, or give the prefix to serve: '
            'media_urlpatterns(prefix="/media/").'
        )
    return ImproperlyConfigured(
        f"media_urlpatterns() needs a URL prefix such as '/media/', not {prefix!r}"
    )
