"""URL patterns that serve a storage's files on the dev server, like ``static()``.

Add them to the project's URLconf; they are empty unless ``DEBUG`` is on, so
the line can stay in production, where a real web server serves the files::

    from inmemorystorage.urls import media_urlpatterns

    urlpatterns = [...] + media_urlpatterns()
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import re_path

from .views import serve

if TYPE_CHECKING:
    from django.core.files.storage import Storage
    from django.urls import URLPattern

__all__ = ["media_urlpatterns"]


def media_urlpatterns(
    prefix: str | None = None, storage: Storage | str | None = None
) -> list[URLPattern]:
    """URL patterns that serve *storage*'s files under *prefix*, with :func:`~.views.serve`.

    Like :func:`django.conf.urls.static.static`, for development only: with
    ``DEBUG`` off they are ``[]``.

    Args:
        prefix: The URL prefix, such as ``"/media/"``; ``MEDIA_URL`` by default.
        storage: A storage, the alias of one in ``STORAGES``, or ``None`` for
            ``storages["default"]``, looked up at each request.

    Returns:
        One pattern, or none when ``DEBUG`` is off.

    Raises:
        ImproperlyConfigured: the prefix is empty (it would serve every URL),
            or, with ``DEBUG`` on, an absolute URL (``https://cdn.example/``):
            files under another host cannot be served from this one.
    """
    from_settings = prefix is None
    if prefix is None:
        prefix = settings.MEDIA_URL
    if not prefix or not prefix.strip("/"):
        raise _no_prefix(prefix, from_settings=from_settings)
    if not settings.DEBUG:
        return []
    if urlsplit(prefix).netloc:
        msg = (
            f"media_urlpatterns() cannot serve files under the absolute URL {prefix!r}: "
            "the dev server only answers its own paths; use a path prefix such as '/media/'"
        )
        raise ImproperlyConfigured(msg)
    pattern = rf"^{re.escape(prefix.lstrip('/'))}(?P<path>.*)$"
    return [re_path(pattern, serve, kwargs={"storage": storage})]


def _no_prefix(prefix: str, *, from_settings: bool) -> ImproperlyConfigured:
    """The error for a prefix that would serve every URL; one from settings names MEDIA_URL."""
    if from_settings:  # Django reads an unset MEDIA_URL as "/" (the script prefix)
        return ImproperlyConfigured(
            "media_urlpatterns() serves the files under MEDIA_URL, which is not set "
            "(django-admin startproject leaves it empty) or is the site's root: "
            'set MEDIA_URL = "media/" in settings.py, or pass prefix='
        )
    return ImproperlyConfigured(
        f"media_urlpatterns() needs a URL prefix such as '/media/', not {prefix!r}"
    )
