"""A django-debug-toolbar panel: the in-memory storage operations of one request, and the budget.

Install the extra (``pip install "dj-inmemorystorage[debug-toolbar]"``), then
add the panel to django-debug-toolbar's list, after its defaults::

    from debug_toolbar.settings import PANELS_DEFAULTS

    DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "inmemorystorage.panels.InMemoryStoragePanel"]

Per request it shows each ``save()``, ``open()`` and ``delete()`` of an
in-memory storage (a writer's publication at ``close()`` counts as a save),
each eviction they caused, the bytes and the time they took, and at the end
of the request the budget of every in-memory store of the process.

How it observes, without monkeypatching: while a request with the toolbar
runs, the panel connects receivers to :data:`~inmemorystorage.signals.file_saved`,
:data:`~inmemorystorage.signals.file_opened`,
:data:`~inmemorystorage.signals.file_deleted` and
:data:`~inmemorystorage.signals.file_evicted`, and records what is sent from
its own request's context (a :class:`~contextvars.ContextVar`), so that
concurrent requests of a multithreaded runserver never land in each other's
panel. The receivers are disconnected once no request needs them, and the
storage's operations are then back to one attribute check of overhead.

The panel's template comes with the ``inmemorystorage`` app: put
``"inmemorystorage"`` in ``INSTALLED_APPS`` (check ``inmemorystorage.E003``
says so when it is missing).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
from debug_toolbar.panels import Panel
from django.apps import apps
from django.core import checks
from django.template.defaultfilters import filesizeformat
from django.urls import NoReverseMatch, reverse

from .exceptions import EngineUnavailable
from .inventory import take_inventory
from .signals import file_deleted, file_evicted, file_opened, file_saved

if TYPE_CHECKING:
    from django.dispatch import Signal
    from django.http import HttpRequest, HttpResponse

    from .storage import InMemoryStorage

__all__ = ["InMemoryStoragePanel"]

#: The panel of the request running in this context, if the toolbar shows it.
_current_panel: ContextVar[InMemoryStoragePanel | None] = ContextVar("_current_panel", default=None)
#: How many requests have the receivers connected; they go when the last one ends.
_requests_observing = 0  # guarded by _observing_lock
_observing_lock = threading.Lock()


@attrs.frozen
class _Operation:
    """One storage operation as it was signalled, in the request's thread."""

    kind: str  # "save", "open", "delete" or "evict"
    storage: InMemoryStorage
    name: str
    size: int | None
    duration: float | None
    mode: str = ""


def _receiver(kind: str) -> Any:
    """A receiver that records a *kind* of operation in the current request's panel."""

    def receive(
        sender: type[Any],  # noqa: ARG001  # a receiver takes the signal's arguments
        *,
        storage: InMemoryStorage,
        name: str,
        size: int | None = None,
        duration: float | None = None,
        mode: str = "",
        **kwargs: Any,  # noqa: ARG001  # idem
    ) -> None:
        panel = _current_panel.get()
        if panel is not None:
            panel.operations.append(_Operation(kind, storage, name, size, duration, mode))

    receive.__name__ = receive.__qualname__ = f"record_{kind}"
    return receive


_RECEIVERS: tuple[tuple[Signal, Any], ...] = (
    (file_saved, _receiver("save")),
    (file_opened, _receiver("open")),
    (file_deleted, _receiver("delete")),
    (file_evicted, _receiver("evict")),
)


def _start_observing() -> None:
    """Connect the receivers for one more request (the first connects them)."""
    global _requests_observing  # noqa: PLW0603  # a count shared by the requests, under its lock
    with _observing_lock:
        if _requests_observing == 0:
            for signal, receiver in _RECEIVERS:
                signal.connect(receiver, weak=False, dispatch_uid=__name__)
        _requests_observing += 1


def _stop_observing() -> None:
    """One request less; the last disconnects the receivers."""
    global _requests_observing  # noqa: PLW0603  # a count shared by the requests, under its lock
    with _observing_lock:
        _requests_observing -= 1
        if _requests_observing == 0:
            for signal, _receiver_function in _RECEIVERS:
                signal.disconnect(dispatch_uid=__name__)


def _page_url() -> str | None:
    """The storage page's URL, or ``None`` where the URLconf does not serve it."""
    try:
        return reverse("inmemorystorage-page")
    except NoReverseMatch:
        return None


class InMemoryStoragePanel(Panel):
    """The in-memory storage operations of the request, their bytes and time, and each budget."""

    title = "In-memory storage"
    template = "inmemorystorage/panel.html"
    #: Not under ASGI: an async view's storage calls run in other contexts.
    is_async = False

    operations: list[_Operation]
    _token: Any = None
    _CHECK_ID: ClassVar[str] = "inmemorystorage.E003"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operations = []

    @property
    def nav_subtitle(self) -> str:
        """``3 operations, 12.0 KB, 0.42 ms``, with the evictions when there were some."""
        stats = self.get_stats()  # type: ignore[no-untyped-call]  # debug_toolbar's API is untyped
        count = stats.get("count", 0)
        subtitle = (
            f"{count} operation{'s' if count != 1 else ''}, "
            f"{filesizeformat(stats.get('bytes', 0))}, {stats.get('milliseconds', 0.0):.2f} ms"
        )
        evictions = stats.get("evictions", 0)
        if evictions:
            subtitle += f", {evictions} eviction{'s' if evictions != 1 else ''}"
        return subtitle

    def enable_instrumentation(self) -> None:
        """Observe the storages for this request (called by the toolbar before the view)."""
        if self._token is None:
            _start_observing()
            self._token = _current_panel.set(self)

    def disable_instrumentation(self) -> None:
        """Stop observing for this request (called by the toolbar after the response)."""
        if self._token is not None:
            _current_panel.reset(self._token)
            self._token = None
            _stop_observing()

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:  # noqa: ARG002  # the Panel API's signature
        """Record the request's operations, labelled by store, and every store's budget."""
        inventory = take_inventory()
        rows = [
            {
                "kind": operation.kind,
                "mode": operation.mode,
                "store": inventory.label_of(operation.storage),
                "name": operation.name,
                "size": operation.size,
                "milliseconds": None if operation.duration is None else operation.duration * 1e3,
            }
            for operation in self.operations
        ]
        timed = [row for row in rows if row["kind"] != "evict"]
        stores: list[dict[str, object]] = []
        for held in inventory.stores:
            try:
                stats = held.storage.stats()
            except EngineUnavailable as exc:  # one server down hides its stores, not the page
                stores.append({"label": held.label, "unavailable": exc.strerror or str(exc)})
                continue
            percent = stats.percent_used
            stores.append(
                {
                    "label": held.label,
                    "files": stats.files,
                    "bytes_used": stats.bytes_used,
                    "max_bytes": stats.max_bytes,
                    "percent": None if percent is None else round(percent, 1),
                    "evictions": stats.evictions,
                }
            )
        self.record_stats(  # type: ignore[no-untyped-call]  # debug_toolbar's API is untyped
            {
                "operations": rows,
                "count": len(timed),
                "counts": {
                    kind: sum(row["kind"] == kind for row in rows)
                    for kind in ("save", "open", "delete", "evict")
                },
                "bytes": sum(row["size"] or 0 for row in timed),
                "milliseconds": sum(row["milliseconds"] or 0.0 for row in timed),
                "evictions": sum(row["kind"] == "evict" for row in rows),
                "stores": stores,
                "page_url": _page_url(),
            }
        )

    def generate_server_timing(self, request: HttpRequest, response: HttpResponse) -> None:  # noqa: ARG002  # the Panel API's signature
        """A ``Server-Timing`` entry with the request's storage time, as the cache panel gives."""
        stats = self.get_stats()  # type: ignore[no-untyped-call]  # debug_toolbar's API is untyped
        title = f"In-memory storage {stats.get('count', 0)} operations"
        milliseconds = stats.get("milliseconds", 0.0)
        self.record_server_timing("storage_time", title, milliseconds)  # type: ignore[no-untyped-call]  # untyped API

    @classmethod
    def run_checks(cls) -> list[checks.CheckMessage]:
        """The panel's template comes with the app: ``inmemorystorage`` must be installed."""
        if apps.is_installed("inmemorystorage"):
            return []
        return [
            checks.Error(
                "InMemoryStoragePanel is in DEBUG_TOOLBAR_PANELS, but 'inmemorystorage' is not "
                "in INSTALLED_APPS: the toolbar cannot find the panel's template.",
                hint="Add 'inmemorystorage' to INSTALLED_APPS.",
                id=cls._CHECK_ID,
            )
        ]
