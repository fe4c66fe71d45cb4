"""docs/howto/runserver.md pasted into a fresh ``startproject`` site, run as its user would.

The site gets every block of the doc (``<!-- file: PATH -->`` replaces a
file, ``<!-- append: PATH -->`` adds to one, as "at the end of your
settings.py" says), plus an app of its own: a model with a ``FileField`` and
a model form view that does not catch ``StorageFull``. Then: ``manage.py
check``, the doc's test recipe under ``manage.py test``, and a real
``runserver`` with its reloader: upload, edit code, reload, the same bytes;
an upload over the budget answered 413; evictions on the console and in the
404; nothing left in the temporary directory once the server stops.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.demo_server import DemoClient
from tests.reloading_server import reloading_server

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "howto" / "runserver.md"
BLOCK = re.compile(
    r"<!-- (?P<how>file|append): (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```", re.DOTALL
)
TIMEOUT = 120
#: The site's budget: small, so that a few uploads evict and one is too large.
MAX_BYTES = 400_000

#: The site's own app: what a user of the doc already has, not what the doc gives.
SITE_FILES = {
    "uploads/__init__.py": "",
    "uploads/models.py": """
        from django.db import models


        class Document(models.Model):
            file = models.FileField(upload_to="docs/")
        """,
    "uploads/views.py": """
        from urllib.parse import urlencode

        from django import forms
        from django.shortcuts import redirect, render

        from .models import Document


        class DocumentForm(forms.ModelForm):
            class Meta:
                model = Document
                fields = ["file"]


        def upload(request):
            form = DocumentForm(request.POST or None, request.FILES or None)
            if form.is_valid():
                document = form.save()
                return redirect("/?" + urlencode({"saved": document.file.name}))
            return render(request, "uploads/upload.html", {"form": form})
        """,
    "uploads/templates/uploads/upload.html": """
        <form method="post" enctype="multipart/form-data">
          {% csrf_token %}{{ form }}<button>Upload</button>
        </form>
        """,
}
#: Added after the doc's blocks: the site's app, its URL, the test's small budget.
SITE_APPENDS = {
    "mysite/settings.py": f"""
        INSTALLED_APPS += ["uploads"]
        STORAGES["default"]["OPTIONS"]["max_bytes"] = {MAX_BYTES}
        """,
    "mysite/urls.py": """
        from uploads.views import upload

        urlpatterns.append(path("", upload))
        """,
}


def doc_blocks() -> list[tuple[str, str, str]]:
    """``(how, path, code)`` of each block of the doc, in order."""
    return [(m["how"], m["path"], m["code"]) for m in BLOCK.finditer(DOC.read_text())]


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This Python in the project, with the project's own settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "RUN_MAIN"}}
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A ``startproject`` site with the doc's blocks, the site's app, and its database."""
    root = tmp_path_factory.mktemp("runserver_site")
    created = run(root, "-m", "django", "startproject", "mysite", ".")
    assert 0 == created.returncode, created.stderr
    for how, path, code in doc_blocks():
        _write(root / path, code, append=how == "append")
    for path, code in SITE_FILES.items():
        _write(root / path, textwrap.dedent(code).lstrip(), append=False)
    for path, code in SITE_APPENDS.items():
        _write(root / path, textwrap.dedent(code), append=True)
    for command in (["makemigrations", "uploads"], ["migrate"]):
        result = run(root, "manage.py", *command)
        assert 0 == result.returncode, result.stdout + result.stderr
    return root


def _write(path: Path, code: str, *, append: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if append:
        code = path.read_text() + "\n" + code
    path.write_text(code)


def test_the_doc_gives_every_snippet():
    """The doc has the blocks that the tests below paste and run."""
    expected = [
        ("append", "mysite/settings.py"),
        ("file", "mysite/urls.py"),
        ("file", "mysite/quiet_settings.py"),
        ("file", "uploads/media_fixtures/logo.svg"),
        ("file", "uploads/test_gallery.py"),
    ]
    assert expected == [(how, path) for how, path, _code in doc_blocks()]


def test_the_site_passes_its_checks(project):
    """With the doc's settings, ``manage.py check`` finds nothing to report."""
    result = run(project, "manage.py", "check")
    assert 0 == result.returncode, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_fixtures_recipe_passes_under_manage_py_test(project):
    """The doc's test class loads the media fixtures once and its tests pass."""
    result = run(project, "manage.py", "test", "uploads")
    output = result.stdout + result.stderr
    assert 0 == result.returncode, output
    assert "Ran 2 tests" in output


EVICT_SCRIPT = f"""
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

for name in ["first.bin", "second.bin", "third.bin"]:
    default_storage.save(name, ContentFile(b"x" * {MAX_BYTES // 3}))
"""


def test_an_eviction_is_printed_under_default_logging(project):
    """With Django's default logging, an eviction prints one line: file, size and store."""
    result = run(project, "manage.py", "shell", "-c", EVICT_SCRIPT)
    assert 0 == result.returncode, result.stderr
    lines = [line for line in result.stderr.splitlines() if "evicted" in line]
    assert [f"evicted 'first.bin' ({MAX_BYTES // 3} bytes) from media to make room"] == [
        line.split("] ", 1)[1] for line in lines
    ]


def test_the_quiet_logging_recipe_silences_evictions(project):
    """With the doc's LOGGING, the logger is the project's: evictions at INFO are not printed."""
    result = run(
        project, "manage.py", "shell", "--settings=mysite.quiet_settings", "-c", EVICT_SCRIPT
    )
    assert 0 == result.returncode, result.stderr
    assert "evicted" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    """The site under ``runserver`` with its reloader, for the tests that share it."""
    base = tmp_path_factory.mktemp("runserver_reloading")
    with reloading_server(project, base / "runserver.log", base / "tmp") as running:
        yield running


@pytest.fixture
def http(server):
    with DemoClient(server.demo) as client:
        yield client


def test_the_handoff_directory_is_private(server):
    """While runserver runs, its hand-off directory is one 0700 directory in the temp dir."""
    (directory,) = server.tmpdir.iterdir()
    assert (True, 0o700) == (directory.is_dir(), stat.S_IMODE(directory.stat().st_mode))


def test_an_upload_survives_a_code_edit(server, http, project):
    """Upload through the model form, edit a .py file, wait for the reload: the same bytes."""
    content = os.urandom(50_000)
    name = http.upload("survivor.bin", content)
    before = http.get(f"/media/{name}")
    server.wait_for_reload(project / "uploads" / "views.py")
    with DemoClient(server.demo) as fresh:
        after = fresh.get(f"/media/{name}")
    assert (200, content, before.headers["Last-Modified"]) == (
        after.status,
        after.body,
        after.headers["Last-Modified"],
    )
    assert "Kept 1 in-memory file(s) across the reload." in server.output()


def test_an_upload_larger_than_the_budget_is_413_with_what_to_change(http):
    """A file over max_bytes gets 413 and a page naming it, its size, the budget and the option."""
    http.get("/")
    response = http.request(*_multipart(http, "huge.bin", b"z" * (MAX_BYTES + 1)))
    page = response.body.decode()
    assert 413 == response.status, page[-3000:]
    assert "huge.bin" in page
    assert f"{MAX_BYTES + 1:,} bytes" in page
    assert f"max_bytes={MAX_BYTES:,}" in page
    assert "STORAGES[&#x27;default&#x27;][&#x27;OPTIONS&#x27;][&#x27;max_bytes&#x27;]" in page


def test_an_eviction_shows_on_the_console_and_in_the_404(server, http):
    """Uploads that overflow the budget evict; the console says so, and the 404 says when."""
    names = [http.upload(f"wave-{i}.bin", os.urandom(MAX_BYTES // 3)) for i in range(3)]
    evicted = names[0]
    response = http.get(f"/media/{evicted}", accept="text/html")
    assert 404 == response.status
    line = f"evicted '{evicted}' ({MAX_BYTES // 3} bytes) from media to make room"
    assert 1 == server.output().count(line)
    assert re.search(
        r"was evicted at \d\d:\d\d:\d\d to make room, max_bytes=" + f"{MAX_BYTES:,}",
        response.body.decode(),
    )


@pytest.mark.parametrize("how", ["stop", "terminate"], ids=["ctrl-c", "sigterm"])
def test_stopping_runserver_leaves_nothing_in_the_temp_dir(project, tmp_path, how):
    """After an upload and a reload, Ctrl-C or SIGTERM stops runserver; its directory is gone."""
    with reloading_server(project, tmp_path / "runserver.log", tmp_path / "tmp") as server:
        with DemoClient(server.demo) as client:
            client.upload("bye.bin", b"bye")
        server.wait_for_reload(project / "uploads" / "models.py")
        status = getattr(server, how)()
    assert (0, []) == (status, list((tmp_path / "tmp").iterdir()))


def _multipart(client: DemoClient, filename: str, content: bytes) -> tuple[str, str, bytes, dict]:
    """A POST of the upload form with *content*, as DemoClient.upload builds it."""
    boundary = "----inmemorystorage-test-boundary"
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n',
            f"{client.csrf_token}\r\n".encode(),
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            content,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Accept": "text/html",
    }
    return "POST", "/", body, headers
