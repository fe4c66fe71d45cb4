"""The benchmark harness runs in tiny mode, checks every read, and catches a broken backend.

Nothing here times anything: the figures of a tiny run mean nothing, only
that the harness works and that its correctness counters count.
"""

from __future__ import annotations

import importlib
import json

import pytest

from benchmarks import report
from benchmarks.runner import make_config, parse_args, run


@pytest.fixture(scope="module")
def tiny_doc():
    """One tiny run: ours, the floor and the broken backend; the HTTP floor over runserver."""
    return run(make_config(parse_args(["--tiny", "--no-plot"])))


def _rows(doc, backend, scenario):
    return [r for r in doc["api"] if (r["backend"], r["scenario"]) == (backend, scenario)]


def test_every_measurement_produced_figures(tiny_doc):
    assert [] == [r for r in tiny_doc["api"] if "error" in r or not r["ops"]]


def test_broken_backend_shows_wrong_reads(tiny_doc):
    (row,) = _rows(tiny_doc, "broken", "read_4k")
    assert row["wrong"] > 0


def test_ours_reads_and_writes_right(tiny_doc):
    rows = [r for r in tiny_doc["api"] if r["backend"] == "ours"]
    assert (0, 0) == (sum(r["wrong"] for r in rows), sum(r["lost"] for r in rows))
    assert all(r["checked"] > 0 for r in rows)


def test_memory_is_measured_per_backend(tiny_doc):
    by_backend = {r["backend"]: r for r in tiny_doc["memory"]}
    assert {"ours", "floor", "broken"} == set(by_backend)
    assert by_backend["ours"]["reader"]["wrong"] == 0


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
