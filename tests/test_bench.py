"""The benchmark harness runs in tiny mode, checks every read, and catches a broken backend.

Nothing here times anything: the figures of a tiny run mean nothing, only
that the harness works and that its correctness counters count.
"""

from __future__ import annotations

import importlib
import json

import pytest

from benchmarks import goals, report
from benchmarks.runner import make_config, parse_args, run

TINY = [
    "--tiny",
    "--no-plot",
    "--backends",
    "floor,ours,ours-bounded,broken",
    "--scenarios",
    "read_4k,save_4k,save_one_name,mixed",
]


@pytest.fixture(scope="module")
def tiny_doc():
    """One tiny run: ours (unbounded, bounded), the floor, the broken backend; the HTTP floor."""
    return run(make_config(parse_args(TINY)))


def _rows(doc, backend, scenario):
    return [r for r in doc["api"] if (r["backend"], r["scenario"]) == (backend, scenario)]


def _memory(doc, backend):
    (row,) = [r for r in doc["memory"] if r["backend"] == backend]
    return row


def _goals(doc):
    return {g["id"]: g for g in doc["goals"]}


def test_every_measurement_produced_figures(tiny_doc):
    assert [] == [r for r in tiny_doc["api"] if "error" in r or not r["ops"]]


def test_broken_backend_shows_wrong_reads(tiny_doc):
    (row,) = _rows(tiny_doc, "broken", "read_4k")
    assert row["wrong"] > 0


def test_broken_backend_shows_lost_writes_when_it_hands_one_name_to_every_save(tiny_doc):
    (row,) = _rows(tiny_doc, "broken", "save_one_name")
    assert row["lost"] > 0


def test_broken_backend_shows_wrong_reads_from_request_threads(tiny_doc):
    assert _memory(tiny_doc, "broken")["retained"]["wrong"] > 0


def test_ours_reads_and_writes_right(tiny_doc):
    rows = [r for r in tiny_doc["api"] if r["backend"] in ("ours", "ours-bounded")]
    assert (0, 0) == (sum(r["wrong"] for r in rows), sum(r["lost"] for r in rows))
    assert all(r["checked"] > 0 for r in rows)


def test_saves_of_one_name_get_distinct_names(tiny_doc):
    (row,) = _rows(tiny_doc, "ours", "save_one_name")
    assert (0, row["ops"]) == (row["lost"], row["checked"])


def test_the_bounded_store_evicts_while_saving(tiny_doc):
    (row,) = _rows(tiny_doc, "ours-bounded", "save_4k")
    assert row["evicted"] > 0


def test_memory_is_measured_per_backend(tiny_doc):
    by_backend = {r["backend"]: r for r in tiny_doc["memory"]}
    assert {"ours", "ours-bounded", "floor", "broken"} == set(by_backend)
    assert all(r["bytes_per_file"] > r["content_bytes"] for r in by_backend.values())
    assert by_backend["ours"]["reader"]["wrong"] == 0


def test_write_latency_is_measured_beside_live_readers(tiny_doc):
    latency = _memory(tiny_doc, "ours")["latency"]
    assert (0, 0) == (latency["wrong"], latency["lost"])
    assert latency["ratio"] > 0


def test_resident_memory_is_measured_after_churn_in_three_processes(tiny_doc):
    churn = _memory(tiny_doc, "ours-bounded")["churn"]
    assert 3 == len({run["seed"] for run in churn["runs"]})
    assert churn["worst"] >= churn["median"] > 0
    assert (0, 0) == (churn["wrong"], churn["lost"])
    assert "churn" not in _memory(tiny_doc, "ours")


def test_every_goal_of_issue_14_is_a_row(tiny_doc):
    ids = set(_goals(tiny_doc))
    expected = {
        "read_4k/ours/floor/4",
        "save_4k/ours/floor/4",
        "save_4k/ours/dj210/4",
        "save_4k/ours-bounded/floor/4",
        "save_one_name/ours/floor/4",
        "mixed/ours/locked-floor/4",
        "latency/ours",
        "retained/ours",
        "bytes_per_file/ours/floor",
        "bytes_per_file/ours-bounded/floor",
        "churn/median",
        "churn/worst",
        "http/GET/http-floor/2",
        "http/GET/fs/2",
        "correctness",
    }
    assert expected == ids
    assert len(ids) == len(tiny_doc["goals"])


def test_goals_measured_in_the_run_carry_their_values(tiny_doc):
    goals = _goals(tiny_doc)
    measured = [goals[i] for i in ("read_4k/ours/floor/4", "latency/ours", "churn/worst")]
    assert all(g["value"] is not None and g["met"] is not None for g in measured)
    assert goals["save_4k/ours/dj210/4"]["met"] is None  # 2.1.0 was not in this run
    assert goals["correctness"]["met"] is True


@pytest.mark.parametrize(
    ("value", "op", "target", "met"),
    [(0.75, ">=", 0.75, True), (0.7499, ">=", 0.75, True), (0.744, ">=", 0.75, False),
     (1.5, "<=", 1.5, True), (1.5049, "<=", 1.5, True), (1.51, "<=", 1.5, False)],
)  # fmt: skip
def test_a_goal_reads_as_met_exactly_when_its_shown_value_meets_the_target(value, op, target, met):
    row = goals._goal("g", value, op, target)
    assert (met, f"{value:.2f}x") == (row.met, row.measured)


def test_a_blocker_fails_a_goal_whatever_its_ratio():
    row = goals._goal("g", 3.0, ">=", 1.0, blocker="the store did not evict")
    assert (False, "3.00x (the store did not evict)") == (row.met, row.measured)


def test_http_floor_answers_over_runserver(tiny_doc):
    rows = {r["method"]: r for r in tiny_doc["http"]}
    assert {"GET", "POST"} == set(rows)
    assert all(r["ops"] > 0 and r["wrong"] == 0 and r["errors"] == 0 for r in rows.values())


def test_goals_and_tables_render(tiny_doc):
    tiny_doc["seconds"] = 0.0
    text = report.markdown(tiny_doc)
    assert "open+read 4 KiB" in text
    assert "goals" in text
    assert tiny_doc["goals"]


def test_command_line_writes_json(tmp_path, monkeypatch):
    bench = importlib.import_module("benchmarks.__main__")  # rich is in the tests group too
    monkeypatch.setattr("sys.argv", ["benchmarks", "--tiny"])
    argv = ["--tiny", "--no-plot", "--no-http", "--no-memory", "--scenarios", "read_4k"]
    assert 0 == bench.main([*argv, "--backends", "ours", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "bench-tiny.json").read_text())
    assert ["ours"] == [r["backend"] for r in doc["api"]]
    assert doc["machine"]["cpu_count"] >= 1
