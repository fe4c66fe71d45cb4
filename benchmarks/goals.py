"""The performance and correctness goals, checked against one run's figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Extra bytes per reader of a 1 MiB file that still count as "no copy" (1 % of the file).
NO_COPY_BYTES = 1024 * 1024 // 100


@dataclass
class Goal:
    """One goal: what is compared, the target, the measured value, and whether it is met."""

    goal: str
    target: str
    measured: str
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the JSON document."""
        return asdict(self)


def _median(doc: dict[str, Any], backend: str, scenario: str, threads: int) -> float | None:
    for row in doc["api"]:
        key = (row["backend"], row["scenario"], row["threads"])
        if key == (backend, scenario, threads) and "median" in row:
            return float(row["median"])
    return None


def _ratio_goal(
    doc: dict[str, Any], scenario: str, label: str, versus: str, threads: int, target: float
) -> Goal:
    ours = _median(doc, "ours", scenario, threads)
    other = _median(doc, versus, scenario, threads)
    name = f"{label}, {threads} thread{'s' if threads > 1 else ''}: ours / {versus}"
    if ours is None or not other:
        return Goal(name, f">= {target:.2f}x", "not measured", None)
    ratio = ours / other
    return Goal(name, f">= {target:.2f}x", f"{ratio:.2f}x", ratio >= target)


def _http_median(doc: dict[str, Any], backend: str, method: str, clients: int) -> float | None:
    for row in doc.get("http", []):
        key = (row["backend"], row["method"], row["clients"])
        if key == (backend, method, clients) and row.get("median"):
            return float(row["median"])
    return None


def evaluate(doc: dict[str, Any]) -> list[Goal]:
    """Every goal of issue 7, met or not (``None``: not measured in this run)."""
    threads = doc["config"]["threads"]
    edges = sorted({min(threads), 8 if 8 in threads else max(threads)})
    goals = []
    for n in edges:
        goals.append(_ratio_goal(doc, "read_4k", "open+read 4 KiB", "floor", n, 0.5))
        goals.append(_ratio_goal(doc, "read_4k", "open+read 4 KiB", "dj210", n, 1.0))
    for n in edges:
        goals.append(_ratio_goal(doc, "save_4k", "save 4 KiB", "floor", n, 0.8))
        goals.append(_ratio_goal(doc, "save_4k", "save 4 KiB", "dj210", n, 1.2))
    goals.append(_reader_goal(doc))
    clients = max(doc["config"].get("clients", [16]))
    for versus, target in (("fs", 1.15), ("http-floor", 0.95)):
        ours = _http_median(doc, "ours", "GET", clients)
        other = _http_median(doc, versus, "GET", clients)
        name = f"runserver GET 64 KiB, {clients} clients: ours / {versus}"
        if ours is None or other is None:
            goals.append(Goal(name, f">= {target:.2f}x", "not measured", None))
        else:
            ratio = ours / other
            goals.append(Goal(name, f">= {target:.2f}x", f"{ratio:.2f}x", ratio >= target))
    goals.append(_correctness_goal(doc))
    return goals


def _reader_goal(doc: dict[str, Any]) -> Goal:
    name = "open+read 1 MiB: extra memory per reader (ours)"
    target = f"O(1): <= {NO_COPY_BYTES:,} B"
    for row in doc.get("memory", []):
        if row["backend"] == "ours" and "reader" in row:
            extra = row["reader"]["extra_per_reader"]
            return Goal(name, target, f"{extra:,.0f} B", extra <= NO_COPY_BYTES)
    return Goal(name, target, "not measured", None)


def _correctness_goal(doc: dict[str, Any]) -> Goal:
    rows = [r for r in doc["api"] + doc.get("http", []) if r["backend"] in ("ours", "ours-bounded")]
    wrong = sum(r.get("wrong", 0) for r in rows)
    wrong += sum(r.get("errors", 0) for r in rows if "method" in r)  # failed HTTP requests
    lost = sum(r.get("lost", 0) for r in rows)
    checked = sum(r.get("checked", 0) for r in rows)
    return Goal(
        "wrong reads and lost writes (ours, every scenario)",
        "0",
        f"{wrong} wrong, {lost} lost of {checked:,} checked",
        wrong == 0 and lost == 0 and bool(rows),
    )
