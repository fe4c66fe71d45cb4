"""A model-based test: random sequences of storage calls, checked against a plain model.

The model is a dict of path -> bytes, a set of directories, and (with a
budget) the documented eviction rule: least recently used files go first,
opening for read and writing count as use, and directories that eviction
empties are pruned unless they lie on the path being written. Recent
evictions are remembered and charged; up to a sixteenth of the budget they
cost files their place, and beyond it they are forgotten oldest first when
files need their room.
"""

from __future__ import annotations

import errno
import io
import posixpath

import pytest
from django.core.files.base import ContentFile
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.budget import RECORD_SHARE, dir_charge, file_charge, record_charge
from inmemorystorage.exceptions import NotADirectory
from inmemorystorage.redis_store import RedisStore
from inmemorystorage.signals import file_evicted
from inmemorystorage.store import EVICTIONS_REMEMBERED

from .redis_audit import audit
from .stress import check_consistency

NAMES = ["a", "b.txt", "d1/a", "d1/c.bin", "d1/d2/b.txt", "d2/x", "d2/d3/y", "d1/d2"]
DIRECTORIES = ["d1", "d1/d2", "d2", "d2/d3", "zz"]
payloads = st.binary(max_size=1500)
texts = st.text(alphabet="abc xyz\n", max_size=300)


class Aborted(Exception):
    """Raised inside a writer's with block to abandon it."""


def parents(path: str) -> list[str]:
    """The directories above *path*, outermost first."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class Model:
    """What the storage should hold, and in which order its files were used."""

    def __init__(self, max_bytes: int | None, on_full: str) -> None:
        self.max_bytes = max_bytes
        self.on_full = on_full
        self.files: dict[str, bytes] = {}  # in recency order: least recently used first
        self.dirs: set[str] = set()
        self.evicted: dict[str, None] = {}  # remembered evictions, oldest first

    def use(self, path: str) -> None:
        self.files[path] = self.files.pop(path)

    def children(self, directory: str) -> list[str]:
        prefix = directory + "/"
        entries = [p for p in self.files if p.startswith(prefix)]
        entries += [d for d in self.dirs if d.startswith(prefix)]
        return entries

    def used(self) -> int:
        return self.held() + sum(record_charge(name) for name in self.evicted)

    def reserved(self) -> int:
        """Bytes of remembered evictions that cost files their place: up to their share."""
        assert self.max_bytes is not None
        records = sum(record_charge(name) for name in self.evicted)
        return min(records, self.max_bytes // RECORD_SHARE)

    def held(self) -> int:
        """Bytes charged for files and directories: what evictions make room in."""
        return sum(file_charge(p, len(c)) for p, c in self.files.items()) + sum(
            dir_charge(d) for d in self.dirs
        )

    def shape_error(self, path: str) -> type[OSError] | None:
        """The error a write to *path* raises for the tree's shape, if any."""
        if any(p in self.files for p in parents(path)):
            return NotADirectory
        if path in self.dirs:
            return IsADirectoryError
        return None

    def write(self, path: str, content: bytes) -> list[str]:
        """Publish *content* at *path*; return the evicted paths, or raise StorageFull."""
        new_dirs = [d for d in parents(path) if d not in self.dirs]
        charge = file_charge(path, len(content))
        needed = charge + sum(dir_charge(d) for d in new_dirs)
        old = self.files.get(path)
        freed = file_charge(path, len(old)) if old is not None else 0
        evicted: list[str] = []
        if self.max_bytes is not None:
            if charge > self.max_bytes:
                raise StorageFull(path, len(content), self.max_bytes, "too large")
            if self.held() + self.reserved() + needed - freed > self.max_bytes:
                kept = set(parents(path)) - set(new_dirs)
                floor = sum(dir_charge(d) for d in kept)
                if self.on_full == "error" or floor + needed > self.max_bytes:
                    raise StorageFull(path, len(content), self.max_bytes, "full")
                self.files.pop(path, None)
                evicted = self._make_room(needed, protected=kept)
        self.evicted.pop(path, None)
        for directory in new_dirs:
            self.dirs.add(directory)
        self.files.pop(path, None)
        self.files[path] = content
        while self.max_bytes is not None and self.used() > self.max_bytes and self.evicted:
            del self.evicted[next(iter(self.evicted))]
        return evicted

    def _make_room(self, needed: int, protected: set[str]) -> list[str]:
        assert self.max_bytes is not None
        evicted = []
        while self.held() + self.reserved() + needed > self.max_bytes:
            if not self.files:
                for directory in sorted(self.dirs, key=len, reverse=True):
                    if directory not in protected and not self.children(directory):
                        self.dirs.discard(directory)
                while self.held() + self.reserved() + needed > self.max_bytes and self.evicted:
                    del self.evicted[next(iter(self.evicted))]
                break
            victim = next(iter(self.files))
            del self.files[victim]
            evicted.append(victim)
            self.evicted.pop(victim, None)
            self.evicted[victim] = None
            if len(self.evicted) > EVICTIONS_REMEMBERED:
                del self.evicted[next(iter(self.evicted))]
            for directory in reversed(parents(victim)):
                if directory in protected or self.children(directory):
                    break
                self.dirs.discard(directory)
        return evicted

    def delete(self, path: str) -> None:
        if path in self.files:
            del self.files[path]
        elif path in self.dirs:
            prefix = path + "/"
            self.files = {p: c for p, c in self.files.items() if not p.startswith(prefix)}
            self.dirs = {d for d in self.dirs if d != path and not d.startswith(prefix)}


class StorageMachine(RuleBasedStateMachine):
    """Drive one InMemoryStorage and its model with the same calls."""

    max_bytes: int | None = None
    on_full = "evict"

    #: A Redis server's URL: the machine drives the shared engine (see RedisBoundedMachine).
    server: str | None = None

    def __init__(self) -> None:
        super().__init__()
        options = {} if self.server is None else {"server": self.server, "namespace": "machine"}
        self.storage = InMemoryStorage(
            allow_overwrite=True, max_bytes=self.max_bytes, on_full=self.on_full, **options
        )
        self.storage.clear()
        self.model = Model(self.max_bytes, self.on_full)
        self.readers: list[tuple[object, bytes]] = []
        self.evicted: list[str] = []
        file_evicted.connect(self._record_eviction)

    def _record_eviction(self, sender, storage, name, size, **kwargs):
        if storage is self.storage:
            self.evicted.append(name)

    def teardown(self) -> None:
        file_evicted.disconnect(self._record_eviction)
        for reader, _ in self.readers:
            reader.close()

    def _publish(self, path: str, content: bytes, action) -> None:
        """Run *action* (which publishes *content* at *path*) and check it against the model."""
        shape_error = self.model.shape_error(path)
        self.evicted.clear()
        if shape_error is not None:
            with pytest.raises(shape_error):
                action()
            return
        try:
            expected_evictions = self.model.write(path, content)
        except StorageFull:
            with pytest.raises(StorageFull):
                action()
            return
        action()
        assert expected_evictions == self.evicted

    @initialize()
    def start_empty(self) -> None:
        assert self.storage.stats().files == 0

    @rule(path=st.sampled_from(NAMES), content=payloads)
    def save(self, path, content):
        self._publish(path, content, lambda: self.storage.save(path, ContentFile(content)))

    @rule(
        path=st.sampled_from(NAMES),
        mode=st.sampled_from(["wb", "w", "ab", "a", "xb", "x", "r+b", "w+b", "a+"]),
        chunks=st.lists(texts, max_size=3),
    )
    def write_through_open(self, path, mode, chunks):
        data = "".join(chunks).encode()
        old = self.model.files.get(path)
        if "x" in mode and (old is not None or path in self.model.dirs):
            with pytest.raises(FileExistsError if old is not None else IsADirectoryError):
                self.storage.open(path, mode)
            return
        if mode == "r+b" and old is None:
            with pytest.raises(OSError) as info:
                self.storage.open(path, mode)
            assert info.value.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR)
            return
        if mode.startswith("a") and old is not None:
            content = old + data
        elif mode == "r+b" and old is not None:
            content = data + old[len(data) :]
        else:
            content = data

        def write():
            with self.storage.open(path, mode) as file:
                for chunk in chunks:
                    file.write(chunk if "b" not in mode else chunk.encode())

        self._publish(path, content, write)

    @rule(path=st.sampled_from(NAMES), content=payloads)
    def aborted_writer(self, path, content):
        if self.model.shape_error(path) is not None:
            return
        before = self.storage.stats()
        with pytest.raises(Aborted), self.storage.open(path, "wb") as file:
            file.write(content)
            raise Aborted
        after = self.storage.stats()
        assert (before.files, before.bytes_used) == (after.files, after.bytes_used)

    @rule(path=st.sampled_from(NAMES), keep_open=st.booleans())
    def read(self, path, keep_open):
        expected = self.model.files.get(path)
        if expected is None:
            with pytest.raises(OSError):
                self.storage.open(path, "rb")
            return
        reader = self.storage.open(path, "rb")
        self.model.use(path)
        assert expected == reader.read()
        if keep_open and len(self.readers) < 5:
            self.readers.append((reader, expected))
        else:
            reader.close()

    @rule(path=st.sampled_from(NAMES + DIRECTORIES))
    def delete(self, path):
        self.storage.delete(path)
        self.model.delete(path)

    @rule(path=st.sampled_from(NAMES + DIRECTORIES))
    def exists(self, path):
        expected = path in self.model.files or path in self.model.dirs
        assert expected == self.storage.exists(path)

    @rule(path=st.sampled_from(NAMES))
    def size(self, path):
        if path in self.model.files:
            assert len(self.model.files[path]) == self.storage.size(path)
        else:
            with pytest.raises(OSError):
                self.storage.size(path)

    @rule(path=st.sampled_from(["", *DIRECTORIES]))
    def listdir(self, path):
        if path and path not in self.model.dirs:
            with pytest.raises(OSError):
                self.storage.listdir(path)
            return
        prefix = f"{path}/" if path else ""
        files = sorted(p[len(prefix) :] for p in self.model.files if posixpath.dirname(p) == path)
        dirs = sorted(d[len(prefix) :] for d in self.model.dirs if posixpath.dirname(d) == path)
        actual_dirs, actual_files = self.storage.listdir(path)
        assert (dirs, files) == (sorted(actual_dirs), sorted(actual_files))

    @precondition(lambda self: self.model.files)
    @rule()
    def clear(self):
        self.storage.clear()
        self.model = Model(self.max_bytes, self.on_full)

    @invariant()
    def stats_agree_with_the_model(self):
        stats = self.storage.stats()
        model = self.model
        assert (len(model.files), len(model.dirs), model.used()) == (
            stats.files,
            stats.dirs,
            stats.bytes_used,
        )
        if model.max_bytes is not None:
            assert stats.bytes_used <= model.max_bytes

    @invariant()
    def tree_and_budget_agree(self):
        store = self.storage._store
        assert [] == (audit(store) if isinstance(store, RedisStore) else check_consistency(store))

    @invariant()
    def open_readers_keep_their_snapshot(self):
        for reader, expected in self.readers:
            assert isinstance(reader.file, io.BytesIO)
            assert expected == reader.file.getvalue()


class BoundedStorageMachine(StorageMachine):
    """The same, under a budget small enough that saves evict."""

    max_bytes = 3000


class RefusingStorageMachine(StorageMachine):
    """The same, under a budget that refuses instead of evicting."""

    max_bytes = 3000
    on_full = "error"


class RedisBoundedMachine(BoundedStorageMachine):
    """The bounded machine on the shared engine, against a real Redis server."""


class RedisRefusingMachine(RefusingStorageMachine):
    """The refusing machine on the shared engine, against a real Redis server."""


@pytest.fixture(autouse=True)
def _machines_on_the_server(request):
    """Give the Redis machines the test run's server (a real one, started by the fixture)."""
    redis_machines = RedisBoundedMachine.TestCase | RedisRefusingMachine.TestCase
    if request.cls is not None and issubclass(request.cls, redis_machines):
        url = request.getfixturevalue("clean_redis")
        RedisBoundedMachine.server = RedisRefusingMachine.server = url


TestUnbounded = StorageMachine.TestCase
TestBounded = BoundedStorageMachine.TestCase
TestRefusing = RefusingStorageMachine.TestCase
TestRedisBounded = RedisBoundedMachine.TestCase
TestRedisRefusing = RedisRefusingMachine.TestCase
# The shared engine's rules live in its Lua scripts, the same on every Python and Django:
# nox runs these two in one tests session of the matrix (the in-process machines run in all).
TestRedisBounded.pytestmark = TestRedisRefusing.pytestmark = [pytest.mark.once]
