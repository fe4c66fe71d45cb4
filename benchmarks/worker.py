"""One measurement in a fresh process: ``python -m benchmarks.worker '<json job>'``.

The job names a backend, a scenario (or ``memory``, or ``churn``) and
limits; the worker prints one JSON line with the figures. A fresh process per
backend and measurement keeps one backend's garbage, caches and threads from
weighing on the next, and lets dj-inmemorystorage 2.1.0 own the import name
``inmemorystorage`` in its own process.

A ``memory`` job measures bytes per file, per reader and per finished request
thread, and write latency beside live reader threads; for a bounded backend
it also starts :data:`CHURN_RUNS` ``churn`` jobs, each in a fresh process of
its own (resident memory is a property of the whole process).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .backends import BACKENDS, scratch_root, use_peer

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


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job and return its figures (the worker process's whole life)."""
    backend = BACKENDS[job["backend"]]
    use_peer(backend)
    root, _where = scratch_root()
    scratch = Path(tempfile.mkdtemp(prefix="inmemorystorage-bench-", dir=root))
    try:
        _configure_django(scratch)
        from . import churn, scenarios

        env = scenarios.Env(
            backend=backend,
            scratch=scratch,
            threads=1,
            duration=float(job.get("duration", 0.25)),
            max_ops=int(job.get("max_ops", 1_000_000)),
            repeats=int(job.get("repeats", 3)),
            sizes=dict(job.get("sizes", {})),
        )
        began = time.perf_counter()
        if job["scenario"] == "memory":
            figures: dict[str, Any] = _memory(env, job)
        elif job["scenario"] == "churn":
            figures = churn.churn(env, int(job["seed"]))
        elif isinstance(job["threads"], list):
            # Quick runs measure every thread count of a scenario in one process.
            figures = {"runs": []}
            for threads in job["threads"]:
                env.threads = int(threads)
                reps = scenarios.SCENARIOS[job["scenario"]](env)
                figures["runs"].append({"threads": threads, "reps": [r.as_dict() for r in reps]})
        else:
            env.threads = int(job["threads"])
            reps = scenarios.SCENARIOS[job["scenario"]](env)
            figures = {"reps": [rep.as_dict() for rep in reps]}
        figures["wall_s"] = time.perf_counter() - began
        return figures
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


def churn_runs(job: dict[str, Any]) -> dict[str, Any]:
    """:data:`CHURN_RUNS` churn runs, each in a fresh worker process; their median and worst."""
    runs: list[dict[str, Any]] = []
    for seed in range(CHURN_RUNS):
        payload = {**job, "scenario": "churn", "seed": seed}
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
        "runs": runs,
        "median": statistics.median(ratios) if ratios else None,
        "worst": max(ratios) if ratios else None,
        **totals,
    }


def main() -> None:
    """Read the job from argv, print the figures as one JSON line."""
    job = json.loads(sys.argv[1])
    print(json.dumps(run_job(job)))


if __name__ == "__main__":
    main()
