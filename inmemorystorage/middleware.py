"""A full storage explains itself: 413 or 507 with what to change, instead of a 500.

Add the middleware to ``MIDDLEWARE`` (anywhere; it only looks at exceptions
that views raise)::

    MIDDLEWARE = [
        ...,
        "inmemorystorage.middleware.StorageFullMiddleware",
    ]

Django offers no way for an app to add middleware by itself, so this is the
one line the app asks for; ``manage.py check`` reminds you
(``inmemorystorage.W004``) when a storage has ``max_bytes`` and the line is
missing. Views and forms that catch :class:`~inmemorystorage.StorageFull`
themselves are unaffected: only an uncaught one reaches the middleware.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse
from django.utils.deprecation import MiddlewareMixin
from django.utils.html import format_html
from django.utils.text import capfirst

from .configured import in_memory_storages, options_of
from .exceptions import StorageFull

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["StorageFullMiddleware", "storage_full_response"]

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{status} {reason}</title></head>
<body>
<h1>{status} {reason}</h1>
<p>{problem}</p>
<p>{remedy}</p>
<p><small>{detail}</small></p>
</body>
</html>
"""


class StorageFullMiddleware(MiddlewareMixin):
    """Answer an uncaught :class:`~inmemorystorage.StorageFull` with 413 or 507 and a clear page.

    ``413 Content Too Large`` when the file, with its name, the per-file
    overhead and its directories, is larger than the whole budget
    (``max_bytes``), so no setting of ``on_full`` could store it;
    ``507 Insufficient Storage`` when it would fit an emptier storage but
    ``on_full="error"`` refuses to evict, or when the shared engine's Redis
    server is at its ``maxmemory``. The page names the file, its size,
    the budget and the option (or the server's setting) to change.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The 413/507 answer for a StorageFull; None lets any other exception go on."""
        if isinstance(exception, StorageFull):
            return storage_full_response(request, exception)
        return None


def storage_full_response(request: HttpRequest, error: StorageFull) -> HttpResponse:
    """The 413 or 507 response that explains *error*: HTML, or plain text if HTML is not accepted.

    Usable from a view that catches :class:`~inmemorystorage.StorageFull` and
    wants the same answer.
    """
    too_large = is_too_large(error)
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE if too_large else HTTPStatus.INSUFFICIENT_STORAGE
    # RFC 9110 renamed 413; Python's phrase for it depends on the version.
    reason = "Content Too Large" if too_large else status.phrase
    option = _option_path(error)
    budget, size = f"{error.max_bytes:,}", f"{error.size:,}"
    one = error.what == repr(error.filename)
    subject, fit = (f"the file {error.what}", "does not fit") if one else (error.what, "do not fit")
    if error.limit == "maxmemory":
        limit = f" of {budget} bytes" if error.max_bytes else ""
        problem = (
            f"The Redis server that holds the shared storage is at its maxmemory{limit}: "
            f"it refuses {subject} ({size} bytes) until memory is freed there."
        )
        remedy = (
            "To make room, delete files, or raise the server's maxmemory (in redis.conf, "
            "or CONFIG SET maxmemory)."
        )
    elif error.limit == "memory":
        problem = (
            f"{capfirst(subject)} ({size} bytes) is more than a storage without max_bytes "
            f"takes from one archive: half this machine's memory, {budget} bytes."
        )
        remedy = "To load it, split it into smaller archives."
    elif too_large:
        problem = (
            f"{capfirst(subject)} ({size} bytes) {fit} in the in-memory storage's whole budget, "
            f"max_bytes={budget}, with its name, overhead and directories: no eviction can "
            "make room."
        )
        remedy = f"To accept it, raise {option}['max_bytes'] in your settings."
    else:
        problem = (
            f"The in-memory storage is full: {subject} ({size} bytes) {fit} in "
            f"max_bytes={budget} beside the files already stored, and on_full='error' "
            "refuses to evict older files."
        )
        remedy = (
            f"To make room automatically, set {option}['on_full'] to 'evict' (least recently "
            f"used files go first); or raise {option}['max_bytes'], or delete files."
        )
    if request.accepts("text/html"):
        body = format_html(
            _PAGE,
            status=int(status),
            reason=reason,
            problem=problem,
            remedy=remedy,
            detail=str(error),
        )
        return HttpResponse(body, status=status, reason=reason)
    text = f"{int(status)} {reason}\n\n{problem}\n{remedy}\n\n{error}\n"
    plain = "text/plain; charset=utf-8"
    return HttpResponse(text, status=status, reason=reason, content_type=plain)


def is_too_large(error: StorageFull) -> bool:
    """Whether the refused content could not be stored even in an empty storage.

    The store says so: only ``on_full="error"`` refuses content that would
    fit an emptier storage (``StorageFull.could_fit``).
    """
    return not error.could_fit


def _option_path(error: StorageFull) -> str:
    """Where the budget is set: ``STORAGES['alias']['OPTIONS']`` of the one storage it fits."""
    aliases = [alias for alias, config, _class in in_memory_storages() if _fits(config, error)]
    if len(aliases) == 1:
        return f"STORAGES[{aliases[0]!r}]['OPTIONS']"
    return "the storage's OPTIONS"


def _fits(config: dict[str, Any], error: StorageFull) -> bool:
    return bool(options_of(config).get("max_bytes") == error.max_bytes)
