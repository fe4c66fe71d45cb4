"""The debug-toolbar panel, rendered by django-debug-toolbar for real requests, and its signals."""

from __future__ import annotations

import json
import re
import threading
import types
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from inmemorystorage import InMemoryStorage
from inmemorystorage.panels import InMemoryStoragePanel
from inmemorystorage.signals import file_deleted, file_opened, file_saved

PANEL = "inmemorystorage.panels.InMemoryStoragePanel"
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def page(body: str) -> HttpResponse:
    return HttpResponse(f"<!doctype html><html><body>{body}</body></html>")


def save_and_read(request):
    """A view that saves a note, reads it back and deletes another file."""
    storage = storages["default"]
    name = storage.save("notes/hello.txt", ContentFile(b"hello, panel"))
    with storage.open(name) as file:
        text = file.read().decode()
    storage.delete("notes/old.txt")
    return page(text)


def fill(request):
    """A view whose saves evict: three 1,000-byte files where two fit (1,650 bytes each)."""
    storage = storages["default"]
    for number in range(3):
        storage.save(f"logs/{number}.txt", ContentFile(b"x" * 1000))
    return page("filled")


def with_another_thread(request):
    """A view that saves a file while another thread, outside the request, saves another."""
    thread = threading.Thread(
        target=InMemoryStorage(namespace="other").save,
        args=("elsewhere.txt", ContentFile(b"x")),
    )
    thread.start()
    thread.join()
    storages["default"].save("mine.txt", ContentFile(b"y"))
    return page("two threads")


def quiet(request):
    return page("nothing stored")


def urlconf():
    """The test site's URLs; the toolbar's module needs its app installed first."""
    from debug_toolbar.toolbar import debug_toolbar_urls  # noqa: PLC0415  # see above

    module = types.ModuleType("panel_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("save/", save_and_read),
        path("fill/", fill),
        path("quiet/", quiet),
        path("with-another-thread/", with_another_thread),
        *debug_toolbar_urls(),
    ]
    return module


@pytest.fixture
def toolbar(settings):
    """A site with django-debug-toolbar showing only our panel, for requests from 127.0.0.1."""
    settings.STATIC_URL = "/static/"  # before the apps: staticfiles checks it as it starts
    settings.INSTALLED_APPS = [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.staticfiles",
        "debug_toolbar",
        "inmemorystorage",
    ]
    settings.TEMPLATES = [
        {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
    ]
    settings.MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware"]
    settings.INTERNAL_IPS = ["127.0.0.1"]
    settings.DEBUG_TOOLBAR_CONFIG = {"IS_RUNNING_TESTS": False}
    settings.DEBUG_TOOLBAR_PANELS = [PANEL]
    settings.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "media", "max_bytes": 4000},
        },
        "staticfiles": STATIC,
    }
    settings.DEBUG = True
    settings.ROOT_URLCONF = urlconf()
    return settings


def panel_of(client, url):
    """GET *url*, then the panel's content as the toolbar's JavaScript fetches it."""
    response = client.get(url)
    html = response.content.decode()
    request_id = re.search(r'data-request-id="([0-9a-f]+)"', html)[1]
    rendered = client.get(
        "/__debug__/render_panel/",
        {"request_id": request_id, "panel_id": "InMemoryStoragePanel"},
    )
    return html, json.loads(rendered.content)["content"]


def subtitle(html):
    """The panel's subtitle in the toolbar's side bar."""
    match = re.search(
        r'id="djdt-InMemoryStoragePanel".*?<small>\s*(.*?)\s*</small>', html, re.DOTALL
    )
    return unescape(match[1])


def cells(content, row_class):
    """The cells of each operation row of *row_class* in the panel's table."""
    rows = re.findall(rf'<tr class="{row_class}"[^>]*>(.*?)</tr>', content, re.DOTALL)
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        for row in rows
    ]


# The panel in the toolbar.


def test_the_toolbar_shows_the_requests_operations(toolbar, client):
    """The side bar counts the operations; the panel lists each with its store, name and size."""
    html, content = panel_of(client, "/save/")
    assert subtitle(html).startswith("3 operations, 24\xa0bytes, ")
    saves, opens, deletes = cells(content, "save"), cells(content, "open"), cells(content, "delete")
    store = "STORAGES['default'], namespace 'media'"
    assert [["1", "save", store, "notes/hello.txt", "12\xa0bytes"]] == [row[:5] for row in saves]
    assert [["2", "open (rb)", store, "notes/hello.txt", "12\xa0bytes"]] == [
        row[:5] for row in opens
    ]
    assert [["3", "delete", store, "notes/old.txt", "\N{EN DASH}"]] == [row[:5] for row in deletes]


def test_each_operation_has_its_time(toolbar, client):
    """Every save, open and delete shows the milliseconds it took."""
    _html, content = panel_of(client, "/save/")
    times = [row[5] for kind in ("save", "open", "delete") for row in cells(content, kind)]
    assert 3 == sum(bool(re.fullmatch(r"\d+\.\d{3} ms", time)) for time in times)


def test_evictions_are_listed_and_counted(toolbar, client):
    """Saves that evict show their evictions in the panel and in the side bar."""
    html, content = panel_of(client, "/fill/")
    evicted = [row[3] for row in cells(content, "evict")]
    assert (["logs/0.txt"], True) == (evicted, subtitle(html).endswith(", 1 eviction"))


def test_the_budget_of_each_store_is_shown(toolbar, client):
    """The panel ends with every store's bytes used against max_bytes."""
    _html, content = panel_of(client, "/fill/")
    stores = re.search(r'<table id="inmemorystorage-stores">.*?</table>', content, re.DOTALL)[0]
    used = storages["default"].stats().bytes_used
    assert f'title="{used} bytes"' in stores
    assert "STORAGES[&#x27;default&#x27;], namespace &#x27;media&#x27;" in stores


def test_a_store_that_may_hold_nothing_is_shown_full_as_the_page_shows_it(toolbar, client):
    """max_bytes=0 is a full budget in the panel, as on the storage page: 100 %, not a dash."""
    toolbar.STORAGES = {
        **toolbar.STORAGES,
        "nothing": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": {"max_bytes": 0}},
    }
    _html, content = panel_of(client, "/quiet/")
    stores = re.search(r'<table id="inmemorystorage-stores">.*?</table>', content, re.DOTALL)[0]
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", stores, re.DOTALL) if "nothing" in r)
    assert "100.0\xa0%" in unescape(re.sub(r"<[^>]+>", "", row))


def test_a_request_without_storage_says_so(toolbar, client):
    """A view that stores nothing gets a panel that says there was nothing."""
    html, content = panel_of(client, "/quiet/")
    assert subtitle(html).startswith("0 operations, 0\xa0bytes")
    assert "This request made no save, open or delete" in content


#: A Redis URL where nothing listens: the shared engine raises EngineUnavailable.
NOBODY = "redis://127.0.0.1:1/0"


def test_a_server_that_does_not_answer_hides_its_store_not_the_page(toolbar, client):
    """Every page still answers under the toolbar; the panel says which store cannot be shown."""
    toolbar.STORAGES = {
        **toolbar.STORAGES,
        "shared": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "far", "server": NOBODY},
        },
    }
    storages["shared"]  # built, as a request that used it would build it
    _html, content = panel_of(client, "/quiet/")
    stores = re.search(r'<table id="inmemorystorage-stores">.*?</table>', content, re.DOTALL)[0]
    assert "namespace &#x27;far&#x27;" in stores
    assert "cannot be shown: the Redis server at redis://127.0.0.1:1/0 did not answer" in stores
    assert "namespace &#x27;media&#x27;" in stores


def test_the_receivers_are_gone_after_the_request(toolbar, client):
    """Once the request is over nothing listens: storages are back to one attribute check."""
    panel_of(client, "/save/")
    assert ([], [], []) == (file_saved.receivers, file_opened.receivers, file_deleted.receivers)


def test_another_threads_operations_stay_out_of_the_panel(toolbar, client):
    """A save made meanwhile by another thread (another request's) is not this request's."""
    _html, content = panel_of(client, "/with-another-thread/")
    assert (["mine.txt"], False) == (
        [row[3] for row in cells(content, "save")],
        "elsewhere.txt" in content,
    )


def test_the_panel_checks_that_the_app_is_installed(settings):
    """Without the app its template cannot be found: check E003 says what to add."""
    settings.INSTALLED_APPS = ["django.contrib.contenttypes"]
    (message,) = InMemoryStoragePanel.run_checks()
    assert ("inmemorystorage.E003", "Add 'inmemorystorage' to INSTALLED_APPS.") == (
        message.id,
        message.hint,
    )


def test_the_server_timing_header_has_the_storage_time(toolbar, client):
    """As the toolbar's own panels do, the response's Server-Timing has the panel's time."""
    response = client.get("/save/")
    assert "InMemoryStoragePanel_storage_time;dur=" in response.headers["Server-Timing"]


# The observer signals, which the panel connects.


@pytest.fixture
def received():
    """Everything the observing signals send while the test runs."""
    sent = []

    def receiver(signal, sender, **kwargs):
        sent.append((signal, kwargs))

    for signal in (file_saved, file_opened, file_deleted):
        signal.connect(receiver)
    yield sent
    for signal in (file_saved, file_opened, file_deleted):
        signal.disconnect(receiver)


def test_a_save_is_signalled_once_with_its_name_size_and_duration(received):
    """save() sends file_saved once, with the name used (not the one asked for) and the size."""
    storage = InMemoryStorage()
    storage.save("a.txt", ContentFile(b"x"))
    name = storage.save("a.txt", ContentFile(b"yz"))
    (_first, (signal, arguments)) = received
    assert (file_saved, name, 2, True) == (
        signal,
        arguments["name"],
        arguments["size"],
        arguments["duration"] >= 0,
    )


def test_a_writer_is_signalled_when_it_publishes(received):
    """open(name, "wb") sends file_opened; its close() sends file_saved with the bytes written."""
    storage = InMemoryStorage()
    with storage.open("w.bin", "wb") as writer:
        writer.write(b"12345")
    assert [(file_opened, "wb", 0), (file_saved, None, 5)] == [
        (signal, arguments.get("mode"), arguments["size"]) for signal, arguments in received
    ]


def test_an_open_is_signalled_with_the_snapshots_size(received):
    """open() for reading sends file_opened with the size of what the reader sees."""
    storage = InMemoryStorage()
    storage.save("r.txt", ContentFile(b"abc"))
    received.clear()
    with storage.open("r.txt") as reader:
        reader.read()
    assert [(file_opened, "r.txt", "rb", 3)] == [
        (signal, arguments["name"], arguments["mode"], arguments["size"])
        for signal, arguments in received
    ]


def test_a_delete_is_signalled(received):
    """delete() sends file_deleted with the name, even when nothing was there."""
    InMemoryStorage().delete("missing.txt")
    assert [(file_deleted, "missing.txt")] == [(s, a["name"]) for s, a in received]


def test_a_failed_operation_sends_nothing(received):
    """A refused save or a missing file sends no signal: only what happened is reported."""
    storage = InMemoryStorage(max_bytes=10, on_full="error")
    with pytest.raises(OSError):
        storage.save("big.bin", ContentFile(b"x" * 100))
    with pytest.raises(FileNotFoundError):
        storage.open("missing.txt")
    assert [] == received


def test_a_receiver_that_raises_never_fails_the_operation(caplog):
    """A broken receiver is logged; the save goes through."""

    def broken(**kwargs):
        raise RuntimeError("broken receiver")

    file_saved.connect(broken)
    try:
        name = InMemoryStorage().save("a.txt", ContentFile(b"x"))
    finally:
        file_saved.disconnect(broken)
    assert ("a.txt", True) == (name, "storage signal receiver" in caplog.text)


def test_overlapping_requests_each_see_their_own_operations(toolbar):
    """Two requests at once each get their own saves; the first to end leaves the other observed.

    Request B saves again after request A's response is complete, when A has
    stopped observing: B's panel still has that save, and once both are done
    nothing listens.
    """
    both_inside = threading.Barrier(2, timeout=10)
    first_done = threading.Event()
    panels = {}

    def handler(request, who):
        storage = storages["default"]
        storage.save(f"{who}-1.txt", ContentFile(b"x"))
        both_inside.wait()
        if who == "b":
            assert first_done.wait(timeout=10)
            storage.save("b-2.txt", ContentFile(b"x"))
        return page(who)

    toolbar.ROOT_URLCONF.urlpatterns.insert(0, path("overlap/<str:who>/", handler))

    def request(who):
        panels[who] = panel_of(Client(), f"/overlap/{who}/")[1]
        if who == "a":
            first_done.set()

    threads = [threading.Thread(target=request, args=(who,)) for who in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = {who: [row[3] for row in cells(content, "save")] for who, content in panels.items()}
    assert {"a": ["a-1.txt"], "b": ["b-1.txt", "b-2.txt"]} == saved
    assert [] == file_saved.receivers
