"""Fixtures shared by the test suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from inmemorystorage import InMemoryStorage
from inmemorystorage.store import Store

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
