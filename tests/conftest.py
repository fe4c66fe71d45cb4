"""Fixtures shared by the test suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, settings

from inmemorystorage import InMemoryStorage
from inmemorystorage import storage as storage_module
from inmemorystorage.store import Store

from .redis_server import running_server

# The default run stays well under a minute; `--hypothesis-profile=long` searches harder.
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("inmemorystorage", max_examples=100, stateful_step_count=50, **_UNTIMED)
settings.register_profile("long", max_examples=1000, stateful_step_count=100, **_UNTIMED)
settings.load_profile("inmemorystorage")


pytest_plugins = ["pytester"]


@pytest.fixture
def store() -> Store:
    """A fresh, unbounded core store."""
    return Store()


@pytest.fixture
def storage() -> InMemoryStorage:
    """A fresh, unbounded storage with its own files."""
    return InMemoryStorage()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Make the interpreter switch threads as often as it can, to expose races."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


@pytest.fixture
def forget_shared_stores() -> Iterator[None]:
    """Drop every namespace store after the test, so that no test sees another's files."""
    yield
    with storage_module._shared_stores_lock:
        storage_module._shared_stores.clear()
        storage_module._server_stores.clear()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a real Redis server started for this test run (never a mock)."""
    with running_server() as url:
        yield url


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    """The server, emptied before and after the test, so that no test sees another's files."""
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    yield redis_url
    client.flushall()
    client.close()


@pytest.fixture(params=["memory", "redis"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn: ``"memory"`` (this process) or ``"redis"`` (a real server)."""
    return str(request.param)


@pytest.fixture
def make_storage(engine: str, request: pytest.FixtureRequest, forget_shared_stores: None):
    """Build storages on the engine under test: ``make_storage(max_bytes=..., ...)``.

    On Redis, every storage of one test shares the namespace it names (or
    ``"test"``), on a server emptied for the test.
    """
    options: dict[str, object] = {}
    if engine == "redis":
        options["server"] = request.getfixturevalue("clean_redis")

    def build(**extra: object) -> InMemoryStorage:
        if engine == "redis":
            extra.setdefault("namespace", "test")
        return InMemoryStorage(**options, **extra)

    return build
