"""The runserver part: ``python -m benchmarks.httpbench '<json job>'``, every backend in turn.

Starts ``manage.py runserver --noreload`` (threaded, as users run it) for each
backend on a free loopback port, lets 1..N keep-alive clients GET a 64 KiB
file and POST 16 KiB uploads from each server in turn, checks every body and
every upload, and always stops the servers.
Only 127.0.0.1 is used; every loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack, contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import scratch_root
from .content import make_content

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
MANAGE = Path(__file__).resolve().parent / "httpsite" / "manage.py"
HOST = "127.0.0.1"
FILE_NAME = "bench/blob.bin"
UPLOAD_BYTES = 16 * 1024
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 3.0  # a body shorter than its Content-Length hangs until then
MAX_REQUESTS = 100_000  # per client and run
MAX_VERIFIED = 3_000  # uploads read back per run
QUICKACK = getattr(socket, "TCP_QUICKACK", None)
#: Servers whose uploads cannot be read back: they store nothing, or nothing served.
UPLOAD_FLOORS = ("http-floor", "http-floor-kept", "storage-floor")
#: Servers measured on GETs only: what their uploads would cost is another floor's figure.
GET_ONLY = ("http-floor-same",)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def view_missing(backend: str) -> str | None:
    """Why this backend cannot be served yet, or ``None``."""
    if backend in ("ours", "django") and importlib.util.find_spec("inmemorystorage.views") is None:
        return "inmemorystorage.views is not in this checkout yet"
    return None


@contextmanager
def runserver(backend: str, scratch: Path, file_size: int) -> Iterator[int]:
    """Serve the bench site with ``manage.py runserver --noreload``; yield the port; always stop."""
    env = {
        **os.environ,
        "BENCH_HTTP_BACKEND": backend,
        "BENCH_MEDIA_ROOT": str(scratch),
        "BENCH_HTTP_FILE_SIZE": str(file_size),
        "DJANGO_SETTINGS_MODULE": "benchmarks.httpsite.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log_path = scratch / "runserver.log"
    for _attempt in range(3):
        port = free_port()
        with log_path.open("w") as log:
            server = subprocess.Popen(
                [sys.executable, str(MANAGE), "runserver", "--noreload", f"{HOST}:{port}"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            if _wait_ready(server, port):
                yield port
                return
        finally:
            _stop(server)
    tail = log_path.read_text(errors="replace")[-500:]
    msg = f"runserver did not start for {backend}: {tail}"
    raise RuntimeError(msg)


def _wait_ready(server: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        client = Client(port)
        try:
            if client.request("GET", "/ready/")[0] == 200:
                return True
        except (OSError, ValueError, KeyError, IndexError):  # not up yet
            time.sleep(0.1)
        finally:
            client.close()
    return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


class Client:
    """A plain keep-alive HTTP/1.1 connection (readiness and read-back), quick to ACK.

    runserver writes the headers and each 4 KiB block of a body with a separate
    ``send()``; with Nagle's algorithm on its side and delayed ACKs on ours, a
    response whose tail is shorter than the loopback MSS waits ~40 ms for an
    ACK. Setting ``TCP_QUICKACK`` after each ``recv()`` (Linux) keeps the
    clients from measuring that timer instead of the server. The client
    reconnects, and counts it, when the server closes the connection.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.connects = 0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=REQUEST_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        self.connects += 1
        return sock

    def _recv(self, sock: socket.socket) -> None:
        chunk = sock.recv(262144)
        if QUICKACK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        if not chunk:
            msg = "server closed the connection"
            raise ConnectionError(msg)
        self.buffer += chunk

    def request(self, method: str, url: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read the whole answer (which must carry Content-Length)."""
        sock = self.sock or self._connect()
        head = f"{method} {url} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        if method == "POST":
            head += f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
        try:
            sock.sendall(head.encode() + b"\r\n" + body)
            while b"\r\n\r\n" not in self.buffer:
                self._recv(sock)
            raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            status, headers = _parse_head(raw)
            length = int(headers["content-length"])
            while len(self.buffer) < length:
                self._recv(sock)
            answer, self.buffer = self.buffer[:length], self.buffer[length:]
        except (OSError, ValueError, KeyError, IndexError):
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def close(self) -> None:
        """Close the connection."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return int(lines[0].split()[1]), headers


class _Answer(asyncio.Protocol):
    """One connection's protocol: ACKs each packet the moment it arrives, parses one answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def ack(self) -> None:
        """Leave delayed-ACK mode now (Linux re-enters it whenever we send)."""
        if QUICKACK is not None and self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)

    def data_received(self, data: bytes) -> None:
        self.ack()
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None or self.waiter.done():
            return
        try:
            status, headers = _parse_head(bytes(self.buffer[:end]))
            length = int(headers["content-length"])
        except (ValueError, KeyError, IndexError) as exc:
            self.waiter.set_exception(exc)
            return
        if len(self.buffer) >= end + 4 + length:
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self.waiter.set_result((status, headers, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the connection"))


class AsyncClient:
    """The load generator's connection: keep-alive, and ``TCP_QUICKACK`` as each packet arrives.

    All clients of a run share one event loop in one thread: a thread per
    client would spend the client process's time fighting over its GIL and
    make the clients, not the server, the bottleneck.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.protocol: _Answer | None = None
        self.connects = 0

    async def connect(self) -> _Answer:
        """Open the connection now (a request opens one when there is none)."""
        loop = asyncio.get_running_loop()
        _transport, protocol = await loop.create_connection(_Answer, HOST, self.port)
        self.protocol = protocol
        self.connects += 1
        return protocol

    async def request(self, method: str, url: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read the whole answer (which must carry Content-Length)."""
        protocol = self.protocol
        if protocol is None or protocol.transport is None:
            protocol = await self.connect()
        head = f"{method} {url} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        if method == "POST":
            head += f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
        protocol.waiter = asyncio.get_running_loop().create_future()
        assert protocol.transport is not None
        protocol.transport.write(head.encode() + b"\r\n" + body)
        protocol.ack()
        try:
            status, headers, answer = await asyncio.wait_for(protocol.waiter, REQUEST_TIMEOUT)
        except (OSError, ValueError, KeyError, IndexError, TimeoutError):
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def close(self) -> None:
        """Close the connection."""
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.close()
        self.protocol = None


#: What one request came to: right, a 200 with wrong bytes, or another status.
OK, WRONG, BAD_STATUS = 0, 1, 2
Step = Callable[[AsyncClient, int, int], Awaitable[int]]


def _clients_run(port: int, clients: int, duration: float, step: Step) -> dict[str, Any]:
    """Run *clients* connections calling ``step(client, index, k)`` until the deadline; count."""
    tallies = [[0, 0, 0, 0] for _ in range(clients)]  # requests, wrong, errors, connects

    async def one(client: AsyncClient, index: int, deadline: float) -> None:
        tally = tallies[index]
        k = 0
        try:
            while k < MAX_REQUESTS and time.perf_counter() < deadline:
                try:
                    outcome = await step(client, index, k)
                except (OSError, ValueError, KeyError, IndexError, TimeoutError):
                    outcome = BAD_STATUS  # no answer, a cut one, or one that never ends
                tally[0] += 1
                tally[1] += outcome == WRONG
                tally[2] += outcome == BAD_STATUS
                k += 1
        finally:
            tally[3] = client.connects
            client.close()

    async def everyone() -> float:
        # Connected before the clock starts: runserver's short listen backlog
        # drops some of 16 connections made at once, and a dropped one waits
        # a second for its retry, which is not what is measured here. One
        # that fails anyway is opened again by its first request, and counted.
        connected = [AsyncClient(port) for _ in range(clients)]
        await asyncio.gather(
            *(asyncio.wait_for(client.connect(), START_TIMEOUT) for client in connected),
            return_exceptions=True,
        )
        began = time.perf_counter()
        deadline = began + duration
        tasks = [one(client, i, deadline) for i, client in enumerate(connected)]
        await asyncio.wait_for(asyncio.gather(*tasks), duration + 2 * REQUEST_TIMEOUT)
        return time.perf_counter() - began

    seconds = asyncio.run(everyone())
    requests = sum(t[0] for t in tallies)
    return {
        "ops": requests,
        "seconds": seconds,
        "ops_per_s": requests / seconds,
        "wrong": sum(t[1] for t in tallies),
        "errors": sum(t[2] for t in tallies),
        "connects": sum(t[3] for t in tallies),
        "checked": requests,
    }


def get_run(port: int, clients: int, duration: float, expected: bytes) -> dict[str, Any]:
    """GET the file from every client; a body that is not the file byte for byte is wrong."""
    url = "/media/" + FILE_NAME

    async def step(client: AsyncClient, index: int, k: int) -> int:
        status, body = await client.request("GET", url)
        if status != HTTPStatus.OK:
            return BAD_STATUS
        return OK if body == expected else WRONG

    return _clients_run(port, clients, duration, step)


def post_run(port: int, clients: int, duration: float, rep: int, verify: bool) -> dict[str, Any]:
    """POST 16 KiB uploads from every client, then read back (up to a bound) what was saved.

    The HTTP floor stores nothing, so there is nothing to read back (*verify* is false).
    """
    saved: list[tuple[str, bytes]] = []

    async def step(client: AsyncClient, index: int, k: int) -> int:
        name = f"c{clients}-{index}-r{rep}-{k}.bin"
        data = make_content("uploads/" + name, 0, UPLOAD_BYTES)
        status, body = await client.request("POST", f"/upload/?name={name}", data)
        if status != HTTPStatus.OK:
            return BAD_STATUS
        saved.append((body.decode(), data))
        return OK

    figures = _clients_run(port, clients, duration, step)
    figures["checked"] = 0
    figures["lost"] = 0
    if not verify:
        return figures
    reader = Client(port)
    try:
        for name, data in saved[:MAX_VERIFIED]:
            status, body = reader.request("GET", "/media/" + name)
            if status == HTTPStatus.OK:
                figures["checked"] += 1
                figures["lost"] += body != data
            elif status == HTTPStatus.NOT_FOUND:
                figures["checked"] += 1
                figures["lost"] += 1
            else:  # the read-back failed: the upload is neither confirmed nor lost
                figures["errors"] += 1
    finally:
        reader.close()
    figures["lost"] += len({n for n, _ in saved}) != len(saved)
    return figures


def http_order(backends: list[str], rep: int, method: str = "GET") -> list[str]:
    """The backends measured for *method* at repetition *rep*, in order: every other reversed."""
    measured = [b for b in backends if method == "GET" or b not in GET_ONLY]
    return measured if rep % 2 == 0 else measured[::-1]


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Serve every backend at once and measure GET and POST at every client count, in turn.

    Each backend gets its own ``runserver``, all started before the first
    request. Then, per method and client count, each repetition measures every
    backend one after the other (see :func:`http_order`), so that the
    repetitions a ratio pairs are measured seconds apart, as the Storage API's
    rounds are; an idle server only waits on its socket. A backend whose
    server does not start, or fails a measurement, gets an error row instead
    of figures; the others are measured.
    """
    backends = list(job["backends"])
    clients_counts = [int(n) for n in job["clients"]]
    file_size = int(job.get("sizes", {}).get("http_file", 64 * 1024))
    duration, repeats = float(job["duration"]), int(job.get("repeats", 3))
    expected = make_content("media/" + FILE_NAME, 1, file_size)
    rows: list[dict[str, Any]] = []
    with ExitStack() as servers:
        ports: dict[str, int] = {}
        for backend in backends:
            missing = view_missing(backend)
            if missing:
                rows += _rows_of(backend, clients_counts, skipped=missing)
                continue
            try:
                ports[backend] = servers.enter_context(_served(backend, file_size))
            except RuntimeError as exc:
                rows.append(error_row(backend, str(exc)))
        reps: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for method in ("GET", "POST"):
            for clients in clients_counts:
                for rep in range(repeats):
                    for backend in http_order(list(ports), rep, method):
                        port = ports[backend]
                        try:
                            if method == "GET":
                                figures = get_run(port, clients, duration, expected)
                            else:
                                verify = backend not in UPLOAD_FLOORS
                                figures = post_run(port, clients, duration, rep, verify)
                        except Exception as exc:  # this server is out; the others go on
                            del ports[backend]
                            error = f"{method} from {clients} clients: {exc!r}"
                            rows.append(error_row(backend, error))
                            continue
                        reps.setdefault((backend, method, clients), []).append(figures)
    rows += [
        {"backend": backend, "method": method, "clients": clients, "reps": reps[key]}
        for backend in ports
        for method in ("GET", "POST")
        for clients in clients_counts
        if (key := (backend, method, clients)) in reps
    ]
    return {"rows": rows}


@contextmanager
def _served(backend: str, file_size: int) -> Iterator[int]:
    """:func:`runserver` in a scratch directory of its own, removed when the server stops."""
    root, _where = scratch_root()
    scratch = Path(tempfile.mkdtemp(prefix=f"inmemorystorage-http-{backend}-", dir=root))
    try:
        with runserver(backend, scratch, file_size) as port:
            yield port
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def error_row(backend: str, error: str) -> dict[str, Any]:
    """The row that stands for all of *backend*'s figures when it could not be measured."""
    return {"backend": backend, "method": "-", "clients": 0, "error": error}


def _rows_of(backend: str, clients_counts: list[int], **figures: Any) -> list[dict[str, Any]]:
    return [
        {"backend": backend, "method": method, "clients": clients, **figures}
        for method in ("GET", "POST")
        for clients in clients_counts
    ]


def main() -> None:
    """Read the job from argv, print the figures as one JSON line."""
    print(json.dumps(run_job(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
