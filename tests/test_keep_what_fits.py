"""A load into a smaller budget keeps the most recently used files that fit (issue 23, point 2).

Lowering ``max_bytes`` while runserver holds files used to drop every file
across the reload ("cannot store 3 files (184,320 bytes): larger than the
whole budget"). The hand-off hands the files over least recently used first
and loads them with ``keep_what_fits``: with ``on_full="evict"`` the most
recent that fit are kept and the rest remembered as evicted; with
``on_full="error"`` the load is refused whole, as before.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage, StorageFull

KIB = 1024


@pytest.fixture
def old():
    """The storage of the old server: three 60 KiB files, 'b.txt' the least recently used."""
    storage = InMemoryStorage(max_bytes=1024 * KIB)
    for name in ("b.txt", "a.txt", "c.txt"):
        storage.save(name, ContentFile(name.encode()[:1] * (60 * KIB)))
    storage.open("a.txt").close()  # a read is a use: 'a.txt' is now the most recent
    return storage


def test_stored_files_by_recency_come_least_recently_used_first(old):
    """Reads and writes both count: the order eviction would follow."""
    assert ["b.txt", "c.txt", "a.txt"] == [f.name for f in old.stored_files(by_recency=True)]


def test_a_smaller_evicting_budget_keeps_the_most_recent_files_that_fit(old):
    """120 KiB hold two of the three: the least recently used is remembered as evicted."""
    new = InMemoryStorage(max_bytes=140 * KIB)
    names = new.load_files(old.stored_files(by_recency=True), replace=True, keep_what_fits=True)
    assert ["c.txt", "a.txt"] == names
    assert ["a.txt", "c.txt"] == sorted(new.listdir("")[1])
    assert new.recent_eviction("b.txt") is not None
    assert (2, 1) == (new.stats().files, new.stats().evictions)
    assert new.stats().bytes_used <= new.max_bytes


def test_the_kept_files_keep_their_bytes_and_times(old):
    """What is kept is what was there, to the microsecond."""
    new = InMemoryStorage(max_bytes=140 * KIB)
    new.load_files(old.stored_files(by_recency=True), keep_what_fits=True)
    for name in ("a.txt", "c.txt"):
        assert old.open(name).read() == new.open(name).read()
        assert old.get_modified_time(name) == new.get_modified_time(name)


def test_a_refusing_budget_refuses_the_whole_load_as_before(old):
    """on_full='error' keeps today's refusal: nothing is stored."""
    new = InMemoryStorage(max_bytes=140 * KIB, on_full="error")
    with pytest.raises(StorageFull, match="3 files"):
        new.load_files(old.stored_files(by_recency=True), keep_what_fits=True)
    assert 0 == new.stats().files


def test_a_budget_that_holds_none_keeps_none_and_says_so(old):
    """Every file larger than the budget: nothing kept, all three remembered as evicted."""
    new = InMemoryStorage(max_bytes=50 * KIB)
    assert [] == new.load_files(old.stored_files(by_recency=True), keep_what_fits=True)
    assert 3 == new.stats().evictions
    assert new.stats().bytes_used <= new.max_bytes


def test_without_keep_what_fits_a_load_is_all_or_nothing(old):
    """The default stays: files that do not fit together are refused together."""
    new = InMemoryStorage(max_bytes=140 * KIB)
    with pytest.raises(StorageFull, match="larger than the whole budget"):
        new.load_files(old.stored_files(by_recency=True))
