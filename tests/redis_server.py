"""A real Redis server for the shared engine's tests: started on a free loopback port, then stopped.

Never a mock. The tests start it as the bench does, with the bench's own
starter (``benchmarks/redisserver.py``): the system's ``redis-server``
(Debian's ``redis-server`` package; ``nox -s tests`` installs it with apt-get
where it is missing, and on macOS ``brew install redis`` gives it;
``REDIS_SERVER`` may name another binary). Without one the tests that need it
fail and say how to get it: they are never skipped. :func:`running_cluster`
starts a Redis Cluster of three masters from the same binary, joined with the
``redis-cli`` beside it.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import redis

from benchmarks.redisserver import (
    BINARY_ENV,
    START_TIMEOUT,
    NoServerError,
    binary,
    free_port,
    running_server,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "BINARY_ENV",
    "NoServerError",
    "binary",
    "free_port",
    "running_cluster",
    "running_server",
]

#: How many masters :func:`running_cluster` starts: the fewest a cluster takes.
MASTERS = 3


@contextmanager
def running_cluster() -> Iterator[list[str]]:
    """Start a Redis Cluster of three masters on loopback; yield each node's URL; stop them all.

    Raises:
        NoServerError: no ``redis-cli`` beside the server, or the cluster did not form.
    """
    cli = Path(binary()).with_name("redis-cli")
    if not cli.is_file():
        msg = f"no redis-cli beside {binary()} to form a cluster (Debian's redis-tools has it)"
        raise NoServerError(msg)
    with (
        tempfile.TemporaryDirectory(prefix="inmemorystorage-cluster-") as root,
        ExitStack() as nodes,
    ):
        picked: list[int] = []
        while len(picked) < 2 * MASTERS:  # a port and a bus port a node, all distinct
            port = free_port()
            if port not in picked:
                picked.append(port)
        ports, buses = picked[:MASTERS], picked[MASTERS:]
        for port, bus in zip(ports, buses, strict=True):
            directory = Path(root, str(port))
            directory.mkdir()
            nodes.enter_context(_node(port, bus, directory))
        addresses = [f"127.0.0.1:{port}" for port in ports]
        create = [str(cli), "--cluster", "create", *addresses, "--cluster-replicas", "0"]
        subprocess.run([*create, "--cluster-yes"], check=True, capture_output=True,
                       timeout=START_TIMEOUT)  # fmt: skip
        _wait_until_formed(ports)
        yield [f"redis://{address}/0" for address in addresses]


@contextmanager
def _node(port: int, bus: int, directory: Path) -> Iterator[None]:
    """One cluster node on *port*, its bus on *bus* (not port + 10000; Redis 7 and later)."""
    command = [binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
               "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
               "--cluster-port", str(bus),
               "--cluster-config-file", "nodes.conf"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_ping(port, server)
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for_ping(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"a cluster node exited with {server.returncode}"
            raise NoServerError(msg)
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    msg = f"a cluster node did not answer on port {port}"
    raise NoServerError(msg)


def _wait_until_formed(ports: list[int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        states = [redis.Redis(port=port).cluster("info")["cluster_state"] for port in ports]
        if states == ["ok"] * len(ports):
            return
        time.sleep(0.1)
    msg = "the Redis Cluster did not form"
    raise NoServerError(msg)
