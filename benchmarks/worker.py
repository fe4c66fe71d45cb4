"""One measurement in a fresh process: ``python -m benchmarks.worker '<json job>'``.

The job names a backend, a scenario (or ``memory``) and limits; the worker
prints one JSON line with the figures. A fresh process per backend and
measurement keeps one backend's garbage, caches and threads from weighing on
the next, and lets dj-inmemorystorage 2.1.0 own the import name
``inmemorystorage`` in its own process.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .backends import BACKENDS, scratch_root, use_peer


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
        from . import memory, scenarios

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
            figures: dict[str, Any] = {**memory.per_file(env), "reader": memory.reader_cost(env)}
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


def main() -> None:
    """Read the job from argv, print the figures as one JSON line."""
    job = json.loads(sys.argv[1])
    print(json.dumps(run_job(job)))


if __name__ == "__main__":
    main()
