"""The Storage API scenarios, one small function each, every read checked.

Each scenario takes a :class:`Env` (the backend, its limits) and yields one
:class:`Rep` per repetition, so that a serving worker can be asked for one
repetition at a time while the scenario's files stay in place between them
(see ``worker.py``). A read is *wrong* when its bytes are not exactly
a version the reader may see (see ``content.py``); an exception from a read
counts as an error and as wrong. A *lost write* is a write that returned but
whose content is not there afterwards (eviction by a bounded store aside,
which is counted apart).
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile

from . import procs
from .content import HEADER_BYTES, header, make_content, version_of
from .loops import BATCH, Loop, run_threads

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from .backends import Backend

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
HOT_FILES = 100
DIR_FILES = 1000
INF = float("inf")
#: Saves per second assumed before a save scenario has measured any; with the headroom below,
#: enough for the fastest backend here (ours, about 260 k/s from one thread on 2 cores).
FIRST_SAVE_RATE = 200_000
#: How many more contents than the last measured rate needs a save repetition gets.
SAVE_HEADROOM = 1.5


@dataclass
class Env:
    """A backend and the limits of one measurement."""

    backend: Backend
    scratch: Path
    threads: int
    duration: float
    max_ops: int
    repeats: int
    sizes: dict[str, Any] = field(default_factory=dict)

    def new_storage(
        self, *, overwrite: bool = False, sub: str = "", budget: int | None = None
    ) -> Any:
        """A fresh storage of this backend (in its own directory, for FileSystemStorage).

        *budget* is the ``max_bytes`` of a bounded backend (``None``: its default).
        """
        scratch = self.scratch / sub if sub else self.scratch
        scratch.mkdir(parents=True, exist_ok=True)
        return self.backend.make(scratch, overwrite, budget)

    def discard(self, storage: Any) -> None:
        """Done with *storage* (a save repetition's): the backend frees what it holds elsewhere."""
        if self.backend.discard is not None:
            self.backend.discard(storage)


@dataclass
class Rep:
    """One repetition's figures: operations, time, faults, and evictions the store made."""

    ops: int
    seconds: float
    wrong: int = 0
    errors: int = 0
    lost: int = 0
    evicted: int = 0
    checked: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The figures, plus operations per second."""
        return {**asdict(self), "ops_per_s": self.ops / self.seconds if self.seconds else 0.0}


def _evictions(storage: Any) -> int:
    stats = getattr(storage, "stats", None)
    return stats().evictions if callable(stats) else 0


def _read(storage: Any, name: str) -> bytes:
    f = storage.open(name, "rb")
    try:
        return f.read()
    finally:
        f.close()


def _overwriter(backend: Backend, storage: Any) -> Callable[[str, bytes], None]:
    if backend.overwrite == "save":

        def save_over(name: str, data: bytes) -> None:
            storage.save(name, ContentFile(data))

        return save_over

    def open_wb(name: str, data: bytes) -> None:
        f = storage.open(name, "wb")
        try:
            f.write(data)
        finally:
            f.close()

    return open_wb


def _fill_until_evicting(storage: Any, size: int) -> None:
    """Save files of *size* bytes into a bounded storage until it has evicted one."""
    data = make_content("fill", 0, size)
    for i in range(100_000):  # bounded: any budget the bench uses is full long before
        storage.save(f"fill/f{i}.bin", ContentFile(data))
        if _evictions(storage):
            return


def save_4k(env: Env) -> Iterator[Rep]:
    """``save()`` of new 4 KiB files into one directory; every saved name is read back after.

    A bounded backend is filled first, so that every timed save evicts.
    """
    pace = _SavePace()
    for rep in range(env.repeats):
        yield pace.learn(_save_4k_once(env, rep, pace.saves_per_thread(env)))


def _save_4k_once(env: Env, rep: int, count: int) -> Rep:
    """One repetition of :func:`save_4k` in a fresh storage, dropped before the next one."""
    size = env.sizes.get("save", 4 * KIB)
    storage = env.new_storage(sub=f"save{rep}")
    if env.backend.bounded:
        _fill_until_evicting(storage, size)
    saved: list[list[tuple[str, bytes]]] = [[] for _ in range(env.threads)]

    def make_loop(index: int) -> Loop:
        def target(n: int) -> tuple[str, str]:
            name = f"up/t{index}-r{rep}-{n}.bin"
            return name, name

        return _saving_loop(storage, saved[index], size, target, count)

    try:
        return _timed_saves(storage, make_loop, saved, env, count)
    finally:
        env.discard(storage)


def save_one_name(env: Env) -> Iterator[Rep]:
    """Every thread saves 4 KiB files under one and the same name; each must get its own name.

    Django's ``get_available_name()`` hands out an alternative name when the
    name is taken; a name handed out twice is a lost write (the second save
    replaced the first), as is content that does not read back.
    """
    pace = _SavePace()
    for rep in range(env.repeats):
        yield pace.learn(_save_one_name_once(env, rep, pace.saves_per_thread(env)))


def _save_one_name_once(env: Env, rep: int, count: int) -> Rep:
    """One repetition of :func:`save_one_name` in a fresh storage, dropped before the next one."""
    size = env.sizes.get("save", 4 * KIB)
    # Room for every save: a name that eviction freed may rightly be handed out again.
    storage = env.new_storage(sub=f"one{rep}", budget=GIB)
    saved: list[list[tuple[str, bytes]]] = [[] for _ in range(env.threads)]

    def make_loop(index: int) -> Loop:
        return _saving_loop(
            storage, saved[index], size, lambda n: ("one/same.bin", f"one/t{index}-{n}"), count
        )

    try:
        return _timed_saves(storage, make_loop, saved, env, count)
    finally:
        env.discard(storage)


@dataclass
class _SavePace:
    """How many contents each thread of a save repetition gets, from the rate measured last.

    The contents are made before the clock starts (see :func:`_saving_loop`),
    so a repetition must be given more than it can save in ``env.duration``;
    one that runs out early just ends early, its rate still right.
    """

    rate: float = FIRST_SAVE_RATE

    def saves_per_thread(self, env: Env) -> int:
        """Enough saves for ``env.duration`` at the last rate and more, in whole batches."""
        wanted = min(env.max_ops, self.rate * env.duration * SAVE_HEADROOM / env.threads)
        return max(1, math.ceil(wanted / BATCH)) * BATCH

    def learn(self, rep: Rep) -> Rep:
        """Keep *rep*'s rate for the next repetition, and hand *rep* on."""
        if rep.ops and rep.seconds:
            self.rate = rep.ops / rep.seconds
        return rep


def _saving_loop(
    storage: Any,
    saved: list[tuple[str, bytes]],
    size: int,
    target: Callable[[int], tuple[str, str]],
    count: int,
) -> Loop:
    """A loop of *count* saves of *size* bytes, each recorded in *saved* as (name given, content).

    ``target(n)`` is the name the *n*-th save asks for and the label its
    content starts with (which names the file and version it is). The
    contents are made here, before the clock starts: what the loop times is
    what a caller of ``save()`` does with bytes it has (wrap them in a
    ``ContentFile`` and save), not the harness making them, which costs every
    backend alike (about 2.5 us a save, mostly fresh memory) and would pull
    every ratio towards 1.
    """
    tail = make_content("x", 0, size)[HEADER_BYTES:]
    todo = []
    for n in range(count):
        name, label = target(n)
        todo.append((name, header(label, 0) + tail))
    pending = iter(todo)
    record = saved.append
    save = storage.save

    def loop(n: int) -> tuple[int, int]:
        errors = 0
        for name, data in itertools.islice(pending, n):
            try:
                record((save(name, ContentFile(data)), data))
            except Exception:  # a save that fails is a lost write, counted apart
                errors += 1
        return 0, errors

    return loop


def _timed_saves(
    storage: Any,
    make_loop: Callable[[int], Loop],
    saved: list[list[tuple[str, bytes]]],
    env: Env,
    count: int,
) -> Rep:
    """Run the saving threads, *count* saves each at most, then read back everything they saved."""
    evictions = _evictions(storage)
    run = run_threads(make_loop, env.threads, env.duration, count)
    checked = _check_saved(storage, saved, run.ops, run.seconds, _evictions(storage) - evictions)
    checked.errors = run.errors
    checked.lost += run.errors
    return checked


def _check_saved(
    storage: Any, saved: list[list[tuple[str, bytes]]], ops: int, seconds: float, evictions: int
) -> Rep:
    """Read back every saved file: a name handed out twice, or wrong or missing content, is lost.

    A missing file is not lost as far as the *evictions* the store made while
    saving go; the repetition's ``evicted`` is that count of evictions.
    """
    counts: dict[str, int] = {}
    lost = missing = 0
    for name, data in itertools.chain.from_iterable(saved):
        counts[name] = counts.get(name, 0) + 1
        try:
            if _read(storage, name) != data:
                lost += 1
        except FileNotFoundError:
            missing += 1
    lost += sum(n - 1 for n in counts.values())
    lost += max(0, missing - evictions)
    return Rep(ops, seconds, lost=lost, evicted=evictions, checked=len(counts))


def _reading_loops(storage: Any, name: str, expected: bytes) -> Callable[[int], Loop]:
    """Each thread's loop: open and read *name*, compare with *expected*; failures counted apart."""

    def make_loop(index: int) -> Loop:
        open_ = storage.open

        def loop(n: int) -> tuple[int, int]:
            wrong = errors = 0
            for _ in range(n):
                try:
                    f = open_(name, "rb")
                    data = f.read()
                    f.close()
                except Exception:  # a read that fails is a wrong read, counted apart
                    errors += 1
                    continue
                if data is not expected and data != expected:
                    wrong += 1
            return wrong, errors

        return loop

    return make_loop


def _read_scenario(env: Env, size: int) -> Iterator[Rep]:
    """Every thread opens and reads the same file; each read is compared with what was written."""
    storage = env.new_storage()
    expected = make_content(f"read/blob-{size}.bin", 1, size)
    name = storage.save(f"read/blob-{size}.bin", ContentFile(expected))
    make_loop = _reading_loops(storage, name, expected)
    for _ in range(env.repeats):
        run = run_threads(make_loop, env.threads, env.duration, env.max_ops)
        yield Rep(run.ops, run.seconds, run.wrong + run.errors, run.errors, checked=run.ops)


def read_4k(env: Env) -> Iterator[Rep]:
    """``open()`` + ``read()`` of one 4 KiB file."""
    return _read_scenario(env, env.sizes.get("read_small", 4 * KIB))


def read_1m(env: Env) -> Iterator[Rep]:
    """``open()`` + ``read()`` of one 1 MiB file."""
    return _read_scenario(env, env.sizes.get("read_large", MIB))


@dataclass
class _Versions:
    """Who wrote what: the content of every version, and when each write started and ended.

    Versions and sequence numbers come from one counter, so a version number is
    also its write's start. A read of *name* is stale when it returns a version
    whose write ended before the latest completed write of *name* started.
    """

    seq: Any = field(default_factory=lambda: itertools.count(1))
    content: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    ended: dict[int, int] = field(default_factory=dict)
    latest_start: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, name: str, size: int) -> tuple[int, bytes]:
        version = next(self.seq)
        data = make_content(name, version, size)
        self.content[version] = (name, data)
        return version, data

    def end(self, name: str, version: int) -> None:
        finished = next(self.seq)
        with self.lock:
            self.ended[version] = finished
            if version > self.latest_start.get(name, 0):
                self.latest_start[name] = version

    def right(self, name: str, data: bytes, floor: int) -> bool:
        version = version_of(data)
        if version is None:
            return False
        written = self.content.get(version)
        if written is None or written[0] != name:
            return False
        if data is not written[1] and data != written[1]:
            return False
        return self.ended.get(version, INF) >= floor


def mixed(env: Env) -> Iterator[Rep]:
    """90 % reads, 10 % overwrites over a hot set of 100 files of 4 KiB."""
    size = env.sizes.get("mixed", 4 * KIB)
    storage = env.new_storage(overwrite=True)
    overwrite = _overwriter(env.backend, storage)
    versions = _Versions()
    names = [f"hot/f{i:03d}.bin" for i in range(HOT_FILES)]
    for name in names:
        version, data = versions.begin(name, size)
        overwrite(name, data)
        versions.end(name, version)

    def make_loop(index: int) -> Loop:
        rng = random.Random(index)
        plan = [(rng.random() < 0.1, rng.choice(names)) for _ in range(4096)]
        steps = itertools.cycle(plan)
        open_, latest = storage.open, versions.latest_start

        def loop(n: int) -> tuple[int, int]:
            wrong = errors = 0
            for is_write, name in itertools.islice(steps, n):
                if is_write:
                    version, data = versions.begin(name, size)
                    overwrite(name, data)
                    versions.end(name, version)
                    continue
                floor = latest[name]
                try:
                    f = open_(name, "rb")
                    data = f.read()
                    f.close()
                except Exception:  # a read that fails is a wrong read, counted apart
                    errors += 1
                    continue
                if not versions.right(name, data, floor):
                    wrong += 1
            return wrong, errors

        return loop

    for _ in range(env.repeats):
        run = run_threads(make_loop, env.threads, env.duration, env.max_ops)
        lost = sum(
            not versions.right(name, _read(storage, name), versions.latest_start[name])
            for name in names
        )
        reads = run.ops - run.ops // 10
        yield Rep(run.ops, run.seconds, run.wrong + run.errors, run.errors, lost, checked=reads)


def _directory(env: Env) -> tuple[Any, list[str]]:
    storage = env.new_storage()
    count = env.sizes.get("dir_files", DIR_FILES)
    names = [f"f{i:04d}.bin" for i in range(count)]
    for name in names:
        storage.save(f"dir/{name}", ContentFile(make_content(name, 0, 64)))
    return storage, names


def exists(env: Env) -> Iterator[Rep]:
    """``exists()`` in a directory of 1,000 files, half the names present, half not."""
    storage, names = _directory(env)
    probes = [(f"dir/{n}", True) for n in names] + [(f"dir/x{n}", False) for n in names]
    random.Random(0).shuffle(probes)

    def make_loop(index: int) -> Loop:
        steps = itertools.cycle(probes[index * 37 :] + probes[: index * 37])
        exists_ = storage.exists

        def loop(n: int) -> tuple[int, int]:
            wrong = 0
            for name, expected in itertools.islice(steps, n):
                if exists_(name) is not expected:
                    wrong += 1
            return wrong, 0

        return loop

    return _repeat(env, make_loop)


def listdir(env: Env) -> Iterator[Rep]:
    """``listdir()`` of a directory of 1,000 files; every listing compared with the names saved."""
    storage, names = _directory(env)
    expected = frozenset(names)

    def make_loop(index: int) -> Loop:
        listdir_ = storage.listdir

        def loop(n: int) -> tuple[int, int]:
            wrong = 0
            for _ in range(n):
                dirs, files = listdir_("dir")
                if dirs or frozenset(files) != expected:
                    wrong += 1
            return wrong, 0

        return loop

    return _repeat(env, make_loop)


def _repeat(env: Env, make_loop: Callable[[int], Loop]) -> Iterator[Rep]:
    """Run the threads' loops ``env.repeats`` times; every operation was a checked one."""
    for _ in range(env.repeats):
        run = run_threads(make_loop, env.threads, env.duration, env.max_ops)
        yield Rep(run.ops, run.seconds, run.wrong, checked=run.ops)


# Several processes on one storage: FileSystemStorage's directory, the shared engine's
# namespace (see procs.py). Only the backends that processes share take part, and only
# at thread counts that are multiples of procs.PROCESSES: 8 threads are 4 processes of 2.


def _parts(env: Env, scratch: Path, **part: Any) -> list[dict[str, Any]]:
    """Each process's part of a repetition: *part*, its threads, limits and directory."""
    base = {"scratch": str(scratch), "threads": procs.threads_each(env.threads),
            "duration": env.duration, "max_ops": env.max_ops}  # fmt: skip
    return [base | part for _ in range(procs.PROCESSES)]


def save_4k_procs(env: Env) -> Iterator[Rep]:
    """``save()`` of new 4 KiB files from 4 processes into one directory.

    Every name a process was given is read back by the scenario's own
    process, which saved none of them: a name given twice (in two processes
    too), or content that does not read back here, is a lost write.
    """
    size = env.sizes.get("save", 4 * KIB)
    tail = make_content("x", 0, size)[HEADER_BYTES:]
    pace = _SavePace()
    team = procs.Team(env.backend.key, env.scratch)
    try:
        for rep in range(env.repeats):
            storage = env.new_storage(sub=f"save{rep}")
            count = pace.saves_per_thread(env)
            parts = _parts(env, env.scratch / f"save{rep}", kind="save", rep=rep, size=size)
            figures = team.run([part | {"count": count, "max_ops": count} for part in parts])
            saved = [[(name, header(label, 0) + tail) for name, label in f["saved"]]
                     for f in figures]  # fmt: skip
            ops = sum(f["ops"] for f in figures)
            checked = _check_saved(storage, saved, ops, procs.span(figures), 0)
            checked.errors = sum(f["errors"] for f in figures)
            checked.lost += checked.errors
            env.discard(storage)
            yield pace.learn(checked)
    finally:
        team.close()


def read_4k_procs(env: Env) -> Iterator[Rep]:
    """``open()`` + ``read()`` of one 4 KiB file from 4 processes; it was saved by another."""
    size = env.sizes.get("read_small", 4 * KIB)
    storage = env.new_storage()
    wanted = f"read/blob-{size}.bin"
    name = storage.save(wanted, ContentFile(make_content(wanted, 1, size)))
    team = procs.Team(env.backend.key, env.scratch)
    try:
        for _ in range(env.repeats):
            parts = _parts(env, env.scratch, kind="read", name=name, label=wanted, size=size)
            figures = team.run(parts)
            ops = sum(f["ops"] for f in figures)
            errors = sum(f["errors"] for f in figures)
            wrong = sum(f["wrong"] for f in figures) + errors
            yield Rep(ops, procs.span(figures), wrong, errors, checked=ops)
    finally:
        team.close()


def mixed_procs(env: Env) -> Iterator[Rep]:
    """90 % reads, 10 % overwrites over 100 hot files of 4 KiB, from 4 processes.

    A read is wrong when its bytes are not one version whole (counted in the
    process that read), or when that version was stale: replaced by a write,
    in any process, that had ended before the read began (counted here from
    every process's writes; see ``procs.History``). A file whose content
    afterwards is not its latest write is a lost write.
    """
    size = env.sizes.get("mixed", 4 * KIB)
    storage = env.new_storage(overwrite=True)
    overwrite = _overwriter(env.backend, storage)
    history = procs.History()
    names = [f"hot/f{i:03d}.bin" for i in range(HOT_FILES)]
    own = itertools.count(1)
    for name in names:
        version = procs.version_number(next(own), 0)
        start = time.monotonic_ns()
        overwrite(name, make_content(name, version, size))
        history.add(name, version, start, time.monotonic_ns())
    team = procs.Team(env.backend.key, env.scratch)
    try:
        for rep in range(env.repeats):
            parts = _parts(env, env.scratch, kind="mixed", overwrite=True, names=names, size=size)
            parts = [part | {"seed": rep * procs.PROCESSES + i} for i, part in enumerate(parts)]
            figures = team.run(parts)
            for f in figures:
                for i, version, start, end in f["writes"]:
                    history.add(names[i], version, start, end)
            stale = sum(
                history.stale(names[i], version, began)
                for f in figures
                for i, version, began in f["reads"]
            )
            errors = sum(f["errors"] for f in figures)
            wrong = sum(f["wrong"] for f in figures) + errors + stale
            reads = sum(len(f["reads"]) + f["wrong"] for f in figures) + errors
            lost = sum(not _is_latest(storage, history, name, size) for name in names)
            ops = sum(f["ops"] for f in figures)
            yield Rep(ops, procs.span(figures), wrong, errors, lost, checked=reads)
    finally:
        team.close()


def _is_latest(storage: Any, history: procs.History, name: str, size: int) -> bool:
    """Whether *name* reads back as one whole version that no finished write replaced."""
    began = time.monotonic_ns()
    data = _read(storage, name)
    version = version_of(data)
    if version is None or data != make_content(name, version, size):
        return False
    return not history.stale(name, version, began)


#: Each scenario's repetitions, one :class:`Rep` per ``next()``.
SCENARIOS: dict[str, Callable[[Env], Iterator[Rep]]] = {
    "save_4k": save_4k,
    "save_one_name": save_one_name,
    "read_4k": read_4k,
    "read_1m": read_1m,
    "mixed": mixed,
    "exists": exists,
    "listdir": listdir,
    "save_4k_procs": save_4k_procs,
    "read_4k_procs": read_4k_procs,
    "mixed_procs": mixed_procs,
}

#: The scenarios of several processes: only shared backends, at multiples of PROCESSES threads.
PROCESS_SCENARIOS = frozenset({"save_4k_procs", "read_4k_procs", "mixed_procs"})

SCENARIO_LABELS = {
    "save_4k": "save 4 KiB",
    "save_one_name": "save 4 KiB, all threads one name",
    "read_4k": "open+read 4 KiB",
    "read_1m": "open+read 1 MiB",
    "mixed": "mixed 90/10, 100 hot files",
    "exists": "exists, 1,000-file dir",
    "listdir": "listdir, 1,000-file dir",
    "save_4k_procs": f"save 4 KiB from {procs.PROCESSES} processes",
    "read_4k_procs": f"open+read 4 KiB from {procs.PROCESSES} processes",
    "mixed_procs": f"mixed 90/10, 100 hot files, {procs.PROCESSES} processes",
}
