"""Plan the jobs, run them in fresh processes, and gather one JSON document.

``python -m benchmarks [--quick] [--threads 16,32] ...``; see ``--help``.

The Storage API is measured in rounds: per scenario, one serving worker per
backend (``python -m benchmarks.worker --serve <backend>``), and in each round
every backend is asked for one repetition at every thread count, in turn. On
a shared machine whose speed drifts over minutes, the repetitions compared
with each other are then measured seconds apart, not minutes, and a ratio is
the median of the per-round ratios (``ratios.py``). Memory, churn and
runserver jobs run one per fresh process, as before.

The multi-process scenarios (``scenarios.PROCESS_SCENARIOS``) are measured
only for backends that several processes share, at the thread counts that
are multiples of ``procs.PROCESSES``. Where a backend needs the shared
engine's Redis server, the run starts one (``redisserver.py``) and hands its
URL to every worker; the server's own figures (bytes per file, where a
save's and a read's time goes) are one job of their own (``shared.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from . import goals, machine, procs, redisserver
from .backends import BACKENDS, DEFAULT_BACKENDS, Backend
from .httpbench import error_row
from .peers import ensure_peer_210
from .scenarios import PROCESS_SCENARIOS, SCENARIO_LABELS, SCENARIOS
from .worker import MODE_SIZES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
#: runserver's servers: ``http-floor-kept`` (a view that keeps each body in a ``dict``)
#: decides whether the POST goal applies, and ``storage-floor`` (a ``dict`` behind Django's
#: generic ``save()``) gives it the Storage API's own figure against the HTTP floor;
#: ``http-floor-same`` (ours' headers, constant bytes) decides whether the GET goal applies.
HTTP_BACKENDS = (
    "ours", "django", "fs", "http-floor", "http-floor-kept", "storage-floor", "http-floor-same",
)  # fmt: skip
HTTP_LABELS = {"GET": "runserver GET 64 KiB", "POST": "runserver POST 16 KiB upload"}


class Progress(Protocol):
    """Told before each step (``result`` None), and with a line of what a finished row measured.

    A step is one repetition asked of a serving worker, or one memory or
    runserver job; ``done`` and ``total`` count steps.
    """

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
    #: The per-round order of the Storage API's repetitions (see :func:`rounds`): every
    #: backend in turn, so that ratios pair repetitions measured seconds apart.
    interleaved: bool = True
    #: The same for the runserver part: every server up at once, each measured in turn.
    http_interleaved: bool = True
    #: The most one job, or one repetition asked of a serving worker, may take
    #: (a bounded backend's memory job runs three churns).
    job_timeout: float = 600.0


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
            [1, 16], list(HTTP_BACKENDS), 0.3, 1, {"memory_files": 2_000},
        )  # fmt: skip
    else:
        # Seven rounds, and seven runserver repetitions: on a shared machine a
        # burst of load can slow a few rounds, and a median of seven moves only
        # once four are slow (of five, three); about 20 minutes on 2 cores.
        config = Config(
            "full", [1, 2, 4, 8], 7, 0.25, 2_000_000, list(DEFAULT_BACKENDS), list(SCENARIOS),
            [1, 4, 16], list(HTTP_BACKENDS), 1.0, 7,
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
    if args.duration:
        config.duration = args.duration
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


def serve_command(backend: str) -> list[str]:
    """The command line of *backend*'s serving worker (the tests put fakes in its place)."""
    return [sys.executable, "-m", "benchmarks.worker", "--serve", backend]


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Hand each line of *stream* to *lines*, then ``None`` at its end."""
    for line in stream:
        lines.put(line)
    lines.put(None)


class ServingWorker:
    """One backend's serving worker, asked for one repetition at a time.

    The process starts at the first question, and again at the next one after
    it died, hung or answered garbage (it is killed then): each answer is the
    figures, or ``{"error": ...}`` within *timeout* seconds, never a hang.
    """

    def __init__(self, backend: str, timeout: float) -> None:
        self.backend = backend
        self.timeout = timeout
        self.process: subprocess.Popen[str] | None = None
        self.stderr: IO[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()

    def _start(self) -> subprocess.Popen[str]:
        self.stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 -- closed in close()
        self.process = subprocess.Popen(
            serve_command(self.backend), cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.stderr, text=True,
        )  # fmt: skip
        self.lines = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=_pump, args=(self.process.stdout, self.lines), daemon=True).start()
        return self.process

    def ask(self, job: dict[str, Any]) -> dict[str, Any]:
        """The worker's answer to *job*: ``{"reps": [one repetition], ...}``, or an error."""
        process = self.process or self._start()
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
        except OSError:  # it died before it read the question
            return self._died()
        try:
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            self.close(kill=True)
            return {"error": f"timed out after {self.timeout:.0f} s"}
        if line is None:
            return self._died()
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            self.close(kill=True)
            return {"error": f"unreadable answer: {line.strip()[:200]}"}
        return answer

    def _died(self) -> dict[str, Any]:
        """The error of a worker that ended: the last line it wrote to stderr, or its status."""
        assert self.process is not None
        try:
            status = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            status = None
        said: list[str] = []
        if self.stderr is not None:
            self.stderr.seek(0)
            said = self.stderr.read().strip().splitlines()
        self.close(kill=True)
        return {"error": (said or [f"the worker ended (status {status})"])[-1][:300]}

    def close(self, *, kill: bool = False) -> None:
        """End the worker: it leaves once its stdin closes (killed if told to, or if it lingers)."""
        process, self.process = self.process, None
        if process is not None:
            if kill:
                process.kill()
            try:
                if process.stdin is not None:
                    process.stdin.close()
            except OSError:
                pass  # it is gone already
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None


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
    #: How many job timeouts it may take (three churn runs of large uploads take longer).
    timeouts: int = 1


def rounds(
    config: Config, backends: list[str] | None = None, threads: list[int] | None = None
) -> list[tuple[int, int, str]]:
    """The order one scenario's repetitions are asked in: ``(round, threads, backend)``.

    Round by round; in each, every thread count, and at each every backend in
    turn, so that the repetitions a ratio pairs are measured seconds apart.
    Odd rounds take the backends in reverse, so that none is always first
    (or always right after the same one). *backends* and *threads* default
    to the config's (see :func:`measured`).
    """
    backends = config.backends if backends is None else backends
    threads = config.threads if threads is None else threads
    order = []
    for round_ in range(config.repeats):
        turn = backends if round_ % 2 == 0 else backends[::-1]
        order += [(round_, n, backend) for n in threads for backend in turn]
    return order


def measured(config: Config, scenario: str) -> tuple[list[str], list[int]]:
    """The backends and thread counts *scenario* is measured at.

    A backend that names its scenarios (``Backend.scenarios``) sits the
    others out. A multi-process scenario takes only the backends that several
    processes share, at the thread counts in all that are multiples of
    ``procs.PROCESSES`` (8 threads: 4 processes of 2); any other, every
    backend and count of the config.
    """
    backends = [b for b in config.backends if b not in BACKENDS or _measures(BACKENDS[b], scenario)]
    if scenario not in PROCESS_SCENARIOS:
        return backends, list(config.threads)
    shared = [b for b in backends if b in BACKENDS and BACKENDS[b].shared]
    return shared, procs.thread_counts(config.threads)


def _measures(backend: Backend, scenario: str) -> bool:
    return backend.scenarios is None or scenario in backend.scenarios


def api_job(config: Config, scenario: str, backend: str, threads: int) -> Job:
    """The row of *backend* in *scenario* at *threads*; its payload is what a worker is asked."""
    payload = {"backend": backend, "scenario": scenario, "threads": threads}
    payload |= {"repeats": config.repeats, "duration": config.duration}
    payload |= {"max_ops": config.max_ops, "sizes": config.sizes}
    return Job("api", f"{scenario} · {backend} · {threads} thr", "benchmarks.worker", payload)


def plan(config: Config) -> list[Job]:
    """The memory jobs, the harsh churn jobs and the runserver job, each in a fresh process.

    The Storage API's rows are not jobs of their own: their repetitions are
    asked of serving workers in :func:`rounds`. The runserver part is one
    job for every backend, which measures them in turn (see ``httpbench``).
    """
    jobs = []
    if config.memory:
        for backend in config.backends:
            if backend in BACKENDS and not _measures(BACKENDS[backend], "memory"):
                continue
            payload: dict[str, Any] = {
                "backend": backend,
                "scenario": "memory",
                "sizes": config.sizes,
            }
            if backend in BACKENDS and BACKENDS[backend].server:
                # Its files are on the server: the server's figures, not this process's.
                payload["scenario"] = "server"
                label = f"server memory and time · {backend}"
                jobs.append(Job("server", label, "benchmarks.worker", payload))
                continue
            jobs.append(Job("memory", f"memory · {backend}", "benchmarks.worker", payload))
        for backend in config.backends:
            if backend in BACKENDS and BACKENDS[backend].bounded:
                payload = {"backend": backend, "scenario": "churn_runs", "mix": "harsh",
                           "sizes": config.sizes}  # fmt: skip
                label = f"churn, harsh mix · {backend}"
                jobs.append(Job("churn", label, "benchmarks.worker", payload, timeouts=2))
    if config.http_backends:
        payload = {
            "backends": list(config.http_backends),
            "clients": config.clients,
            "duration": config.http_duration,
            "repeats": config.http_repeats,
            "sizes": config.sizes,
        }
        label = "runserver · " + ", ".join(config.http_backends)
        jobs.append(Job("http", label, "benchmarks.httpbench", payload))
    return jobs


def _record(doc: dict[str, Any], job: Job, figures: dict[str, Any]) -> None:
    if job.kind == "http":  # one job for every backend; each row names its own
        for row in figures.get("rows", []):
            doc["http"].append({**row, **summarize(row["reps"])} if row.get("reps") else row)
        if "error" in figures:
            for backend in job.payload["backends"]:
                doc["http"].append(error_row(backend, figures["error"]))
        return
    base = {"backend": job.payload["backend"]}
    if job.kind == "churn":
        _record_churn(doc, base["backend"], figures)
    elif job.kind == "api":
        _record_api(doc, job, figures)
    else:  # memory, or the shared engine's server figures
        doc[job.kind if job.kind == "server" else "memory"].append({**base, **figures})


def _record_api(doc: dict[str, Any], job: Job, figures: dict[str, Any]) -> None:
    base = {"backend": job.payload["backend"], "scenario": job.payload["scenario"]}
    counts = job.payload["threads"]
    runs = figures.get("runs") or [{"threads": counts, "reps": figures.get("reps")}]
    for run in runs if "error" not in figures else []:
        doc["api"].append({**base, "threads": run["threads"]} | summarize(run["reps"]))
    if "error" in figures:
        for threads in counts if isinstance(counts, list) else [counts]:
            doc["api"].append({**base, "threads": threads} | {"error": figures["error"]})


def _record_churn(doc: dict[str, Any], backend: str, figures: dict[str, Any]) -> None:
    """A bounded backend's harsh churn, in its memory row beside the first churn."""
    row = next((r for r in doc["memory"] if r["backend"] == backend), None)
    if row is None:
        row = {"backend": backend}
        doc["memory"].append(row)
    row["churn_harsh"] = figures


def _churn_line(figures: dict[str, Any]) -> str:
    runs = ", ".join(f"{r['ratio']:.2f}x" for r in figures.get("runs", []) if r.get("ratio"))
    return f"resident above baseline / max_bytes {runs}" if runs else "measured"


def _memory_line(kind: str, figures: dict[str, Any]) -> str:
    """What a memory, churn or server job measured, in a few words."""
    if kind == "churn":
        return _churn_line(figures)
    if kind == "server":
        memory = figures.get("memory") or {}
        if not memory.get("bytes_per_file"):
            return "measured"
        return (
            f"{memory['bytes_per_file']:,.0f} B per file on the server, "
            f"{memory['ratio']:.2f}x the raw name and content"
        )
    held = figures.get("bytes_per_file")
    return f"{held:,.0f} B per file" if held is not None else "measured"


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
    elif job.kind in ("memory", "churn", "server"):
        parts.append(_memory_line(job.kind, figures))
    else:
        for row in figures.get("rows", []):
            who = f"{row['backend']} {row['method']}"
            if row.get("reps"):
                summary = summarize(row["reps"])
                faults = summary["wrong"] + summary["errors"]
                parts.append(
                    f"{who} {row['clients']} cl {_rate(summary['median'])}"
                    + (f" ({faults:,} wrong or failed)" if faults else "")
                )
            elif row.get("skipped"):
                parts.append(f"{who} skipped: {row['skipped']}")
            elif row.get("error"):
                parts.append(f"{row['backend']} error: {row['error'][:200]}")
    return ", ".join(parts or ["no figures"]) + f" ({seconds:.1f} s)"


@dataclass
class _Steps:
    """The run's steps for the progress callback: each is announced, then counted done."""

    total: int
    progress: Progress | None
    done: int = 0

    def start(self, label: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, label, None)

    def finish(self, label: str, line: str | None = None) -> None:
        self.done += 1
        if self.progress is not None and line is not None:
            self.progress(self.done, self.total, label, line)


def _measure_scenario(config: Config, scenario: str, doc: dict[str, Any], steps: _Steps) -> None:
    """Every row of *scenario*: one serving worker per backend, asked in :func:`rounds`.

    A row whose repetition failed (an error, a worker that died or hung) is an
    error row and is asked nothing more; the rows go into *doc* in table order.
    """
    backends, counts = measured(config, scenario)
    jobs = {(b, n): api_job(config, scenario, b, n) for b in backends for n in counts}
    workers = {backend: ServingWorker(backend, config.job_timeout) for backend in backends}
    reps: dict[tuple[str, int], list[dict[str, Any]]] = {key: [] for key in jobs}
    errors: dict[tuple[str, int], str] = {}
    seconds = dict.fromkeys(jobs, 0.0)
    try:
        for round_, threads, backend in rounds(config, backends, counts):
            key, job = (backend, threads), jobs[backend, threads]
            if key in errors:
                steps.finish(job.label)
                continue
            steps.start(f"{job.label} · round {round_ + 1}/{config.repeats}")
            began = time.monotonic()
            figures = workers[backend].ask(job.payload)
            seconds[key] += time.monotonic() - began
            if "error" in figures:
                errors[key] = figures["error"]
                steps.finish(job.label, step_line(job, figures, seconds[key]))
                continue
            reps[key] += figures["reps"]
            done = round_ == config.repeats - 1
            steps.finish(
                job.label, step_line(job, {"reps": reps[key]}, seconds[key]) if done else None
            )
    finally:
        for worker in workers.values():
            worker.close()
    for key, job in jobs.items():
        _record(doc, job, {"error": errors[key]} if key in errors else {"reps": reps[key]})


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
        "server": [],
        "http": [],
        "skipped": {},
    }
    if "dj210" in config.backends:
        why = ensure_peer_210()
        if why:
            config.backends.remove("dj210")
            doc["skipped"]["dj210"] = why
        doc["backends"] = machine.backends(config.backends, described)
    with contextlib.ExitStack() as stack:
        servers = [b for b in config.backends if b in BACKENDS and BACKENDS[b].server]
        if servers:
            why = _start_server(stack)
            for backend in servers if why else []:
                config.backends.remove(backend)
                doc["skipped"][backend] = why
            doc["backends"] = machine.backends(config.backends, described)
        _measure(config, doc, progress)
    doc["seconds"] = time.time() - started
    doc["goals"] = [goal.as_dict() for goal in goals.evaluate(doc)]
    return doc


def _measure(config: Config, doc: dict[str, Any], progress: Progress | None) -> None:
    """Every scenario's rows, then every job of :func:`plan`, into *doc*."""
    jobs = plan(config)
    total = sum(len(rounds(config, *measured(config, s))) for s in config.scenarios) + len(jobs)
    steps = _Steps(total, progress)
    for scenario in config.scenarios:
        _measure_scenario(config, scenario, doc, steps)
    for job in jobs:
        steps.start(job.label)
        began = time.monotonic()
        figures = _run_worker(job.module, job.payload, config.job_timeout * job.timeouts)
        _record(doc, job, figures)
        steps.finish(job.label, step_line(job, figures, time.monotonic() - began))


def _start_server(stack: contextlib.ExitStack) -> str:
    """Start the shared engine's Redis server for the run; why not, or ``""`` once it runs.

    Its URL goes to every worker process started from here on, in
    ``redisserver.URL_ENV`` (removed again when *stack* closes).
    """
    try:
        import redis  # noqa: F401  # only checked for: the workers import it
    except ImportError:
        return "redis-py is not installed (python -m pip install 'dj-inmemorystorage[redis]')"
    try:
        url = stack.enter_context(redisserver.running_server())
    except redisserver.NoServerError as exc:
        return str(exc)
    previous = os.environ.get(redisserver.URL_ENV)
    os.environ[redisserver.URL_ENV] = url

    def restore() -> None:
        if previous is None:
            os.environ.pop(redisserver.URL_ENV, None)
        else:
            os.environ[redisserver.URL_ENV] = previous

    stack.callback(restore)
    return ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (about two minutes)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--threads", help="more thread counts, comma-separated (e.g. 16,32)")
    parser.add_argument("--backends", help="comma-separated: " + ",".join(BACKENDS))
    parser.add_argument("--scenarios", help="comma-separated: " + ",".join(SCENARIOS))
    parser.add_argument("--repeats", type=int, help="repetitions per measurement")
    parser.add_argument(
        "--duration", type=float, help="seconds per repetition of a Storage API scenario"
    )
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
