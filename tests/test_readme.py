"""The README: short, honest about what it supports, and every block runs as pasted.

Its code blocks follow the same comments as the docs' (see ``test_docs.py``):
settings build the storages they name, Python runs in a configured process,
and a block shown only says why.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tests import test_docs as harness

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text()
BLOCKS = harness.blocks(README)


def _noxfile_matrix() -> list[tuple[str, str]]:
    source = (ROOT / "noxfile.py").read_text()
    return re.findall(r'\("(3\.\d+)", "(\d+\.\d+)"\)', source.split("DJANGO_MATRIX", 1)[1])


def test_the_readme_is_short():
    """At most 150 lines: what, why, install, configure, two commands, links."""
    assert len(TEXT.splitlines()) <= 150


def _claimed(text: str) -> set[tuple[str, str]]:
    """The (Python, Django) pairs a "Supports ..." paragraph names."""
    (paragraph,) = re.findall(r"Supports\*?\*? (.*?)\n\n", text, flags=re.DOTALL)
    line = " ".join(paragraph.split())
    return {
        (python, django)
        for django, pythons in re.findall(r"Django (\d+\.\d+) on Python ([\d., and]+)", line)
        for python in re.findall(r"3\.\d+", pythons)
    }


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "index.md"], ids=lambda p: p.name)
def test_the_supported_versions_are_exactly_what_the_test_matrix_runs(page):
    """The Supports line names each (Python, Django) pair of `nox -s tests`, and no other."""
    assert set(_noxfile_matrix()) == _claimed(page.read_text())


def test_the_readme_test_command_is_what_ci_runs():
    """.ci/run runs the README's test command, word for word."""
    command = "python3 -m pip install nox && python3 -m nox -s tests"
    assert command in TEXT
    assert command.replace("install nox", "install --quiet nox") in (ROOT / ".ci/run").read_text()


def test_every_relative_link_and_image_exists():
    """Links into the docs, the changelog and the figure point at files in the repository."""
    targets = re.findall(r"\]\(([^)#:]+)\)", TEXT)
    assert targets
    assert [] == [t for t in targets if not (ROOT / t).exists()]


def test_the_figure_names_the_commit_it_was_measured_at():
    """The caption's commit is the one the benchmark's JSON says the figure was measured at."""
    doc = json.loads((ROOT / "benchmarks/results/bench-full.json").read_text())
    assert f"at commit {doc['machine']['commit']} " in TEXT


def test_no_benchmark_tables_in_the_readme():
    """The figures live in the docs; the README shows one summary image."""
    assert "| backend |" not in TEXT
    assert 1 == TEXT.count("![")


@pytest.mark.parametrize("block", BLOCKS, ids=repr)
def test_every_block_is_run_or_says_why_not(block):
    """Each block is preceded by what a reader does with it."""
    harness.test_every_code_block_is_run_or_says_why_not(block)


SETTINGS = [b for b in BLOCKS if b.kind == "settings"]
PYTHON = [b for b in BLOCKS if b.kind == "python"]


@pytest.mark.usefixtures("forget_shared_stores")
@pytest.mark.parametrize("block", SETTINGS, ids=repr)
def test_the_settings_build_every_storage_they_name(block, tmp_path):
    """The README's settings install importable apps and storages that build."""
    harness.test_each_settings_block_configures_what_it_names(block, tmp_path)


@pytest.mark.usefixtures("forget_shared_stores")
@pytest.mark.parametrize("block", PYTHON, ids=repr)
def test_the_python_runs(block, settings):
    """The README's Python runs in a configured Django process."""
    harness.test_each_python_block_runs(block, settings)


def _python_block(text: str) -> harness.Block:
    (block,) = [b for b in PYTHON if text in b.code]
    return block


def test_the_quick_start_pasted_into_a_new_project_serves_an_upload(tmp_path):
    """What a reader does first: startproject, then the README's settings, URLs and shell lines.

    The settings go at the end of settings.py, the URL lines at the end of
    urls.py, as the README shows them; ``manage.py check`` passes, the shell
    block runs in ``manage.py shell``, and a saved file is served at its URL.
    """
    harness._run(tmp_path, harness._command("django-admin startproject mysite ."))
    (settings_block,) = SETTINGS
    with (tmp_path / "mysite" / "settings.py").open("a") as settings_py:
        settings_py.write("\n" + settings_block.code)
    with (tmp_path / "mysite" / "urls.py").open("a") as urls_py:
        urls_py.write("\n" + _python_block("media_urlpatterns()").code)
    manage = [sys.executable, "manage.py"]
    assert "no issues" in harness._run(tmp_path, [*manage, "check"])
    harness._run(tmp_path, [*manage, "shell", "-c", _python_block("default_storage.save").code])
    served = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

name = default_storage.save("quick/start.txt", ContentFile(b"served from memory"))
response = Client().get(default_storage.url(name), HTTP_HOST="127.0.0.1")
assert (response.status_code, response.content) == (200, b"served from memory"), response
print("served at", default_storage.url(name))
"""
    assert "served at /media/quick/start.txt" in harness._run(
        tmp_path, [*manage, "shell", "-c", served]
    )
    assert not (tmp_path / "media").exists(), "no upload reached the disk"
