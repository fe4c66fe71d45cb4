"""The byte budget bounds real memory: traced allocations stay near max_bytes, whatever the shape.

These tests also document how the per-node overheads in ``budget.py`` were
measured: they charge at least what tracemalloc sees a file and a directory
cost, so a million empty files cannot exhaust the process.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Callable

import pytest
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage
from inmemorystorage.budget import DIR_OVERHEAD, FILE_OVERHEAD
from inmemorystorage.store import Store
from inmemorystorage.tree import clear_name_caches

pytestmark = pytest.mark.memory

MAX_BYTES = 4 * 1024 * 1024
ALLOWED = 1.10 * MAX_BYTES + 2 * 1024 * 1024


def traced_after(fill: Callable[[Store], None], store: Store) -> int:
    """Bytes still traced after *fill* ran against *store* and garbage was collected."""
    clear_name_caches()
    gc.collect()
    tracemalloc.start()
    try:
        fill(store)
        clear_name_caches()
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def big_files(store: Store) -> None:
    for i in range(40):
        store.write(f"big/{i}.bin", bytes([i % 256]) * (256 * 1024))


def tiny_files_in_one_directory(store: Store) -> None:
    for i in range(60_000):
        store.write(f"flat/file{i}.txt", b"x")


def tiny_files_in_deep_paths(store: Store) -> None:
    for i in range(30_000):
        store.write(f"d{i}/e{i}/f", b"x")


@pytest.mark.parametrize(
    "fill",
    [big_files, tiny_files_in_one_directory, tiny_files_in_deep_paths],
    ids=lambda fill: fill.__name__,
)
def test_memory_stays_within_the_budget(fill):
    """Traced memory stays under 1.10 x max_bytes + 2 MiB, and bytes_used under max_bytes."""
    store = Store(max_bytes=MAX_BYTES)
    traced = traced_after(fill, store)
    stats = store.stats()
    assert stats.bytes_used <= MAX_BYTES
    assert stats.evictions > 0
    assert traced <= ALLOWED, f"{traced:,} bytes traced, {ALLOWED:,.0f} allowed"


def traced_per_file(make_name: Callable[[int], str], count: int) -> float:
    """Traced bytes per one-byte file saved under *make_name* in a bounded store with room."""
    store = Store(max_bytes=10**9)
    traced = traced_after(lambda s: [s.write(make_name(i), b"x") for i in range(count)], store)
    return traced / count


def test_a_file_is_charged_at_least_what_it_costs():
    """FILE_OVERHEAD covers a small file's node, its path and its entries, as traced."""
    per_file = traced_per_file(lambda i: f"dir/file{i:06d}", 20_000)
    assert per_file <= FILE_OVERHEAD + len("dir/file000000"), per_file


@pytest.mark.parametrize("length", [14, 250])
def test_a_listed_file_is_charged_at_least_what_it_costs(length):
    """The listing a directory keeps (its base names) fits in FILE_OVERHEAD, long names too."""
    store = Store(max_bytes=10**9)

    def fill(s: Store) -> None:
        for i in range(5_000):
            s.write(f"dir/{i:06d}".ljust(length, "x"), b"x")
        s.listdir("dir")

    per_file = traced_after(fill, store) / 5_000
    assert per_file <= FILE_OVERHEAD + length, per_file


def test_a_directory_is_charged_at_least_what_it_costs():
    """DIR_OVERHEAD covers a directory's node, its children dict and its entry, as traced."""
    per_file = traced_per_file(lambda i: f"dir/file{i:05d}", 10_000)
    per_file_and_dir = traced_per_file(lambda i: f"d{i:05d}/f", 10_000)
    per_dir = per_file_and_dir - per_file
    assert per_dir <= DIR_OVERHEAD + len("d00000"), per_dir


@pytest.mark.parametrize("options", [{}, {"max_bytes": 1 << 20}], ids=["unbounded", "bounded"])
def test_a_dropped_storage_frees_its_files_at_once(options):
    """A storage nobody refers to any more is freed with its files, without waiting for gc.

    No reference cycle holds it: a test suite that makes a storage per test,
    or a bench that makes one per run, gets the memory back immediately.
    """
    storage = InMemoryStorage(**options)
    storage.save("a/b.txt", ContentFile(b"x" * 1000))
    with storage.open("a/b.txt") as reader:
        reader.read()
    with storage.open("a/c.txt", "wb") as writer:
        writer.write(b"y")
    storage.listdir("a")
    storage.get_accessed_time("a/b.txt")
    storage.delete("a/c.txt")
    del reader, writer  # a writer refers to its storage, to publish through it
    dropped, store = weakref.ref(storage), weakref.ref(storage._store)
    gc.disable()
    try:
        del storage
        assert dropped() is None
        assert store() is None
    finally:
        gc.enable()
