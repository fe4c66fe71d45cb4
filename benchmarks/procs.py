"""The multi-process scenarios' processes: several processes, one set of files, each read checked.

A multi-process scenario (``save_4k_procs``, ``read_4k_procs``,
``mixed_procs`` in ``scenarios.py``) measures what a dev stack of several
processes does (gunicorn workers, a Celery worker, ``manage.py shell``
beside runserver): :data:`PROCESSES` processes, each of ``threads //
PROCESSES`` threads, on one storage that they all see (FileSystemStorage:
one directory; the shared engine: one namespace on the bench's Redis
server). Only backends that several processes share take part.

A :class:`Team` starts the processes once (``python -m benchmarks.procs
'<json>'``; each configures Django and answers ``ready``) and keeps them for
every repetition. Per repetition it sends each process its part, as one JSON
line; each makes what it will use (the contents it saves, before any clock
starts) and answers ``ready``; once all have, it sends each ``go``; each runs
its threads with ``loops.run_threads`` and answers with its figures, among
them where its run began and ended on the system-wide monotonic clock
(``CLOCK_MONOTONIC``, one clock for every process of the machine). A
repetition's time runs from the first process's start to the last one's end.

**Wrong reads across processes.** Every version of a file names its file
and version (``content.py``); version numbers are unique across processes
(:func:`version_number`). A process counts a read wrong at once when its
bytes are not exactly the version they name (torn, truncated, empty, or of
another file). The rest, each with the version read and the moment the read
began, come back to the scenario with every write (its version, start and
end), which then counts the stale ones (:class:`History`): a read is stale
when it returned a version that a write which ended before the read began
had already replaced (that write began after the version's own write ended).
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .content import HEADER_BYTES, make_content, version_of
from .loops import Loop, run_threads

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
#: How many processes a multi-process scenario runs (each with threads // PROCESSES threads).
PROCESSES = 4
#: Version numbers are ``count * VERSION_SLOTS + slot``: slot 0 is the scenario's own
#: process, slot i + 1 process i, so no two processes ever make the same version.
VERSION_SLOTS = 8
#: The share of a mixed load's operations that overwrite a file.
WRITE_SHARE = 0.1


def version_number(count: int, slot: int) -> int:
    """The *count*-th version made by *slot* (0: the scenario, i + 1: process i): unique."""
    return count * VERSION_SLOTS + slot


def threads_each(threads: int) -> int:
    """Threads per process when a multi-process scenario runs *threads* threads in all."""
    return max(1, threads // PROCESSES)


def thread_counts(counts: list[int]) -> list[int]:
    """The thread counts in all a multi-process scenario is measured at: multiples of PROCESSES."""
    return [n for n in counts if n % PROCESSES == 0]


class ProcessFailedError(RuntimeError):
    """A process of a multi-process scenario ended, or answered nonsense."""


class Team:
    """:data:`PROCESSES` processes of one backend, kept for every repetition of a scenario.

    Args:
        backend: The backend's key (``backends.BACKENDS``).
        media_root: The directory each process configures Django with.
        processes: How many processes.
    """

    def __init__(self, backend: str, media_root: Path, processes: int = PROCESSES) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        try:
            for index in range(processes):
                job = {"backend": backend, "index": index, "media_root": str(media_root)}
                command = [sys.executable, "-m", "benchmarks.procs", json.dumps(job)]
                pipe = subprocess.PIPE
                process = subprocess.Popen(command, cwd=ROOT, stdin=pipe, stdout=pipe, text=True)
                self.processes.append(process)
            for process in self.processes:
                self._answer(process)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _answer(process: subprocess.Popen[str]) -> dict[str, Any]:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            status = process.wait(timeout=10)
            msg = f"a process of the multi-process scenario ended (status {status}); see its stderr"
            raise ProcessFailedError(msg)
        answer = json.loads(line)
        if "error" in answer:
            raise ProcessFailedError(answer["error"])
        return dict(answer)

    @staticmethod
    def _tell(process: subprocess.Popen[str], message: object) -> None:
        stdin: IO[str] | None = process.stdin
        assert stdin is not None
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()

    def run(self, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give each process its part, start all once all are ready; their figures, in order."""
        for process, part in zip(self.processes, parts, strict=True):
            self._tell(process, part)
        for process in self.processes:
            self._answer(process)  # ready: its contents are made, its threads not yet started
        for process in self.processes:
            self._tell(process, "go")
        return [self._answer(process) for process in self.processes]

    def close(self) -> None:
        """End the processes: each leaves when its stdin closes (killed if it lingers)."""
        for process in self.processes:
            if process.stdin is not None:
                with contextlib.suppress(OSError):  # it is gone already
                    process.stdin.close()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self.processes = []


def span(figures: list[dict[str, Any]]) -> float:
    """Seconds from the first process's start to the last one's end (monotonic, in ns)."""
    return (max(f["end_ns"] for f in figures) - min(f["start_ns"] for f in figures)) / 1e9


@dataclass
class History:
    """Every write of every file of a mixed load, across processes and repetitions.

    ``writes[name]`` holds ``(end, start)`` per write, sorted by end; a prefix
    maximum of starts answers "the latest start among writes that ended
    before t" in one bisection. ``ended[version]`` is when a version's write
    ended.
    """

    writes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    ended: dict[int, int] = field(default_factory=dict)
    _latest_start: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, version: int, start: int, end: int) -> None:
        """Record the write of *version* of *name*, from *start* to *end* (monotonic ns)."""
        self.ended[version] = end
        bisect.insort(self.writes.setdefault(name, []), (end, start))
        self._latest_start.pop(name, None)

    def stale(self, name: str, version: int, began: int) -> bool:
        """Whether a read of *name* that began at *began* and got *version* is stale (or unknown).

        Stale: a write of *name* that began after *version*'s write ended had
        itself ended before the read began. A version no write made is wrong too.
        """
        ended = self.ended.get(version)
        if ended is None:
            return True
        writes = self.writes.get(name, [])
        starts = self._latest_start.get(name)
        if starts is None:
            starts = self._latest_start[name] = list(itertools.accumulate(
                (start for _end, start in writes), max
            ))  # fmt: skip
        done = bisect.bisect_left(writes, (began, -1))  # writes that ended before began
        return done > 0 and starts[done - 1] > ended


# The processes' side.


def _storages(backend: Any) -> Callable[[str, bool], Any]:
    """A storage per (directory, overwrite), built once in this process."""
    built: dict[tuple[str, bool], Any] = {}

    def storage(scratch: str, overwrite: bool) -> Any:
        key = (scratch, overwrite)
        if key not in built:
            built[key] = backend.make(Path(scratch), overwrite, None)
        return built[key]

    return storage


#: A process's part, prepared: its threads' loops, and what to add to its figures after the run.
Prepared = tuple["Callable[[int], Loop]", "Callable[[], dict[str, Any]]"]


def _reads(part: dict[str, Any], storage: Any) -> Prepared:
    """Every thread opens and reads one file, each read compared with its one version (1)."""
    from .scenarios import _reading_loops

    expected = make_content(part["label"], 1, int(part["size"]))
    return _reading_loops(storage, part["name"], expected), dict


def _saves(part: dict[str, Any], storage: Any) -> Prepared:
    """Every thread saves new files, made before the clock starts; each name given comes back."""
    from .scenarios import _saving_loop

    saved: list[list[tuple[str, bytes]]] = [[] for _ in range(int(part["threads"]))]
    prefix = f"up/p{part['index']}-r{part['rep']}"

    def make_loop(index: int) -> Loop:
        def target(n: int) -> tuple[str, str]:
            name = f"{prefix}-t{index}-{n}.bin"
            return name, name

        return _saving_loop(storage, saved[index], int(part["size"]), target, int(part["count"]))

    def given() -> dict[str, Any]:
        labels = [
            [name, data[:HEADER_BYTES].split(b"|")[0].decode()]
            for thread in saved
            for name, data in thread
        ]
        return {"saved": labels}

    return make_loop, given


def _mixed(part: dict[str, Any], storage: Any, backend: Any, counter: Any) -> Prepared:
    """90 % reads, 10 % overwrites over the hot files; reads of right bytes come back, timed.

    A read whose bytes are not exactly the version they name is wrong at once;
    whether a right one is stale, the scenario decides from every process's
    writes (:class:`History`).
    """
    from .scenarios import _overwriter

    names: list[str] = part["names"]
    size, slot, seed = int(part["size"]), int(part["slot"]), int(part["seed"])
    overwrite = _overwriter(backend, storage)
    writes: list[list[int]] = []
    reads: list[list[int]] = []

    def make_loop(index: int) -> Loop:
        rng = random.Random(seed * 1000 + index)
        plan = [(rng.random() < WRITE_SHARE, rng.randrange(len(names))) for _ in range(4096)]
        steps = itertools.cycle(plan)
        open_, clock = storage.open, time.monotonic_ns
        wrote, read = writes.append, reads.append

        def loop(n: int) -> tuple[int, int]:
            wrong = errors = 0
            for is_write, i in itertools.islice(steps, n):
                name = names[i]
                if is_write:
                    version = version_number(next(counter), slot)
                    data = make_content(name, version, size)
                    start = clock()
                    overwrite(name, data)
                    wrote([i, version, start, clock()])
                    continue
                began = clock()
                try:
                    f = open_(name, "rb")
                    data = f.read()
                    f.close()
                except Exception:  # a read that fails is a wrong read, counted apart
                    errors += 1
                    continue
                version = version_of(data)
                if version is None or data != make_content(name, version, size):
                    wrong += 1  # torn, cut short, empty, or another file's: wrong whatever the time
                    continue
                read([i, version, began])
            return wrong, errors

        return loop

    return make_loop, lambda: {"writes": writes, "reads": reads}


def _serve(backend_key: str, index: int, answers: IO[str]) -> None:
    """Answer each part on stdin: prepare, say ready, wait for ``go``, run, give the figures."""
    from .backends import BACKENDS

    backend = BACKENDS[backend_key]
    storage = _storages(backend)
    counter = itertools.count(1)  # this process's versions, unique across its repetitions
    for line in sys.stdin:
        part = json.loads(line)
        files = storage(part["scratch"], bool(part.get("overwrite")))
        if part["kind"] == "save":
            make_loop, extra = _saves(part | {"index": index}, files)
        elif part["kind"] == "read":
            make_loop, extra = _reads(part, files)
        else:
            make_loop, extra = _mixed(part | {"slot": index + 1}, files, backend, counter)
        answers.write(json.dumps({"ready": True}) + "\n")
        answers.flush()
        if json.loads(sys.stdin.readline() or '"stop"') != "go":
            return
        limits = float(part["duration"]), int(part["max_ops"])
        run = run_threads(make_loop, int(part["threads"]), *limits)
        end = time.monotonic_ns()
        figures: dict[str, Any] = {
            "ops": run.ops, "wrong": run.wrong, "errors": run.errors,
            "start_ns": end - int(run.seconds * 1e9), "end_ns": end,
        }  # fmt: skip
        answers.write(json.dumps(figures | extra()) + "\n")
        answers.flush()


def main() -> None:
    """Configure Django, say ready, then answer each part (see :class:`Team`)."""
    job = json.loads(sys.argv[1])
    answers, sys.stdout = sys.stdout, sys.stderr  # whatever the code under test prints
    from .worker import _configure_django

    try:
        _configure_django(Path(job["media_root"]))
    except Exception as exc:  # the scenario raises it as the row's error
        answers.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}) + "\n")
        return
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    _serve(job["backend"], int(job["index"]), answers)


if __name__ == "__main__":
    main()
