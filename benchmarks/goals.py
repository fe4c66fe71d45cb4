"""The performance, memory and correctness goals (issues 14 and 22), checked against one run.

Each goal is one :class:`Goal` row, plain data in the JSON document: what is
compared (``backend`` against ``versus``, in ``scenario`` at ``threads`` or
``clients``), the target (``op`` and ``target_value`` in ``unit``), the
measured ``value`` and whether it is ``met``. The value is rounded to what the
report shows *before* it is compared, so a goal met at exactly its target
reads as met, and the verdict always agrees with the figure beside it.

A throughput ratio is :func:`benchmarks.ratios.ratio`: in an interleaved run,
the median of the per-round ratios, their min-max in the goal's note.
"""

from __future__ import annotations

import operator
from dataclasses import asdict, dataclass
from typing import Any

from . import ratios
from .procs import PROCESSES, thread_counts

#: Bytes still held per finished request thread that count as none (tracemalloc's
#: noise over 4,000 threads is well under 1 B a thread, about 2.5 KB in all; a
#: per-thread registration costs about 90 B).
NOISE_BYTES_PER_THREAD = 2.0
#: Decimals each unit is shown (and compared) with.
DECIMALS = {"x": 2, "B": 1}
OPS = {">=": operator.ge, "<=": operator.le}


@dataclass
class Goal:
    """One goal: what is compared, the target, the measured value, and whether it is met.

    ``goal``, ``target``, ``measured`` and ``met`` are what a report shows
    (``met`` is ``None`` where the run did not measure it; ``measured`` ends
    with the ``note``, figures that explain it, in parentheses); the other
    fields are the same as data. ``scenario`` is an API scenario's key, or
    the HTTP method of a runserver goal; a throughput goal (ours at least
    ``target_ratio`` times ``versus``, at ``threads`` or ``clients``) carries
    ``target_ratio``. Fields that do not apply are left out of the JSON.
    ``applies`` is False for a goal the run's own floor shows to be out of
    any storage's reach (``met`` is then None).
    """

    goal: str
    target: str
    measured: str
    met: bool | None
    id: str = ""
    kind: str = "api"
    backend: str = "ours"
    versus: str | None = None
    scenario: str | None = None
    threads: int | None = None
    clients: int | None = None
    op: str = ">="
    target_value: float = 0.0
    unit: str = "x"
    value: float | None = None
    stretch: float | None = None
    stretch_met: bool | None = None
    target_ratio: float | None = None
    note: str = ""
    #: False where the machine cannot allow the target (see :data:`RULES`): no verdict.
    applies: bool | None = None
    #: The run's own floor that decides whether the goal applies: its ratio, rounded as
    #: shown, and what it is, in a few words (``"round-trip floor"``).
    ceiling: float | None = None
    ceiling_of: str | None = None
    #: What failed the goal whatever its figure (saves lost), if anything.
    blocker: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the JSON document, without the fields that do not apply."""
        always = ("met", "value")
        return {k: v for k, v in asdict(self).items() if v is not None or k in always}


def _fmt(value: float, unit: str) -> str:
    return f"{value:,.{DECIMALS[unit]}f}{'x' if unit == 'x' else ' ' + unit}"


def _goal(
    name: str,
    value: float | None,
    op: str,
    target: float,
    unit: str = "x",
    *,
    stretch: float | None = None,
    blocker: str = "",
    **fields: Any,
) -> Goal:
    """A goal row: *value* rounded as shown, then compared; a *blocker* fails it regardless."""
    shown = f"{op} {_fmt(target, unit)}" + (f" (stretch {_fmt(stretch, unit)})" if stretch else "")
    if value is None:
        return Goal(name, shown, "not measured", None, op=op, target_value=target, unit=unit,
                    stretch=stretch, **fields)  # fmt: skip
    value = round(value, DECIMALS[unit])
    met = OPS[op](value, target) and not blocker
    context = "; ".join(filter(None, (blocker, fields.get("note", ""))))
    measured = _fmt(value, unit) + (f" ({context})" if context else "")
    return Goal(
        name, shown, measured, met, op=op, target_value=target, unit=unit, value=value,
        stretch=stretch, stretch_met=OPS[op](value, stretch) if stretch else None,
        blocker=blocker or None, **fields,
    )  # fmt: skip


def _row(rows: list[dict[str, Any]], **key: Any) -> dict[str, Any]:
    """A copy of the first of *rows* whose fields are *key*'s values, or ``{}``."""
    for row in rows:
        if all(row.get(field) == value for field, value in key.items()):
            return dict(row)
    return {}


def _spread(found: ratios.Ratio | None) -> dict[str, str]:
    """The note that gives a paired ratio's per-round spread (none for a ratio of medians)."""
    if found is None or not found.paired:
        return {}
    return {"note": f"per round {found.low:.2f}x-{found.high:.2f}x"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _api_ratio(
    doc: dict[str, Any],
    scenario: str,
    label: str,
    threads: int,
    target: float,
    versus: str,
    backend: str = "ours",
    **extra: Any,
) -> Goal:
    """The goal that *backend* / *versus* in *scenario* at *threads* is at least *target*."""
    mine = _row(doc["api"], backend=backend, scenario=scenario, threads=threads)
    other = _row(doc["api"], backend=versus, scenario=scenario, threads=threads)
    found = ratios.ratio(mine, other, in_turn=ratios.interleaved(doc))
    extra |= _spread(found)
    extra = _with_note(extra, extra.pop("round_trip", None))
    name = f"{label}, {_plural(threads, 'thread')}: {backend} / {versus}"
    blocker = ""
    if extra.pop("must_evict", False) and mine and not mine.get("evicted"):
        blocker = "the store did not evict"
    if extra.pop("distinct", False) and mine.get("lost"):
        blocker = f"{mine['lost']} saves lost or given a taken name"
    return _goal(
        name, found.value if found else None, ">=", target, blocker=blocker,
        id=f"{scenario}/{backend}/{versus}/{threads}",
        backend=backend, versus=versus, scenario=scenario, threads=threads, target_ratio=target,
        **extra,
    )  # fmt: skip


def _edges(doc: dict[str, Any]) -> list[int]:
    """The thread counts goals are checked at: the fewest, and 8 (or the most) measured."""
    threads = doc["config"]["threads"]
    return sorted({min(threads), 8 if 8 in threads else max(threads)})


def _busy(doc: dict[str, Any]) -> int:
    """The thread count of the 8-thread goals (the most measured, when 8 was not)."""
    threads = doc["config"]["threads"]
    return 8 if 8 in threads else max(threads)


def api_goals(doc: dict[str, Any]) -> list[Goal]:
    """Reads, exists(), listdir(), saves, saves into a full bounded store, of one name, mixed."""
    edges, busy = _edges(doc), _busy(doc)
    read, save = "open+read 4 KiB", "save 4 KiB"
    full = "save 4 KiB into a full bounded store that evicts"
    one = "saves of one name, each given its own"
    listing, probing = "listdir, 1,000-file dir", "exists, 1,000-file dir"
    goals = [_api_ratio(doc, "read_4k", read, n, 0.90, "floor", stretch=1.0) for n in edges]
    goals += [_api_ratio(doc, "exists", probing, n, 0.5, "floor") for n in edges]
    goals += [
        _api_ratio(doc, "listdir", listing, n, 1.0, versus, stretch=2.0)
        for versus in ("django", "dj210")
        for n in edges
    ]
    goals += [_api_ratio(doc, "save_4k", save, n, 2.0, "floor") for n in edges]
    goals += [_api_ratio(doc, "save_4k", save, n, 4.0, "dj210") for n in edges]
    goals += [
        _api_ratio(doc, "save_4k", full, n, 1.0, "floor", "ours-bounded", must_evict=True)
        for n in edges
    ]
    goals.append(_api_ratio(doc, "save_one_name", one, busy, 1.0, "floor", distinct=True))
    goals.append(_api_ratio(doc, "mixed", "mixed 90/10, 100 hot files", busy, 1.1, "locked-floor"))
    return goals


def _memory_row(doc: dict[str, Any], backend: str) -> dict[str, Any]:
    for row in doc.get("memory", []):
        if row["backend"] == backend and "error" not in row:
            return dict(row)
    return {}


def memory_goals(doc: dict[str, Any]) -> list[Goal]:
    """Write latency beside live readers, memory per request thread and per file, churn."""
    ours, floor = _memory_row(doc, "ours"), _memory_row(doc, "floor")
    latency = ours.get("latency", {})
    few, many = (min(latency["readers"]), max(latency["readers"])) if latency else (10, 1000)
    per_count = ", ".join(f"{n}: {us:.1f} us" for n, us in latency.get("median_us", {}).items())
    goals = [
        _goal(
            f"write latency (median save) with {many:,} live reader threads / with {few}",
            latency.get("ratio"),
            "<=",
            1.5,
            id="latency/ours",
            kind="latency",
            note=per_count,
        )
    ]
    others = {
        backend: _memory_row(doc, backend).get("retained", {}).get("bytes_per_thread")
        for backend in ("ours-bounded", "floor")
    }
    goals.append(
        _goal(
            "memory retained per finished request thread that read (ours)",
            ours.get("retained", {}).get("bytes_per_thread"),
            "<=",
            NOISE_BYTES_PER_THREAD,
            "B",
            id="retained/ours",
            kind="memory",
            note=", ".join(f"{b}: {v:.1f} B" for b, v in others.items() if v is not None),
        )
    )
    for backend, target in (("ours", 1.5), ("ours-bounded", 1.8)):
        mine = _memory_row(doc, backend)
        ratio = (
            mine["bytes_per_file"] / floor["bytes_per_file"]
            if mine.get("bytes_per_file") and floor.get("bytes_per_file")
            else None
        )
        files = mine.get("files") or floor.get("files") or 0
        kind = "bounded" if backend == "ours-bounded" else "unbounded"
        goals.append(
            _goal(
                f"bytes held per 100-byte file ({files:,} files), {kind}: {backend} / floor",
                ratio, "<=", target, id=f"bytes_per_file/{backend}/floor", kind="memory",
                backend=backend, versus="floor",
                note=(f"{mine['bytes_per_file']:.0f} B / {floor['bytes_per_file']:.0f} B"
                      if ratio else ""),
            )
        )  # fmt: skip
    bounded = _memory_row(doc, "ours-bounded")
    for key, mix in (("churn", "log-uniform"), ("churn_harsh", "harsh")):
        churn = bounded.get(key, {})
        runs = churn.get("runs", [])
        requests = runs[0]["requests"] if runs else 40_000
        what = "uploads and reads" if mix == "log-uniform" else "uploads and reads, harsh mix"
        for stat, target in (("median", 1.2), ("worst", 1.3)):
            goals.append(
                _goal(
                    f"resident memory above baseline / max_bytes after {requests:,}"
                    f" thread-per-request {what}, {stat} of {len(runs) or 3} runs",
                    churn.get(stat), "<=", target,
                    id=f"{key}/{stat}" if key == "churn_harsh" else f"churn/{stat}",
                    kind="memory", backend="ours-bounded", scenario=mix,
                    note=", ".join(f"{run['ratio']:.2f}x" for run in runs if run.get("ratio")),
                )
            )  # fmt: skip
    return goals


#: The least the HTTP floor must reach against FileSystemStorage for the FS goal to apply.
FS_TARGET = 1.5
#: How the report decides whether a runserver goal against FileSystemStorage applies.
FS_RULE = (
    "A runserver goal against FileSystemStorage (ours >= 1.5x FileSystemStorage + static.serve)"
    " applies at a client count only where the HTTP floor, a view that answers constant bytes"
    " and stores nothing, itself reached 1.5x FileSystemStorage in the same run (the median of"
    " its per-round ratios, shown with two decimals): where it did not, no view could, and the"
    " row gives the floor's own ratio instead of a verdict."
)
#: The server whose view keeps each upload's body in a dict and does nothing else: the least
#: an upload that is kept costs. The upload goal applies only where it reaches the target.
KEEPING_FLOOR = "http-floor-kept"
POST_RULE = (
    "A runserver upload goal (ours >= 0.95x the HTTP floor, whose view drops each body) applies"
    " at a client count only where the keeping floor, a view that keeps each body in a dict and"
    " does nothing else, itself reached 0.95x the HTTP floor in the same run: where it did not,"
    " no storage that keeps the upload could, and the row gives the keeping floor's own ratio"
    " instead of a verdict."
)
#: The server whose view answers GETs with the very headers ours sends, from constant bytes:
#: the least a view that answers as ours does costs. The GET goal applies only where it
#: reaches the target.
SAME_FLOOR = "http-floor-same"
GET_RULE = (
    "A runserver GET goal (ours >= 1.0x the HTTP floor, whose view answers constant bytes with"
    " two headers) applies at a client count only where the same-answer floor, a view that"
    " answers constant bytes with the headers ours sends (eight for the served file), itself"
    " reached 1.0x the HTTP floor in the same run: where it did not, no view that answers as"
    " ours does could, and the row gives the same-answer floor's own ratio instead of a verdict."
)
#: Per method, the floor that decides whether a goal against the HTTP floor applies, and
#: what its note calls it.
APPLIES_WHERE = {
    "GET": (SAME_FLOOR, "same-answer floor", "a view that answers ours' headers itself"),
    "POST": (KEEPING_FLOOR, "keeping floor", "a view that keeps each body itself"),
}
#: The runserver goals against the HTTP floor, per method: (title, target).
HTTP_FLOOR_TARGETS = {"GET": ("runserver GET 64 KiB", 1.0),
                      "POST": ("runserver POST 16 KiB upload", 0.95)}  # fmt: skip


def _http_ratio(
    doc: dict[str, Any], method: str, clients: int, versus: str, in_turn: bool
) -> ratios.Ratio | None:
    rows = doc.get("http", [])
    mine = _row(rows, backend="ours", method=method, clients=clients)
    theirs = _row(rows, backend=versus, method=method, clients=clients)
    return ratios.ratio(mine, theirs, in_turn=in_turn)


def _judged_by(
    goal: Goal, ceiling: ratios.Ratio | None, floor: str, beside: ratios.Ratio | None = None
) -> Goal:
    """*goal*, without its verdict where it is missed and *floor* itself misses the target too.

    The floor is what any store (or view) must at least do, measured in the
    same run; *ceiling* is its own ratio against what the goal compares with.
    Where the floor does not reach the target, nothing built on it can: the
    row then gives the floor's figure, and ours' against the floor
    (*beside*), instead of a verdict. A goal met stays met, and one failed
    for another reason (lost saves) stays failed. Nothing changes where the
    run did not measure the floor, or the floor's row has faults.
    """
    if ceiling is None or goal.value is None:
        return goal
    goal.ceiling, goal.ceiling_of = round(ceiling.value, DECIMALS["x"]), floor
    reached = OPS[goal.op]
    if goal.blocker or any(reached(v, goal.target_value) for v in (goal.value, goal.ceiling)):
        return goal
    goal.met = None
    goal.applies = False
    goal.measured += f": does not apply, the {floor} itself is under {goal.target_value:g}x"
    if beside is not None:
        goal.measured += f" (ours {beside.value:.2f}x the {floor})"
    return goal


def _with_note(extra: dict[str, Any], note: str | None) -> dict[str, Any]:
    """*extra* with *note* added after its own note, if any."""
    if note:
        extra["note"] = "; ".join(filter(None, (extra.get("note"), note)))
    return extra


def _floor_ratio(
    doc: dict[str, Any],
    floor: str,
    method: str,
    clients: int,
    in_turn: bool,
    versus: str = "http-floor",
) -> ratios.Ratio | None:
    """What the runserver server *floor* reached against *versus* (see :func:`_checked_ratio`)."""
    return _checked_ratio(
        doc.get("http", []), floor, versus, in_turn, method=method, clients=clients
    )


def _checked_ratio(
    rows: list[dict[str, Any]], backend: str, versus: str, in_turn: bool, **where: Any
) -> ratios.Ratio | None:
    """*backend* over *versus*, in the rows of *where*; None where either was not measured.

    A floor's row (:func:`_is_floor`) with faults counts as not measured:
    a floor is trusted only while it does every operation right.
    """
    pair = (_row(rows, backend=b, **where) for b in (backend, versus))
    return ratios.ratio(*(_sound(r) if _is_floor(r) else r for r in pair), in_turn=in_turn)


def _is_floor(row: dict[str, Any]) -> bool:
    return row.get("backend") in (ROUND_TRIP_FLOOR, KEEPING_FLOOR, SAME_FLOOR, "http-floor")


def _sound(row: dict[str, Any]) -> dict[str, Any]:
    """*row*, or ``{}`` where it read a wrong byte, failed an operation or lost a write."""
    faults = ("error", "wrong", "errors", "lost")
    return {} if any(row.get(field) for field in faults) else row


def _storage_floor_note(
    doc: dict[str, Any], method: str, clients: int, in_turn: bool
) -> str | None:
    """What the ``storage-floor`` server reached against the HTTP floor, said for *method*.

    Its uploads go into a ``dict`` behind Django's ``save()``: what the
    Storage API itself allows an upload. Its GETs are answered by the
    floor's own view, so their ratio is how far two servers running the same
    view drift apart in this run.
    """
    found = _floor_ratio(doc, "storage-floor", method, clients, in_turn)
    if found is None:
        return None
    if method == "POST":
        return f"a dict behind Django's Storage API itself {found.value:.2f}x"
    return f"the floor's own view on a second server {found.value:.2f}x"


def http_goals(doc: dict[str, Any]) -> list[Goal]:
    """runserver GET and POST against the HTTP floor, and GET against FileSystemStorage.

    At every client count: GET of 64 KiB at least 1.0x the HTTP floor, POST
    of a 16 KiB upload at least 0.95x; GET at least :data:`FS_TARGET` x
    FileSystemStorage where the floor itself reaches that (:data:`FS_RULE`):
    where runserver's own work is most of a request (one client on a small
    machine), no storage can beat FileSystemStorage by more than a view that
    does nothing at all does. The GET goal applies where the same-answer floor
    itself reaches it (:data:`GET_RULE`), the POST goal where the keeping floor
    does (:data:`POST_RULE`). Such a row has ``applies: false``
    and no verdict (``met`` is None), with the floor's figure beside ours.
    """
    in_turn = ratios.interleaved(doc, http=True)
    goals = []
    for clients in doc["config"].get("clients", []):
        for method, (title, target) in HTTP_FLOOR_TARGETS.items():
            found = _http_ratio(doc, method, clients, "http-floor", in_turn)
            floor, floor_name, floor_note = APPLIES_WHERE[method]
            deciding = _floor_ratio(doc, floor, method, clients, in_turn)
            beside = _floor_ratio(doc, "ours", method, clients, in_turn, floor)
            extra = _spread(found)
            if deciding:
                extra = _with_note(extra, f"{floor_note} {deciding.value:.2f}x")
            extra = _with_note(extra, _storage_floor_note(doc, method, clients, in_turn))
            goal = _goal(
                f"{title}, {_plural(clients, 'client')}: ours / http-floor",
                found.value if found else None, ">=", target,
                id=f"http/{method}/http-floor/{clients}", kind="http", versus="http-floor",
                scenario=method, clients=clients, target_ratio=target, **extra,
            )  # fmt: skip
            goals.append(_judged_by(goal, deciding, floor_name, beside))
        ceiling = ratios.ratio(
            _row(doc.get("http", []), backend="http-floor", method="GET", clients=clients),
            _row(doc.get("http", []), backend="fs", method="GET", clients=clients),
            in_turn=in_turn,
        )
        found = _http_ratio(doc, "GET", clients, "fs", in_turn)
        extra = _spread(found)
        if ceiling:
            extra = _with_note(extra, f"the HTTP floor itself {ceiling.value:.2f}x")
        goal = _goal(
            f"runserver GET 64 KiB, {_plural(clients, 'client')}: ours / fs",
            found.value if found else None, ">=", FS_TARGET,
            id=f"http/GET/fs/{clients}", kind="http", versus="fs",
            scenario="GET", clients=clients, target_ratio=FS_TARGET, **extra,
        )  # fmt: skip
        goals.append(_judged_by(goal, ceiling, "HTTP floor"))
    return goals


def _faults(doc: dict[str, Any]) -> tuple[int, int, int]:
    """Wrong reads, lost writes and checked operations of ours, in every part of the run."""
    ours = ("ours", "ours-bounded")
    rows = [r for r in doc["api"] + doc.get("http", []) if r["backend"] in ours]
    wrong = sum(r.get("wrong", 0) for r in rows)
    wrong += sum(r.get("errors", 0) for r in rows if "method" in r)  # failed HTTP requests
    lost = sum(r.get("lost", 0) for r in rows)
    checked = sum(r.get("checked", 0) for r in rows)
    for row in doc.get("memory", []):
        if row["backend"] not in ours:
            continue
        parts = [
            row.get(k) or {} for k in ("reader", "retained", "latency", "churn", "churn_harsh")
        ]
        wrong += sum(part.get("wrong", 0) for part in parts)
        lost += sum(part.get("lost", 0) for part in parts)
        checked += sum(part.get("checked", 0) for part in parts)
    return wrong, lost, checked


def correctness_goal(doc: dict[str, Any]) -> Goal:
    """No wrong read and no lost write of ours, anywhere in the run."""
    wrong, lost, checked = _faults(doc)
    name = "wrong reads and lost writes (ours, every scenario)"
    measured = f"{wrong} wrong, {lost} lost of {checked:,} checked"
    met = wrong == 0 and lost == 0 and checked > 0
    return Goal(
        name, "0", measured, met if checked else None, id="correctness", kind="correctness",
        op="<=", target_value=0, unit="", value=wrong + lost,
    )  # fmt: skip


#: The shared engine's backend key, and what its goals compare it with: FileSystemStorage
#: on /dev/shm, the only other store that several processes on one machine share.
SHARED = "ours-shared"
SHARED_VERSUS = "fs"
#: The round-trip floor: one bare SET or GET to the same server a call, nothing else.
ROUND_TRIP_FLOOR = "rtt-floor"
#: The shared engine's targets against FileSystemStorage: saves, reads (a network round trip
#: against a tmpfs read), and the server's bytes per 100-byte file over its name and content.
SHARED_SAVE_TARGET = 1.0
SHARED_READ_TARGET = 0.5
SERVER_MEMORY_TARGET = 4.0
#: How the report decides whether a shared engine's goal against FileSystemStorage applies.
SHARED_RULE = (
    "A shared engine's goal against FileSystemStorage applies at a thread count only where the"
    " round-trip floor, one bare SET or GET to the same Redis server a call and nothing else,"
    " itself reached its target against FileSystemStorage in the same run (the median of its"
    " per-round ratios, shown with two decimals): where it did not, no store that asks the"
    " server could, and the row gives the round-trip floor's own ratio instead of a verdict."
)

#: What every such rule leaves alone.
RULES_SPARE = (
    "Under each of these rules, a goal that ours met all the same stays met, and one failed by"
    " lost writes stays failed."
)
#: Every rule that takes a goal's verdict away, as the report prints them.
RULES = (FS_RULE, GET_RULE, POST_RULE, SHARED_RULE)


def rules(doc: dict[str, Any]) -> list[str]:
    """The rules that concern the run *doc* describes (over runserver, of the shared engine).

    Followed by :data:`RULES_SPARE` where there is any.
    """
    shared = any(row["backend"] == SHARED for row in doc.get("api", []))
    found = [
        *((FS_RULE, GET_RULE, POST_RULE) if doc.get("http") else ()),
        *((SHARED_RULE,) if shared else ()),
    ]
    return [*found, RULES_SPARE] if found else []


def shared_goals(doc: dict[str, Any]) -> list[Goal]:
    """The shared engine (issue 22) against FileSystemStorage on /dev/shm, in the same run.

    Saves at least 1.0x and reads at least 0.5x at the fewest and at 8
    threads, and from 4 processes (at the most threads in all that are a
    multiple of 4: 8 threads are 4 processes of 2), where the round-trip
    floor itself reaches that (:data:`SHARED_RULE`); no wrong read and no
    lost write anywhere; the server's bytes per 100-byte file at most 4x its
    raw name and content.
    """
    edges, busy = _edges(doc), _busy(doc)
    spread = thread_counts(doc["config"]["threads"])
    together = 8 if 8 in spread else max(spread, default=busy)
    goals = []
    for scenario, label, target in (
        ("save_4k", "save 4 KiB", SHARED_SAVE_TARGET),
        ("read_4k", "open+read 4 KiB", SHARED_READ_TARGET),
    ):
        saving = scenario.startswith("save")
        rows = [(scenario, label, n) for n in edges]
        rows.append((f"{scenario}_procs", f"{label} from {PROCESSES} processes", together))
        for key, title, n in rows:
            ceiling = _round_trip_ratio(doc, key, n)
            note = f"the round-trip floor itself {ceiling.value:.2f}x" if ceiling else None
            goal = _api_ratio(
                doc, key, title, n, target, SHARED_VERSUS, SHARED, distinct=saving,
                round_trip=note,
            )  # fmt: skip
            beside = _round_trip_ratio(doc, key, n, SHARED, ROUND_TRIP_FLOOR)
            goals.append(_judged_by(goal, ceiling, "round-trip floor", beside))
    return [*goals, shared_correctness_goal(doc), server_memory_goal(doc)]


def _round_trip_ratio(
    doc: dict[str, Any],
    scenario: str,
    threads: int,
    backend: str = ROUND_TRIP_FLOOR,
    versus: str = SHARED_VERSUS,
) -> ratios.Ratio | None:
    """*backend* over *versus* in *scenario* at *threads* (see :func:`_checked_ratio`).

    By default, the round-trip floor's own ratio to FileSystemStorage.
    """
    in_turn = ratios.interleaved(doc)
    return _checked_ratio(doc["api"], backend, versus, in_turn, scenario=scenario, threads=threads)


def _counts(rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Wrong reads, lost writes and checked operations of *rows* (a failed read is a wrong one)."""
    return (
        sum(r.get("wrong", 0) for r in rows),
        sum(r.get("lost", 0) for r in rows),
        sum(r.get("checked", 0) for r in rows),
    )


def shared_correctness_goal(doc: dict[str, Any]) -> Goal:
    """No wrong read and no lost write of the shared engine; FileSystemStorage's beside it."""
    wrong, lost, checked = _counts([r for r in doc["api"] if r["backend"] == SHARED])
    theirs = _counts([r for r in doc["api"] if r["backend"] == SHARED_VERSUS])
    note = (
        f"FileSystemStorage: {theirs[0]:,} wrong, {theirs[1]:,} lost of {theirs[2]:,}"
        if theirs[2]
        else ""
    )
    measured = f"{wrong} wrong, {lost} lost of {checked:,} checked" + (f" ({note})" if note else "")
    return Goal(
        f"wrong reads and lost writes ({SHARED}, every scenario)", "0",
        measured if checked else "not measured", wrong == 0 and lost == 0 if checked else None,
        id=f"correctness/{SHARED}", kind="correctness", backend=SHARED, op="<=",
        target_value=0, unit="", value=wrong + lost if checked else None, note=note,
    )  # fmt: skip


def server_memory_goal(doc: dict[str, Any]) -> Goal:
    """The server's ``used_memory`` per 100-byte file over the file's raw name and content."""
    row = next(
        (r for r in doc.get("server", []) if r["backend"] == SHARED and "error" not in r), {}
    )
    memory = row.get("memory") or {}
    raised = row.get("memory_listpack") or {}
    note = ""
    if memory:
        note = f"{memory['bytes_per_file']:.0f} B / {memory['raw_per_file']:.0f} B"
        if raised:
            note += f"; {raised['ratio']:.2f}x with {raised['setting']}"
    files = memory.get("files", 20_000)
    return _goal(
        f"server memory per 100-byte file ({files:,} files, used_memory) / its name and content",
        memory.get("ratio"), "<=", SERVER_MEMORY_TARGET,
        id=f"server_memory/{SHARED}", kind="memory", backend=SHARED, note=note,
    )  # fmt: skip


def evaluate(doc: dict[str, Any]) -> list[Goal]:
    """Every goal of issues 14 and 22, met or not (``met`` None: not measured in this run)."""
    return [
        *api_goals(doc), *memory_goals(doc), *http_goals(doc), *shared_goals(doc),
        correctness_goal(doc),
    ]  # fmt: skip
