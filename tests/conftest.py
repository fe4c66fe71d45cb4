"""Fixtures shared by the test suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from inmemorystorage import InMemoryStorage
from inmemorystorage import storage as storage_module
from inmemorystorage.store import Store

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
