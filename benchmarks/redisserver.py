"""The bench's own Redis server for the shared engine: started on a free loopback port, stopped.

The same approach as the tests' (``tests/redis_server.py``), kept here so that
the bench does not depend on the test package: the system's ``redis-server``
(``REDIS_SERVER`` may name another binary; ``nox -s bench`` installs Debian's
where it is missing, and on macOS ``brew install redis`` gives one), with its
default settings, nothing kept on disk, in a temporary directory removed with
it. The runner starts one per run and hands its URL to every worker process
in :data:`URL_ENV`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Where the bench finds the server binary: REDIS_SERVER if set, else redis-server on PATH.
BINARY_ENV = "REDIS_SERVER"
#: The environment variable that gives worker processes the running server's URL.
URL_ENV = "INMEMORYSTORAGE_BENCH_REDIS"
#: How long a server may take to answer its first PING.
START_TIMEOUT = 20.0


class NoServerError(RuntimeError):
    """No Redis server can be started (no binary, or it did not answer)."""


def binary() -> str:
    """The redis-server to run.

    Raises:
        NoServerError: none is found; the message says how to get one.
    """
    named = os.environ.get(BINARY_ENV)
    if named and not Path(named).is_file():
        msg = f"no redis-server for the shared engine: {BINARY_ENV}={named} is no file"
        raise NoServerError(msg)
    found = named or shutil.which("redis-server")
    if not found:
        msg = (
            "no redis-server for the shared engine: run the bench with `nox -s bench` (which "
            "installs Debian's redis-server), or install one (apt-get install redis-server; on "
            f"macOS, brew install redis), or set {BINARY_ENV} to its path"
        )
        raise NoServerError(msg)
    return found


def version() -> str | None:
    """The server's version (``redis-server --version``), or None where none is found."""
    try:
        done = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=False)
    except (NoServerError, OSError):
        return None
    for word in done.stdout.split():
        if word.startswith("v="):
            return word.removeprefix("v=")
    return None


def url() -> str:
    """The URL of the server the runner started for this run.

    Raises:
        NoServerError: this process was not started by a run that has one.
    """
    found = os.environ.get(URL_ENV)
    if not found:
        msg = (
            f"no Redis server for the shared engine: {URL_ENV} is not set (the runner, "
            "python -m benchmarks, starts one and sets it for its workers)"
        )
        raise NoServerError(msg)
    return found


def free_port() -> int:
    """A TCP port free on the loopback interface just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(*extra: str) -> Iterator[str]:
    """Start a redis-server on a free loopback port; yield its ``redis://`` URL; stop it.

    Raises:
        NoServerError: no binary, or the server exited or did not answer in time.
    """
    command = [binary()]
    with tempfile.TemporaryDirectory(prefix="inmemorystorage-bench-redis-") as directory:
        port = free_port()
        command += ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                    "no", "--dir", directory, *extra]  # fmt: skip
        log_path = Path(directory, "redis.log")
        with log_path.open("wb") as log:
            server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_for(port, server, log_path)
                yield f"redis://127.0.0.1:{port}/0"
            finally:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"redis-server exited with {server.returncode}: {log.read_text()[-2000:]}"
            raise NoServerError(msg)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
        time.sleep(0.05)
    msg = f"redis-server did not answer on port {port} within {START_TIMEOUT:.0f} s"
    raise NoServerError(msg)
