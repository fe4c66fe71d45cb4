"""The demo project under a real ``runserver`` on a free loopback port, and an HTTP client for it.

Used by the end-to-end tests and the browser session. The server is a child
process of this one, bound to 127.0.0.1 only; it is stopped (and, if it will
not stop, killed) when the ``with`` block ends, so no process outlives a test.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Self
from urllib.parse import parse_qs, urlsplit

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "examples" / "demo" / "manage.py"
HOST = "127.0.0.1"
#: How long the server may take to answer its first request, and to stop.
START_SECONDS = 60.0
STOP_SECONDS = 10.0


class DemoServerError(RuntimeError):
    """The demo server did not start, or did not stop."""


@attrs.frozen
class DemoServer:
    """A running demo: its base URL, its process and the file its output goes to."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://{HOST}:{self.port}"

    def output(self) -> str:
        """What the server printed so far: one line per request, and any traceback."""
        return self.log.read_text(errors="replace")


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_demo(log: Path, **environ: str) -> Iterator[DemoServer]:
    """Run ``manage.py runserver 127.0.0.1:PORT --noreload`` until the block ends.

    Args:
        log: Where the server's output goes (a file, so that it never blocks on a pipe).
        environ: Extra environment variables for the server, such as ``DEMO_MAX_BYTES``.

    Raises:
        DemoServerError: the server exited or stayed silent for START_SECONDS,
            with its output in the message.
    """
    for _attempt in range(3):  # another process may take the free port first
        server = _start(log, environ)
        try:
            if _wait_until_serving(server):
                yield server
                return
        finally:
            _stop(server)
    msg = f"the demo server exited before serving, three times; its output:\n{server.output()}"
    raise DemoServerError(msg)


def _start(log: Path, environ: dict[str, str]) -> DemoServer:
    port = free_port()
    env = {
        **os.environ,
        **environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "demo.settings",  # not the tests' own, which pytest sets
    }
    command = [sys.executable, str(MANAGE), "runserver", f"{HOST}:{port}", "--noreload"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    return DemoServer(port, process, log)


def _wait_until_serving(server: DemoServer) -> bool:
    """True once the server answers; False if it exited (the port was taken, say)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection(HOST, server.port, timeout=5)
            try:
                connection.request("HEAD", "/")
                connection.getresponse().read()
                return True
            finally:
                connection.close()
        time.sleep(0.1)
    msg = f"the demo server did not answer in {START_SECONDS:.0f} s; its output:\n{server.output()}"
    raise DemoServerError(msg)


def _stop(server: DemoServer) -> None:
    """Terminate the server, kill it if it lingers, and reap it."""
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)


@attrs.frozen
class Response:
    """What came back: status, headers (case-insensitive lookup) and the whole body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes


class DemoClient:
    """A small HTTP/1.1 client for the demo: keeps one connection alive, and the CSRF cookie.

    Not thread-safe: give each thread its own.
    """

    def __init__(self, server: DemoServer) -> None:
        self.server = server
        self.connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
        self.csrf_token: str | None = None

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request and read the whole response."""
        headers = dict(headers or {})
        if self.csrf_token is not None:
            headers["Cookie"] = f"csrftoken={self.csrf_token}"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            if name.strip() == "csrftoken":
                self.csrf_token = rest.split(";", 1)[0]
        return Response(response.status, response.headers, content)

    def get(self, path: str, **headers: str) -> Response:
        """GET *path*; keyword arguments are headers, ``if_none_match`` for ``If-None-Match``."""
        return self.request("GET", path, headers=_header_names(headers))

    def upload(self, filename: str, content: bytes) -> str:
        """Upload through the page's form, as a browser does; return the name it was saved as.

        Raises:
            AssertionError: the form did not redirect to the saved file (it shows an error).
        """
        if self.csrf_token is None:
            page = self.get("/")
            if self.csrf_token is None:
                msg = f"GET / answered {page.status} without a CSRF cookie: {page.body[-2000:]!r}"
                raise AssertionError(msg)
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                b'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n',
                f"{self.csrf_token}\r\n".encode(),
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
                b"Content-Type: application/octet-stream\r\n\r\n",
                content,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        response = self.request(
            "POST", "/", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        location = response.headers.get("Location", "")
        if response.status != http.client.FOUND or "saved" not in location:
            msg = f"upload of {filename!r} answered {response.status}: {response.body[-2000:]!r}"
            raise AssertionError(msg)
        return parse_qs(urlsplit(location).query)["saved"][0]


def _header_names(headers: dict[str, str]) -> dict[str, str]:
    """``{"if_none_match": v}`` as ``{"If-None-Match": v}``."""
    return {name.replace("_", "-").title(): value for name, value in headers.items()}
