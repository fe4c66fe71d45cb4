"""``inmemorystorage.views.serve`` through Django's test client, for our storage and any other.

Most tests run twice: over ``InMemoryStorage`` (the one-snapshot fast path)
and over ``FileSystemStorage`` (the Storage API path), which must agree.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import wsgiref.util
from typing import TYPE_CHECKING

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, storages
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import Http404
from django.test import Client, RequestFactory
from django.utils.http import http_date

from inmemorystorage import InMemoryStorage
from inmemorystorage.views import serve

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.http import HttpResponseBase

pytestmark = pytest.mark.urls("tests.view_urls")

DIGITS = b"0123456789"


@pytest.fixture(params=["memory", "filesystem"])
def media(request, settings, tmp_path):
    """The default storage, in memory or on disk, served by the view at /media/."""
    backends = {
        "memory": {"BACKEND": "inmemorystorage.InMemoryStorage"},
        "filesystem": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": os.fspath(tmp_path / "media"), "allow_overwrite": True},
        },
    }
    settings.STORAGES = {**settings.STORAGES, "default": backends[request.param]}
    return storages["default"]


@pytest.fixture
def memory(settings):
    """The default storage, in memory only: for what only a snapshot can promise."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "inmemorystorage.InMemoryStorage"},
    }
    return storages["default"]


@contextlib.contextmanager
def no_database_signals() -> Iterator[None]:
    """Requests without the database handlers of request_started and request_finished.

    As Django's test client does: those handlers must not touch the database
    in a test that may not use it.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def body(response: HttpResponseBase) -> bytes:
    """The whole body, streamed or not; then the response is closed, as a server closes it."""
    streaming = response.streaming
    content = b"".join(response.streaming_content) if streaming else response.content  # type: ignore[attr-defined]
    with no_database_signals():
        response.close()
    return content


def get(client, name: str, **headers: str) -> HttpResponseBase:
    return client.get(f"/media/{name}", headers=headers)


# The whole file.


def test_get_sends_the_stored_bytes(client, media):
    """A GET of a stored name answers 200 with exactly its bytes."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt")
    assert (200, DIGITS) == (response.status_code, body(response))


def test_a_wsgi_server_with_a_file_wrapper_gets_the_whole_file(media):
    """Through WSGI with wsgi.file_wrapper, as under runserver, the body arrives whole."""
    media.save("digits.txt", ContentFile(DIGITS))
    environ = RequestFactory().get("/media/digits.txt").environ
    environ["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    statuses = []
    with no_database_signals():
        result = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
        try:
            content = b"".join(result)
        finally:
            result.close()
    assert (["200 OK"], DIGITS) == (statuses, content)


def test_content_length_is_the_file_size(client, media):
    """Content-Length gives the file's size."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt")
    body(response)
    assert "10" == response["Content-Length"]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text/plain; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
        ("logo.png", "image/png"),
        ("data.json", "application/json"),
        ("backup.tar.gz", "application/gzip"),
        ("blob", "application/octet-stream"),
        ("blob.unknown-extension", "application/octet-stream"),
    ],
)
def test_content_type_is_guessed_from_the_name(client, media, name, content_type):
    """Content-Type comes from mimetypes; text gets a charset, compressed files stay compressed."""
    media.save(name, ContentFile(b"x"))
    response = get(client, name)
    body(response)
    assert content_type == response["Content-Type"]


def test_text_charset_follows_default_charset(client, media, settings):
    """The charset of text files is DEFAULT_CHARSET, as for Django's own responses."""
    media.save("notes.txt", ContentFile(b"x"))
    body(get(client, "notes.txt"))  # the view remembers a name's type...
    settings.DEFAULT_CHARSET = "iso-8859-1"  # ...until a setting it depends on changes
    response = get(client, "notes.txt")
    body(response)
    assert "text/plain; charset=iso-8859-1" == response["Content-Type"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Accept-Ranges", "bytes"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-cache"),
    ],
)
def test_fixed_headers(client, media, header, value):
    """Ranges are advertised, sniffing is off, and browsers revalidate every time."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt")
    body(response)
    assert value == response[header]


# Uploads are user content: they run no script on the site's origin.


@pytest.mark.parametrize(
    "name",
    ["page.html", "page.htm", "page.xhtml", "image.svg", "feed.xml", "app.js", "blob"],
)
def test_active_uploads_are_sandboxed(client, media, name):
    """HTML, SVG, XML and every type not known to be passive come with a CSP sandbox."""
    media.save(name, ContentFile(b"<script>alert(document.cookie)</script>"))
    response = get(client, name)
    body(response)
    assert "sandbox" == response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "name",
    ["notes.txt", "table.csv", "data.json", "report.pdf", "photo.png", "tone.wav", "clip.mp4"],
)
def test_passive_uploads_are_not_sandboxed(client, media, name):
    """Text, data, PDFs, images but SVG, audio and video run no script: they are sent as they are.

    A PDF viewer does not work in a sandbox; a text file keeps its origin.
    """
    media.save(name, ContentFile(b"<script>alert(document.cookie)</script>"))
    response = get(client, name)
    body(response)
    assert "Content-Security-Policy" not in response


@pytest.mark.parametrize(
    "headers",
    [{}, {"range": "bytes=0-3"}, {"range": "bytes=99-"}],
    ids=["200", "206", "416"],
)
def test_every_answer_with_a_body_is_sandboxed(client, media, headers):
    """Whole files, ranges and unsatisfiable ranges all carry the sandbox."""
    media.save("page.html", ContentFile(b"<script>alert(1)</script>"))
    response = get(client, "page.html", **headers)
    body(response)
    assert "sandbox" == response["Content-Security-Policy"]


def test_a_failed_precondition_keeps_the_sandbox(client, media):
    """A 412 for an active file carries its policy too; only a 304 goes without it."""
    media.save("page.html", ContentFile(b"<script>alert(1)</script>"))
    response = get(client, "page.html", if_match='"an-old-version"')
    assert (412, "sandbox") == (response.status_code, response["Content-Security-Policy"])


def test_head_is_sandboxed(media):
    """A HEAD gets the same policy as the GET it describes."""
    media.save("page.html", ContentFile(b"<script>alert(1)</script>"))
    head = serve(RequestFactory().head("/"), "page.html")
    assert "sandbox" == head["Content-Security-Policy"]


def test_the_sandbox_can_be_turned_off(client, media, settings):
    """INMEMORYSTORAGE_SERVE_ACTIVE_CONTENT = True serves uploads as they are."""
    media.save("page.html", ContentFile(b"<script>alert(1)</script>"))
    body(get(client, "page.html"))  # read once, while the setting is off
    settings.INMEMORYSTORAGE_SERVE_ACTIVE_CONTENT = True
    response = get(client, "page.html")
    body(response)
    assert "Content-Security-Policy" not in response


def test_last_modified_is_the_modified_time(client, media):
    """Last-Modified is the storage's modified time, as an HTTP date."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt")
    body(response)
    expected = http_date(media.get_modified_time("digits.txt").timestamp())
    assert expected == response["Last-Modified"]


def test_etag_is_strong(client, media):
    """The ETag is a strong tag: quoted, without W/."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt")
    body(response)
    etag = response["ETag"]
    assert (True, True) == (etag.startswith('"'), etag.endswith('"'))


def test_etag_is_stable_while_the_file_is_unchanged(client, media):
    """Two GETs of an unchanged file give the same ETag."""
    media.save("digits.txt", ContentFile(DIGITS))
    first, second = get(client, "digits.txt"), get(client, "digits.txt")
    body(first), body(second)
    assert first["ETag"] == second["ETag"]


def test_changing_one_answer_s_headers_changes_not_the_next(client, media):
    """Middleware may rewrite a response's headers: the next GET of the file is unchanged."""
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    first["Cache-Control"] = "max-age=3600"
    del first["ETag"]
    second = get(client, "digits.txt")
    body(second)
    assert ("no-cache", True) == (second["Cache-Control"], second.has_header("ETag"))


def test_etag_changes_with_the_content_within_one_second(client, memory):
    """Overwriting a file with content of the same size, at once, gives a new ETag."""
    memory.save("digits.txt", ContentFile(DIGITS))
    before = get(client, "digits.txt")
    memory.delete("digits.txt")
    memory.save("digits.txt", ContentFile(DIGITS[::-1]))
    after = get(client, "digits.txt")
    assert DIGITS[::-1] == body(after)
    body(before)
    assert before["ETag"] != after["ETag"]


def test_etag_differs_between_stores_with_the_same_content(client, memory):
    """A fresh store (as after a restart) never reuses the tag of an older one for other bytes."""
    other = InMemoryStorage()
    memory.save("digits.txt", ContentFile(DIGITS))
    other.save("digits.txt", ContentFile(DIGITS[::-1]))
    ours = serve(RequestFactory().get("/"), "digits.txt")
    theirs = serve(RequestFactory().get("/"), "digits.txt", storage=other)
    body(ours), body(theirs)
    assert ours["ETag"] != theirs["ETag"]


# HEAD and other methods.


def test_head_sends_headers_without_a_body(media):
    """HEAD gets the GET's Content-Length and ETag, and no body from the view itself."""
    media.save("digits.txt", ContentFile(DIGITS))
    factory = RequestFactory()
    got = serve(factory.get("/"), "digits.txt")
    head = serve(factory.head("/"), "digits.txt")
    body(got)
    assert (200, "10", got["ETag"], b"") == (
        head.status_code,
        head["Content-Length"],
        head["ETag"],
        body(head),
    )


def test_head_ignores_range(media):
    """Range is defined for GET only (RFC 9110 section 14.2): HEAD answers 200."""
    media.save("digits.txt", ContentFile(DIGITS))
    head = serve(RequestFactory().head("/", headers={"Range": "bytes=0-3"}), "digits.txt")
    assert (200, "10", b"") == (head.status_code, head["Content-Length"], body(head))


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_other_methods_are_not_allowed(client, media, method):
    """Only GET and HEAD are served; the others get 405 with Allow."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = getattr(client, method)("/media/digits.txt")
    assert (405, "GET, HEAD") == (response.status_code, response["Allow"])


def test_other_methods_are_not_allowed_under_csrf_protection(media, settings):
    """With CsrfViewMiddleware a POST still gets 405 (the view only reads), not a CSRF 403."""
    settings.MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
    media.save("digits.txt", ContentFile(DIGITS))
    response = Client(enforce_csrf_checks=True).post("/media/digits.txt")
    assert (405, "GET, HEAD") == (response.status_code, response["Allow"])


def test_other_methods_are_logged_as_django_logs_them(client, media, caplog):
    """A 405 is logged on ``django.request``, as ``@require_safe`` logs it."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.post("/media/digits.txt")
    assert 405 == response.status_code
    assert ["Method Not Allowed (POST): /media/digits.txt"] == [
        record.getMessage() for record in caplog.records if record.name == "django.request"
    ]


# Conditional requests.


def test_if_none_match_with_the_current_etag_is_not_modified(client, media):
    """If-None-Match with the file's ETag answers 304 without a body."""
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    response = get(client, "digits.txt", if_none_match=first["ETag"])
    assert (304, b"") == (response.status_code, body(response))


def test_not_modified_has_only_the_headers_rfc_9110_allows(client, media):
    """A 304 keeps ETag, Last-Modified and Cache-Control (section 15.4.5), nothing else."""
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    response = get(client, "digits.txt", if_none_match=first["ETag"])
    expected = {"ETag", "Last-Modified", "Cache-Control", "Content-Length"}
    assert expected == set(response.headers)


def test_not_modified_gives_the_whole_files_content_length(client, media):
    """A 304's Content-Length is the 200's, as RFC 9110 section 8.6 allows, never a wrong 0."""
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    response = get(client, "digits.txt", if_none_match=first["ETag"])
    assert "10" == response["Content-Length"]


def test_if_none_match_with_another_etag_sends_the_file(client, media):
    """If-None-Match with an old ETag answers 200 with the bytes."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt", if_none_match='"an-old-version"')
    assert (200, DIGITS) == (response.status_code, body(response))


def test_if_modified_since_last_modified_is_not_modified(client, media):
    """If-Modified-Since at the file's Last-Modified answers 304."""
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    response = get(client, "digits.txt", if_modified_since=first["Last-Modified"])
    assert (304, b"") == (response.status_code, body(response))


def test_if_modified_since_before_last_modified_sends_the_file(client, media):
    """If-Modified-Since an hour before the file's time answers 200."""
    media.save("digits.txt", ContentFile(DIGITS))
    earlier = http_date(media.get_modified_time("digits.txt").timestamp() - 3600)
    response = get(client, "digits.txt", if_modified_since=earlier)
    assert (200, DIGITS) == (response.status_code, body(response))


def test_if_match_with_another_etag_fails_the_precondition(client, media):
    """If-Match with a tag the file does not have answers 412."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt", if_match='"an-old-version"')
    assert 412 == response.status_code


def test_if_unmodified_since_before_last_modified_fails_the_precondition(client, media):
    """If-Unmodified-Since an hour before the file's time answers 412."""
    media.save("digits.txt", ContentFile(DIGITS))
    earlier = http_date(media.get_modified_time("digits.txt").timestamp() - 3600)
    response = get(client, "digits.txt", if_unmodified_since=earlier)
    assert 412 == response.status_code


def test_if_none_match_is_checked_before_range(client, media):
    """A matching If-None-Match answers 304 even with a Range (RFC 9110 section 13.2.2)."""
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    response = get(client, "digits.txt", if_none_match=first["ETag"], range="bytes=0-3")
    assert 304 == response.status_code


# Ranges.


@pytest.mark.parametrize(
    ("header", "content_range", "expected"),
    [
        ("bytes=0-3", "bytes 0-3/10", b"0123"),
        ("bytes=5-", "bytes 5-9/10", b"56789"),
        ("bytes=-3", "bytes 7-9/10", b"789"),
        ("bytes=8-100", "bytes 8-9/10", b"89"),
        ("bytes=-100", "bytes 0-9/10", DIGITS),
        ("bytes=9-9", "bytes 9-9/10", b"9"),
        ("BYTES=2-4", "bytes 2-4/10", b"234"),
        ("bytes=3-99999999999999999999999999", "bytes 3-9/10", b"3456789"),
    ],
)
def test_a_single_range_is_partial_content(client, media, header, content_range, expected):
    """One byte range answers 206 with Content-Range and just those bytes."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt", range=header)
    assert (206, content_range, str(len(expected)), expected) == (
        response.status_code,
        response["Content-Range"],
        response["Content-Length"],
        body(response),
    )


@pytest.mark.parametrize(
    "header", ["bytes=10-", "bytes=20-30", "bytes=-0", "bytes=99999999999999999999999-"]
)
def test_an_unsatisfiable_range_is_416(client, media, header):
    """A range with no byte in the file answers 416 with Content-Range: bytes */size."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt", range=header)
    assert (416, "bytes */10") == (response.status_code, response["Content-Range"])


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,3-4",
        "bytes=5-2",
        "items=0-3",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=0x1-2",
        "bytes=\u0661-\u0662",  # Arabic-Indic digits are not digits here
    ],
)
def test_a_malformed_or_multiple_range_is_ignored(client, media, header):
    """Several ranges, or a range that does not parse, answer 200 with the whole file."""
    media.save("digits.txt", ContentFile(DIGITS))
    response = get(client, "digits.txt", range=header)
    assert (200, DIGITS) == (response.status_code, body(response))


def test_if_range_with_the_current_etag_sends_the_range(client, media):
    """If-Range with the file's ETag honours Range."""
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    response = get(client, "digits.txt", range="bytes=0-3", if_range=first["ETag"])
    assert (206, b"0123") == (response.status_code, body(response))


@pytest.mark.parametrize("if_range", ['"an-old-version"', "weak", "date"])
def test_if_range_that_does_not_match_sends_the_whole_file(client, media, if_range):
    """If-Range with another tag, a weak tag or a date answers 200 with the whole file.

    A date is not a strong validator (a file can change twice in one second),
    so by RFC 9110 section 13.1.5 the condition is false.
    """
    media.save("digits.txt", ContentFile(DIGITS))
    first = get(client, "digits.txt")
    body(first)
    value = {"weak": f"W/{first['ETag']}", "date": first["Last-Modified"]}.get(if_range, if_range)
    response = get(client, "digits.txt", range="bytes=0-3", if_range=value)
    assert (200, DIGITS) == (response.status_code, body(response))


def test_a_long_range_streams_in_pieces(client, media):
    """A range larger than one chunk arrives whole and in order."""
    content = os.urandom(700 * 1024)
    media.save("big.bin", ContentFile(content))
    response = get(client, "big.bin", range="bytes=1000-")
    assert (206, content[1000:]) == (response.status_code, body(response))


def test_an_empty_file_is_sent_whole(client, media):
    """An empty file answers 200 with Content-Length 0."""
    media.save("empty.txt", ContentFile(b""))
    response = get(client, "empty.txt")
    assert (200, "0", b"") == (response.status_code, response["Content-Length"], body(response))


def test_a_suffix_range_of_an_empty_file_is_ignored(client, media):
    """bytes=-5 of an empty file answers 200: a 206 cannot describe zero bytes."""
    media.save("empty.txt", ContentFile(b""))
    response = get(client, "empty.txt", range="bytes=-5")
    assert (200, b"") == (response.status_code, body(response))


def test_a_range_of_an_empty_file_is_unsatisfiable(client, media):
    """bytes=0- of an empty file answers 416 with bytes */0."""
    media.save("empty.txt", ContentFile(b""))
    response = get(client, "empty.txt", range="bytes=0-")
    assert (416, "bytes */0") == (response.status_code, response["Content-Range"])


# Names that cannot be served.


@pytest.mark.parametrize(
    "url",
    [
        "/media/missing.txt",
        "/media/folder",
        "/media/folder/",
        "/media/digits.txt/child",
        "/media/../secret.txt",
        "/media/folder/../../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media//etc/passwd",
        "/media/nul%00.txt",
    ],
)
def test_names_that_cannot_be_served_are_404(client, media, tmp_path, url):
    """Missing names, directories, paths through files and escapes answer 404, never a 500."""
    media.save("digits.txt", ContentFile(DIGITS))
    media.save("folder/inside.txt", ContentFile(DIGITS))
    (tmp_path / "secret.txt").write_bytes(b"secret")
    response = client.get(url)
    assert 404 == response.status_code


@pytest.mark.parametrize(
    "name",
    [
        "s" * 256 + ".txt",  # one segment over 255 bytes
        "dir/" + "é" * 128,  # 256 bytes of UTF-8 in 128 characters
        "/".join(["d" * 200] * 21) + ".txt",  # 4,225 bytes: over PATH_MAX (4,096)
        "/".join(["d" * 200] * 300) + ".txt",  # 60 kB
    ],
    ids=["segment-256", "segment-256-utf8", "name-4225", "name-60k"],
)
def test_overlong_names_are_404(client, media, name):
    """A segment or a name longer than the OS allows (ENAMETOOLONG) answers 404, never a 500."""
    assert 404 == client.get(f"/media/{name}").status_code


@pytest.mark.parametrize("name", ["", " ", "\x00"])
def test_blank_and_nul_names_are_404(media, name):
    """A blank name or a NUL byte raises Http404 from the view itself."""
    with pytest.raises(Http404):
        serve(RequestFactory().get("/"), name)


# Snapshots.


def test_a_deleted_file_still_streams_the_version_it_started_with(memory):
    """Deleting the file after the response was made does not change its body."""
    memory.save("digits.txt", ContentFile(DIGITS))
    response = serve(RequestFactory().get("/"), "digits.txt")
    memory.delete("digits.txt")
    assert DIGITS == body(response)


def test_an_overwritten_file_still_streams_the_range_it_started_with(memory):
    """Overwriting the file during a ranged response does not mix versions."""
    content = os.urandom(700 * 1024)
    memory.save("big.bin", ContentFile(content))
    response = serve(RequestFactory().get("/", headers={"Range": "bytes=10-"}), "big.bin")
    chunks = iter(response.streaming_content)
    first = next(chunks)
    memory.delete("big.bin")
    memory.save("big.bin", ContentFile(os.urandom(700 * 1024)))
    assert content[10:] == first + body(response)


# Which storage.


def test_storage_can_be_given_as_an_instance():
    """serve(..., storage=instance) serves that storage's files."""
    storage = InMemoryStorage()
    storage.save("digits.txt", ContentFile(DIGITS))
    assert DIGITS == body(serve(RequestFactory().get("/"), "digits.txt", storage=storage))


def test_storage_can_be_given_as_an_alias(settings):
    """serve(..., storage="alias") serves STORAGES["alias"]."""
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {"BACKEND": "inmemorystorage.InMemoryStorage"},
    }
    storages["uploads"].save("digits.txt", ContentFile(DIGITS))
    assert DIGITS == body(serve(RequestFactory().get("/"), "digits.txt", storage="uploads"))


class TimelessStorage(FileSystemStorage):
    """A storage that cannot tell when a file changed, as Django's base Storage."""

    def get_modified_time(self, name):
        raise NotImplementedError


class StreamStorage(FileSystemStorage):
    """A storage whose files can only be read forwards, as many remote storages."""

    def _open(self, name, mode="rb"):
        with open(self.path(name), "rb") as file:
            return File(io.BufferedReader(_Unseekable(file.read())), name)


class _Unseekable(io.BytesIO):
    def seekable(self):
        return False


def test_a_storage_without_modified_times_sends_no_validators(tmp_path):
    """Without a modified time there is no ETag or Last-Modified, and the file is still served."""
    storage = TimelessStorage(location=tmp_path)
    storage.save("digits.txt", ContentFile(DIGITS))
    response = serve(RequestFactory().get("/"), "digits.txt", storage=storage)
    assert (DIGITS, None, None) == (
        body(response),
        response.get("ETag"),
        response.get("Last-Modified"),
    )


def test_a_storage_without_modified_times_ignores_if_range(tmp_path):
    """Without an ETag no If-Range can match: the whole file is sent."""
    storage = TimelessStorage(location=tmp_path)
    storage.save("digits.txt", ContentFile(DIGITS))
    request = RequestFactory().get("/", headers={"Range": "bytes=0-3", "If-Range": '"x"'})
    response = serve(request, "digits.txt", storage=storage)
    assert (200, DIGITS) == (response.status_code, body(response))


def test_a_file_that_cannot_seek_is_sent_whole(tmp_path):
    """A file that cannot seek is sent whole, its length from the storage, despite a Range."""
    storage = StreamStorage(location=tmp_path)
    storage.save("digits.txt", ContentFile(DIGITS))
    request = RequestFactory().get("/", headers={"Range": "bytes=2-3"})
    response = serve(request, "digits.txt", storage=storage)
    assert (200, "10", DIGITS) == (response.status_code, response["Content-Length"], body(response))


def test_a_file_that_grows_while_sent_keeps_its_content_length(tmp_path):
    """Bytes appended after the headers were made are not sent: the body matches Content-Length."""
    storage = FileSystemStorage(location=tmp_path)
    storage.save("digits.txt", ContentFile(DIGITS))
    response = serve(RequestFactory().get("/"), "digits.txt", storage=storage)
    with open(tmp_path / "digits.txt", "ab") as file:
        file.write(b"more")
    assert ("10", DIGITS) == (response["Content-Length"], body(response))


def test_a_file_is_closed_when_nothing_streams_from_it(tmp_path):
    """A HEAD leaves no file open (the suite turns ResourceWarning into an error)."""
    storage = FileSystemStorage(location=tmp_path)
    storage.save("digits.txt", ContentFile(DIGITS))
    response = serve(RequestFactory().head("/"), "digits.txt", storage=storage)
    assert (200, b"") == (response.status_code, body(response))


class VanishingStreamStorage(StreamStorage):
    """A storage whose file disappears between open() and size(), as under a concurrent delete."""

    def size(self, name):
        raise FileNotFoundError(name)


def test_a_file_deleted_while_opened_is_404_and_closed(tmp_path):
    """A file gone by the time its size is asked answers 404 and leaves nothing open."""
    storage = VanishingStreamStorage(location=tmp_path)
    storage.save("digits.txt", ContentFile(DIGITS))
    with pytest.raises(Http404):
        serve(RequestFactory().get("/"), "digits.txt", storage=storage)


def test_an_unsatisfiable_range_without_validators_is_416(tmp_path):
    """A storage without modified times still answers 416 for a range past the end."""
    storage = TimelessStorage(location=tmp_path)
    storage.save("digits.txt", ContentFile(DIGITS))
    request = RequestFactory().get("/", headers={"Range": "bytes=50-"})
    response = serve(request, "digits.txt", storage=storage)
    assert (416, "bytes */10", None) == (
        response.status_code,
        response["Content-Range"],
        response.get("ETag"),
    )
