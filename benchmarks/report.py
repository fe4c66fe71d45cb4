"""Presentation only: the JSON document as terminal tables, Markdown and two PNG figures.

Everything is read from the document itself (its rows, its goals, the labels
and versions it carries), so a scenario, backend or goal that the measuring
code adds shows up here without a change; the labels in the code are only the
fallback for documents written before they carried their own.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from . import goals, ratios, shared
from .backends import BACKENDS
from .machine import HTTP_LABELS
from .scenarios import SCENARIO_LABELS

if TYPE_CHECKING:
    from pathlib import Path

HTTP_METHODS = {"GET": "runserver GET 64 KiB", "POST": "runserver POST 16 KiB upload"}
#: The backend every ratio of the summary is taken against, per part of the run.
API_FLOOR = "floor"
HTTP_FLOOR = "http-floor"
#: One colour per backend in every panel (the HTTP floor takes the floor's).
COLORS = {
    key: f"C{i}"
    for i, key in enumerate(
        ("ours", "ours-bounded", "django", "dj210", "fs", "floor", "locked-floor")
    )
} | {"http-floor": "C5", "broken": "C7"}


def rate(value: float) -> str:
    """Operations per second, short: 1.23M, 456k, 789."""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def _label(key: str, doc: dict[str, Any] | None = None, *, http: bool = False) -> str:
    """A backend's label: the one the document carries, else the code's."""
    carried = ((doc or {}).get("http_servers" if http else "backends") or {}).get(key) or {}
    if carried.get("label"):
        return str(carried["label"])
    if http:
        return HTTP_LABELS.get(key, key)
    return BACKENDS[key].label if key in BACKENDS else key


def scenario_label(doc: dict[str, Any], scenario: str) -> str:
    """A scenario's title: the one the document carries, else the code's."""
    carried = doc.get("scenario_labels") or {}
    return str(carried.get(scenario) or SCENARIO_LABELS.get(scenario, scenario))


def method_label(doc: dict[str, Any], method: str) -> str:
    """The title of a runserver part (GET or POST): the document's, else the code's."""
    carried = doc.get("http_labels") or {}
    return str(carried.get(method) or HTTP_METHODS.get(method, method))


def _http_methods(doc: dict[str, Any]) -> list[str]:
    """The HTTP methods measured, in the order of the document's rows."""
    methods = [r["method"] for r in doc.get("http", []) if r.get("method", "-") != "-"]
    return list(dict.fromkeys(methods))


def _api_index(doc: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(r["backend"], r["scenario"], r["threads"]): r for r in doc["api"]}


def _http_index(doc: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(r["backend"], r["method"], r["clients"]): r for r in doc.get("http", [])}


def _ratio(row: dict[str, Any] | None, ref: dict[str, Any] | None, tag: str, in_turn: bool) -> str:
    found = ratios.ratio(row, ref, in_turn=in_turn)
    return f"{found.value:.2f}x {tag}" if found else ""


def _cell(
    row: dict[str, Any] | None,
    refs: list[tuple[dict[str, Any] | None, str]],
    *,
    in_turn: bool = False,
) -> list[str]:
    """The lines of one cell: median, min-max spread, ratios against the references.

    *in_turn*: the row and its references were measured round by round (see
    :func:`benchmarks.ratios.ratio`).
    """
    if row is None:
        return ["-"]
    if "error" in row:
        return ["error: " + row["error"][:60]]
    if "median" not in row:
        return ["skipped"]
    low, high = row.get("min", row["median"]), row.get("max", row["median"])
    lines = [f"{rate(row['median'])}/s", f"({rate(low)}-{rate(high)})"]
    shown = [_ratio(row, ref, tag, in_turn) for ref, tag in refs if ref is not row]
    return [*lines, " ".join(r for r in shown if r)]


def _faults(rows: list[dict[str, Any]], *, http: bool = False) -> str:
    """Wrong reads of all checked; lost writes, failed requests and evictions when there are any.

    In the Storage API tables, a read that raised is already among the wrong
    ones; over HTTP, failed requests (another status than 200, no answer, or
    a body cut short of its Content-Length) are counted apart.
    """
    wrong = sum(r.get("wrong", 0) for r in rows)
    lost = sum(r.get("lost", 0) for r in rows)
    checked = sum(r.get("checked", 0) for r in rows)
    evicted = sum(r.get("evicted", 0) for r in rows)
    errors = sum(r.get("errors", 0) for r in rows) if http else 0
    text = f"{wrong} / {checked:,}" + (f", {lost} lost" if lost else "")
    text += f", {errors:,} failed" if errors else ""
    return text + (f", {evicted:,} evicted" if evicted else "")


def api_tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[list[str]]]]]:
    """One table per scenario: a title, the headers, and rows of cells (each a list of lines)."""
    index = _api_index(doc)
    threads = doc["config"]["threads"]
    in_turn = ratios.interleaved(doc)
    tables = []
    for scenario in doc["config"]["scenarios"]:
        headers = ["backend", *[f"{n} thread{'s' if n > 1 else ''}" for n in threads]]
        headers.append("wrong reads / checked")
        rows = []
        measured = {b for (b, s, _n) in index if s == scenario}
        for backend in [b for b in doc["config"]["backends"] if b in measured]:
            cells = [[_label(backend, doc)]]
            for n in threads:
                refs = [
                    (index.get(("django", scenario, n)), "Django"),
                    (index.get(("floor", scenario, n)), "floor"),
                ]
                if backend == goals.SHARED:  # its goals are against FileSystemStorage
                    refs.append((index.get((goals.SHARED_VERSUS, scenario, n)), "FS"))
                cells.append(_cell(index.get((backend, scenario, n)), refs, in_turn=in_turn))
            mine = [r for (b, s, _n), r in index.items() if (b, s) == (backend, scenario)]
            cells.append([_faults(mine)])
            rows.append(cells)
        tables.append((scenario_label(doc, scenario), headers, rows))
    return tables


def http_tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[list[str]]]]]:
    """One table per HTTP method: clients across, backends down, ratios to FS and to the floor."""
    if not doc.get("http"):
        return []
    index = _http_index(doc)
    in_turn = ratios.interleaved(doc, http=True)
    clients = doc["config"]["clients"]
    backends = list(doc["config"]["http_backends"])
    tables = []
    for method in _http_methods(doc):
        title = method_label(doc, method)
        headers = ["server", *[f"{n} client{'s' if n > 1 else ''}" for n in clients]]
        headers.append("wrong / checked, failed requests")
        rows = []
        for backend in backends:
            cells = [[_label(backend, doc, http=True)]]
            for n in clients:
                refs = [
                    (index.get(("fs", method, n)), "FS"),
                    (index.get(("http-floor", method, n)), "floor"),
                ]
                cells.append(_cell(index.get((backend, method, n)), refs, in_turn=in_turn))
            mine = [r for (b, m, _n), r in index.items() if (b, m) == (backend, method)]
            if not mine and (backend, "-", 0) not in index:  # no error row either
                continue  # a server not measured for this method (a GET-only floor)
            skipped = next((r.get("skipped") for r in mine if r.get("skipped")), None)
            cells.append([skipped or _faults(mine, http=True)])
            rows.append(cells)
        tables.append((title, headers, rows))
    return tables


def _beyond_content(row: dict[str, Any]) -> str:
    """Bytes held beyond the content, never negative.

    A backend that keeps the content on disk holds less than the content in
    memory: what it holds is all overhead, and the content is on disk. A
    measured value below zero elsewhere is noise around nothing: it reads 0.
    """
    overhead = row.get("overhead_per_file")
    if overhead is None:
        return "-"
    if row.get("disk_bytes_per_file"):
        return f"{row['bytes_per_file']:,.0f} (content on disk)"
    return f"{max(0.0, overhead):,.0f}"


def memory_table(doc: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]]:
    """Bytes held per small file, and the extra bytes each reader of a 1 MiB file costs."""
    headers = [
        "backend",
        "bytes held per file",
        "beyond the content",
        "on disk per file",
        "1 MiB read: extra bytes per reader",
    ]
    rows = []
    for row in doc.get("memory", []):
        label = _label(row["backend"], doc)
        if "error" in row:
            rows.append([[label], ["error: " + row["error"][:60]], [""], [""], [""]])
            continue
        reader = row.get("reader") or {}
        disk = row.get("disk_bytes_per_file")
        files = row.get("files", 0)
        kept = row.get("kept", files)
        held = row.get("bytes_per_file")
        extra = reader.get("extra_per_reader")
        rows.append(
            [
                [label + (f" ({kept:,} kept)" if kept != files else "")],
                [f"{max(0.0, held):,.0f}" if held is not None else "-"],
                [_beyond_content(row)],
                [f"{disk:,.0f}" if disk else "-"],
                [
                    (f"{max(0.0, extra):,.0f}" if extra is not None else "-")
                    + (f" ({reader['wrong']} wrong)" if reader.get("wrong") else "")
                ],
            ]
        )
    files = next((r["files"] for r in doc.get("memory", []) if "files" in r), 0)
    return (f"memory: {files:,} files of 100 bytes (tracemalloc)", headers, rows)


def server_tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[list[str]]]]]:
    """The shared engine's server: bytes per file by structure, and where a call's time goes."""
    tables = []
    for row in doc.get("server", []):
        label = _label(row["backend"], doc)
        if "error" in row:
            tables.append((f"{label}: server figures", ["error"], [[[row["error"][:200]]]]))
            continue
        memory, raised = row.get("memory") or {}, row.get("memory_listpack") or {}
        if memory:
            tables.append(_server_memory_table(label, memory, raised))
        timing = row.get("time")
        if timing:
            tables.append(_time_table(label, timing))
    return tables


def _server_memory_table(
    label: str, memory: dict[str, Any], raised: dict[str, Any]
) -> tuple[str, list[str], list[list[list[str]]]]:
    """Bytes the server holds per 100-byte file, by kind of key (MEMORY USAGE), and in all."""
    alongside = {s["structure"]: s for s in raised.get("structures", [])}
    setting = raised.get("setting", "")
    headers = ["structure", "encoding", "bytes per file", "share"]
    if raised:
        headers.append(f"with {setting}")
    rows = []
    for found in memory["structures"]:
        other = alongside.get(found["structure"])
        cells = [[found["structure"]], [found["encoding"]], [f"{found['bytes_per_file']:,.1f}"],
                 [f"{found['share']:.0%}"]]  # fmt: skip
        if raised:
            cells.append(
                [f"{other['bytes_per_file']:,.1f} ({other['encoding']})" if other else "-"]
            )
        rows.append(cells)
    held = memory["bytes_per_file"]
    unkeyed = memory["rest_per_file"]
    rest = [["the rest (the keyspace's table, allocator rounding)"], [""],
            [f"{unkeyed:,.1f}"], [f"{unkeyed / held:.0%}"]]  # fmt: skip
    whole = [["in all: used_memory after - before, per file"], [""], [f"{held:,.1f}"],
             [f"{memory['ratio']:.2f}x the raw {memory['raw_per_file']} B"]]  # fmt: skip
    if raised:
        rest.append([f"{raised['rest_per_file']:,.1f}"])
        whole.append([f"{raised['bytes_per_file']:,.1f} ({raised['ratio']:.2f}x)"])
    rows += [rest, whole]
    title = f"{label}: server memory, {memory['files']:,} files of 100 bytes (INFO used_memory)"
    return (title, headers, rows)


def _time_table(label: str, timing: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]]:
    """Microseconds of one save and one read, by layer, from one thread."""
    save, read = shared.split_rows(timing["save"]), shared.split_rows(timing["read"])
    rows = [
        [[what], [f"{us_save:,.1f}"], [f"{us_read:,.1f}"]]
        for (what, us_save), (_same, us_read) in zip(save, read, strict=True)
    ]
    rows.append([["in all: the Storage API call"], [f"{timing['save']['storage']:,.1f}"],
                 [f"{timing['read']['storage']:,.1f}"]])  # fmt: skip
    rows.append([["beside it: a bare PING round trip"], [f"{timing['ping']:,.1f}"], [""]])
    title = (
        f"{label}: where the time of one {timing['size'] // 1024} KiB save and read goes "
        f"(us, one thread, the fastest of {timing['passes']} passes of {timing['ops']:,})"
    )
    return (title, ["layer", "save", "open+read"], rows)


def goals_table(doc: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]]:
    """The goals beside the measured values, marked met, NOT MET, n/a or not measured."""
    marks = {"met": "met", "missed": "NOT MET", "n/a": "n/a", "?": "not measured"}
    rows = [
        [[str(g.get("goal", ""))], [str(g.get("target", ""))], [str(g.get("measured", ""))],
         [marks[_verdict(g)]]]
        for g in doc.get("goals", [])
    ]  # fmt: skip
    return ("goals", ["goal", "target", "measured", "met?"], rows)


_COUNT = re.compile(r", (?P<n>\d+) (?P<unit>threads?|clients?)(?=:|$)")


def _family(goal: dict[str, Any]) -> tuple[str, str | None]:
    """A goal's name without its thread or client count, and the count as words (or None)."""
    name = str(goal.get("goal", ""))
    found = _COUNT.search(name)
    if not found:
        return name, None
    return name[: found.start()] + name[found.end() :], f"{found['n']} {found['unit']}"


def short_goals_table(doc: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]]:
    """The goals in a few lines: one per goal at every count, with its values and verdict."""
    families: dict[tuple[str, str], list[tuple[str | None, dict[str, Any]]]] = {}
    for goal in doc.get("goals", []):
        name, count = _family(goal)
        families.setdefault((name, str(goal.get("target", ""))), []).append((count, goal))
    rows = []
    for (name, target), members in families.items():
        values = []
        for count, goal in members:
            shown = goal.get("measured", "") if count is None else _fmt_value(goal)
            values.append(f"{count}: {shown}" if count else str(shown))
        verdicts = [(_verdict(goal), count) for count, goal in members]
        rows.append([[name], [target], ["; ".join(values)], [_verdict_words(verdicts)]])
    return ("goals, in short", ["goal", "target", "ours", "verdict"], rows)


def _fmt_value(goal: dict[str, Any]) -> str:
    value = goal.get("value")
    if value is None:
        return "not measured"
    return f"{value:.2f}x" if goal.get("unit", "x") == "x" else f"{value:g} {goal.get('unit')}"


def _verdict_words(verdicts: list[tuple[str, str | None]]) -> str:
    """``met``; or what was missed (and what does not apply), and where."""
    words = []
    for verdict, word in (("missed", "MISSED"), ("n/a", "n/a"), ("?", "not measured")):
        where = [count for v, count in verdicts if v == verdict]
        if where:
            at = " at " + ", ".join(c for c in where if c) if any(where) else ""
            words.append(word + at)
    met = sum(v == "met" for v, _c in verdicts)
    if met and words:
        words.append("met elsewhere")
    return "; ".join(words) or "met"


def churn_table(doc: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]] | None:
    """Resident memory after each churn run, beside what glibc's allocator says it holds."""
    headers = ["mix", "run", "RSS above baseline / max_bytes", "store holds",
               "malloc: in use", "free in arenas", "arenas in all", "saves renamed"]  # fmt: skip
    rows = []
    mib = 1024 * 1024
    for row in doc.get("memory", []):
        for key in ("churn", "churn_harsh"):
            churn = row.get(key) or {}
            for run in churn.get("runs", []):
                info = run.get("malloc") or {}

                def size(value: int | None) -> str:
                    return f"{value / mib:,.0f} MiB" if value is not None else "-"

                rows.append([
                    [run.get("mix", "log-uniform")], [str(run.get("seed", ""))],
                    [f"{run['ratio']:.2f}x" if run.get("ratio") else "-"],
                    [size(run.get("bytes_used"))], [size(info.get("in_use"))],
                    [size(info.get("free_in_arenas"))], [size(info.get("arena_bytes"))],
                    [f"{run.get('renamed', 0):,} of {run.get('requests', 0):,}"],
                ])  # fmt: skip
    if not rows:
        return None
    return ("resident memory after churn (ours, max_bytes=64 MiB)", headers, rows)


def backends_table(doc: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]]:
    """What each backend key of the document is, and the version of what it runs."""
    rows = []
    for part, key_of in (("Storage API", "backends"), ("runserver", "http_servers")):
        for key, info in (doc.get(key_of) or {}).items():
            rows.append([[f"`{key}`"], [part], [str(info.get("label", key))],
                         [str(info.get("version", ""))]])  # fmt: skip
    return ("backends", ["key", "part", "label", "runs"], rows)


def machine_line(doc: dict[str, Any]) -> str:
    """One sentence describing the machine and the software versions."""
    m = doc["machine"]
    return (
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), {m['platform']}, {m['python_implementation']} "
        f"{m['python']}, Django {m['django']}, dj-inmemorystorage {m['dj_inmemorystorage']} "
        f"(commit {m['commit']}); FileSystemStorage on {m['filesystem_storage_on']}"
    )


def _all_tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[list[str]]]]]:
    """The goals first (the verdict), then every measurement, then what each backend is."""
    tables = [goals_table(doc), *api_tables(doc), *http_tables(doc)]
    if doc.get("memory"):
        tables.append(memory_table(doc))
        churns = churn_table(doc)
        if churns:
            tables.append(churns)
    tables += server_tables(doc)
    if doc.get("backends") or doc.get("http_servers"):
        tables.append(backends_table(doc))
    return tables


def terminal(doc: dict[str, Any], console: Any) -> None:
    """Print every table with rich."""
    from rich.table import Table

    for title, headers, rows in _all_tables(doc):
        table = Table(title=title, show_lines=True)
        for header in headers:
            table.add_column(header)
        for row in rows:
            table.add_row(*("\n".join(line for line in cell if line) for cell in row))
        console.print(table)
    for backend, why in doc.get("skipped", {}).items():
        console.print(f"skipped {backend}: {why}")
    for rule in goals.rules(doc):
        console.print(rule)
    console.print(goals_sentence(doc))
    console.print(machine_line(doc))
    console.print(f"{doc['seconds']:.0f} s in all")


def method_sentence(doc: dict[str, Any]) -> str:
    """How the report's figures and ratios are computed, for the run *doc* describes."""
    if not ratios.interleaved(doc):
        return (
            "Throughput is the median of the repetitions, (min-max) below it; ratios against "
            "Django's InMemoryStorage and the unlocked floor come from the same run."
        )
    over_http = (
        "over runserver too, every server up at once and measured in turn"
        if ratios.interleaved(doc, http=True)
        else "over runserver, ratios are of medians"
    )
    return (
        "Throughput is the median of the repetitions, (min-max) below it. The Storage API's "
        "repetitions were measured in rounds, every backend in turn, so its ratios are medians "
        "of per-round ratios of repetitions measured in turn (against Django's InMemoryStorage "
        f"and the unlocked floor of the same run); {over_http}."
    )


def goals_sentence(doc: dict[str, Any]) -> str:
    """How many goals the run met, missed, could not apply, or did not measure."""
    counts = goal_counts(doc)
    judged = counts["met"] + counts["missed"]
    text = f"Goals: {counts['met']} of {judged} met"
    if counts["n/a"]:
        text += f"; {counts['n/a']} that this machine's own floors do not allow"
    if counts["?"]:
        text += f"; {counts['?']} not measured in this run"
    return text + "."


#: Where the results end and the method and every table begin, in the Markdown: a page
#: can include the results alone (MyST's ``:end-before:``) and the rest later.
DETAILS_MARK = "<!-- details -->"


def _md_table(title: str, headers: list[str], rows: list[list[list[str]]]) -> list[str]:
    out = ["", f"**{title}**", "", "| " + " | ".join(headers) + " |"]
    out.append("|" + "---|" * len(headers))
    out += [
        "| " + " | ".join("<br>".join(line for line in cell if line) for cell in row) + " |"
        for row in rows
    ]
    return out


def markdown(doc: dict[str, Any], images: dict[str, str] | None = None) -> str:
    """The results first (the summary figure, the goals in short), then the method and tables.

    *images* maps ``"summary"`` and ``"detail"`` to the figures' paths relative
    to the Markdown file: the summary comes first, the per-thread panels last.
    :data:`DETAILS_MARK` stands between the results and the rest.
    """
    images = images or {}
    out = []
    if "summary" in images:
        out += [f"![{summary_title(doc)}]({images['summary']})", ""]
    out.append(goals_sentence(doc))
    out += _md_table(*short_goals_table(doc))
    for rule in goals.rules(doc):
        out += ["", rule]
    out += ["", DETAILS_MARK, ""]
    out += [
        (
            f"Command: `{doc.get('command', 'nox -s bench')}`, {doc['started']}, "
            f"{doc['seconds']:.0f} s."
        ),
        "",
        f"Machine: {machine_line(doc)}.",
    ]
    out += ["", method_sentence(doc)]
    for title, headers, rows in _all_tables(doc):
        out += _md_table(title, headers, rows)
    for backend, why in doc.get("skipped", {}).items():
        out += ["", f"Skipped {backend}: {why}"]
    if "detail" in images:
        out += ["", f"![Throughput against threads and clients, per backend]({images['detail']})"]
    return "\n".join(out) + "\n"


# The summary figure: one row per scenario (and thread or client count), each
# backend a dot at its throughput over the floor's in the same run; the goals
# of ours as red marks on the row and as words in a column beside it.


def _count_shown(counts: list[int], preferred: int) -> int:
    """The thread or client count the summary shows: *preferred* where measured, else the most."""
    return preferred if preferred in counts else max(counts)


def _faulty(row: dict[str, Any], *, http: bool) -> int:
    """Wrong reads, lost writes and (over HTTP) failed requests of one row."""
    faults = row.get("wrong", 0) + row.get("lost", 0)
    return faults + (row.get("errors", 0) if http else 0)


_GOAL_TEXT = re.compile(
    r"^(?P<label>.+?), (?P<count>\d+) (?:threads?|clients?): "
    r"(?P<backend>[\w.-]+) / (?P<versus>[\w.-]+)\s*$"
)
_TARGET = re.compile(r">=\s*(?P<ratio>[0-9.]+)\s*x")

#: How a goal's label names what it compares against: short, and each in the legend.
SHORT = {
    "floor": "floor",
    "http-floor": "floor",
    "locked-floor": "locked floor",
    "dj210": "2.1.0",
    "fs": "FS",
    "django": "Django",
    "ours-bounded": "bounded",
    "ours-shared": "shared",
}
#: The widest line of a row's goal column, in characters: longer ones wrap.
GOAL_COLUMN_CHARS = 44


def _goal_parts(
    goal: dict[str, Any], titles: dict[str, str]
) -> tuple[str, int, str, float, str] | None:
    """A ratio goal's (group, count, versus, target, backend), or None for any other goal.

    Goals may carry these as fields (``scenario``, ``threads`` or ``clients``,
    ``versus``, ``target_ratio``, ``backend``); older documents only as text,
    read as ``"<scenario title>, <n> threads: ours / <backend>"`` and ``">= 0.75x"``.
    """
    if {"scenario", "versus", "target_ratio"} <= goal.keys():
        count = goal.get("threads", goal.get("clients"))
        if count is None:
            return None
        return (str(goal["scenario"]), int(count), str(goal["versus"]),
                float(goal["target_ratio"]), str(goal.get("backend", "ours")))  # fmt: skip
    text = _GOAL_TEXT.match(str(goal.get("goal", "")))
    target = _TARGET.search(str(goal.get("target", "")))
    if not text or not target:
        return None
    group = next((key for key, title in titles.items() if title == text["label"]), None)
    if group is None:
        return None
    return group, int(text["count"]), text["versus"], float(target["ratio"]), text["backend"]


def _verdict(goal: dict[str, Any]) -> str:
    """``met``, ``missed``, ``n/a`` (the machine does not allow it) or ``?`` (not measured)."""
    if goal.get("applies") is False:
        return "n/a"
    return {True: "met", False: "missed"}.get(goal.get("met"), "?")


def summary(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary figure's data: rows of each backend's ratio to the floor, and ours' goals.

    A row is a scenario at the thread count shown (8, or the most measured),
    or a runserver method at each client count; a ratio goal that the run
    missed at another thread count gets a row of its own, so that every
    missed goal shows. Each row has ``key``, ``part`` (``api`` or ``http``),
    ``title``, ``count``, ``unit`` and ``bars`` (``backend``, ``label``,
    ``ratio``, ``low``, ``high``, ``faults``, ``ours``); ``goals`` are dicts
    with ``at`` (where ours must reach, over the floor: a goal against
    another backend is its target times that backend's ratio; None where it
    does not apply), ``label`` (``">= 4x 2.1.0"``) and ``verdict``.
    """
    api = _api_index(doc)
    http = _http_index(doc)
    threads = doc["config"]["threads"]
    shown = _count_shown(threads, 8)
    missed_elsewhere = {
        (parts[0], parts[1])
        for goal in doc.get("goals", [])
        if goal.get("met") is False
        and goal.get("kind", "api") == "api"
        and (parts := _goal_parts(goal, {s: scenario_label(doc, s) for s in api_keys(doc)}))
        and parts[1] != shown
    }
    rows: list[dict[str, Any]] = []
    for scenario in doc["config"]["scenarios"]:
        others = sorted(n for s, n in missed_elsewhere if s == scenario and n in threads)
        counts = [shown, *others]
        rows += [
            _group(
                doc, ("api", scenario, scenario_label(doc, scenario)), (n, "threads"),
                doc["config"]["backends"], API_FLOOR,
                lambda b, s=scenario, n=n: api.get((b, s, n)), http=False,
            )
            for n in counts
        ]  # fmt: skip
    if doc.get("http"):
        rows += [
            _group(
                doc, ("http", method, method_label(doc, method)), (n, "clients"),
                doc["config"]["http_backends"], HTTP_FLOOR,
                lambda b, m=method, n=n: http.get((b, m, n)), http=True,
            )
            for method in _http_methods(doc)
            for n in doc["config"]["clients"]
        ]  # fmt: skip
    rows = [r for r in rows if r["bars"]]
    titles = {r["key"]: r["title"] for r in rows}
    for goal in doc.get("goals", []):
        parts = _goal_parts(goal, titles)
        if parts is None:
            continue
        key, count, versus, target, backend = parts
        row = next((r for r in rows if (r["key"], r["count"]) == (key, count)), None)
        if row is None:
            continue
        verdict = _verdict(goal)
        who = f"{SHORT.get(backend, backend)} " if backend != "ours" else ""
        label = f"{who}≥ {target:g}x {SHORT.get(versus, versus)}"
        if versus in (API_FLOOR, HTTP_FLOOR):
            at: float | None = target
        else:
            other = next((b for b in row["bars"] if b["backend"] == versus), None)
            at = target * other["ratio"] if other is not None else None
        if verdict == "n/a":
            label += _ceiling_words(goal)
            at = None
        row["goals"].append({"at": at, "label": label, "verdict": verdict, "backend": backend})
    return rows


def _ceiling_words(goal: dict[str, Any]) -> str:
    """What the floor that took a verdict away reached: ``" (HTTP floor itself 1.22x)"``."""
    if goal.get("ceiling") is not None:
        return f" ({goal['ceiling_of']} itself {goal['ceiling']:.2f}x)"
    # A document from before the goals carried their ceiling: the FS goal's note says it.
    found = re.search(r"the HTTP floor itself ([0-9.]+x)", str(goal.get("note", "")))
    return f" (floor itself {found[1]})" if found else ""


def api_keys(doc: dict[str, Any]) -> list[str]:
    """The Storage API scenarios of *doc*, in its order."""
    return list(doc["config"]["scenarios"])


def _group(
    doc: dict[str, Any],
    named: tuple[str, str, str],
    counted: tuple[int, str],
    backends: list[str],
    floor: str,
    lookup: Any,
    *,
    http: bool,
) -> dict[str, Any]:
    """One row's dots: each backend's ratio to the floor (none without the floor).

    The ratio and its spread are :func:`benchmarks.ratios.ratio`'s: per-round
    ratios where the part was measured in turn, else medians.
    """
    (part, key, title), (count, unit) = named, counted
    base = lookup(floor)
    in_turn = ratios.interleaved(doc, http=http)
    bars = []
    for backend in backends:
        row = lookup(backend)
        found = ratios.ratio(row, base, in_turn=in_turn) if backend != floor else None
        if found is None:
            continue
        bars.append(
            {
                "backend": backend,
                # A server of the runserver part alone (no Storage API row) goes by its own label.
                "label": _label(backend, doc, http=http and backend not in BACKENDS),
                "ratio": found.value,
                "low": found.low,
                "high": found.high,
                "faults": _faulty(row, http=http),
                "ours": backend.startswith("ours"),
            }
        )
    return {"key": key, "part": part, "title": title, "count": count, "unit": unit,
            "bars": bars, "goals": []}  # fmt: skip


def other_goals(doc: dict[str, Any]) -> tuple[int, int, list[dict[str, Any]]]:
    """The goals no row of the summary shows: how many, how many met, and the missed ones.

    Besides the memory, latency and correctness goals, a throughput goal whose
    row the summary does not draw (a scenario without the floor, such as the
    multi-process ones) is one of these.
    """
    titles = {s: scenario_label(doc, s) for s in api_keys(doc)}
    titles |= {m: method_label(doc, m) for m in _http_methods(doc)}
    drawn = {(row["key"], row["count"]) for row in summary(doc)}
    rest = [
        g
        for g in doc.get("goals", [])
        if (parts := _goal_parts(g, titles)) is None or (parts[0], parts[1]) not in drawn
    ]
    return (
        len(rest),
        sum(g.get("met") is True for g in rest),
        [g for g in rest if g.get("met") is False],
    )


def goal_counts(doc: dict[str, Any]) -> dict[str, int]:
    """How many goals the run met, missed, could not apply, and did not measure."""
    counts = dict.fromkeys(("met", "missed", "n/a", "?"), 0)
    for goal in doc.get("goals", []):
        counts[_verdict(goal)] += 1
    return counts


def summary_title(doc: dict[str, Any]) -> str:
    """The summary figure's title (also its alt text)."""
    counts = goal_counts(doc)
    judged = counts["met"] + counts["missed"]
    verdict = f": {counts['met']} of {judged} goals met" if judged else ""
    return f"Throughput of each backend over a floor, higher is better{verdict}"


#: One colour per backend in both figures: ours in strong blues, the others muted.
PALETTE = {
    "ours": "#0b4f9c",
    "ours-bounded": "#5b9bd5",
    "ours-shared": "#0f9fb5",
    "django": "#c9a227",
    "dj210": "#8c6bb1",
    "fs": "#7f7f7f",
    "floor": "#59a14f",
    "http-floor": "#59a14f",
    "http-floor-kept": "#b6d7a8",
    "http-floor-same": "#8cd17d",
    "locked-floor": "#e17c05",
    "rtt-floor": "#e377c2",
    "storage-floor": "#9c755f",
    "broken": "#b07aa1",
}
VERDICT_COLORS = {"met": "#1a7f37", "missed": "#c00000", "n/a": "#555555", "?": "#555555"}
GOAL_COLOR = "#c00000"
#: The figure's width in inches, and the dots per inch it is saved at: 1,760 px wide,
#: drawn for 880 px (the README's column), where a point of text is 1.39 px.
SUMMARY_WIDTH = 8.8
SUMMARY_DPI = 200
#: Font sizes (points) of the summary: at 880 px, the smallest is 11 px tall.
FONT = {"title": 11.0, "panel": 9.5, "text": 8.0}


def _colors(keys: list[str]) -> dict[str, str]:
    """The palette's colour for each key; a backend it does not know gets a spare one."""
    spare_ours = iter(["#8fbbe8", "#2a6fbb", "#b5d3f0"])
    spare = iter(["#9c755f", "#e15759", "#76b7b2", "#edc948", "#ff9da7", "#bab0ac"])
    return {
        key: PALETTE.get(key)
        or (next(spare_ours, "#8fbbe8") if key.startswith("ours") else next(spare, "#bbbbbb"))
        for key in keys
    }


def _legend_label(key: str, label: str) -> str:
    """A backend's label, with the short name the goals use where the label lacks it."""
    short = SHORT.get(key)
    return label if short is None or short in label else f"{label} ({short})"


def _row_label(row: dict[str, Any]) -> str:
    """A row's title, wrapped to the label column, and its thread or client count."""
    import textwrap

    count = f"{row['count']} {row['unit'] if row['count'] != 1 else row['unit'][:-1]}"
    title = row["title"].removeprefix("runserver ")
    return "\n".join([*textwrap.wrap(title, 24), f"({count})"])


def _row_lines(row: dict[str, Any]) -> int:
    return max(_row_label(row).count("\n") + 1, len(_goal_words(row)), 2)


def _goal_words(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The goal column of a row: (text, colour) lines, ours' ratio first."""
    ours = next((b for b in row["bars"] if b["backend"] == "ours"), None)
    lines = [(f"ours {ours['ratio']:.2f}x" if ours else "ours: -", PALETTE["ours"])]
    for goal in row["goals"]:
        word = {"met": "met", "missed": "MISSED", "n/a": "n/a", "?": "not measured"}[
            goal["verdict"]
        ]
        text = f"{goal['label']}: {word}"
        lines += [(part, VERDICT_COLORS[goal["verdict"]]) for part in _wrapped(text)]
    return lines


def _wrapped(text: str) -> list[str]:
    """*text* in lines of the goal column's width, the later ones indented."""
    import textwrap

    return textwrap.wrap(text, GOAL_COLUMN_CHARS, subsequent_indent="  ")


def _draw_row(ax: Any, y: float, row: dict[str, Any], keys: list[str], height: float) -> Any:
    """One row at *y*: a dot per backend (ours a large diamond), its goals as red marks."""
    colors = _colors(keys)
    present = [k for k in keys if any(b["backend"] == k for b in row["bars"])]
    spread = min(0.55, 0.12 * len(present)) * height
    handles = {}
    for bar in row["bars"]:
        i = present.index(bar["backend"])
        dy = (i - (len(present) - 1) / 2) * (spread / max(1, len(present) - 1))
        ours = bar["ours"]
        color = colors[bar["backend"]]
        if ours:
            ax.hlines(y + dy, bar["low"], bar["high"], color=color, linewidth=1.6, zorder=4)
        handles[bar["backend"]] = ax.plot(
            bar["ratio"], y + dy, linestyle="none",
            marker="D" if ours else "o", markersize=(9 if bar["backend"] == "ours" else 7)
            if ours else 6.5, markerfacecolor=color,
            markeredgecolor="black" if ours else ("#c00000" if bar["faults"] else color),
            markeredgewidth=1.0 if ours else (2.0 if bar["faults"] else 0.5),
            zorder=6 if bar["backend"] == "ours" else (5 if ours else 3),
        )[0]  # fmt: skip
    for goal in row["goals"]:
        if goal["at"] is not None:
            ax.vlines(goal["at"], y - 0.42 * height, y + 0.42 * height, colors=GOAL_COLOR,
                      linestyles="-", linewidth=1.8, zorder=2)  # fmt: skip
    return handles


def _panel(
    fig: Any, box: tuple[float, float, float, float], rows: list[dict[str, Any]],
    keys: list[str], xlim: tuple[float, float], title: str,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """One panel of rows (top to bottom), its title above, the goal column to its right."""
    import matplotlib.ticker as mticker

    ax = fig.add_axes(box)
    heights = [_row_lines(r) for r in rows]
    total = sum(heights)
    handles: dict[str, Any] = {}
    top = 0.0
    centers = []
    for row, lines in zip(rows, heights, strict=True):
        center = total - (top + lines / 2)
        centers.append(center)
        handles |= {k: h for k, h in _draw_row(ax, center, row, keys, lines).items()
                    if k not in handles}  # fmt: skip
        words = _goal_words(row)
        for i, (text, color) in enumerate(words):
            offset = (len(words) - 1) / 2 - i
            ax.annotate(
                text, (1.0, center), xycoords=("axes fraction", "data"),
                xytext=(8, offset * FONT["text"] * 1.3), textcoords="offset points",
                ha="left", va="center", fontsize=FONT["text"], color=color,
                fontweight="bold" if i == 0 or color == VERDICT_COLORS["missed"] else "normal",
                annotation_clip=False,
            )  # fmt: skip
        top += lines
        if top < total:
            ax.axhline(total - top, color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_ylim(0, total)
    ax.set_yticks(centers, [_row_label(r) for r in rows], fontsize=FONT["text"])
    ax.tick_params(axis="y", length=0)
    ax.set_xscale("log")
    ax.set_xlim(*xlim)
    decades = range(math.ceil(math.log10(xlim[0])), math.floor(math.log10(xlim[1])) + 1)
    ax.xaxis.set_major_locator(mticker.FixedLocator([10.0**d for d in decades]))
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _pos: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.tick_params(axis="x", labelsize=FONT["text"])
    ax.axvline(1.0, color="black", linewidth=1.0, zorder=1)
    ax.grid(axis="x", which="major", alpha=0.3, zorder=0)
    ax.set_title(title, fontsize=FONT["panel"], loc="left", pad=4)
    return ax, handles


def _footer_lines(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The lines below the panels: the goals no row shows, then the machine and the method."""
    import textwrap

    total, met, missed = other_goals(doc)
    lines: list[tuple[str, str]] = []
    if total:
        head = f"Goals not drawn above (memory, latency, correctness, processes): {met} of {total}"
        lines.append((head + (" met." if not missed else " met; missed:"), "#000000"))
        for goal in missed:
            text = f"- {goal.get('goal', '')}: {goal.get('measured', '')}"
            text += f" (goal {goal.get('target', '')})"
            lines += [(part, VERDICT_COLORS["missed"]) for part in textwrap.wrap(text, 118)]
    m = doc["machine"]
    caption = (
        f"Measured by nox -s bench ({doc['config']['mode']}) at commit {m['commit']}, "
        f"{doc['started']}, on {m['cpu_count']} CPUs ({m['cpu_model']}), "
        f"{m['python_implementation']} {m['python']} and Django {m['django']} only: other Python "
        "and Django versions were not measured. " + _whiskers(doc)
    )
    lines += [(part, "#444444") for part in textwrap.wrap(caption, 118)]
    return lines


def _whiskers(doc: dict[str, Any]) -> str:
    """What the summary's dots and lines are, in the figure's footnote."""
    if ratios.interleaved(doc, http=True):
        return "Dots: medians of per-round ratios; ours' line: their min-max."
    if ratios.interleaved(doc):
        return ("Dots: medians of per-round ratios (runserver: of medians); "
                "ours' line: their min-max.")  # fmt: skip
    return "Dots: medians; ours' line: min-max of the repetitions."


def summary_figure(doc: dict[str, Any]) -> Any:
    """The one figure to read first, as a matplotlib ``Figure`` (see :func:`plot_summary`)."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary(doc)
    parts = [(part, [r for r in rows if r["part"] == part]) for part in ("api", "http")]
    parts = [(part, found) for part, found in parts if found]
    bars = [b for r in rows for b in r["bars"]]
    keys = list(dict.fromkeys(b["backend"] for b in bars))
    values = [1.0, *(b["low"] for b in bars), *(b["high"] for b in bars)]
    values += [g["at"] for r in rows for g in r["goals"] if g["at"]]
    low = 10 ** math.floor(math.log10(min(v for v in values if v > 0) / 1.3))
    high = 10 ** math.ceil(math.log10(max(values) * 1.3))
    footer = _footer_lines(doc)
    line = FONT["text"] * 1.3 / 72  # inches per line of text
    legend_rows = math.ceil((len(keys) + 2) / 3)
    head = 0.4 + legend_rows * line * 1.45
    panels = [sum(_row_lines(r) for r in found) * line + 0.1 for _p, found in parts]
    gaps = 0.75  # a panel's title above it, the x labels below it
    foot = len(footer) * line + 0.2
    height = head + sum(panels) + gaps * len(panels) + foot
    fig = plt.figure(figsize=(SUMMARY_WIDTH, height))
    left, width = 1.95 / SUMMARY_WIDTH, 4.0 / SUMMARY_WIDTH
    titles = {
        "api": ("Storage API: throughput / the unlocked floor's (a dict behind the Storage API, "
                "no lock)"),
        "http": ("runserver: requests per second / the HTTP floor's (a view that answers "
                 "constant bytes)"),
    }  # fmt: skip
    handles: dict[str, Any] = {}
    y = height - head
    for (part, found), panel in zip(parts, panels, strict=True):
        y -= 0.35 + panel
        box = (left, y / height, width, panel / height)
        _ax, drawn = _panel(fig, box, found, keys, (low, high), titles[part])
        handles |= {k: h for k, h in drawn.items() if k not in handles}
        y -= gaps - 0.35
    from matplotlib.lines import Line2D

    labels = {b["backend"]: _legend_label(b["backend"], b["label"]) for b in bars}
    entries = [(handles[k], labels[k]) for k in keys if k in handles]
    entries += [
        (Line2D([], [], color=GOAL_COLOR, linewidth=1.8), "goal for ours: where ours must reach"),
        (Line2D([], [], linestyle="none", marker="o", markerfacecolor="#bbbbbb",
                markeredgecolor="#c00000", markeredgewidth=1.6),
         "ringed in red: wrong bytes or failed requests"),
    ]  # fmt: skip
    fig.legend(
        [h for h, _l in entries], [lab for _h, lab in entries], loc="upper left",
        bbox_to_anchor=(0.0, 1 - 0.33 / height), ncol=3, fontsize=FONT["text"], frameon=False,
        handlelength=1.6, columnspacing=1.2,
    )  # fmt: skip
    fig.text(0.01, 1 - 0.1 / height, summary_title(doc), fontsize=FONT["title"],
             fontweight="bold", va="top")  # fmt: skip
    for i, (text, color) in enumerate(footer):
        fig.text(0.01, (foot - 0.1 - i * line) / height, text, fontsize=FONT["text"],
                 color=color, va="top")  # fmt: skip
    return fig


def plot_summary(doc: dict[str, Any], path: Path) -> None:
    """The one figure to read first: each row's dots over the floor, ours' goals met or missed.

    Drawn for 880 px, the README's width (fonts 11 px and up there), saved at
    twice that for a full-size look.
    """
    import matplotlib.pyplot as plt

    fig = summary_figure(doc)
    fig.savefig(path, dpi=SUMMARY_DPI)
    plt.close(fig)


def plot(doc: dict[str, Any], path: Path) -> None:
    """The detail: throughput against threads (or clients) per backend, one panel per scenario.

    One legend for all panels, below them, so that no legend covers data;
    ours is drawn thicker than the rest.
    """
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    api = _api_index(doc)
    http = _http_index(doc)
    panels: list[tuple[str, str, list[int], list[str], Any]] = [
        (scenario_label(doc, s), "threads", doc["config"]["threads"], doc["config"]["backends"],
         lambda b, n, s=s: api.get((b, s, n)))
        for s in doc["config"]["scenarios"]
    ]  # fmt: skip
    panels += [
        (method_label(doc, method), "clients", doc["config"]["clients"],
         doc["config"]["http_backends"], lambda b, n, m=method: http.get((b, m, n)))
        for method in _http_methods(doc)
    ]  # fmt: skip
    keys = list(dict.fromkeys(k for p in panels for k in p[3]))
    colors = _colors(keys)
    columns = 4
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows + 0.9),
                             squeeze=False)  # fmt: skip
    handles: dict[str, Any] = {}
    for ax, (title, unit, xs, backends, lookup) in zip(axes.flat, panels, strict=False):
        for backend in backends:
            points = [(n, lookup(backend, n)) for n in xs]
            points = [(n, r) for n, r in points if r and r.get("median")]
            if not points:
                continue
            x = [n for n, _ in points]
            y = [r["median"] for _, r in points]
            spread = [
                [r["median"] - r.get("min", r["median"]) for _, r in points],
                [r.get("max", r["median"]) - r["median"] for _, r in points],
            ]
            ours = backend.startswith("ours")
            line = ax.errorbar(
                x, y, yerr=spread, marker="o", markersize=4 if ours else 3, capsize=2,
                color=colors.get(backend), linewidth=2.2 if ours else 1.0, zorder=3 if ours else 2,
            )  # fmt: skip
            handles.setdefault(backend, line)
        ax.set_title(title, fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(n) for n in xs])
        ax.set_yscale("log")
        ax.set_xlabel(unit, fontsize=8)
        ax.set_ylabel("per second", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(which="both", alpha=0.2)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    names = {k: _label(k, doc) for k in handles} | (
        {HTTP_FLOOR: _label(HTTP_FLOOR, doc, http=True)} if HTTP_FLOOR in handles else {}
    )
    fig.legend(
        list(handles.values()), [names[k] for k in handles], loc="lower center",
        ncol=min(4, len(handles)), fontsize=8, frameon=False,
    )  # fmt: skip
    fig.suptitle(
        f"inmemorystorage bench ({doc['config']['mode']}): {machine_line(doc)}", fontsize=8
    )
    legend_rows = (len(handles) + 3) // 4
    fig.tight_layout(rect=(0, 0.03 + 0.035 * legend_rows * 3.3 / (3.3 * rows + 0.9), 1, 0.97))
    fig.savefig(path, dpi=90)
    plt.close(fig)
