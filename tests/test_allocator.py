"""A store that frees much asks the C allocator to give the memory back to the system."""

from __future__ import annotations

import platform

import pytest

from inmemorystorage import allocator, store
from inmemorystorage.store import (
    RELEASE_AFTER_BYTES,
    RELEASE_FLOOR_BYTES,
    RELEASE_FRACTION,
    Store,
)


@pytest.fixture
def releases(monkeypatch):
    """Count the store's requests to release memory instead of making them."""
    calls: list[None] = []
    monkeypatch.setattr(store, "release_free_memory", lambda: calls.append(None) or True)
    return calls


def test_freeing_an_eighth_of_the_budget_releases_memory_each_time(releases):
    """Evictions release memory once per max_bytes / 8 of content they free."""
    budget = 2 * RELEASE_FRACTION * RELEASE_FLOOR_BYTES
    bounded = Store(max_bytes=budget)
    chunk = b"x" * (RELEASE_FLOOR_BYTES // 2)
    for number in range(80):
        bounded.write(f"f{number}", chunk)
    freed = bounded.stats().evictions * len(chunk)
    assert freed >= budget  # the premise: several eighths were freed
    assert freed // (budget // RELEASE_FRACTION) == len(releases)


def test_a_small_budget_releases_memory_once_per_floor_freed(releases):
    """A store whose eighth is under RELEASE_FLOOR_BYTES asks once per RELEASE_FLOOR_BYTES freed."""
    budget = RELEASE_FLOOR_BYTES // 2
    small = Store(max_bytes=budget)
    chunk = b"x" * (budget // 4)
    for number in range(100):
        small.write(f"f{number}", chunk)
    freed = small.stats().evictions * len(chunk)
    assert freed >= 3 * RELEASE_FLOOR_BYTES  # the premise: the floor was freed several times
    assert freed // RELEASE_FLOOR_BYTES == len(releases)


def test_deletes_and_replacements_count_as_freed(releases):
    """An unbounded store releases after deleting and replacing RELEASE_AFTER_BYTES of content."""
    unbounded = Store()
    big = b"y" * (RELEASE_AFTER_BYTES // 2)
    unbounded.write("a", big)
    unbounded.write("a", b"small")  # replaces half of the threshold
    assert [] == releases
    unbounded.write("b", big)
    unbounded.delete("b")
    assert 1 == len(releases)


def test_small_churn_releases_nothing(releases):
    """A few small files come and go without troubling the allocator."""
    unbounded = Store()
    for number in range(100):
        unbounded.write("f", b"z" * number)
    assert [] == releases


def test_release_is_available_with_glibc():
    """On glibc the allocator is asked; elsewhere the call is a quiet no-op."""
    expected = platform.libc_ver()[0] == "glibc"
    assert expected == allocator.release_free_memory()
