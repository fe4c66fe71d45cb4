"""Serve a storage's files over HTTP, for development only.

Like :func:`django.views.static.serve`, this view is meant for ``manage.py
runserver`` and tests, and SHOULD NOT be used in production: put the files
behind a real web server or a CDN there. Unlike it, it serves *any* Django
storage through the Storage API, so the files of an in-memory storage (which
has no paths on disk) show up in the browser.

It answers GET and HEAD (others get 405 with ``Allow``) with ``Content-Type``,
``Content-Length``, ``Last-Modified``, a strong ``ETag``, ``Accept-Ranges``
and ``X-Content-Type-Options: nosniff``; conditional requests go through
Django's :func:`~django.utils.cache.get_conditional_response`; one byte range
gets 206, an unsatisfiable one 416, anything else in ``Range`` is ignored (200).
Names the storage rejects (overlong ones included), missing names and
directories get 404, never 500; under ``DEBUG``, the 404 of a file evicted
recently is a page of its own that says when and why.

Uploads are user content served on the site's own origin, so every file
that a browser could open as a document able to run script (HTML, SVG, XML,
and every type not known to be passive) is sent with
``Content-Security-Policy: sandbox``: it is shown, but runs no script and is
not of the site's origin. Passive types go without it: plain text, CSV, JSON,
PDF (a sandbox keeps Chromium's and Safari's viewers from showing it, and
they run no script on the site's origin), images other than SVG, audio,
video and fonts. ``INMEMORYSTORAGE_SERVE_ACTIVE_CONTENT = True`` turns the
header off.
"""

from __future__ import annotations

import errno
import functools
import mimetypes
import os
import re
import time
from http import HTTPStatus
from typing import TYPE_CHECKING

import attrs
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.urls import NoReverseMatch, reverse
from django.utils.cache import get_conditional_response
from django.utils.html import format_html
from django.utils.http import http_date
from django.utils.log import log_response

from .storage import InMemoryStorage

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from django.core.files.storage import Storage
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["ACTIVE_CONTENT_SETTING", "serve"]

#: The setting that, set to True, serves uploads without the sandbox (False by default).
ACTIVE_CONTENT_SETTING = "INMEMORYSTORAGE_SERVE_ACTIVE_CONTENT"
#: The header that keeps an active file from running script on the site's origin, and its value:
#: the document runs no script, in an origin of its own.
_POLICY = "Content-Security-Policy"
_SANDBOX = "sandbox"
#: Types a browser shows as data, never as a document that runs script: not sandboxed.
_PASSIVE_TYPES = frozenset({"text/plain", "text/csv", "application/json", "application/pdf"})
#: Whole kinds of types that are passive, but for the one exception below.
_PASSIVE_KINDS = frozenset({"image", "audio", "video", "font"})
#: An image that is a document: SVG runs script.
_ACTIVE_IMAGE = "image/svg+xml"
#: A name (its last segment) longer than this is not remembered by _file_type's cache.
_CACHED_NAME_CHARS = 255
#: A path longer than this is not remembered by _version_headers' cache (256 entries).
_CACHED_PATH_CHARS = 1024
#: How much of a requested name a 404 message repeats: a URL can be long, the message need not.
_SHOWN_NAME_CHARS = 200

#: What a storage raises for a name it cannot serve; each of them means 404 here.
_NOT_SERVABLE = (
    FileNotFoundError,  # nothing stored under the name
    IsADirectoryError,  # a directory: no listings are served
    NotADirectoryError,  # a path through a file
    PermissionError,  # a file the server process may not read
    SuspiciousFileOperation,  # a name that escapes the storage (.., absolute)
    ValueError,  # a name no storage can hold (NUL byte, blank)
)

#: The request headers that get_conditional_response() reads, as they appear in META.
_CONDITIONAL_HEADERS = frozenset(
    {"HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE"}
)
#: The methods served; others get 405, as ``@require_safe`` answers them.
_SAFE_METHODS = ("GET", "HEAD")
#: A request with none of these (the usual one) gets the whole file at once.
_ASKS_FOR_PART = _CONDITIONAL_HEADERS | {"HTTP_RANGE"}
#: One byte range, as RFC 9110 section 14.1.2 writes it; several ranges do not match.
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII | re.IGNORECASE)
#: What _requested_range() returns for a range with no byte in the file (compared with ``is``).
_UNSATISFIABLE = (-1, -1)
#: Longer numbers are beyond any file and would only make int() slow.
_MAX_DIGITS = 18
#: How much of a ranged body each chunk carries: bounded memory, few writes.
_CHUNK = 256 * 1024
#: Compression types sent as what they are, so that browsers never unpack them on the fly.
_ENCODED_TYPES = {
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip",
    "compress": "application/x-compress",
    "gzip": "application/gzip",
    "xz": "application/x-xz",
}


def serve(
    request: HttpRequest, path: str, storage: Storage | str | None = None
) -> HttpResponseBase:
    """Answer a GET or HEAD request with the file stored under *path*.

    Put it in a URLconf (or use :func:`inmemorystorage.urls.media_urlpatterns`)::

        path("media/<path:path>", serve)
        path("uploads/<path:path>", serve, {"storage": "uploads"})

    Args:
        request: The request; only GET and HEAD are served (others get 405).
        path: The file's name in the storage, exactly as the storage takes it.
        storage: A storage, the alias of one in ``STORAGES``, or ``None`` for
            ``storages["default"]``. Our :class:`~inmemorystorage.InMemoryStorage`
            is read in one step under its lock (content and metadata agree);
            any other storage through ``open()`` and ``get_modified_time()``.

    Raises:
        Http404: nothing can be served under *path*: missing, a directory, or
            a name the storage refuses.
    """
    # What @require_safe does, without its wrapper's call on every request.
    if request.method not in _SAFE_METHODS:
        return _not_allowed(request)
    if storage is None or isinstance(storage, str):
        storage = storages[storage or "default"]
    # Every answer built from the file's headers (_headers()) carries its policy; a 304
    # keeps the headers RFC 9110 lists, and the browser keeps the policy of the 200 it updates.
    try:
        if isinstance(storage, InMemoryStorage):
            return _serve_snapshot(request, path, storage)
        return _serve_storage(request, path, storage)
    except _NOT_SERVABLE as exc:
        if isinstance(storage, InMemoryStorage) and isinstance(exc, FileNotFoundError):
            return _missing(request, path, storage, exc)
        raise _not_found(path, exc) from exc
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise  # the storage failed: a 500 says so
        raise _not_found(path, exc) from exc  # a name no storage can hold, as the OS says


# It only reads: other methods get the 405 above, not a CSRF 403. Set as @csrf_exempt
# sets it on the wrapper it makes, which would cost a call on every request.
serve.csrf_exempt = True  # type: ignore[attr-defined]


def _not_allowed(request: HttpRequest) -> HttpResponseNotAllowed:
    """The 405 for a method other than GET and HEAD, logged as Django logs it."""
    response = HttpResponseNotAllowed(_SAFE_METHODS)
    log_response(
        "Method Not Allowed (%s): %s",
        request.method,
        request.path,
        response=response,
        request=request,
    )
    return response


def _missing(
    request: HttpRequest, path: str, storage: InMemoryStorage, exc: FileNotFoundError
) -> HttpResponseBase:
    """The answer for a file that *storage* does not hold: evicted lately, or never here.

    Raises:
        Http404: with ``DEBUG`` on, saying why when it can.
    """
    evicted = _evicted(storage, path)
    if evicted is not None:
        if settings.DEBUG:
            return _with_policy(_evicted_response(request, evicted), path)
        raise Http404(" ".join(evicted)) from exc
    hint = _elsewhere_hint() if settings.DEBUG and storage.server is None else ""
    raise _not_found(path, exc, hint) from exc


def _not_found(path: str, exc: Exception, hint: str = "") -> Http404:
    """The 404 for *path*, with the storage's reason; a long name is shortened in the message."""
    if len(path) <= _SHOWN_NAME_CHARS:
        return Http404(f"{path!r} cannot be served: {exc}{hint}")
    # The reason may repeat the name: keep only what the OS calls it.
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    shown = f"{path[:_SHOWN_NAME_CHARS]!r}... ({len(path):,} characters)"
    return Http404(f"{shown} cannot be served: {reason}{hint}")


def _elsewhere_hint() -> str:
    """Why a file saved elsewhere is missing here: each process holds its own in-memory files.

    The usual surprise of a first hour: a file saved in ``manage.py shell``
    is not in runserver's store. The storage page, where it is routed, shows
    what this process holds and loads a tar made in the other.
    """
    hint = (
        f". This server process (pid {os.getpid()}) holds its own in-memory files: one saved "
        "by another process, such as manage.py shell, is not here"
    )
    try:
        page = reverse("inmemorystorage-page")
    except NoReverseMatch:
        return hint + " (the option server= shares one store between processes)."
    return hint + f"; {page} shows what this process holds, and loads a tar of files."


def _sandboxed(path: str) -> bool:
    """Whether the response for *path* gets ``Content-Security-Policy: sandbox``.

    Every type but the passive ones, so that a type nobody thought of is
    sandboxed; decided by the name, as the type sent is.
    """
    return _file_type(path)[1] and not _serves_active_content()


def _with_policy(response: HttpResponseBase, path: str) -> HttpResponseBase:
    """*response*, sandboxed if *path*'s answers are (for those not built from :func:`_headers`)."""
    if _sandboxed(path):
        response.headers[_POLICY] = _SANDBOX
    return response


@functools.cache
def _serves_active_content() -> bool:
    """The setting, read once: a missing setting is slow to look up on every request."""
    return bool(getattr(settings, ACTIVE_CONTENT_SETTING, False))


@receiver(setting_changed)
def _forget_settings(*, setting: str, **_kwargs: object) -> None:
    """Read a setting again once it changed (``override_settings``, the ``settings`` fixture)."""
    if setting == ACTIVE_CONTENT_SETTING:
        _serves_active_content.cache_clear()
        _remembered_headers.cache_clear()
    elif setting == "DEFAULT_CHARSET":
        _name_type.cache_clear()
        _remembered_headers.cache_clear()


def _evicted(storage: InMemoryStorage, path: str) -> tuple[str, str] | None:
    """What the 404 says for a file evicted recently (when, and the budget), and the remedy."""
    eviction = storage.recent_eviction(path)
    if eviction is None:
        return None
    # Local time, which Django sets to TIME_ZONE: the clock beside runserver's own log lines.
    when = time.strftime("%H:%M:%S", time.localtime(eviction.evicted_at))
    problem = (
        f"{path!r} ({eviction.size:,} bytes) was evicted at {when} to make room, "
        f"max_bytes={storage.max_bytes:,}: the least recently used files go first when the "
        "storage is full."
    )
    remedy = (
        "To keep more files, raise max_bytes; to refuse new files instead of evicting "
        "old ones, set on_full='error'."
    )
    return problem, remedy


#: The evicted file's page: short paragraphs that wrap, long names included.
_EVICTED_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>404 Not Found</title>
<style>
body {{ font-family: sans-serif; max-width: 50em; margin: 2em auto; padding: 0 1em; }}
p {{ overflow-wrap: anywhere; }}
</style></head>
<body>
<h1>404 Not Found</h1>
<p>{problem}</p>
<p>{remedy}</p>
</body>
</html>
"""


def _evicted_response(request: HttpRequest, evicted: tuple[str, str]) -> HttpResponse:
    """Under DEBUG, the 404 of an evicted file: HTML, or plain text if HTML is not accepted.

    Django's debug 404 page shows a message on one line that does not wrap;
    this page gives the problem and the remedy as paragraphs.
    """
    problem, remedy = evicted
    if request.accepts("text/html"):
        page = format_html(_EVICTED_PAGE, problem=problem, remedy=remedy)
        return HttpResponse(page, status=HTTPStatus.NOT_FOUND)
    text = f"404 Not Found\n\n{problem}\n{remedy}\n"
    plain = "text/plain; charset=utf-8"
    return HttpResponse(text, status=HTTPStatus.NOT_FOUND, content_type=plain)


def _serve_snapshot(request: HttpRequest, path: str, storage: InMemoryStorage) -> HttpResponseBase:
    """Serve from one snapshot: the body is the very bytes the headers describe."""
    content, version, modified = storage._read_versioned(path)  # noqa: SLF001  # for this view
    size = len(content)
    headers = _version_headers(path, size, version, modified)
    etag = headers["ETag"]
    # The body, for a GET: HttpResponse keeps these bytes as they are, without a copy.
    response = HttpResponse(content if request.method == "GET" else b"", headers=headers)
    if request.META.keys().isdisjoint(_ASKS_FOR_PART):
        return response  # the usual request: no condition, no range
    if (answer := _precondition(request, response, etag, modified)) is not None:
        return answer
    if request.method == "HEAD":
        return response
    byte_range = _requested_range(request, size, etag)
    if byte_range is None:
        return response
    if byte_range is _UNSATISFIABLE:
        return _unsatisfiable(response, size)
    start, stop = byte_range
    return _partial(
        StreamingHttpResponse(_chunks(content, start, stop)), response, start, stop, size
    )


def _serve_storage(request: HttpRequest, path: str, storage: Storage) -> HttpResponseBase:
    """Serve through the Storage API, with headers that describe the body sent."""
    # The time is read before the file is opened: if a write lands in between,
    # the tag is older than the body, so the next request sees a new tag and
    # fetches again. The other order could pair an old body with the new tag.
    modified = _modified_timestamp(storage, path)
    file = storage.open(path, "rb")
    try:
        response = _serve_file(request, path, storage, file, modified)
    except BaseException:
        file.close()
        raise
    if getattr(response, "file_to_stream", None) is None:
        file.close()  # nothing streams from it: a HEAD, a 304, a 416...
    return response


def _serve_file(
    request: HttpRequest, path: str, storage: Storage, file: Any, modified: float | None
) -> HttpResponseBase:
    """Answer from an opened *file*; the response closes it if it streams from it."""
    size = _size_of(file, storage, path)
    etag = None if modified is None else f'"{size:x}-{round(modified * 1_000_000):x}"'
    whole = _whole(path, size, etag, modified)
    if (answer := _precondition(request, whole, etag, modified)) is not None:
        return answer
    if request.method == "HEAD":
        return whole
    byte_range = _requested_range(request, size, etag) if file.seekable() else None
    if byte_range is _UNSATISFIABLE:
        return _unsatisfiable(whole, size)
    start, stop = byte_range or (0, size)
    if start:
        file.seek(start)
    response = FileResponse(_Window(file, stop - start), content_type=whole["Content-Type"])
    if byte_range is None:
        _copy_headers(whole, response)
        return response
    return _partial(response, whole, start, stop, size)


def _precondition(
    request: HttpRequest, whole: HttpResponse, etag: str | None, modified: float | None
) -> HttpResponse | None:
    """The 304 or 412 that the request's conditional headers call for, or None to go on.

    Steps 1 to 4 of RFC 9110 section 13.2.2, by Django; a 304 keeps only the
    headers section 15.4.5 allows (``ETag``, ``Last-Modified``, ``Cache-Control``),
    and the whole file's ``Content-Length``, which section 8.6 allows: without
    it, middleware or the server would add a wrong ``Content-Length: 0``.
    """
    if request.META.keys().isdisjoint(_CONDITIONAL_HEADERS):
        return None  # the common case, without parsing four absent headers
    last_modified = None if modified is None else int(modified)
    answer = get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=whole
    )
    if answer is whole or answer is None:  # None: never, as a response is given
        return None
    if answer.status_code == HTTPStatus.NOT_MODIFIED:
        answer.headers["Content-Length"] = whole.headers["Content-Length"]
    elif _POLICY in whole:  # a 412: the file's policy, as every answer but a 304 has it
        answer.headers[_POLICY] = whole.headers[_POLICY]
    return answer


def _modified_timestamp(storage: Storage, path: str) -> float | None:
    """The file's modification time in seconds since the epoch, or None if the storage has none."""
    try:
        modified = storage.get_modified_time(path)
    except NotImplementedError:
        return None
    # Naive times are local, as FileSystemStorage gives them without USE_TZ.
    return modified.timestamp()


def _size_of(file: Any, storage: Storage, path: str) -> int:
    """The size of the opened file itself, so that it matches what will be read from it."""
    if file.seekable():
        file.seek(0, os.SEEK_END)
        size = int(file.tell())
        file.seek(0)
        return size
    return int(storage.size(path))


@attrs.define(eq=False, slots=False)
class _Window:
    """Reads at most *left* bytes from *file*: a body never outgrows its Content-Length.

    Not slotted: the WSGI handler replaces ``close`` on the file it streams.
    """

    file: Any
    left: int

    def read(self, size: int) -> bytes:
        """Up to *size* bytes, never past the window."""
        if self.left <= 0:
            return b""
        data: bytes = self.file.read(min(size, self.left))
        self.left -= len(data)
        return data

    def close(self) -> None:
        """Close the file below."""
        self.file.close()


def _whole(path: str, size: int, etag: str | None, modified: float | None) -> HttpResponse:
    """A whole-file answer with every header, its body not yet set."""
    return HttpResponse(headers=_headers(path, size, etag, modified))


def _version_headers(path: str, size: int, version: int, modified: float) -> dict[str, str]:
    """The headers of one version of a stored file, remembered for the next GET (never changed).

    On runserver each step of a request runs on cold caches, and each costs
    several times what it does in a loop: answering a file's next GET from
    the headers made for its first brings a GET close to a view that answers
    constant bytes (``nox -s bench``: the same-answer floor). A new version
    gets new headers; a path of over 1,024 characters takes no room in the cache.
    """
    if len(path) > _CACHED_PATH_CHARS:
        return _remembered_headers.__wrapped__(path, size, version, modified)
    return _remembered_headers(path, size, version, modified)


@functools.lru_cache(maxsize=256)
def _remembered_headers(path: str, size: int, version: int, modified: float) -> dict[str, str]:
    # The version changes with every publication, even within one clock tick;
    # size and modified time keep the tag unique across process restarts.
    etag = f'"{version:x}-{size:x}-{round(modified * 1_000_000):x}"'
    # A dict, not a read-only proxy: HttpResponse copies it, and a proxy costs it more.
    return _headers(path, size, etag, modified)


def _headers(path: str, size: int, etag: str | None, modified: float | None) -> dict[str, str]:
    """Every header of a whole-file answer, the sandbox included where it applies."""
    headers = {
        "Content-Type": _file_type(path)[0],
        "Content-Length": str(size),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        # Files change often during development: let the browser cache them, but
        # ask it to revalidate each time (a cheap 304 when nothing changed).
        "Cache-Control": "no-cache",
    }
    if etag is not None:
        headers["ETag"] = etag
    if modified is not None:
        headers["Last-Modified"] = _http_date(int(modified))
    if _sandboxed(path):
        headers[_POLICY] = _SANDBOX
    return headers


@functools.lru_cache(maxsize=256)
def _http_date(seconds: int) -> str:
    """``http_date()``, remembered: many files and requests share a second."""
    return http_date(seconds)


def _copy_headers(source: HttpResponse, target: HttpResponseBase) -> None:
    """Give *target* every header of *source*."""
    for header, value in source.items():
        target.headers[header] = value


def _file_type(path: str) -> tuple[str, bool]:
    """The ``Content-Type`` sent for *path*, and whether that type is active content.

    Both depend on the last segment only; a short one is remembered, so the
    cache holds at most 1,024 names of at most 255 characters, whatever
    names requests bring.
    """
    name = path.rpartition("/")[2]
    if len(name) > _CACHED_NAME_CHARS:
        return _name_type.__wrapped__(name)
    return _name_type(name)


@functools.lru_cache(maxsize=1024)
def _name_type(name: str) -> tuple[str, bool]:
    """The ``Content-Type`` of a file called *name*, and whether a browser could run it."""
    content_type = _guess_type(name)
    active = content_type not in _PASSIVE_TYPES and (
        content_type.partition("/")[0] not in _PASSIVE_KINDS or content_type == _ACTIVE_IMAGE
    )
    if content_type.startswith("text/"):
        content_type = f"{content_type}; charset={settings.DEFAULT_CHARSET}"
    return content_type, active


def _guess_type(name: str) -> str:
    """What ``mimetypes`` guesses, compressed files as themselves, the rest as octets.

    *name* is a last segment, never a URL: ``data:`` means nothing.
    """
    content_type, encoding = mimetypes.guess_type(f"./{name}", strict=False)
    if encoding is not None:
        return _ENCODED_TYPES.get(encoding, "application/octet-stream")
    return content_type or "application/octet-stream"


def _requested_range(request: HttpRequest, size: int, etag: str | None) -> tuple[int, int] | None:
    """The one byte range to send as ``(start, stop)``, :data:`_UNSATISFIABLE`, or None.

    None means "send the whole file": no ``Range``, a malformed or multi-range
    one (ignoring it is allowed by RFC 9110 section 14.2), or an ``If-Range``
    that does not match.
    """
    header = request.META.get("HTTP_RANGE")
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or not _if_range_matches(request, etag):
        return None
    first, last = match.groups()
    bounds = _bounds(first, last, size)
    if bounds is None or bounds is _UNSATISFIABLE:
        return bounds
    start, stop = bounds
    if start >= size:
        return _UNSATISFIABLE
    return start, min(stop, size)


def _bounds(first: str, last: str, size: int) -> tuple[int, int] | None:
    """``(start, stop)`` of ``bytes=first-last`` before clamping to *size*; None if invalid."""
    if first:
        start = _position(first)
        if not last:
            return start, size
        stop = _position(last) + 1
        return (start, stop) if start < stop else None  # last-pos before first-pos: ignored
    if not last:
        return None  # "bytes=-"
    suffix = _position(last)
    if not suffix:
        return _UNSATISFIABLE  # "bytes=-0": no byte at all
    if not size:
        return None  # a 206 cannot describe an empty file: send it whole
    return max(size - suffix, 0), size


def _position(digits: str) -> int:
    """A byte position; absurdly long ones are beyond any file, without a slow int()."""
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _if_range_matches(request: HttpRequest, etag: str | None) -> bool:
    """Step 5 of RFC 9110 section 13.2.2: send the range only if the client's copy is current.

    ``If-Range`` compares strongly (section 13.1.5), so only our exact strong
    tag matches. A date never does: a file can change twice within one second
    (our tag sees it, a date cannot), so a date is not a strong validator here,
    and the section says the condition is then false: the whole file is sent.
    """
    if_range = request.META.get("HTTP_IF_RANGE")
    return if_range is None or (etag is not None and if_range.strip() == etag)


def _partial(
    response: HttpResponseBase, whole: HttpResponse, start: int, stop: int, size: int
) -> HttpResponseBase:
    """Turn *response* (the body of bytes ``start:stop``) into a 206 with *whole*'s headers."""
    _copy_headers(whole, response)
    response.status_code = 206
    response.headers["Content-Length"] = str(stop - start)
    response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return response


def _unsatisfiable(whole: HttpResponse, size: int) -> HttpResponse:
    """416: no byte of the range is in the file; say how long the file is."""
    response = HttpResponse(status=416)
    response.headers["Content-Range"] = f"bytes */{size}"
    for header in ("Accept-Ranges", "ETag", "Last-Modified", "Cache-Control", _POLICY):
        if header in whole:
            response.headers[header] = whole.headers[header]
    return response


def _chunks(content: bytes, start: int, stop: int) -> Iterator[bytes]:
    """Bytes ``start:stop`` of *content* in bounded pieces."""
    for offset in range(start, stop, _CHUNK):
        yield content[offset : min(offset + _CHUNK, stop)]
