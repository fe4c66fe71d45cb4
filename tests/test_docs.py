"""Every code block of the documentation runs, as a user would paste it.

Each fenced block in ``docs/`` follows a comment that says what a reader does
with it, and this module does the same:

- ``<!-- file: PATH -->``: the file at PATH in the project, as shown;
- ``<!-- append: PATH -->``: lines added at the end of that file;
- ``<!-- run -->`` or ``<!-- run: expect TEXT -->``: shell commands, run in
  the project one line at a time; each must succeed (and print TEXT);
- ``<!-- server -->``: ``manage.py runserver``, started by the page's own test;
- ``<!-- shell -->`` or ``<!-- shell: expect TEXT -->``: Python typed into
  ``python manage.py shell`` (which must print TEXT);
- ``<!-- settings -->``: lines of a ``settings.py``: every app they install
  imports, every storage they configure builds, their ``LOGGING`` applies;
- ``<!-- python -->``: Python run in a configured Django process;
- ``<!-- not run: REASON -->``: shown only, for the reason given.

A page whose blocks build a project starts from an empty directory and its
own ``django-admin startproject`` (the tutorial), or says at its top
``<!-- project: mysite uploads -->``: a project made by ``django-admin
startproject mysite .`` and ``python manage.py startapp uploads``, with the
app in ``INSTALLED_APPS``, which is what the how-to pages assume the reader
has. Nothing else is added: what a recipe needs, the page says.
"""

from __future__ import annotations

import http.client
import logging.config
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from importlib import import_module
from pathlib import Path

import pytest
from django.core.files.storage import InvalidStorageError
from django.test import override_settings
from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TIMEOUT = 180
DIRECTIVE = re.compile(r"^<!-- (?P<kind>[a-z]+(?: [a-z]+)??)(?::\s*(?P<arg>.*?))?\s*-->$")
PROJECT_LINE = re.compile(r"^<!-- project: (?P<project>\w+) (?P<app>\w+) -->$", re.MULTILINE)
KINDS = {"file", "append", "run", "server", "shell", "settings", "python", "not run"}
BUILDS = {"file", "append", "run", "shell", "server"}


class Block:
    """One fenced code block of a page and what the page says to do with it."""

    def __init__(self, page: Path, line: int, lang: str, code: str, directive: str) -> None:
        self.page = page
        self.line = line
        self.lang = lang
        self.code = code
        match = DIRECTIVE.match(directive)
        self.kind = match["kind"] if match else None
        self.arg = (match["arg"] or "") if match else ""

    def __repr__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The page's code blocks; MyST directives (```{toctree}) are not code."""
    found = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```") and not line.startswith("```{"):
            lang = line[3:].strip()
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            code = "\n".join(lines[index + 1 : end]) + "\n"
            found.append(Block(page, index + 1, lang, code, previous.strip()))
            index = end + 1
        elif line.startswith("```{"):
            index = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```")) + 1
        else:
            index += 1
    return found


PAGES = sorted(DOCS.rglob("*.md"))
ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def _page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


def test_the_docs_have_code_blocks():
    """The pages show code, and the parser finds it."""
    assert len(ALL_BLOCKS) >= 30


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=repr)
def test_every_code_block_is_run_or_says_why_not(block):
    """Each block is preceded by what a reader does with it; a block shown only says why."""
    assert block.kind in KINDS, f"{block!r}: no <!-- file/run/settings/... --> comment before it"
    if block.kind == "not run":
        assert len(block.arg) > 10, f"{block!r}: say why this block is not run"
    if block.kind in {"file", "append"}:
        assert block.arg, f"{block!r}: name the file"


# Projects: a page's blocks applied in order, in a directory of its own.


def _env() -> dict[str, str]:
    """This environment, without the settings module this test suite runs with."""
    return {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}


@pytest.fixture(autouse=True)
def _a_redis_server_for_the_pages(redis_url, monkeypatch):
    """REDIS_URL names a real server: the shared engine's how-to reads it from the environment."""
    monkeypatch.setenv("REDIS_URL", redis_url)


def _command(line: str) -> list[str]:
    """A documented command line as this interpreter runs it."""
    words = shlex.split(line)
    if words[0] in {"python", "python3"}:
        return [sys.executable, *words[1:]]
    if words[0] == "django-admin":
        return [sys.executable, "-m", "django", *words[1:]]
    if words[0] == "pytest":
        return [sys.executable, "-m", "pytest", *words[1:]]
    pytest.fail(f"the docs run {words[0]!r}, which this test does not know how to run")
    return []


def _run(project: Path, command: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(
        command,
        cwd=project,
        env=_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = done.stdout + done.stderr
    assert 0 == done.returncode, f"{shlex.join(command)} failed:\n{output}"
    return output


class Project:
    """A directory built by one page, block by block."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.outputs: list[tuple[str, str]] = []
        self.servers: list[Block] = []

    def apply(self, block: Block) -> None:
        """Do what the page says to do with *block*."""
        if block.kind == "file":
            target = self.root / block.arg
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code)
        elif block.kind == "append":
            target = self.root / block.arg
            assert target.is_file(), f"{block!r}: {block.arg} does not exist yet"
            with target.open("a") as f:
                f.write("\n" + block.code)
        elif block.kind == "run":
            for line in block.code.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    output = _run(self.root, _command(line))
                    self.outputs.append((line, output))
            self._expect(block)
        elif block.kind == "shell":
            output = _run(self.root, [sys.executable, "manage.py", "shell", "-c", block.code])
            self.outputs.append(("manage.py shell", output))
            self._expect(block)
        elif block.kind == "server":
            self.servers.append(block)

    def _expect(self, block: Block) -> None:
        """What ``<!-- run: expect TEXT -->`` (or ``shell:``) says the last command printed."""
        expected = block.arg.removeprefix("expect ").strip()
        if expected:
            assert expected in self.outputs[-1][1], f"{block!r}: {expected!r} not printed"


def build(page: Path, root: Path) -> Project:
    """The page's project, built in *root* from its blocks, after the layout it assumes."""
    project = Project(root)
    assumed = PROJECT_LINE.search(page.read_text())
    if assumed:
        _run(root, _command(f"django-admin startproject {assumed['project']} ."))
        _run(root, _command(f"python manage.py startapp {assumed['app']}"))
        with (root / assumed["project"] / "settings.py").open("a") as settings:
            settings.write(f'\nINSTALLED_APPS += ["{assumed["app"]}"]\n')
    for block in blocks(page):
        if block.kind in BUILDS:
            project.apply(block)
    return project


PROJECT_PAGES = [p for p in PAGES if any(b.kind in BUILDS for b in blocks(p))]


@pytest.mark.parametrize("page", PROJECT_PAGES, ids=_page_id)
def test_each_page_builds_its_project_and_its_commands_pass(page, tmp_path):
    """The page's files, pasted in order into the project, pass the commands the page runs."""
    project = build(page, tmp_path)
    assert project.outputs, f"{page}: a page that builds a project runs something in it"
    assert not (tmp_path / "media").exists(), "no upload reached the disk"


def test_every_how_to_page_assumes_a_startproject_layout():
    """The how-to pages with recipes start from startproject and startapp, as a reader does."""
    howtos = [p for p in PROJECT_PAGES if p.parent.name == "howto"]
    assert howtos
    for page in howtos:
        assert PROJECT_LINE.search(page.read_text()), f"{page}: say the layout it assumes"


# Settings and Python blocks, in this process.

SETTINGS_BLOCKS = [b for b in ALL_BLOCKS if b.kind == "settings"]
PYTHON_BLOCKS = [b for b in ALL_BLOCKS if b.kind == "python"]


def _startproject_settings(tmp_path: Path) -> dict[str, object]:
    """The names a settings.py made by startproject defines that snippets extend."""
    return {
        "BASE_DIR": tmp_path,
        "DEBUG": True,
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "STATIC_URL": "static/",
    }


@pytest.mark.usefixtures("forget_shared_stores")
@pytest.mark.parametrize("block", SETTINGS_BLOCKS, ids=repr)
def test_each_settings_block_configures_what_it_names(block, tmp_path):
    """Apps import, storages build with their options, and LOGGING applies."""
    namespace = _startproject_settings(tmp_path)
    exec(compile(block.code, repr(block), "exec"), namespace)  # noqa: S102  # our own docs
    for app in namespace["INSTALLED_APPS"]:  # type: ignore[attr-defined]
        import_module(app.rsplit(".apps.", 1)[0])
    for middleware in namespace["MIDDLEWARE"]:  # type: ignore[attr-defined]
        import_string(middleware)
    storages = namespace.get("STORAGES")
    logging_config = namespace.get("LOGGING")
    assert storages or logging_config or "INSTALLED_APPS" in block.code or "=" in block.code
    static = {
        "STATIC_URL": namespace.get("STATIC_URL"),
        "STATIC_ROOT": namespace.get("STATIC_ROOT"),
    }
    with override_settings(**static):
        for alias, config in (storages or {}).items():  # type: ignore[attr-defined]
            try:
                backend = import_string(config["BACKEND"])
            except ImportError as exc:
                raise InvalidStorageError(f"{block!r}: {alias}: {exc}") from exc
            backend(**config.get("OPTIONS", {}))
    if logging_config:
        logger = logging.getLogger("inmemorystorage")
        handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
        try:
            logging.config.dictConfig(logging_config)  # type: ignore[arg-type]
        finally:
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


@pytest.mark.usefixtures("forget_shared_stores")
@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=repr)
def test_each_python_block_runs(block, settings):
    """The block runs in a configured Django process, with in-memory default storage."""
    settings.STATIC_URL = "/static/"
    namespace: dict[str, object] = {"urlpatterns": [], "__name__": f"docs_block_{uuid.uuid4().hex}"}
    exec(compile(block.code, repr(block), "exec"), namespace)  # noqa: S102  # our own docs


# The tutorial, end to end: its site under its own runserver command.

TUTORIAL = DOCS / "tutorial.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port, method, path, body=b"", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _wait_until_up(port, server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"runserver exited: {server.stdout.read()}")
        try:
            return _request(port, "GET", "/")
        except OSError:
            time.sleep(0.2)
    pytest.fail("runserver did not answer within 60 s")
    return None


def _upload(port, name, content):
    """Post the tutorial's form as a browser would: CSRF cookie and token first."""
    _status, headers, page = _request(port, "GET", "/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    cookie = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", ""))
    assert token, page
    assert cookie, headers
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f"{token[1].decode()}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Cookie": f"csrftoken={cookie[1]}",
        "Referer": f"http://127.0.0.1:{port}/",
    }
    return _request(port, "POST", "/", body, headers)


def _tutorial_server(project: Project, root: Path, port: int) -> subprocess.Popen[str]:
    """The tutorial's own runserver command, run by this interpreter on *port*."""
    (server_block,) = project.servers
    command = [*_command(server_block.code.strip()), "--noreload", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        command, cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_the_tutorial_site_serves_an_upload_from_memory(tmp_path):
    """The tutorial's runserver takes an upload through its form and serves the same bytes.

    Stopped and started again, the server has lost the file, and the page
    lists the row that outlived it as gone, as the tutorial says.
    """
    project = build(TUTORIAL, tmp_path)
    port = _free_port()
    server = _tutorial_server(project, tmp_path, port)
    try:
        status, _headers, _page = _wait_until_up(port, server)
        assert 200 == status
        content = os.urandom(2048)
        status, _headers, page = _upload(port, "hello.bin", content)
        assert 302 == status, page
        _status, _headers, page = _request(port, "GET", "/")
        (link,) = re.findall(rb'href="(/media/[^"]+)"', page)
        status, _headers, served = _request(port, "GET", link.decode())
        assert (200, content) == (status, served)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert not any(p.name == "hello.bin" for p in tmp_path.rglob("*")), "the upload hit the disk"
    server = _tutorial_server(project, tmp_path, port)
    try:
        status, _headers, page = _wait_until_up(port, server)
        assert 200 == status, page
        assert b"documents/hello.bin (gone from memory)" in page
        assert 404 == _request(port, "GET", link.decode())[0]
    finally:
        server.terminate()
        server.communicate(timeout=30)


# The reference names every public name.

PUBLIC_MODULES = [
    "inmemorystorage",
    "inmemorystorage.testing",
    "inmemorystorage.pytest_plugin",
    "inmemorystorage.urls",
    "inmemorystorage.views",
    "inmemorystorage.signals",
    "inmemorystorage.middleware",
]
API = DOCS / "reference" / "api.md"


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_the_api_reference_documents_every_public_name(module):
    """Each name in a public module's __all__ is documented in the API reference."""
    documented = set(re.findall(r"::\s+([\w.]+)", API.read_text()))
    names = {f"{module}.{name}" for name in import_module(module).__all__}
    assert set() == names - documented
