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

    Each node is a :func:`running_server` with cluster mode on and its bus on a
    port of its own (``--cluster-port``, Redis 7 and later), not port + 10000.

    Raises:
        NoServerError: no ``redis-cli`` beside the server, or the cluster did not form.
    """
    cli = Path(binary()).with_name("redis-cli")
    if not cli.is_file():
        msg = f"no redis-cli beside {binary()} to form a cluster (Debian's redis-tools has it)"
        raise NoServerError(msg)
    with ExitStack() as nodes:
        urls = [
            nodes.enter_context(
                running_server("--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                               "--cluster-config-file", "nodes.conf")
            )
            for _ in range(MASTERS)
        ]  # fmt: skip
        addresses = [url.removeprefix("redis://").removesuffix("/0") for url in urls]
        create = [str(cli), "--cluster", "create", *addresses, "--cluster-replicas", "0"]
        subprocess.run([*create, "--cluster-yes"], check=True, capture_output=True,
                       timeout=START_TIMEOUT)  # fmt: skip
        _wait_until_formed(urls)
        yield urls


def _wait_until_formed(urls: list[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        states = []
        for url in urls:
            with redis.Redis.from_url(url) as client:
                states.append(client.cluster("info")["cluster_state"])
        if states == ["ok"] * len(urls):
            return
        time.sleep(0.1)
    msg = "the Redis Cluster did not form"
    raise NoServerError(msg)
