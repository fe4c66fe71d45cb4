"""The benchmark's presentation: a summary read from the document alone, honest tables, progress.

Built on small hand-made documents (no timing): what each figure and table
says follows from the rows, the goals and the labels the document carries.
"""

from __future__ import annotations

import importlib
import json

import pytest

from benchmarks import goals, machine, ratios, report
from benchmarks.runner import Job, step_line

#: The bench runs on one Python and Django (`nox -s bench`): its own tests run once a run.
pytestmark = pytest.mark.bench


def _row(backend, scenario, median, **faults):
    return {"backend": backend, "scenario": scenario, "threads": 8, "median": median,
            "min": median * 0.9, "max": median * 1.1, **faults}  # fmt: skip


@pytest.fixture
def doc():
    """A run of two scenarios, one of them new to the code, and one HTTP method."""
    return {
        "machine": {"cpu_count": 2, "cpu_model": "cpu", "platform": "linux", "python": "3.11",
                    "python_implementation": "CPython", "django": "5.2", "commit": "abc1234",
                    "dj_inmemorystorage": "3.0", "filesystem_storage_on": "tmpfs"},
        "config": {"mode": "quick", "threads": [1, 8], "clients": [16],
                   "scenarios": ["read_4k", "brand_new"],
                   "backends": ["ours", "django", "floor", "newcomer"],
                   "http_backends": ["ours", "http-floor"]},
        "backends": {"newcomer": {"label": "A newcomer", "version": "newcomer 1.0"}},
        "scenario_labels": {"brand_new": "a brand new scenario"},
        "started": "2026-11-29T00:00:00Z",
        "seconds": 1.0,
        "api": [
            _row("floor", "read_4k", 1000.0), _row("ours", "read_4k", 800.0),
            _row("django", "read_4k", 50.0, wrong=7), _row("newcomer", "read_4k", 400.0),
            _row("floor", "brand_new", 10.0), _row("ours", "brand_new", 20.0),
        ],
        "http": [
            {"backend": "http-floor", "method": "GET", "clients": 16, "median": 100.0},
            {"backend": "ours", "method": "GET", "clients": 16, "median": 150.0, "errors": 2},
        ],
        "memory": [],
        "goals": [
            {"goal": "open+read 4 KiB, 8 threads: ours / floor", "target": ">= 0.75x",
             "measured": "0.80x", "met": True},
            {"goal": "open+read 4 KiB, 8 threads: ours / django", "target": ">= 4.00x",
             "measured": "16.00x", "met": True},
            {"goal": "open+read 4 KiB, 1 thread: ours / floor", "target": ">= 0.75x",
             "measured": "not measured", "met": None},
            {"goal": "memory per file", "target": "<= 1.5x", "measured": "1.2x", "met": True},
        ],
    }  # fmt: skip


def _group(doc, key, count=None):
    return next(g for g in report.summary(doc) if g["key"] == key and count in (None, g["count"]))


def _goal_marks(group):
    return [(g["at"], g["label"], g["verdict"]) for g in group["goals"]]


def test_summary_bars_are_ratios_to_the_floor(doc):
    """Each bar is the backend's median over the floor's; the floor itself is the line at 1."""
    bars = {b["backend"]: b["ratio"] for b in _group(doc, "read_4k")["bars"]}
    assert {"ours": 0.8, "django": 0.05, "newcomer": 0.4} == bars


def test_summary_reads_new_scenarios_and_labels_from_the_document(doc):
    """A scenario and a backend the code has never heard of show with the document's labels."""
    assert "a brand new scenario" == _group(doc, "brand_new")["title"]
    assert "A newcomer" in [b["label"] for b in _group(doc, "read_4k")["bars"]]


def test_summary_marks_wrong_reads_and_failed_requests(doc):
    """Bars that had wrong reads (or failed requests over HTTP) carry their count; others 0."""
    faults = {b["backend"]: b["faults"] for b in _group(doc, "read_4k")["bars"]}
    assert {"ours": 0, "django": 7, "newcomer": 0} == faults
    assert [2] == [b["faults"] for b in _group(doc, "GET")["bars"]]


def test_summary_draws_goals_at_the_thread_count_shown(doc):
    """A goal over the floor is a mark at its target, one over another backend at target x its dot.

    The 1-thread goal, not measured, gets no row of its own, and a goal that
    is not a ratio of ours to a backend is left to the footer and the table.
    """
    assert [(0.75, "≥ 0.75x floor", "met"), (pytest.approx(0.2), "≥ 4x Django", "met")] == (
        _goal_marks(_group(doc, "read_4k"))
    )
    assert [8] == [g["count"] for g in report.summary(doc) if g["key"] == "read_4k"]


def test_structured_goals_need_no_text_parsing(doc):
    """A goal that carries scenario, threads, versus and target_ratio is drawn from those."""
    doc["goals"] = [{"goal": "anything at all", "target": "", "measured": "", "met": False,
                     "scenario": "brand_new", "threads": 8, "versus": "floor",
                     "target_ratio": 2.5}]  # fmt: skip
    assert [(2.5, "≥ 2.5x floor", "missed")] == _goal_marks(_group(doc, "brand_new"))


def test_a_goal_missed_at_another_thread_count_gets_a_row_of_its_own(doc):
    """The figure shows 8 threads; a goal missed at 1 thread is shown on a 1-thread row."""
    doc["api"] += [_row("floor", "read_4k", 1000.0) | {"threads": 1},
                   _row("ours", "read_4k", 600.0) | {"threads": 1}]  # fmt: skip
    doc["goals"][2] |= {"measured": "0.60x", "met": False}
    assert [(0.75, "≥ 0.75x floor", "missed")] == _goal_marks(_group(doc, "read_4k", 1))


def test_memory_rows_never_show_a_negative_overhead(doc):
    """Below the content in memory reads 0, or says the content is on disk; never a minus sign."""
    doc["memory"] = [
        {"backend": "ours", "files": 10, "kept": 10, "bytes_per_file": 96.0,
         "overhead_per_file": -4.0, "disk_bytes_per_file": None, "reader": {}},
        {"backend": "fs", "files": 10, "kept": 10, "bytes_per_file": 60.0,
         "overhead_per_file": -40.0, "disk_bytes_per_file": 4096.0, "reader": {}},
    ]  # fmt: skip
    _title, _headers, rows = report.memory_table(doc)
    beyond = [row[2][0] for row in rows]
    assert ["0", "60 (content on disk)"] == beyond
    assert not any("-" in cell[0] for row in rows for cell in row[1:3])


def test_a_goal_met_reads_met_in_the_table(doc):
    """The goals table says met, NOT MET or not measured, from the goal's own verdict."""
    _title, _headers, rows = report.goals_table(doc)
    assert ["met", "met", "not measured", "met"] == [row[3][0] for row in rows]


def test_the_short_goals_table_gives_a_goal_once_with_every_count(doc):
    """One line per goal: its value at each thread count, and where it was missed."""
    doc["goals"][2] |= {"measured": "0.60x", "value": 0.6, "met": False}
    doc["goals"][0] |= {"value": 0.8}
    _title, _headers, rows = report.short_goals_table(doc)
    read = next(row for row in rows if row[0] == ["open+read 4 KiB: ours / floor"])
    assert [["8 threads: 0.80x; 1 thread: 0.60x"], ["MISSED at 1 thread; met elsewhere"]] == (
        read[2:]
    )


def test_a_goal_that_does_not_apply_reads_n_a_and_is_not_counted_as_missed(doc):
    """A goal the machine's floor does not allow is neither met nor missed."""
    doc["goals"][1] |= {"met": None, "applies": False}
    _title, _headers, rows = report.goals_table(doc)
    assert "n/a" == rows[1][3][0]
    expected = "Goals: 2 of 2 met; 1 that this machine's own floors do not allow; 1 not measured"
    assert expected + " in this run." == report.goals_sentence(doc)


def test_markdown_puts_the_summary_figure_first_and_the_panels_last(doc):
    """The figure, the goals in short, the rules, then the method and tables, the panels last."""
    text = report.markdown(doc, {"summary": "s.png", "detail": "d.png"})
    order = ["(s.png)", "**goals, in short**", *goals.rules(doc), report.DETAILS_MARK, "Command:",
             "**goals**", "(d.png)"]  # fmt: skip
    assert order == sorted(order, key=text.index)
    assert goals.GET_RULE in text  # a run over runserver
    assert goals.POST_RULE in text
    assert goals.SHARED_RULE not in text  # without the shared engine
    assert text.index(goals.RULES_SPARE) > text.index(goals.POST_RULE)


def test_both_figures_render(doc, tmp_path):
    """The summary and the detail render to PNG files from the document alone."""
    report.plot_summary(doc, tmp_path / "summary.png")
    report.plot(doc, tmp_path / "detail.png")
    for name in ("summary.png", "detail.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_document_carries_each_backends_label_and_version():
    """machine.backends() names what each key is and which version of it ran."""
    described = {"dj_inmemorystorage": "3.0", "commit": "abc", "django": "5.2.1",
                 "filesystem_storage_on": "tmpfs"}  # fmt: skip
    info = machine.backends(["ours", "django", "fs", "floor"], described)
    assert "inmemorystorage (ours)" == info["ours"]["label"]
    assert "dj-inmemorystorage 3.0 (commit abc)" == info["ours"]["version"]
    assert "Django 5.2.1" == info["django"]["version"]
    assert info["fs"]["version"].startswith("Django 5.2.1")
    assert "floor (dict, no lock)" == info["floor"]["label"]


def test_a_finished_step_is_one_line_with_its_figures():
    """The progress line of a finished job says its rate and any wrong reads."""
    job = Job("api", "read_4k · django · 1,8 thr", "benchmarks.worker",
              {"backend": "django", "scenario": "read_4k", "threads": [1, 8]})  # fmt: skip
    rep = {"ops": 10, "ops_per_s": 2e5, "wrong": 3, "checked": 10}
    figures = {
        "runs": [{"threads": 1, "reps": [rep]}, {"threads": 8, "reps": [rep | {"wrong": 0}]}]
    }
    line = step_line(job, figures, 1.25)
    assert "1 thr 200.0k/s (3 wrong or lost), 8 thr 200.0k/s (1.2 s)" == line


def test_progress_shows_a_line_per_step_when_piped(tmp_path, capsys):
    """Piped (not a terminal), the command prints one line per finished step, numbered."""
    bench = importlib.import_module("benchmarks.__main__")
    argv = ["--tiny", "--no-plot", "--no-http", "--no-memory", "--scenarios", "read_4k,save_4k"]
    assert 0 == bench.main([*argv, "--backends", "ours", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "[1/2] read_4k · ours · 4 thr: " in out
    assert "[2/2] save_4k · ours · 4 thr: " in out
    doc = json.loads((tmp_path / "bench-tiny.json").read_text())
    assert "inmemorystorage (ours)" == doc["backends"]["ours"]["label"]


#: Three rounds in which the medians are equal (200/s each) but ours was faster in two of the
#: three rounds: median over median says 1.0x, the median of the per-round ratios 1.2x.
FLOOR_RATES, OURS_RATES = [100.0, 300.0, 200.0], [120.0, 200.0, 400.0]


def _in_turn(doc, interleaved=True):
    """*doc* with the read_4k rows of ours and the floor measured in rounds (FLOOR/OURS_RATES)."""
    doc["config"]["interleaved"] = interleaved
    for row in doc["api"]:
        if row["scenario"] == "read_4k" and row["backend"] in ("floor", "ours"):
            rates = FLOOR_RATES if row["backend"] == "floor" else OURS_RATES
            row |= {"rates": rates, "median": 200.0, "min": min(rates), "max": max(rates)}
    return doc


def _read_rows(doc):
    rows = {r["backend"]: r for r in doc["api"] if r["scenario"] == "read_4k"}
    return rows["ours"], rows["floor"]


def test_a_ratio_of_repetitions_measured_in_turn_is_the_median_of_per_round_ratios(doc):
    """1.2, 0.67 and 2.0 per round: the ratio is 1.2, not the medians' 1.0, and spans 0.67-2.0."""
    ours, floor = _read_rows(_in_turn(doc))
    assert ratios.Ratio(1.2, pytest.approx(2 / 3), 2.0, paired=True) == ratios.ratio(
        ours, floor, in_turn=True
    )
    assert ratios.Ratio(1.0, 0.6, 2.0, paired=False) == ratios.ratio(ours, floor, in_turn=False)


def test_rows_that_do_not_pair_up_fall_back_to_median_over_median(doc):
    """Different numbers of repetitions, or rows without rates, are not paired."""
    ours, floor = _read_rows(_in_turn(doc))
    assert not ratios.ratio(ours, floor | {"rates": FLOOR_RATES[:2]}, in_turn=True).paired
    assert 1.0 == ratios.ratio(ours, {"median": 200.0}, in_turn=True).value
    assert ratios.ratio(ours, floor | {"median": 0.0}, in_turn=True) is None


def test_goals_table_and_summary_share_the_paired_ratio(doc):
    """The goal, the table's "x floor" and the summary bar all read 1.20x, with its spread."""
    _in_turn(doc)
    goal = goals._api_ratio(doc, "read_4k", "open+read 4 KiB", 8, 0.75, "floor")
    assert (1.2, "1.20x (per round 0.67x-2.00x)") == (goal.value, goal.measured)
    (_title, _headers, rows), *_ = report.api_tables(doc)
    ours_row = next(row for row in rows if row[0] == ["inmemorystorage (ours)"])
    assert "1.20x floor" in ours_row[2][2]
    bar = next(b for b in _group(doc, "read_4k")["bars"] if b["backend"] == "ours")
    assert (1.2, 2.0) == (bar["ratio"], bar["high"])
    assert pytest.approx(2 / 3) == bar["low"]


def test_an_older_document_keeps_its_ratios_of_medians(doc):
    """A run that did not interleave (no "interleaved" in its config) is read as it was measured."""
    _in_turn(doc, interleaved=False)
    goal = goals._api_ratio(doc, "read_4k", "open+read 4 KiB", 8, 0.75, "floor")
    assert (1.0, "1.00x") == (goal.value, goal.measured)
    bar = next(b for b in _group(doc, "read_4k")["bars"] if b["backend"] == "ours")
    assert 1.0 == bar["ratio"]
    assert "come from the same run" in report.markdown(doc)


def test_the_report_says_how_the_ratios_of_an_interleaved_run_are_computed(doc):
    """The header sentence names per-round ratios of repetitions measured in turn."""
    text = report.markdown(_in_turn(doc))
    assert "ratios are medians of per-round ratios of repetitions measured in turn" in text
    assert "come from the same run." not in text


# The shared engine (issue 22): its goals against FileSystemStorage and its server's tables.


def _shared_doc(doc):
    """*doc* with the shared engine and FileSystemStorage saving from threads and processes."""
    doc["config"] |= {"scenarios": ["read_4k", "brand_new", "save_4k_procs"],
                      "backends": [*doc["config"]["backends"], "ours-shared", "fs"]}  # fmt: skip
    doc["api"] += [
        _row("ours-shared", "read_4k", 60.0), _row("fs", "read_4k", 100.0, wrong=5, checked=50),
        _row("ours-shared", "save_4k_procs", 30.0, checked=40),
        _row("fs", "save_4k_procs", 20.0, checked=40),
    ]  # fmt: skip
    return doc


def _shared_goal(doc, goal_id):
    (goal,) = [g for g in goals.shared_goals(doc) if g.id == goal_id]
    return goal


def test_the_shared_engines_goals_are_ratios_to_filesystemstorage(doc):
    """Reads at least 0.5x FS (0.60x, met), saves from 4 processes at least 1.0x (1.50x, met)."""
    doc = _shared_doc(doc)
    reads = _shared_goal(doc, "read_4k/ours-shared/fs/8")
    saves = _shared_goal(doc, "save_4k_procs/ours-shared/fs/8")
    assert (0.6, 0.5, True) == (reads.value, reads.target_value, reads.met)
    assert (1.5, True) == (saves.value, saves.met)
    assert "save 4 KiB from 4 processes, 8 threads: ours-shared / fs" == saves.goal


def test_a_lost_save_fails_the_shared_engines_save_goal_whatever_its_ratio(doc):
    doc = _shared_doc(doc)
    doc["api"][-2] |= {"lost": 2}
    saves = _shared_goal(doc, "save_4k_procs/ours-shared/fs/8")
    assert (False, "1.50x (2 saves lost or given a taken name)") == (saves.met, saves.measured)


def test_the_shared_engines_correctness_goal_gives_filesystemstorages_wrong_reads_beside(doc):
    goal = _shared_goal(_shared_doc(doc), "correctness/ours-shared")
    assert (True, "0 wrong, 0 lost of 40 checked (FileSystemStorage: 5 wrong, 0 lost of 90)") == (
        goal.met, goal.measured,
    )  # fmt: skip


#: The shared engine's server figures as a ``server`` job gives them (made-up values).
SERVER_ROW = {
    "backend": "ours-shared",
    "memory": {
        "files": 20_000, "bytes_per_file": 690.0, "raw_per_file": 115, "ratio": 6.0,
        "rest_per_file": 60.0, "keys": 20_006,
        "structures": [
            {"structure": "file hash (f:<name>)", "encoding": "hashtable",
             "bytes_per_file": 430.0, "share": 430 / 690},
            {"structure": "recency set (lru)", "encoding": "skiplist",
             "bytes_per_file": 200.0, "share": 200 / 690},
        ],
    },
    "memory_listpack": {
        "files": 20_000, "bytes_per_file": 460.0, "raw_per_file": 115, "ratio": 4.0,
        "rest_per_file": 30.0, "setting": "hash-max-listpack-value 128",
        "structures": [
            {"structure": "file hash (f:<name>)", "encoding": "listpack",
             "bytes_per_file": 230.0, "share": 0.5},
        ],
    },
    "time": {
        "ops": 200, "passes": 15, "size": 4096, "ping": 9.0,
        "save": {"storage": 100.0, "engine": 94.0, "client": 86.0, "bare": 38.0, "server": 22.0},
        "read": {"storage": 75.0, "engine": 73.0, "client": 68.0, "bare": 28.0, "server": 14.0},
    },
}  # fmt: skip


def test_the_server_memory_goal_is_bytes_per_file_over_the_raw_name_and_content(doc):
    doc["server"] = [SERVER_ROW]
    goal = _shared_goal(doc, "server_memory/ours-shared")
    assert (6.0, False) == (goal.value, goal.met)
    assert "6.00x (690 B / 115 B; 4.00x with hash-max-listpack-value 128)" == goal.measured


def test_the_server_memory_table_says_where_the_bytes_go(doc):
    """Each kind of key, the rest, the whole against the raw bytes; the raised setting beside."""
    doc["server"] = [SERVER_ROW]
    (_title, headers, rows), _time = report.server_tables(doc)
    assert "with hash-max-listpack-value 128" == headers[-1]
    assert [
        ["file hash (f:<name>)", "hashtable", "430.0", "62%", "230.0 (listpack)"],
        ["recency set (lru)", "skiplist", "200.0", "29%", "-"],
        ["the rest (the keyspace's table, allocator rounding)", "", "60.0", "9%", "30.0"],
        ["in all: used_memory after - before, per file", "", "690.0", "6.00x the raw 115 B",
         "460.0 (4.00x)"],
    ] == [[cell[0] for cell in row] for row in rows]  # fmt: skip


def test_the_time_table_gives_each_layer_its_own_share_of_a_call(doc):
    """Each layer is the difference to the next one in; together they make the whole call."""
    doc["server"] = [SERVER_ROW]
    _memory, (_title, headers, rows) = report.server_tables(doc)
    assert ["layer", "save", "open+read"] == headers
    save = [float(row[1][0]) for row in rows[:5]]
    assert [6.0, 8.0, 48.0, 16.0, 22.0] == save
    assert ["in all: the Storage API call", "100.0", "75.0"] == [cell[0] for cell in rows[5]]


def test_a_scenario_table_lists_only_the_backends_measured_in_it(doc):
    """The 4-process scenario ran the shared backends only: its table has no empty rows."""
    tables = {title: rows for title, _headers, rows in report.api_tables(_shared_doc(doc))}
    backends = [row[0][0] for row in tables["save 4 KiB from 4 processes"]]
    assert ["ours, shared engine (Redis)", "FileSystemStorage"] == backends


def test_a_goal_whose_row_the_summary_does_not_draw_is_named_below_the_panels(doc):
    """The 4-process rows have no floor to draw against: a goal missed there is in the footer."""
    doc = _shared_doc(doc)
    doc["goals"] = [g.as_dict() for g in goals.shared_goals(doc)]
    doc["goals"][2] |= {"met": False}  # save_4k_procs at 8 threads
    _total, _met, missed = report.other_goals(doc)
    assert ["save 4 KiB from 4 processes, 8 threads: ours-shared / fs"] == [
        g["goal"] for g in missed
    ]
