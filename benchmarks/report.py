"""Presentation only: the JSON document as a terminal table, a Markdown table and a PNG plot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends import BACKENDS
from .scenarios import SCENARIO_LABELS

if TYPE_CHECKING:
    from pathlib import Path

HTTP_LABELS = {
    "ours": "inmemorystorage.views.serve (ours)",
    "django": "Django InMemoryStorage + our view",
    "fs": "FileSystemStorage + static.serve",
    "http-floor": "floor: FileResponse(BytesIO(constant))",
}
HTTP_METHODS = {"GET": "runserver GET 64 KiB", "POST": "runserver POST 16 KiB upload"}
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


def _label(key: str) -> str:
    return BACKENDS[key].label if key in BACKENDS else HTTP_LABELS.get(key, key)


def _api_index(doc: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(r["backend"], r["scenario"], r["threads"]): r for r in doc["api"]}


def _http_index(doc: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(r["backend"], r["method"], r["clients"]): r for r in doc.get("http", [])}


def _ratio(row: dict[str, Any] | None, ref: dict[str, Any] | None, tag: str) -> str:
    if not row or not ref or not row.get("median") or not ref.get("median"):
        return ""
    return f"{row['median'] / ref['median']:.2f}x {tag}"


def _cell(row: dict[str, Any] | None, refs: list[tuple[dict[str, Any] | None, str]]) -> list[str]:
    """The lines of one cell: median, min-max spread, ratios against the references."""
    if row is None:
        return ["-"]
    if "error" in row:
        return ["error: " + row["error"][:60]]
    if "median" not in row:
        return ["skipped"]
    lines = [f"{rate(row['median'])}/s", f"({rate(row['min'])}-{rate(row['max'])})"]
    ratios = [_ratio(row, ref, tag) for ref, tag in refs if ref is not row]
    return [*lines, " ".join(r for r in ratios if r)]


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
    tables = []
    for scenario in doc["config"]["scenarios"]:
        headers = ["backend", *[f"{n} thread{'s' if n > 1 else ''}" for n in threads]]
        headers.append("wrong reads / checked")
        rows = []
        for backend in doc["config"]["backends"]:
            cells = [[_label(backend)]]
            for n in threads:
                refs = [
                    (index.get(("django", scenario, n)), "Django"),
                    (index.get(("floor", scenario, n)), "floor"),
                ]
                cells.append(_cell(index.get((backend, scenario, n)), refs))
            mine = [r for (b, s, _n), r in index.items() if (b, s) == (backend, scenario)]
            cells.append([_faults(mine)])
            rows.append(cells)
        tables.append((SCENARIO_LABELS.get(scenario, scenario), headers, rows))
    return tables


def http_tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[list[str]]]]]:
    """One table per HTTP method: clients across, backends down, ratios to FS and to the floor."""
    if not doc.get("http"):
        return []
    index = _http_index(doc)
    clients = doc["config"]["clients"]
    backends = list(doc["config"]["http_backends"])
    tables = []
    for method, title in HTTP_METHODS.items():
        headers = ["server", *[f"{n} client{'s' if n > 1 else ''}" for n in clients]]
        headers.append("wrong / checked, failed requests")
        rows = []
        for backend in backends:
            cells = [[_label(backend)]]
            for n in clients:
                refs = [
                    (index.get(("fs", method, n)), "FS"),
                    (index.get(("http-floor", method, n)), "floor"),
                ]
                cells.append(_cell(index.get((backend, method, n)), refs))
            mine = [r for (b, m, _n), r in index.items() if (b, m) == (backend, method)]
            skipped = next((r.get("skipped") for r in mine if r.get("skipped")), None)
            cells.append([skipped or _faults(mine, http=True)])
            rows.append(cells)
        tables.append((title, headers, rows))
    return tables


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
        if "error" in row:
            rows.append(
                [[_label(row["backend"])], ["error: " + row["error"][:60]], [""], [""], [""]]
            )
            continue
        reader = row["reader"]
        disk = row.get("disk_bytes_per_file")
        kept = row.get("kept", row["files"])
        rows.append(
            [
                [_label(row["backend"]) + (f" ({kept:,} kept)" if kept != row["files"] else "")],
                [f"{row['bytes_per_file']:,.0f}"],
                [f"{row['overhead_per_file']:,.0f}"],
                [f"{disk:,.0f}" if disk else "-"],
                [
                    f"{reader['extra_per_reader']:,.0f}"
                    + (f" ({reader['wrong']} wrong)" if reader["wrong"] else "")
                ],
            ]
        )
    files = next((r["files"] for r in doc.get("memory", []) if "files" in r), 0)
    return (f"memory: {files:,} files of 100 bytes (tracemalloc)", headers, rows)


def goals_table(doc: dict[str, Any]) -> tuple[str, list[str], list[list[list[str]]]]:
    """The goals beside the measured values, marked met or not."""
    marks = {True: "met", False: "NOT MET", None: "not measured"}
    rows = [
        [[g["goal"]], [g["target"]], [g["measured"]], [marks[g["met"]]]]
        for g in doc.get("goals", [])
    ]
    return ("goals", ["goal", "target", "measured", "met?"], rows)


def machine_line(doc: dict[str, Any]) -> str:
    """One sentence describing the machine and the software versions."""
    m = doc["machine"]
    return (
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), {m['platform']}, {m['python_implementation']} "
        f"{m['python']}, Django {m['django']}, dj-inmemorystorage {m['dj_inmemorystorage']} "
        f"(commit {m['commit']}); FileSystemStorage on {m['filesystem_storage_on']}"
    )


def _all_tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[list[str]]]]]:
    tables = [*api_tables(doc), *http_tables(doc)]
    if doc.get("memory"):
        tables.append(memory_table(doc))
    tables.append(goals_table(doc))
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


def markdown(doc: dict[str, Any]) -> str:
    """Every table in Markdown (cells' lines joined by <br>), with the machine's description."""
    out = [
        (
            f"Command: `{doc.get('command', 'nox -s bench')}`, {doc['started']}, "
            f"{doc['seconds']:.0f} s."
        ),
        "",
        f"Machine: {machine_line(doc)}.",
        "",
        (
            "Throughput is the median of the repetitions, (min-max) below it; ratios against "
            "Django's InMemoryStorage and the unlocked floor come from the same run."
        ),
    ]
    for title, headers, rows in _all_tables(doc):
        out += ["", f"**{title}**", "", "| " + " | ".join(headers) + " |"]
        out.append("|" + "---|" * len(headers))
        for row in rows:
            out.append(
                "| " + " | ".join("<br>".join(line for line in cell if line) for cell in row) + " |"
            )
    for backend, why in doc.get("skipped", {}).items():
        out += ["", f"Skipped {backend}: {why}"]
    return "\n".join(out) + "\n"


def plot(doc: dict[str, Any], path: Path) -> None:
    """Throughput against threads (or clients) per backend, one panel per scenario, log scale."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    api = _api_index(doc)
    http = _http_index(doc)
    panels: list[tuple[str, list[int], list[str], Any]] = [
        (SCENARIO_LABELS.get(s, s), doc["config"]["threads"], doc["config"]["backends"],
         lambda b, n, s=s: api.get((b, s, n)))
        for s in doc["config"]["scenarios"]
    ]  # fmt: skip
    if doc.get("http"):
        for method, title in HTTP_METHODS.items():
            panels.append(
                (title, doc["config"]["clients"], doc["config"]["http_backends"],
                 lambda b, n, m=method: http.get((b, m, n)))
            )  # fmt: skip
    columns = 4
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for ax, (title, xs, backends, lookup) in zip(axes.flat, panels, strict=False):
        for backend in backends:
            points = [(n, lookup(backend, n)) for n in xs]
            points = [(n, r) for n, r in points if r and r.get("median")]
            if not points:
                continue
            x = [n for n, _ in points]
            y = [r["median"] for _, r in points]
            spread = [
                [r["median"] - r["min"] for _, r in points],
                [r["max"] - r["median"] for _, r in points],
            ]
            color = COLORS.get(backend)
            ax.errorbar(
                x, y, yerr=spread, marker="o", capsize=2, label=_label(backend), color=color
            )
        ax.set_title(title, fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(n) for n in xs])
        ax.set_yscale("log")
        ax.set_xlabel("clients" if title in HTTP_METHODS.values() else "threads", fontsize=8)
        ax.set_ylabel("per second", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(
        f"inmemorystorage bench ({doc['config']['mode']}): {machine_line(doc)}", fontsize=8
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
