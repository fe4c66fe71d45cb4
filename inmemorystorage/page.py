"""The storage page: what the in-memory storages of the dev server process hold, in a browser.

For development only, like :mod:`inmemorystorage.views`: every view here
answers 404 unless ``DEBUG`` is on. :func:`inmemorystorage.urls.media_urlpatterns`
puts the page at ``/__inmemorystorage__/``.

The page lists each store of *this* process (see :mod:`inmemorystorage.inventory`)
with its ``STORAGES`` aliases, namespace, files, bytes used against
``max_bytes`` and recent evictions, and its files as a tree with sizes,
times and links. From it a store can be downloaded as a tar
(:func:`inmemorystorage.dump`), loaded from one (:func:`inmemorystorage.load`)
and cleared. Browsing it changes nothing: listing a store does not count as
a use of its files (only a download does, as any read).

The templates are rendered by an engine of the page's own, so the page works
whether or not ``"inmemorystorage"`` is in ``INSTALLED_APPS``; it has no
JavaScript and loads nothing from elsewhere.
"""

from __future__ import annotations

import functools
import os
import posixpath
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template import Context, Engine
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.utils.timesince import timesince
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from django.views.decorators.http import require_POST, require_safe

from .archive import dump, load
from .engine import percent_used
from .exceptions import EngineUnavailable
from .inventory import take_inventory
from .staticfiles import InMemoryStaticFilesStorage
from .views import serve

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from django.http import HttpRequest, HttpResponseBase

    from .engine import Eviction, ListedFile
    from .inventory import HeldStore

__all__ = ["archive", "clear", "download", "index", "load_archive"]

#: The most files of one store the page lists; the tar download has them all.
MAX_LISTED_FILES = 1000
#: The most recent evictions of one store the page lists (a store remembers more).
MAX_LISTED_EVICTIONS = 50
#: Directories less deep than this start open in the tree (0 is the top level).
OPEN_DEPTH = 2
#: The most digits a count of loaded files has in the page's query string.
_MAX_COUNT_DIGITS = 18
#: What loading a tar can refuse: each is the user's tar or budget, never a bug here.
_LOAD_ERRORS = (OSError, ValueError, SuspiciousFileOperation, tarfile.TarError)
_View = TypeVar("_View", bound="Callable[..., HttpResponseBase]")


@functools.cache
def _engine() -> Engine:
    """The page's own template engine, over the package's templates only."""
    return Engine(dirs=[os.fspath(Path(__file__).parent / "templates")], autoescape=True)


def _debug_only(view: _View) -> _View:
    """404 unless ``DEBUG`` is on, read at each request (the URLconf may outlive a change)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.DEBUG:
            msg = "The storage page is served only while DEBUG is on."
            raise Http404(msg)
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]  # the same signature, as functools.wraps keeps it


# What the page shows.


@attrs.frozen
class FileRow:
    """One file in the tree: its place, size, times and where to get it."""

    name: str
    path: str
    depth: int
    size: int
    created: datetime
    modified: datetime
    #: The file at the storage's URL, or ``None`` where the page downloads it.
    url: str | None
    download: str


@attrs.frozen
class TreeRow:
    """One step of the tree, in document order: a directory opens or closes, or a file."""

    kind: str  # "open", "file" or "close"
    name: str = ""
    path: str = ""
    depth: int = 0
    files: int = 0
    size: int = 0
    file: FileRow | None = None


@attrs.frozen
class StoreCard:
    """Everything the page shows of one store."""

    held: HeldStore
    files: int
    dirs: int
    bytes_used: int
    max_bytes: int | None
    on_full: str
    hits: int
    misses: int
    evictions_counted: int
    refusals: int
    evictions: tuple[EvictionRow, ...]
    #: How many evictions the store remembers, of which ``evictions`` are the latest.
    evictions_remembered: int
    tree: tuple[TreeRow, ...]
    listed: int
    content_bytes: int

    @property
    def percent(self) -> float:
        """Bytes used as a share of ``max_bytes``, 0 to 100; 0 without a bound."""
        return percent_used(self.bytes_used, self.max_bytes) or 0.0

    @property
    def level(self) -> str:
        """How full the budget is, for the bar's colour: ``ok``, ``high`` or ``full``."""
        if self.percent >= 95:  # noqa: PLR2004  # the next upload likely evicts or is refused
            return "full"
        return "high" if self.percent >= 75 else "ok"  # noqa: PLR2004  # worth a glance

    @property
    def key_query(self) -> str:
        """``store=<key>`` for the page's links about this store."""
        return urlencode({"store": self.held.key})


@attrs.frozen
class EvictionRow:
    """One remembered eviction, with its time as a datetime."""

    name: str
    size: int
    evicted_at: datetime

    @property
    def ago(self) -> str:
        """How long ago, as a person says it: ``just now``, ``3 minutes ago``."""
        now = datetime.now(tz=self.evicted_at.tzinfo)
        if (now - self.evicted_at).total_seconds() < 60:  # noqa: PLR2004  # a minute
            return "just now"
        return f"{timesince(self.evicted_at, now)} ago"


def _when(timestamp: float) -> datetime:
    """Seconds since the epoch as Django shows times: aware in UTC with ``USE_TZ``."""
    return datetime.fromtimestamp(timestamp, tz=UTC if settings.USE_TZ else None)


def _card(held: HeldStore) -> StoreCard:
    """The page's view of one store, from one listing and one stats snapshot."""
    storage = held.storage
    stats = storage.stats()
    files = storage.file_listing()
    remembered: list[Eviction] = storage.recent_evictions()
    evictions: Iterable[Eviction] = remembered[:MAX_LISTED_EVICTIONS]
    listed = files[:MAX_LISTED_FILES]
    return StoreCard(
        held=held,
        files=stats.files,
        dirs=stats.dirs,
        bytes_used=stats.bytes_used,
        max_bytes=stats.max_bytes,
        on_full=storage.on_full,
        hits=stats.hits,
        misses=stats.misses,
        evictions_counted=stats.evictions,
        refusals=stats.refusals,
        evictions=tuple(EvictionRow(e.name, e.size, _when(e.evicted_at)) for e in evictions),
        evictions_remembered=len(remembered),
        tree=tuple(_tree(held, listed, _directory_totals(files))),
        listed=len(listed),
        content_bytes=sum(file.size for file in files),
    )


def _cards(stores: Iterable[HeldStore]) -> tuple[list[StoreCard], list[tuple[str, str]]]:
    """A card for each store, and ``(label, reason)`` for each whose server did not answer.

    One Redis server that is down hides its own stores, never the page.
    """
    cards: list[StoreCard] = []
    unavailable: list[tuple[str, str]] = []
    for held in stores:
        try:
            cards.append(_card(held))
        except EngineUnavailable as exc:
            unavailable.append((held.label, exc.strerror or str(exc)))
    return cards, unavailable


def _directory_totals(files: list[ListedFile]) -> dict[str, tuple[int, int]]:
    """Each directory's count and bytes of the files below it, from every file of the store."""
    totals: dict[str, tuple[int, int]] = {}
    for file in files:
        parent = posixpath.dirname(file.name)
        while parent:
            count, size = totals.get(parent, (0, 0))
            totals[parent] = (count + 1, size + file.size)
            parent = posixpath.dirname(parent)
    return totals


def _tree(
    held: HeldStore, files: list[ListedFile], totals: dict[str, tuple[int, int]]
) -> list[TreeRow]:
    """The files as a tree, flattened into open/file/close rows: no recursion, any depth.

    Directories come before files at each level; each directory carries the
    count and bytes of *all* the files below it (*totals*), listed or not.
    """
    ordered = sorted(files, key=lambda file: _tree_order(file.name))
    rows: list[TreeRow] = []
    opened: list[str] = []  # the directories open at this point, outermost first
    for file in ordered:
        directories = file.name.split("/")[:-1]
        common = 0
        while common < min(len(opened), len(directories)) and opened[common] == directories[common]:
            common += 1
        rows.extend(
            TreeRow("close", depth=depth) for depth in range(len(opened) - 1, common - 1, -1)
        )
        del opened[common:]
        for depth in range(common, len(directories)):
            opened.append(directories[depth])
            path = "/".join(directories[: depth + 1])
            count, size = totals[path]
            rows.append(TreeRow("open", directories[depth], path, depth, count, size))
        rows.append(TreeRow("file", file=_file_row(held, file, len(directories))))
    rows.extend(TreeRow("close", depth=depth) for depth in range(len(opened) - 1, -1, -1))
    return rows


def _tree_order(name: str) -> tuple[tuple[int, str], ...]:
    """Sort key that lists a directory's subdirectories before its files, each by name."""
    *directories, base = name.split("/")
    return (*((0, part) for part in directories), (1, base))


def _file_row(held: HeldStore, file: ListedFile, depth: int) -> FileRow:
    return FileRow(
        name=posixpath.basename(file.name),
        path=file.name,
        depth=depth,
        size=file.size,
        created=_when(file.created),
        modified=_when(file.modified),
        url=_url(held, file.name),
        download=reverse("inmemorystorage-file")
        + "?"
        + urlencode({"store": held.key, "name": file.name}),
    )


def _url(held: HeldStore, name: str) -> str | None:
    """The file's URL where its storage serves media under one, else ``None``.

    Only the plain storage of a ``STORAGES`` alias with a ``base_url``: a
    static files storage's URL is answered by runserver's static handler from
    the apps' files, not from memory, and a store found only by its namespace
    has no URL of its own.
    """
    storage = held.storage
    if not held.aliases:
        return None
    if isinstance(storage, InMemoryStaticFilesStorage):
        return None
    if not storage.base_url or not storage.base_url.startswith(("/", "http://", "https://")):
        return None
    return storage.url(name)


# The views.


@_debug_only
@require_safe
@ensure_csrf_cookie  # its forms post with the token, whether or not CsrfViewMiddleware is on
def index(request: HttpRequest) -> HttpResponse:
    """The page: every in-memory store of this process, its budget, evictions and files."""
    return _render_index(request)


def _render_index(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    inventory = take_inventory()
    done = _done_message(request, inventory.find)
    cards, unavailable = _cards(inventory.stores)
    context = {
        "cards": cards,
        "unavailable": unavailable,
        "broken": inventory.broken,
        "pid": os.getpid(),
        "servers": sorted({held.server for held in inventory.stores if held.server}),
        "max_listed": MAX_LISTED_FILES,
        "open_depth": OPEN_DEPTH,
        "csrf_token": get_token(request),
        "error": error,
        "done": done,
        "load_url": reverse("inmemorystorage-load"),
        "clear_url": reverse("inmemorystorage-clear"),
        "tar_url": reverse("inmemorystorage-tar"),
        "time_zone": settings.TIME_ZONE if settings.USE_TZ else "the server's local time",
    }
    template = _engine().get_template("inmemorystorage/page.html")
    return HttpResponse(template.render(Context(context)), status=status)


def _done_message(request: HttpRequest, find: Callable[[str], HeldStore | None]) -> str:
    """What the last load or clear did, from the query string it redirected with."""
    held = find(request.GET.get("store", ""))
    if held is None:
        return ""
    loaded = request.GET.get("loaded", "")
    # ASCII digits only, and few: str.isdigit() takes "²", which int() refuses.
    if len(loaded) <= _MAX_COUNT_DIGITS and loaded.isascii() and loaded.isdigit():
        return f"Loaded {int(loaded):,} file(s) into {held.label}."
    if "cleared" in request.GET:
        return f"Cleared {held.label}."
    return ""


def _held(query: Any) -> HeldStore:
    """The store that ``store=<key>`` names, or a 404."""
    key = query.get("store", "")
    held = take_inventory().find(key)
    if held is None:
        msg = f"No in-memory store of this process has the key {key!r}."
        raise Http404(msg)
    return held


@_debug_only
@require_safe
def download(request: HttpRequest) -> HttpResponseBase:
    """One file of a store, as an attachment (``?store=<key>&name=<name>``); a read of it."""
    held = _held(request.GET)
    name = request.GET.get("name", "")
    response = serve(request, name, storage=held.storage)
    response.headers["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=posixpath.basename(name)
    )
    return response


@_debug_only
@require_safe
def archive(request: HttpRequest) -> FileResponse:
    """Every file of a store as a tar (``?store=<key>``), as :func:`inmemorystorage.dump` writes it.

    Load it into another process with ``manage.py inmemorystorage load``, or
    back into this page after a restart.
    """
    held = _held(request.GET)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115  # FileResponse closes it
    dump(held.storage, spool)
    spool.seek(0)
    filename = f"{held.key.replace(':', '-').replace('/', '-').strip('-')}.tar"
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type="application/x-tar"
    )


@_debug_only
@require_POST
@csrf_protect
def load_archive(request: HttpRequest) -> HttpResponse:
    """Load the uploaded tar into a store (``?store=<key>``): all of its files or none."""
    held = _held(request.GET)
    upload = request.FILES.get("archive")
    if upload is None:
        return _render_index(request, error="Choose a tar file to load.", status=400)
    try:
        with upload:
            names = load(held.storage, upload, replace=request.POST.get("replace") == "on")
    except FileExistsError as exc:  # its message names load()'s argument; here it is a box
        name = exc.filename if exc.filename is not None else "a file"
        error = (
            f"Nothing was loaded from {upload.name!r} into {held.label}: {name!r} already "
            "exists; tick “replace files of the same name” to overwrite stored files."
        )
        return _render_index(request, error=error, status=400)
    except _LOAD_ERRORS as exc:
        error = f"Nothing was loaded from {upload.name!r} into {held.label}: {exc}"
        return _render_index(request, error=error, status=400)
    query = urlencode({"store": held.key, "loaded": str(len(names))})
    return HttpResponseRedirect(f"{reverse('inmemorystorage-page')}?{query}", status=303)


@_debug_only
@require_POST
@csrf_protect
def clear(request: HttpRequest) -> HttpResponse:
    """Remove every file of a store (``?store=<key>``), as ``storage.clear()`` does."""
    held = _held(request.GET)
    held.storage.clear()
    query = urlencode({"store": held.key, "cleared": "1"})
    return HttpResponseRedirect(f"{reverse('inmemorystorage-page')}?{query}", status=303)
