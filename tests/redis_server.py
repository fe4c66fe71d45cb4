"""A real Redis server for the shared engine's tests: started on a free loopback port, then stopped.

Never a mock. The server is the system's ``redis-server`` (Debian's
``redis-server`` package; ``nox -s tests`` installs it with apt-get where it
is missing, and on macOS ``brew install redis`` gives it). Without one the
tests that need it fail and say how to get it: they are never skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: Where the tests find the server binary: REDIS_SERVER if set, else redis-server on PATH.
BINARY_ENV = "REDIS_SERVER"


def free_port() -> int:
    """A TCP port free on the loopback interface just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def binary() -> str:
    """The redis-server to run, or an AssertionError that says how to install one."""
    found = os.environ.get(BINARY_ENV) or shutil.which("redis-server")
    if not found:
        msg = (
            "the shared engine's tests need a real Redis server and found no redis-server: "
            "run them with `nox -s tests` (which installs Debian's redis-server), or install "
            "one (apt-get install redis-server; on macOS, brew install redis), or set "
            f"{BINARY_ENV} to its path"
        )
        raise AssertionError(msg)
    return found


@contextlib.contextmanager
def running_server(*extra: str) -> Iterator[str]:
    """Start a redis-server on a free loopback port; yield its ``redis://`` URL; stop it.

    It keeps nothing on disk (no RDB, no AOF) and its directory is a
    temporary one, removed with it.
    """
    with tempfile.TemporaryDirectory(prefix="inmemorystorage-redis-") as directory:
        port = free_port()
        command = [
            binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
            *extra,
        ]
        log = Path(directory, "redis.log").open("wb")  # noqa: SIM115  # closed below
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for(port, server, Path(directory, "redis.log"))
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"redis-server exited with {server.returncode}: {log.read_text()[-2000:]}"
            raise AssertionError(msg)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
        time.sleep(0.05)
    msg = f"redis-server did not answer on port {port} within 20 s"
    raise AssertionError(msg)
