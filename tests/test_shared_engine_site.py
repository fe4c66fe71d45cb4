"""The real-world proof: two runservers and ``manage.py shell`` share one namespace on Redis.

The site is the shared engine's how-to pasted into a ``startproject`` (its
settings read ``REDIS_URL``, here a real server started for the test), plus
an upload view. A file uploaded through one runserver is served byte-exact
by the other and read by ``manage.py shell``; a file the shell saves is
served by both. Each runserver runs with its autoreloader, as a developer
runs it.
"""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path

import pytest

from tests import test_docs as harness
from tests.demo_server import HOST
from tests.reloading_server import reloading_server

HOWTO = harness.DOCS / "howto" / "many-processes.md"
UPLOAD_VIEW = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from inmemorystorage.urls import media_urlpatterns


@csrf_exempt
def upload(request):
    name = default_storage.save(request.GET["name"], ContentFile(request.body))
    return HttpResponse(name)


urlpatterns += [path("upload/", upload)]
urlpatterns += media_urlpatterns()
"""


SHELL_READS_AND_SAVES = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

print(default_storage.open("shared/blob.bin").read() == bytes(range(256)) * 64)
default_storage.save("from/shell.txt", ContentFile(b"saved by the shell"))
"""


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def site(tmp_path, clean_redis, monkeypatch):
    """The how-to's project on a real server, with an upload view."""
    monkeypatch.setenv("REDIS_URL", clean_redis)
    project = tmp_path / "site"
    project.mkdir()
    harness.build(HOWTO, project)
    with (project / "mysite" / "settings.py").open("a") as settings:
        settings.write('\nDEBUG = True\nALLOWED_HOSTS = ["127.0.0.1"]\n')
    with (project / "mysite" / "urls.py").open("a") as urls:
        urls.write(UPLOAD_VIEW)
    return project


def shell(project: Path, code: str) -> str:
    return harness._run(project, [sys.executable, "manage.py", "shell", "-c", code])


def test_two_runservers_and_a_shell_share_the_files(site, tmp_path, clean_redis):
    """Uploaded through one, served by the other and read by the shell; and the other way round."""
    content = bytes(range(256)) * 64
    with (
        reloading_server(site, tmp_path / "a.log", tmp_path / "tmp-a", REDIS_URL=clean_redis) as a,
        reloading_server(site, tmp_path / "b.log", tmp_path / "tmp-b", REDIS_URL=clean_redis) as b,
    ):
        status, name = request(a.demo.port, "POST", "/upload/?name=shared/blob.bin", content)
        assert (200, b"shared/blob.bin") == (status, name)
        assert (200, content) == request(b.demo.port, "GET", "/media/shared/blob.bin")
        printed = shell(site, SHELL_READS_AND_SAVES)
        assert "True" in printed
        for server in (a, b):
            served = request(server.demo.port, "GET", "/media/from/shell.txt")
            assert (200, b"saved by the shell") == served
        again = request(b.demo.port, "POST", "/upload/?name=shared/blob.bin", b"second")
        assert again[1].startswith(b"shared/blob_"), "a taken name gets another, across processes"


SHELL_FILLS_THE_BUDGET = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

for i in range(4):
    default_storage.save(f"fill/{i}.bin", ContentFile(bytes([i]) * 16_000))
"""


def test_runserver_shows_the_evictions_another_process_makes(site, tmp_path, clean_redis):
    """A shell's save that evicts shows on runserver's console, as the server's own would."""
    with (site / "mysite" / "settings.py").open("a") as settings:
        settings.write('\nSTORAGES["default"]["OPTIONS"]["max_bytes"] = 40_000\n')
    with reloading_server(site, tmp_path / "a.log", tmp_path / "tmp-a", REDIS_URL=clean_redis) as a:
        shell(site, SHELL_FILLS_THE_BUDGET)
        deadline = time.monotonic() + 30
        while "in another process" not in a.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        console = a.output()
    assert (
        "evicted 'fill/0.bin' (16000 bytes) from media to make room, in another process" in console
    )
    assert (
        "evicted 'fill/1.bin' (16000 bytes) from media to make room, in another process" in console
    )
