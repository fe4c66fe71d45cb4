"""The runserver part: ``python -m benchmarks.httpbench '<json job>'``, one backend per process.

Starts ``manage.py runserver --noreload`` (threaded, as users run it) on a free
loopback port, lets 1..N keep-alive clients GET a 64 KiB file and POST 16 KiB
uploads, checks every body and every upload, and always stops the server.
Only 127.0.0.1 is used; every loop is bounded in count and in time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import scratch_root
from .content import make_content

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
MANAGE = Path(__file__).resolve().parent / "httpsite" / "manage.py"
HOST = "127.0.0.1"
FILE_NAME = "bench/blob.bin"
UPLOAD_BYTES = 16 * 1024
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 10.0
MAX_REQUESTS = 100_000  # per client and run
MAX_VERIFIED = 3_000  # uploads read back per run
QUICKACK = getattr(socket, "TCP_QUICKACK", None)


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
    """One keep-alive HTTP/1.1 connection that acknowledges every packet at once.

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
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {
                k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])
            }
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


def _clients_run(
    port: int, clients: int, duration: float, step: Callable[[Client, int, int], bool]
) -> dict[str, Any]:
    """Run *clients* threads calling ``step(client, index, k)`` until the deadline; count."""
    start = threading.Barrier(clients + 1)
    tallies = [[0, 0, 0, 0] for _ in range(clients)]  # requests, wrong, errors, connects
    deadline = [0.0]

    def body(index: int) -> None:
        client = Client(port)
        tally = tallies[index]
        start.wait()
        k = 0
        try:
            while k < MAX_REQUESTS and time.perf_counter() < deadline[0]:
                try:
                    ok = step(client, index, k)
                except (OSError, ValueError, KeyError, IndexError):  # a failed request counts
                    tally[2] += 1
                    ok = False
                tally[0] += 1
                tally[1] += not ok
                k += 1
        finally:
            tally[3] = client.connects
            client.close()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + duration
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join(duration + 2 * REQUEST_TIMEOUT)
    seconds = time.perf_counter() - began
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

    def step(client: Client, index: int, k: int) -> bool:
        status, body = client.request("GET", url)
        return status == 200 and body == expected

    return _clients_run(port, clients, duration, step)


def post_run(port: int, clients: int, duration: float, rep: int) -> dict[str, Any]:
    """POST 16 KiB uploads from every client, then read back (up to a bound) what was saved."""
    saved: list[tuple[str, bytes]] = []

    def step(client: Client, index: int, k: int) -> bool:
        name = f"c{clients}-{index}-r{rep}-{k}.bin"
        data = make_content("uploads/" + name, 0, UPLOAD_BYTES)
        status, body = client.request("POST", f"/upload/?name={name}", data)
        if status != 200:
            return False
        saved.append((body.decode(), data))
        return True

    figures = _clients_run(port, clients, duration, step)
    figures["checked"] = 0
    figures["lost"] = 0
    reader = Client(port)
    try:
        for name, data in saved[:MAX_VERIFIED]:
            status, body = reader.request("GET", "/media/" + name)
            figures["checked"] += 1
            figures["lost"] += status != 200 or body != data
    finally:
        reader.close()
    figures["lost"] += len({n for n, _ in saved}) != len(saved)
    return figures


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Serve one backend and measure GET and POST at every client count."""
    backend = job["backend"]
    clients_counts = [int(n) for n in job["clients"]]
    file_size = int(job.get("sizes", {}).get("http_file", 64 * 1024))
    missing = view_missing(backend)
    if missing:
        rows = [
            {"method": m, "clients": n, "skipped": missing}
            for m in ("GET", "POST")
            for n in clients_counts
        ]
        return {"rows": rows}
    root, _where = scratch_root()
    scratch = Path(tempfile.mkdtemp(prefix="inmemorystorage-http-", dir=root))
    expected = make_content("media/" + FILE_NAME, 1, file_size)
    rows = []
    try:
        with runserver(backend, scratch, file_size) as port:
            for method in ("GET", "POST"):
                for clients in clients_counts:
                    reps = []
                    for rep in range(int(job.get("repeats", 3))):
                        if method == "GET":
                            reps.append(get_run(port, clients, float(job["duration"]), expected))
                        else:
                            reps.append(post_run(port, clients, float(job["duration"]), rep))
                    rows.append({"method": method, "clients": clients, "reps": reps})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"rows": rows}


def main() -> None:
    """Read the job from argv, print the figures as one JSON line."""
    print(json.dumps(run_job(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
