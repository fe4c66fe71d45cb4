"""StorageFullMiddleware: an upload that does not fit gets 413 or 507 and a page that says why."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from inmemorystorage import StorageFull
from inmemorystorage.budget import file_charge
from inmemorystorage.middleware import storage_full_response

MIDDLEWARE = "inmemorystorage.middleware.StorageFullMiddleware"
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MAX_BYTES = 10_000

pytestmark = [
    pytest.mark.urls("tests.storage_full_urls"),
    pytest.mark.usefixtures("forget_shared_stores"),
]


def bounded(settings, on_full):
    settings.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "default", "max_bytes": MAX_BYTES, "on_full": on_full},
        },
        "staticfiles": STATIC,
    }


@pytest.fixture
def evicting(settings):
    """A bounded default storage that evicts, behind the middleware."""
    settings.MIDDLEWARE = [MIDDLEWARE]
    bounded(settings, "evict")


@pytest.fixture
def refusing(settings):
    """A bounded default storage that refuses when full, behind the middleware."""
    settings.MIDDLEWARE = [MIDDLEWARE]
    bounded(settings, "error")


def upload(path, size, name="photo.jpg", **headers):
    return Client().post(path, {"file": SimpleUploadedFile(name, b"x" * size)}, **headers)


@pytest.mark.usefixtures("evicting")
def test_a_file_larger_than_the_budget_is_413():
    """One file over max_bytes answers 413 Content Too Large."""
    response = upload("/save/", MAX_BYTES + 1)
    assert (413, "Content Too Large") == (response.status_code, response.reason_phrase)


@pytest.mark.usefixtures("evicting")
def test_the_413_page_names_the_file_its_size_the_budget_and_the_option():
    """The page says which file, how big, the budget, and which option to raise."""
    page = upload("/save/", MAX_BYTES + 1).content.decode()
    assert "photo.jpg" in page
    assert f"({MAX_BYTES + 1:,} bytes)" in page
    assert f"max_bytes={MAX_BYTES:,}" in page
    assert "raise STORAGES[&#x27;default&#x27;][&#x27;OPTIONS&#x27;][&#x27;max_bytes&#x27;]" in page


@pytest.mark.usefixtures("evicting")
def test_a_file_that_fits_only_without_its_overhead_is_413_too():
    """A file under max_bytes whose charge (content plus overhead) is over it cannot fit either."""
    size = MAX_BYTES - 1
    assert file_charge("photo.jpg", size) > MAX_BYTES
    page = upload("/save/", size).content.decode()
    assert "no eviction can make room" in page
    # The exception, shown below the explanation, gives the bytes the file is charged.
    charged = f"it needs {file_charge('photo.jpg', size):,} bytes, more than the whole budget"
    assert charged in page


@pytest.mark.usefixtures("refusing")
def test_a_full_storage_that_refuses_to_evict_is_507():
    """With on_full='error', a file that would fit an emptier storage answers 507."""
    assert 200 == upload("/save/", 6000, name="first.jpg").status_code
    response = upload("/save/", 6000, name="second.jpg")
    page = response.content.decode()
    assert (507, "Insufficient Storage") == (response.status_code, response.reason_phrase)
    assert "the file &#x27;second.jpg&#x27; (6,000 bytes) does not fit" in page
    held = file_charge("first.jpg", 6000)
    assert f"it needs {file_charge('second.jpg', 6000):,} bytes, " in page
    assert f"the rest of the storage holds {held:,} bytes," in page
    option = "STORAGES[&#x27;default&#x27;][&#x27;OPTIONS&#x27;][&#x27;on_full&#x27;]"
    assert f"set {option} to &#x27;evict&#x27;" in page


@pytest.mark.usefixtures("refusing")
def test_a_file_whose_new_directories_take_it_over_the_budget_is_413_even_when_refusing():
    """The store says whether any eviction could help: its directories count, so 413, not 507."""
    size = 9000
    folder = "a/b/c/d"
    assert file_charge(f"{folder}/photo.jpg", size) <= MAX_BYTES  # the file alone would fit
    response = upload(f"/save-into/{folder}/", size, HTTP_ACCEPT="text/plain")
    assert 413 == response.status_code
    assert "4 new directories it needs" in response.content.decode()


@pytest.mark.usefixtures("refusing")
def test_a_client_that_does_not_accept_html_gets_plain_text():
    """With Accept: application/json the answer is plain text, same status, same facts."""
    response = upload("/save/", MAX_BYTES + 1, HTTP_ACCEPT="application/json")
    assert (413, "text/plain; charset=utf-8") == (response.status_code, response["Content-Type"])
    assert "'photo.jpg' (10,001 bytes)" in response.content.decode()


@pytest.mark.usefixtures("evicting")
def test_the_page_escapes_the_file_name():
    """A file name with markup is shown as text, never as HTML."""
    page = upload("/save/", MAX_BYTES + 1, name="<b>bold</b>.jpg").content.decode()
    assert "<b>" not in page


@pytest.mark.usefixtures("evicting")
def test_a_view_that_catches_storage_full_keeps_its_own_answer():
    """The middleware only sees what views let go: a view's own answer stands."""
    response = upload("/save-or-explain/", MAX_BYTES + 1)
    assert (200, b"please upload less") == (response.status_code, response.content[:18])


@pytest.mark.usefixtures("evicting")
def test_other_errors_are_left_alone():
    """Any other exception goes on to Django's handling (here, the test client re-raises it)."""
    with pytest.raises(OSError, match="not a storage problem"):
        Client().get("/fail/")


def test_without_the_middleware_a_full_storage_is_a_500(settings):
    """What the middleware is for: without it, StorageFull is an uncaught error."""
    bounded(settings, "evict")
    settings.MIDDLEWARE = []
    response = Client(raise_request_exception=False).post(
        "/save/", {"file": SimpleUploadedFile("photo.jpg", b"x" * (MAX_BYTES + 1))}
    )
    assert 500 == response.status_code


def test_an_unknown_budget_is_named_generically(settings):
    """When no configured storage has the refused budget, the page names the option generically."""
    settings.MIDDLEWARE = [MIDDLEWARE]
    bounded(settings, "evict")
    settings.STORAGES["default"]["OPTIONS"]["namespace"] = "elsewhere"
    settings.STORAGES = {**settings.STORAGES, "second": settings.STORAGES["default"]}
    page = upload("/save/", MAX_BYTES + 1).content.decode()
    assert "the storage&#x27;s OPTIONS[&#x27;max_bytes&#x27;]" in page


def test_another_storage_with_odd_options_does_not_break_the_page(settings):
    """An alias whose OPTIONS is no dict (Django's to report when it is used): still a 413 page."""
    settings.MIDDLEWARE = [MIDDLEWARE]
    bounded(settings, "evict")
    odd = {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": None}
    settings.STORAGES = {**settings.STORAGES, "spare": odd}
    response = upload("/save/", MAX_BYTES + 1)
    assert 413 == response.status_code
    assert "STORAGES[&#x27;default&#x27;][&#x27;OPTIONS&#x27;]" in response.content.decode()


def test_an_archive_past_an_unbounded_store_s_bound_is_413_and_says_to_split_it(rf):
    """A tar that decompresses past half the machine's memory: 413, the bound, no option named."""
    refused = StorageFull(
        "the archive",
        9 * 1024**3,
        8 * 1024**3,
        "the archive decompresses to more than 8,589,934,592 bytes, half this machine's memory",
        what="the archive",
        limit="memory",
    )
    response = storage_full_response(rf.get("/", HTTP_ACCEPT="text/plain"), refused)
    page = response.content.decode()
    assert 413 == response.status_code
    assert "half this machine's memory, 8,589,934,592 bytes" in page
    assert "split it" in page
    assert "max_bytes'] in your settings" not in page
