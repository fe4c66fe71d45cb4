"""Plan the jobs, run each in a fresh process, and gather one JSON document.

``python -m benchmarks [--quick] [--threads 16,32] ...``; see ``--help``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import goals, machine
from .backends import BACKENDS, DEFAULT_BACKENDS
from .peers import ensure_peer_210
from .scenarios import SCENARIO_LABELS, SCENARIOS
from .worker import MODE_SIZES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
HTTP_BACKENDS = ("ours", "django", "fs", "http-floor")
HTTP_LABELS = {"GET": "runserver GET 64 KiB", "POST": "runserver POST 16 KiB upload"}


class Progress(Protocol):
    """Told before each job (``result`` None), and after it with a line of what it measured."""

    def __call__(self, done: int, total: int, label: str, result: str | None) -> None: ...


@dataclass
class Config:
    """What one run measures and how long it may take."""

    mode: str
    threads: list[int]
    repeats: int
    duration: float
    max_ops: int
    backends: list[str]
    scenarios: list[str]
    clients: list[int]
    http_backends: list[str]
    http_duration: float
    http_repeats: int
    sizes: dict[str, int] = field(default_factory=dict)
    memory: bool = True
    #: One process per backend and scenario for all thread counts (quick runs), not per count.
    grouped: bool = False
    job_timeout: float = 600.0  # a bounded backend's memory job runs three churns


def make_config(args: argparse.Namespace) -> Config:
    """The full, quick or tiny plan, with the command line's overrides."""
    if args.tiny:
        config = Config(
            "tiny", [4], 1, 0.05, 20_000, ["floor", "ours", "broken"],
            ["read_4k", "save_4k", "mixed"], [2], ["http-floor"], 0.2, 1,
            {"read_large": 64 * 1024, "dir_files": 50, "memory_files": 200, "http_file": 4096},
        )  # fmt: skip
    elif args.quick:
        config = Config(
            "quick", [1, 8], 2, 0.03, 200_000, list(DEFAULT_BACKENDS), list(SCENARIOS),
            [1, 16], list(HTTP_BACKENDS), 0.3, 1, {"memory_files": 2_000}, grouped=True,
        )  # fmt: skip
    else:
        config = Config(
            "full", [1, 2, 4, 8], 5, 0.25, 2_000_000, list(DEFAULT_BACKENDS), list(SCENARIOS),
            [1, 4, 16], list(HTTP_BACKENDS), 1.0, 3,
        )  # fmt: skip
    if args.threads:
        config.threads = sorted(set(config.threads) | {int(n) for n in args.threads.split(",")})
    if args.backends:
        config.backends = args.backends.split(",")
    if args.scenarios:
        config.scenarios = args.scenarios.split(",")
    if args.no_http:
        config.http_backends = []
    if args.no_memory:
        config.memory = False
    if args.repeats:
        config.repeats = args.repeats
    config.sizes = MODE_SIZES[config.mode] | config.sizes
    return config


def _run_worker(module: str, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one job in a fresh interpreter; its last stdout line is the figures (or an error)."""
    command = [sys.executable, "-m", module, json.dumps(job)]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def summarize(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and min-max of ops/s over the repetitions; correctness counts summed."""
    rates = [rep["ops_per_s"] for rep in reps]
    summary: dict[str, Any] = {
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "rates": rates,
    }
    for key in ("ops", "wrong", "errors", "lost", "evicted", "checked"):
        summary[key] = sum(rep.get(key, 0) for rep in reps)
    return summary


@dataclass
class Job:
    """One process to start: which module, what to tell it, and where its figures go."""

    kind: str
    label: str
    module: str
    payload: dict[str, Any]


def plan(config: Config) -> list[Job]:
    """Every job of the run, in the order the table shows them."""
    jobs = []
    limits = {"duration": config.duration, "max_ops": config.max_ops, "sizes": config.sizes}
    for scenario in config.scenarios:
        for backend in config.backends:
            counts: list[Any] = [config.threads] if config.grouped else list(config.threads)
            for threads in counts:
                payload = {"backend": backend, "scenario": scenario, "threads": threads}
                payload |= {"repeats": config.repeats, **limits}
                shown = ",".join(map(str, threads)) if isinstance(threads, list) else threads
                label = f"{scenario} · {backend} · {shown} thr"
                jobs.append(Job("api", label, "benchmarks.worker", payload))
    if config.memory:
        for backend in config.backends:
            payload = {"backend": backend, "scenario": "memory", "sizes": config.sizes}
            jobs.append(Job("memory", f"memory · {backend}", "benchmarks.worker", payload))
    for backend in config.http_backends:
        payload = {
            "backend": backend,
            "clients": config.clients,
            "duration": config.http_duration,
            "repeats": config.http_repeats,
            "sizes": config.sizes,
        }
        jobs.append(Job("http", f"runserver · {backend}", "benchmarks.httpbench", payload))
    return jobs


def _record(doc: dict[str, Any], job: Job, figures: dict[str, Any]) -> None:
    base = {"backend": job.payload["backend"]}
    if job.kind == "api":
        counts = job.payload["threads"]
        runs = figures.get("runs") or [{"threads": counts, "reps": figures.get("reps")}]
        for run in runs if "error" not in figures else []:
            row = {**base, "scenario": job.payload["scenario"], "threads": run["threads"]}
            doc["api"].append(row | summarize(run["reps"]))
        if "error" in figures:
            for threads in counts if isinstance(counts, list) else [counts]:
                row = {**base, "scenario": job.payload["scenario"], "threads": threads}
                doc["api"].append(row | {"error": figures["error"]})
    elif job.kind == "memory":
        doc["memory"].append({**base, **figures})
    else:
        for row in figures.get("rows", []):
            doc["http"].append(
                {**base, **row, **summarize(row["reps"])} if row.get("reps") else {**base, **row}
            )
        if "error" in figures:
            doc["http"].append({**base, "method": "-", "clients": 0, "error": figures["error"]})


def _rate(value: float) -> str:
    return f"{value / 1e3:,.1f}k/s" if value >= 1e4 else f"{value:,.0f}/s"


def step_line(job: Job, figures: dict[str, Any], seconds: float) -> str:
    """What one finished job measured, in one line: median rates and any wrong reads."""
    if "error" in figures:
        return f"error: {figures['error'][:200]} ({seconds:.1f} s)"
    parts = []
    if job.kind == "api":
        runs = figures.get("runs") or [{"threads": None, **figures}]
        for run in runs:
            summary = summarize(run["reps"]) if run.get("reps") else None
            if summary:
                faults = summary["wrong"] + summary["lost"]
                parts.append(
                    (f"{run['threads']} thr " if run["threads"] is not None else "")
                    + _rate(summary["median"])
                    + (f" ({faults:,} wrong or lost)" if faults else "")
                )
    elif job.kind == "memory":
        held = figures.get("bytes_per_file")
        parts.append(f"{held:,.0f} B per file" if held is not None else "measured")
    else:
        for row in figures.get("rows", []):
            if row.get("reps"):
                summary = summarize(row["reps"])
                faults = summary["wrong"] + summary["errors"]
                parts.append(
                    f"{row['method']} {row['clients']} cl {_rate(summary['median'])}"
                    + (f" ({faults:,} wrong or failed)" if faults else "")
                )
            elif row.get("skipped"):
                parts.append(f"{row['method']} skipped: {row['skipped']}")
    return ", ".join(parts or ["no figures"]) + f" ({seconds:.1f} s)"


def run(config: Config, progress: Progress | None = None) -> dict[str, Any]:
    """Run every job of *config* and return the JSON document (figures, machine, goals).

    The document describes itself: besides the figures it carries the machine,
    each backend's label and the version of what it runs, and the title of
    each scenario, so that it can be read without this code.
    """
    started = time.time()
    described = machine.describe()
    doc: dict[str, Any] = {
        "machine": described,
        "backends": machine.backends(config.backends, described),
        "http_servers": machine.http_servers(config.http_backends, described),
        "scenario_labels": {s: SCENARIO_LABELS.get(s, s) for s in config.scenarios},
        "http_labels": dict(HTTP_LABELS),
        "config": asdict(config),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "api": [],
        "memory": [],
        "http": [],
        "skipped": {},
    }
    if "dj210" in config.backends:
        why = ensure_peer_210()
        if why:
            config.backends.remove("dj210")
            doc["skipped"]["dj210"] = why
        doc["backends"] = machine.backends(config.backends, described)
    jobs = plan(config)
    for index, job in enumerate(jobs):
        if progress is not None:
            progress(index, len(jobs), job.label, None)
        began = time.monotonic()
        figures = _run_worker(job.module, job.payload, config.job_timeout)
        _record(doc, job, figures)
        if progress is not None:
            line = step_line(job, figures, time.monotonic() - began)
            progress(index + 1, len(jobs), job.label, line)
    doc["seconds"] = time.time() - started
    doc["goals"] = [goal.as_dict() for goal in goals.evaluate(doc)]
    return doc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (about two minutes)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--threads", help="more thread counts, comma-separated (e.g. 16,32)")
    parser.add_argument("--backends", help="comma-separated: " + ",".join(BACKENDS))
    parser.add_argument("--scenarios", help="comma-separated: " + ",".join(SCENARIOS))
    parser.add_argument("--repeats", type=int, help="repetitions per measurement")
    parser.add_argument("--no-http", action="store_true", help="skip the runserver part")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory part")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="measure nothing: write the Markdown and figures of an earlier run's JSON beside it",
    )
    return parser.parse_args(argv)
