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

from . import ratios
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
        for backend in doc["config"]["backends"]:
            cells = [[_label(backend, doc)]]
            for n in threads:
                refs = [
                    (index.get(("django", scenario, n)), "Django"),
                    (index.get(("floor", scenario, n)), "floor"),
                ]
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


def goals_table(doc: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]]:
    """The goals beside the measured values, marked met or not."""
    marks = {True: "met", False: "NOT MET", None: "not measured"}
    rows = [
        [[str(g.get("goal", ""))], [str(g.get("target", ""))], [str(g.get("measured", ""))],
         [marks.get(g.get("met"), str(g.get("met")))]]
        for g in doc.get("goals", [])
    ]  # fmt: skip
    return ("goals", ["goal", "target", "measured", "met?"], rows)


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


def markdown(doc: dict[str, Any], images: dict[str, str] | None = None) -> str:
    """Every table in Markdown (cells' lines joined by <br>), with the machine and the figures.

    *images* maps ``"summary"`` and ``"detail"`` to the figures' paths relative
    to the Markdown file: the summary comes first, the per-thread panels last.
    """
    images = images or {}
    out = [
        (
            f"Command: `{doc.get('command', 'nox -s bench')}`, {doc['started']}, "
            f"{doc['seconds']:.0f} s."
        ),
        "",
        f"Machine: {machine_line(doc)}.",
    ]
    if "summary" in images:
        out += ["", f"![{summary_title(doc)}]({images['summary']})"]
    out += ["", method_sentence(doc)]
    for title, headers, rows in _all_tables(doc):
        out += ["", f"**{title}**", "", "| " + " | ".join(headers) + " |"]
        out.append("|" + "---|" * len(headers))
        for row in rows:
            out.append(
                "| " + " | ".join("<br>".join(line for line in cell if line) for cell in row) + " |"
            )
    for backend, why in doc.get("skipped", {}).items():
        out += ["", f"Skipped {backend}: {why}"]
    if "detail" in images:
        out += ["", f"![Throughput against threads and clients, per backend]({images['detail']})"]
    return "\n".join(out) + "\n"


# The summary figure: one group of bars per scenario, each bar a backend's
# throughput over the unlocked floor's at the same thread (or client) count.


def _count_shown(counts: list[int], preferred: int) -> int:
    """The thread or client count the summary shows: *preferred* where measured, else the most."""
    return preferred if preferred in counts else max(counts)


def _faulty(row: dict[str, Any], *, http: bool) -> int:
    """Wrong reads, lost writes and (over HTTP) failed requests of one row."""
    faults = row.get("wrong", 0) + row.get("lost", 0)
    return faults + (row.get("errors", 0) if http else 0)


_GOAL_TEXT = re.compile(
    r"^(?P<label>.+?), (?P<count>\d+) (?:threads?|clients?): ours / (?P<versus>[\w.-]+)\s*$"
)
_TARGET = re.compile(r">=\s*(?P<ratio>[0-9.]+)\s*x")


def _goal_parts(goal: dict[str, Any], titles: dict[str, str]) -> tuple[str, int, str, float] | None:
    """A ratio goal's (group, count, versus, target), or None for any other kind of goal.

    Goals may carry these as fields (``scenario``, ``threads`` or ``clients``,
    ``versus``, ``target_ratio``); older documents only as text, which is read
    as ``"<scenario title>, <n> threads: ours / <backend>"`` and ``">= 0.75x"``.
    """
    if {"scenario", "versus", "target_ratio"} <= goal.keys():
        count = goal.get("threads", goal.get("clients"))
        if count is None:
            return None
        return str(goal["scenario"]), int(count), str(goal["versus"]), float(goal["target_ratio"])
    text = _GOAL_TEXT.match(str(goal.get("goal", "")))
    target = _TARGET.search(str(goal.get("target", "")))
    if not text or not target:
        return None
    group = next((key for key, title in titles.items() if title == text["label"]), None)
    if group is None:
        return None
    return group, int(text["count"]), text["versus"], float(target["ratio"])


def summary(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary figure's data: per scenario, each backend's ratio to the floor, and its goals.

    Each group has ``key``, ``title``, ``count`` (threads or clients), ``unit``
    and ``bars`` (``backend``, ``label``, ``ratio``, ``low``, ``high``,
    ``faults``, ``ours``); ``goals`` are ``(target over the floor, text)``,
    the text saying whether the run met it.
    A goal against another backend is drawn at its target times that
    backend's ratio: the height ours must reach.
    """
    api = _api_index(doc)
    http = _http_index(doc)
    groups: list[dict[str, Any]] = []
    threads = _count_shown(doc["config"]["threads"], 8)
    groups += [
        _group(
            doc, (scenario, scenario_label(doc, scenario)), (threads, "threads"),
            doc["config"]["backends"], API_FLOOR,
            lambda b, s=scenario: api.get((b, s, threads)), http=False,
        )
        for scenario in doc["config"]["scenarios"]
    ]  # fmt: skip
    if doc.get("http"):
        clients = _count_shown(doc["config"]["clients"], 16)
        groups += [
            _group(
                doc, (method, method_label(doc, method)), (clients, "clients"),
                doc["config"]["http_backends"], HTTP_FLOOR,
                lambda b, m=method: http.get((b, m, clients)), http=True,
            )
            for method in _http_methods(doc)
        ]  # fmt: skip
    groups = [g for g in groups if g["bars"]]
    titles = {g["key"]: g["title"] for g in groups}
    for goal in doc.get("goals", []):
        parts = _goal_parts(goal, titles)
        if parts is None:
            continue
        key, count, versus, target = parts
        group = next(g for g in groups if g["key"] == key)
        if count != group["count"]:
            continue
        verdict = {True: "met", False: "missed"}.get(goal.get("met"), "?")
        if versus in (API_FLOOR, HTTP_FLOOR):
            group["goals"].append((target, f"{target:g}x: {verdict}"))
            continue
        other = next((b for b in group["bars"] if b["backend"] == versus), None)
        if other is not None:
            group["goals"].append((target * other["ratio"], f"{target:g}x {versus}: {verdict}"))
    return groups


def _group(
    doc: dict[str, Any],
    named: tuple[str, str],
    counted: tuple[int, str],
    backends: list[str],
    floor: str,
    lookup: Any,
    *,
    http: bool,
) -> dict[str, Any]:
    """One scenario's bars: each backend's ratio to the floor (none without the floor).

    The ratio and its spread are :func:`benchmarks.ratios.ratio`'s: per-round
    ratios where the part was measured in turn, else medians.
    """
    (key, title), (count, unit) = named, counted
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
                "label": _label(backend, doc),
                "ratio": found.value,
                "low": found.low,
                "high": found.high,
                "faults": _faulty(row, http=http),
                "ours": backend.startswith("ours"),
            }
        )
    return {"key": key, "title": title, "count": count, "unit": unit, "bars": bars, "goals": []}


def summary_title(doc: dict[str, Any]) -> str:
    """The summary figure's title (also its alt text)."""
    return "Throughput relative to the unlocked floor, per scenario and backend (higher is better)"


#: One colour per backend in both figures: ours in strong blues, the others muted.
PALETTE = {
    "ours": "#0b4f9c",
    "ours-bounded": "#4f8fd6",
    "django": "#c9a227",
    "dj210": "#8c6bb1",
    "fs": "#7f7f7f",
    "floor": "#59a14f",
    "http-floor": "#59a14f",
    "locked-floor": "#e17c05",
    "broken": "#b07aa1",
}


def _colors(keys: list[str]) -> dict[str, str]:
    """The palette's colour for each key; a backend it does not know gets a spare one."""
    spare_ours = iter(["#8fbbe8", "#2a6fbb", "#b5d3f0"])
    spare = iter(["#9c755f", "#e15759", "#76b7b2", "#edc948", "#ff9da7", "#bab0ac"])
    return {
        key: PALETTE.get(key)
        or (next(spare_ours, "#8fbbe8") if key.startswith("ours") else next(spare, "#bbbbbb"))
        for key in keys
    }


def _draw_group(ax: Any, x: int, group: dict[str, Any], keys: list[str], base: float) -> Any:
    """One scenario's bars at *x*: ours edged and labelled, faulty ones hatched and counted."""
    colors = _colors(keys)
    width = 0.7 / max(1, len(keys))
    present = [k for k in keys if any(b["backend"] == k for b in group["bars"])]
    left = x - width * len(present) / 2
    handles = {}
    for i, bar in enumerate(sorted(group["bars"], key=lambda b: present.index(b["backend"]))):
        center = left + width * (i + 0.5)
        ours = bar["ours"]
        handles[bar["backend"]] = ax.bar(
            center, bar["ratio"], width * 0.92, color=colors[bar["backend"]],
            edgecolor="black" if ours else "none", linewidth=1.2 if ours else 0,
            alpha=1.0 if ours else 0.7, zorder=3, hatch="////" if bar["faults"] else None,
        )  # fmt: skip
        ax.errorbar(
            center, bar["ratio"], yerr=[[bar["ratio"] - bar["low"]], [bar["high"] - bar["ratio"]]],
            color="black", linewidth=0.7, capsize=1.5, zorder=4,
        )  # fmt: skip
        if ours:
            ax.annotate(
                f"{bar['ratio']:.2f}x", (center, base), xytext=(0, 3), textcoords="offset points",
                ha="center", va="bottom", fontsize=7, fontweight="bold", color="white",
                rotation=90, zorder=5,
            )  # fmt: skip
        if bar["faults"]:
            ax.annotate(
                f"✗ {bar['faults']:,}", (center, bar["ratio"]), xytext=(0, 3),
                textcoords="offset points", ha="center", va="bottom", fontsize=6.5,
                color="#c00000", fontweight="bold", rotation=90, zorder=5,
            )  # fmt: skip
    span = width * len(present) / 2 + 0.02
    nudge, last = 0.0, -math.inf
    for target, text in sorted(group["goals"]):
        # Labels of goals that lie close together are pushed apart, upwards.
        nudge = nudge + 7 if math.log10(target) - last < 0.06 else 0.0
        last = math.log10(target)
        ax.hlines(target, x - span, x + span, colors="#c00000", linestyles="--", linewidth=1.4,
                  zorder=6)  # fmt: skip
        ax.annotate(
            text, (x + span, target), xytext=(1, nudge), textcoords="offset points",
            fontsize=6.5, color="#c00000", va="center", zorder=7,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none",
                  "alpha": 0.8},
        )  # fmt: skip
    return handles


def _summary_legend(ax: Any, handles: dict[str, Any], labels: dict[str, str]) -> None:
    """Above the axes, outside the data: the backends, then what a goal and a hatch mean."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    extra = [
        Line2D([], [], color="#c00000", linestyle="--", label="goal for ours (met or missed)"),
        Patch(facecolor="white", edgecolor="black", hatch="////",
              label="✗ n: wrong reads, lost writes or failed requests"),
    ]  # fmt: skip
    ax.legend(
        [*handles.values(), *extra],
        [*[labels[k] for k in handles], *[e.get_label() for e in extra]],
        loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=min(5, len(handles) + 2),
        fontsize=7.5, frameon=False,
    )  # fmt: skip


def _whiskers(doc: dict[str, Any]) -> str:
    """What the summary's bars and whiskers are, in the figure's footnote."""
    if ratios.interleaved(doc, http=True):
        return "Bars: median of per-round ratios, whiskers: their min-max."
    if ratios.interleaved(doc):
        return "Bars: median of per-round ratios, whiskers: their min-max (runserver: of medians)."
    return "Bars: median, whiskers: min-max of the repetitions."


def plot_summary(doc: dict[str, Any], path: Path) -> None:
    """The one figure to read first: each scenario's bars over the floor, goals, wrong reads."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    groups = summary(doc)
    bars = [b for g in groups for b in g["bars"]]
    keys = list(dict.fromkeys(b["backend"] for b in bars))
    values = [1.0, *(b["low"] for b in bars), *(b["high"] for b in bars)]
    values += [target for g in groups for target, _text in g["goals"]]
    base = 10 ** math.floor(math.log10(min(v for v in values if v > 0)))
    fig, ax = plt.subplots(figsize=(max(8.0, 1.45 * len(groups) + 2.0), 5.6))
    handles: dict[str, Any] = {}
    for x, group in enumerate(groups):
        handles |= {k: h for k, h in _draw_group(ax, x, group, keys, base).items()
                    if k not in handles}  # fmt: skip
    ax.axhline(1.0, color="black", linewidth=0.8, zorder=2)
    ax.annotate("unlocked floor = 1", (len(groups) - 0.35, 1.0), xytext=(-2, 2),
                textcoords="offset points", fontsize=7, va="bottom", ha="right")  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(base, max(values) * 2.2)
    ax.set_xlim(-0.6, len(groups) - 0.3)
    ax.set_xticks(
        range(len(groups)),
        [f"{g['title']}\n({g['count']} {g['unit']})" for g in groups],
        fontsize=7.5,
    )
    ax.set_ylabel("throughput / unlocked floor's (log scale)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", which="both", alpha=0.25, zorder=0)
    _summary_legend(ax, {k: handles[k] for k in keys}, {b["backend"]: b["label"] for b in bars})
    m = doc["machine"]
    fig.suptitle(summary_title(doc), fontsize=10, fontweight="bold", y=0.995)
    fig.text(
        0.01, 0.005,
        f"nox -s bench ({doc['config']['mode']}), {doc['started']}, commit {m['commit']}: "
        f"{m['cpu_count']} CPUs, {m['python_implementation']} {m['python']}, Django {m['django']}. "
        + _whiskers(doc),
        fontsize=6.5, color="#444444",
    )  # fmt: skip
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    fig.savefig(path, dpi=110)
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
