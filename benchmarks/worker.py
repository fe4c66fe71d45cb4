"""Measurements in a fresh process: one job, or one backend's repetitions asked one at a time.

``python -m benchmarks.worker '<json job>'``: the job names a backend, a
scenario (or ``memory``, or ``churn``) and limits; the worker prints one JSON
line with the figures.

``python -m benchmarks.worker --serve <backend>``: the worker configures
Django once, then reads Storage API jobs as JSON lines on stdin and answers
each with ONE repetition, as one JSON line on stdout (``{"reps": [rep]}``, or
``{"error": ...}``); a scenario's files stay in place between the repetitions
of one thread count. The runner starts one such worker per backend and
scenario and asks them in turn, round by round, so that the repetitions of
every backend it compares are measured within a second or so of each other.

A fresh process per backend (and scenario) keeps one backend's garbage,
caches and threads from weighing on the next, and lets dj-inmemorystorage
2.1.0 own the import name ``inmemorystorage`` in its own process.

A ``server`` job measures the shared engine's Redis server: its bytes per
file and where a call's time goes (``shared.py``). A ``memory`` job measures
bytes per file, per reader and per finished request thread, and write
latency beside live reader threads; for a bounded backend it also starts
:data:`CHURN_RUNS` ``churn`` jobs of the log-uniform mix, each in a fresh
process of its own (resident memory is a property of the whole process). A
``churn_runs`` job does the same for another mix (``"mix"``: ``harsh``), as a
job of its own so that each stays within the job timeout.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import BACKENDS, Backend, scratch_root, use_peer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .scenarios import Env

ROOT = Path(__file__).resolve().parent.parent
CHURN_RUNS = 3
#: Sizes of the quick and tiny runs (the full run uses each module's defaults).
MODE_SIZES: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {
        "latency_writes": 500,
        "churn_requests": 2_000,
    },
    "tiny": {
        "request_threads": 64,
        "latency_writes": 20,
        "live_readers": [2, 20],
        "churn_requests": 60,
        "churn_max_bytes": 1024 * 1024,
        "churn_largest": 64 * 1024,
        "server_files": 200,
        "timing_ops": 20,
    },
}


def _configure_django(media_root: Path) -> None:
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-only-not-secret",
        USE_TZ=True,
        MEDIA_ROOT=str(media_root),
        MEDIA_URL="/media/",
        FILE_UPLOAD_PERMISSIONS=None,
        INSTALLED_APPS=[],
    )
    import django

    django.setup()


def _make_scratch() -> Path:
    root, _where = scratch_root()
    return Path(tempfile.mkdtemp(prefix="inmemorystorage-bench-", dir=root))


def _env(backend: Backend, scratch: Path, job: dict[str, Any], threads: int = 1) -> Env:
    """The :class:`~benchmarks.scenarios.Env` of *job* at *threads*."""
    from . import scenarios

    return scenarios.Env(
        backend=backend,
        scratch=scratch,
        threads=threads,
        duration=float(job.get("duration", 0.25)),
        max_ops=int(job.get("max_ops", 1_000_000)),
        repeats=int(job.get("repeats", 3)),
        sizes=dict(job.get("sizes", {})),
    )


def repetitions(
    backend: Backend, scratch: Path, job: dict[str, Any], threads: int
) -> Iterator[dict[str, Any]]:
    """The figures of each repetition of *job*'s scenario at *threads*, one per ``next()``.

    Each thread count works in a scratch directory of its own: two counts
    measured in one process must not find each other's files (a
    FileSystemStorage would hand out other names, or list both sets).
    """
    from . import scenarios

    env = _env(backend, scratch / f"{job['scenario']}-{threads}thr", job, threads)
    return (rep.as_dict() for rep in scenarios.SCENARIOS[job["scenario"]](env))


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job and return its figures (the worker process's whole life)."""
    backend = BACKENDS[job["backend"]]
    use_peer(backend)
    scratch = _make_scratch()
    try:
        _configure_django(scratch)
        from . import churn

        env = _env(backend, scratch, job)
        began = time.perf_counter()
        if job["scenario"] == "memory":
            figures: dict[str, Any] = _memory(env, job)
        elif job["scenario"] == "server":
            from . import shared

            figures = shared.measure(env)
        elif job["scenario"] == "churn":
            figures = churn.churn(env, int(job["seed"]), job.get("mix", "log-uniform"))
        elif job["scenario"] == "churn_runs":
            figures = churn_runs(job, job["mix"])
        elif isinstance(job["threads"], list):
            # Every thread count of a scenario in one process, one after the other.
            figures = {"runs": []}
            for threads in job["threads"]:
                reps = list(repetitions(backend, scratch, job, int(threads)))
                figures["runs"].append({"threads": threads, "reps": reps})
        else:
            figures = {"reps": list(repetitions(backend, scratch, job, int(job["threads"])))}
        figures["wall_s"] = time.perf_counter() - began
        return figures
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class Server:
    """A serving worker's scenarios part way through: one repetition generator per job.

    A job is the scenario, thread count and limits (the same for every
    repetition of it); its generator is dropped once it has yielded the job's
    ``repeats``, or when it fails.
    """

    def __init__(self, backend: Backend, scratch: Path) -> None:
        self.backend = backend
        self.scratch = scratch
        #: Each job's generator, and how many repetitions it has yielded.
        self.pending: dict[str, tuple[Iterator[dict[str, Any]], int]] = {}

    def answer(self, job: dict[str, Any]) -> dict[str, Any]:
        """The next repetition of *job*, as ``{"reps": [figures], "wall_s": s}``, or an error."""
        key = json.dumps(job, sort_keys=True)
        began = time.perf_counter()
        try:
            reps, count = self.pending.pop(key, None) or (
                repetitions(self.backend, self.scratch, job, int(job["threads"])),
                0,
            )
            rep = next(reps)
        except Exception as exc:  # the runner records it as the row's error; the worker goes on
            traceback.print_exc()
            return {"error": f"{type(exc).__name__}: {exc}"[:300]}
        if count + 1 < int(job.get("repeats", 3)):
            self.pending[key] = (reps, count + 1)
        return {"reps": [rep], "wall_s": time.perf_counter() - began}


def serve(backend_key: str) -> None:
    """Configure Django once, then answer each job line on stdin with one repetition.

    Whatever the code under test prints goes to stderr, so that every stdout
    line is an answer. The worker ends when stdin closes.
    """
    backend = BACKENDS[backend_key]
    use_peer(backend)
    answers, sys.stdout = sys.stdout, sys.stderr
    scratch = _make_scratch()
    try:
        _configure_django(scratch)
        server = Server(backend, scratch)
        for line in sys.stdin:
            if line.strip():
                answers.write(json.dumps(server.answer(json.loads(line))) + "\n")
                answers.flush()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _memory(env: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Every memory measure of one backend; resident memory after churn for a bounded one."""
    from . import latency, memory

    figures: dict[str, Any] = {
        **memory.per_file(env),
        "reader": memory.reader_cost(env),
        "retained": memory.retained_per_thread(env),
        "latency": latency.write_latency(env),
    }
    if env.backend.bounded:
        figures["churn"] = churn_runs(job)
    return figures


def churn_runs(job: dict[str, Any], mix: str = "log-uniform") -> dict[str, Any]:
    """:data:`CHURN_RUNS` churn runs of *mix*, each in a fresh worker process; median and worst."""
    runs: list[dict[str, Any]] = []
    for seed in range(CHURN_RUNS):
        payload = {**job, "scenario": "churn", "seed": seed, "mix": mix}
        command = [sys.executable, "-m", "benchmarks.worker", json.dumps(payload)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            error = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
            return {"error": error, "runs": runs}
        runs.append(json.loads(lines[-1]))
    ratios = [run["ratio"] for run in runs if run.get("ratio") is not None]
    totals = {key: sum(run[key] for run in runs) for key in ("wrong", "lost", "checked")}
    return {
        "mix": mix,
        "runs": runs,
        "median": statistics.median(ratios) if ratios else None,
        "worst": max(ratios) if ratios else None,
        **totals,
    }


def main() -> None:
    """Serve (``--serve <backend>``), or read the job from argv and print its figures."""
    if sys.argv[1] == "--serve":
        serve(sys.argv[2])
        return
    job = json.loads(sys.argv[1])
    print(json.dumps(run_job(job)))


if __name__ == "__main__":
    main()
