"""The demo project end to end: a real ``runserver`` on loopback, a real HTTP client.

The server runs once for this module, on a free port of 127.0.0.1, and is
stopped when the module is done; every test uses names of its own.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.demo_server import DemoClient, running_demo

#: The demo's budget here: small enough that evictions can be seen.
MAX_BYTES = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The demo under runserver, for the whole module."""
    log = tmp_path_factory.mktemp("demo") / "runserver.log"
    with running_demo(log, DEMO_MAX_BYTES=str(MAX_BYTES)) as demo:
        yield demo
    assert demo.process.returncode is not None


@pytest.fixture
def http(server):
    """A client with its own keep-alive connection to the demo."""
    with DemoClient(server) as client:
        yield client


def test_the_page_shows_the_form_and_the_budget(http):
    """GET / answers the page, with the upload form and the storage's max_bytes."""
    response = http.get("/")
    page = response.body.decode()
    assert (200, True, True) == (
        response.status,
        'enctype="multipart/form-data"' in page,
        f'<span id="stats-max">{MAX_BYTES}</span>' in page,
    )


def test_an_uploaded_file_downloads_with_the_same_bytes(http):
    """A file uploaded through the form comes back byte for byte from its URL."""
    content = os.urandom(100_000)
    name = http.upload("e2e-roundtrip.bin", content)
    response = http.get(f"/media/{name}")
    assert (200, content) == (response.status, response.body)


def test_an_uploaded_file_is_listed_with_its_size(http):
    """After an upload the page lists the file, its link and its size in bytes."""
    name = http.upload("e2e-listed.txt", b"listed!")
    page = http.get("/").body.decode()
    assert f'href="/media/{name}">{name}</a>' in page
    assert '<td class="size">7</td>' in page


def test_a_range_request_is_partial_content(http):
    """Range: bytes=10-19 over the network answers 206 with those ten bytes."""
    content = os.urandom(1000)
    name = http.upload("e2e-range.bin", content)
    response = http.get(f"/media/{name}", range="bytes=10-19")
    assert (206, "bytes 10-19/1000", content[10:20]) == (
        response.status,
        response.headers["Content-Range"],
        response.body,
    )


def test_a_conditional_request_is_not_modified(http):
    """If-None-Match with the ETag just received answers 304 without a body."""
    name = http.upload("e2e-conditional.txt", b"cache me")
    etag = http.get(f"/media/{name}").headers["ETag"]
    response = http.get(f"/media/{name}", if_none_match=etag)
    assert (304, b"") == (response.status, response.body)


def test_a_missing_file_is_404(http):
    """A name nothing was saved under answers 404 over the network too."""
    assert 404 == http.get("/media/e2e-never-saved.txt").status


def test_concurrent_readers_see_only_whole_versions(server):
    """16 threads GET one file while the form overwrites it: each body is one whole version.

    Also, one ETag never names two different bodies.
    """
    versions = [os.urandom(64 * 1024) for _ in range(8)]
    with DemoClient(server) as writer:
        name = writer.upload("e2e-concurrent.bin", versions[0])
    race = Race(server, name, versions)
    threads = [threading.Thread(target=race.read) for _ in range(16)]
    threads.append(threading.Thread(target=race.write))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert ([], False) == (race.failures, any(thread.is_alive() for thread in threads))


class Race:
    """Readers that check every body against the known versions, and one writer of them."""

    def __init__(self, server, name, versions):
        self.server, self.name, self.versions = server, name, versions
        self.done = threading.Event()
        self.failures: list[str] = []
        self.bodies_by_etag: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def read(self):
        """GET the file until the writer is done (at least five times); record what is wrong."""
        deadline = time.monotonic() + 30
        reads = 0
        try:
            with DemoClient(self.server) as client:
                while (reads < 5 or not self.done.is_set()) and time.monotonic() < deadline:
                    self.check(client.get(f"/media/{self.name}"))
                    reads += 1
        except Exception as exc:
            self.failures.append(f"reader: {exc!r}")

    def check(self, response):
        etag = response.headers["ETag"]
        with self.lock:
            known = self.bodies_by_etag.setdefault(etag, response.body)
        if response.status != 200 or response.body not in self.versions:
            self.failures.append(f"{response.status}: {len(response.body)} bytes, no version")
        elif known != response.body:
            self.failures.append(f"ETag {etag} named two bodies")

    def write(self):
        """Upload every later version under the same name, through the form."""
        try:
            with DemoClient(self.server) as client:
                for content in self.versions[1:]:
                    assert self.name == client.upload("e2e-concurrent.bin", content)
        except Exception as exc:
            self.failures.append(f"writer: {exc!r}")
        finally:
            self.done.set()
