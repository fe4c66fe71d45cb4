"""The README's quick start against an installed wheel, in a new project: what a user does first.

``nox -s build`` runs this script with the interpreter of a fresh virtualenv
that holds the wheel (and pytest, to load the plugin), never the checkout:
``python -I tests/wheel_quickstart.py README.md SITE_DIR``. It makes a site
with ``django-admin startproject``, appends the README's settings block to
settings.py and its URL lines to urls.py, as the README shows them, then:

- every module of the installed package imports in the configured site
  (but those that need an optional package it lacks: the debug toolbar's
  panel), and the ``pytest11`` entry point loads;
- ``manage.py check`` finds no issues;
- the README's shell block runs in ``manage.py shell``;
- under a real ``manage.py runserver`` (autoreloader and all, as a user
  starts it, on a free loopback port), a view saves a file through
  ``default_storage`` and a GET of its URL returns the same bytes, the
  storage page (the app's templates) lists it; nothing reaches the disk,
  and runserver stops on Ctrl-C (SIGINT) without a traceback.

A real runserver rather than Django's test ``Client``: it is what the README
tells a user to run, and it goes through what the test client skips (the
autoreloader's second process, where the app's ``ready()`` and its reload
handoff run, the WSGI handler and the dev server's threads).

Standard library only, and run with ``-I``: the checkout must not be importable.
"""

from __future__ import annotations

import http
import http.client
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import NoReturn

BLOCK = re.compile(
    r"^<!-- (?P<kind>[a-z ]+?)(?::[^>]*)? -->\n```(?:python)?\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
CONTENT = b"served from the wheel's storage\n" + bytes(range(256))
TIMEOUT = 120
STORAGE_PAGE = "/__inmemorystorage__/"
#: Appended to urls.py after the README's lines: what a site's upload view does.
SAVE_VIEW = """
# Added by tests/wheel_quickstart.py: a save through default_storage in the server.
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def save(request):
    name = default_storage.save(request.GET["name"], ContentFile(request.body))
    return HttpResponse(default_storage.url(name), content_type="text/plain")


urlpatterns += [path("quickstart-save/", save)]
"""
#: The optional packages a module of ours may need and the fresh virtualenv lacks:
#: inmemorystorage.panels is a django-debug-toolbar panel. Any other missing import
#: fails, such as a test-only tool imported by mistake, or a module of ours.
OPTIONAL_IMPORTS = {"debug_toolbar"}
IMPORT_EVERYTHING = f"""
import importlib, importlib.metadata, pkgutil
import inmemorystorage
names = [m.name for m in pkgutil.walk_packages(inmemorystorage.__path__, "inmemorystorage.")]
optional = []
for name in names:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        needed = (error.name or "").partition(".")[0]
        if needed not in {OPTIONAL_IMPORTS!r}:
            raise
        optional.append(f"{{name}} (needs {{needed}})")
(plugin,) = importlib.metadata.entry_points(group="pytest11", name="inmemorystorage")
plugin.load()
print(f"imported {{len(names) - len(optional)}} modules from {{inmemorystorage.__file__}}")
if optional:
    print("not imported, their optional dependency is not installed:", ", ".join(optional))
"""


class QuickStartError(Exception):
    """A step of the quick start failed; the message says which and what it printed."""


def readme_blocks(readme: Path) -> tuple[str, str, str]:
    """The README's settings block, its URL lines and its shell lines, as a user copies them."""
    blocks = [(m["kind"], m["code"]) for m in BLOCK.finditer(readme.read_text())]
    settings = [code for kind, code in blocks if kind == "settings"]
    urls = [code for kind, code in blocks if kind == "python" and "media_urlpatterns()" in code]
    shell = [code for kind, code in blocks if kind == "python" and "default_storage.save" in code]
    if not (len(settings) == len(urls) == len(shell) == 1):
        msg = (
            f"{readme} must have one <!-- settings --> block and one <!-- python --> block each "
            "with media_urlpatterns() and with default_storage.save; found "
            f"{len(settings)}, {len(urls)} and {len(shell)}"
        )
        raise QuickStartError(msg)
    return settings[0], urls[0], shell[0]


def _env() -> dict[str, str]:
    """This environment without what could point Python at the checkout or another site."""
    drop = {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def run(site: Path, *args: str) -> str:
    """Run this interpreter with *args* in *site*; its output, or QuickStartError."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=site,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        msg = f"`python {' '.join(args[:2])}` failed ({done.returncode}):\n{output}"
        raise QuickStartError(msg)
    return output


def make_site(readme: Path, site: Path) -> str:
    """A new project at *site* with the README's settings and URLs; the shell block to run."""
    settings, urls, shell = readme_blocks(readme)
    site.mkdir(parents=True)
    run(site, "-m", "django", "startproject", "quickstart", ".")
    with (site / "quickstart" / "settings.py").open("a") as settings_py:
        settings_py.write("\n" + settings)
    with (site / "quickstart" / "urls.py").open("a") as urls_py:
        urls_py.write("\n" + urls + SAVE_VIEW)
    return shell


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP request to the dev server; its status and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _stop(server: subprocess.Popen[str]) -> str:
    """Ctrl-C for runserver and its autoreloaded child; their output."""
    os.killpg(server.pid, signal.SIGINT)
    try:
        output, _ = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        output, _ = server.communicate()
        output += "\n(runserver did not stop on SIGINT within 30 s: killed)"
    return output


def say(line: str) -> None:
    """Print one line of progress (nox shows it)."""
    print(line, flush=True)  # noqa: T201


def fail(msg: str) -> NoReturn:
    """Stop the quick start with *msg*."""
    raise QuickStartError(msg)


def _exchange(server: subprocess.Popen[str], port: int) -> str:
    """Save CONTENT through the site's view once runserver answers, then GET it; its URL."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        if server.poll() is not None:
            fail(f"runserver exited ({server.returncode})")
        try:
            status, url = request(port, "POST", "/quickstart-save/?name=quick/start.bin", CONTENT)
            break
        except OSError:
            if time.monotonic() > deadline:
                fail(f"runserver did not answer on 127.0.0.1:{port} within {TIMEOUT} s")
            time.sleep(0.25)
    if status != http.HTTPStatus.OK:
        fail(f"POST /quickstart-save/ answered {status}: {url[:300]!r}")
    status, served = request(port, "GET", url.decode())
    if (status, served) != (http.HTTPStatus.OK, CONTENT):
        fail(f"GET {url.decode()} answered {status} with {served[:200]!r}, not the saved bytes")
    missing, _ = request(port, "GET", "/media/quick/never-saved.bin")
    if missing != http.HTTPStatus.NOT_FOUND:
        fail(f"GET of a file never saved answered {missing}, not 404")
    # The storage page renders the app's templates: they must be in the wheel.
    status, page = request(port, "GET", STORAGE_PAGE)
    if status != http.HTTPStatus.OK or b"start.bin" not in page:
        fail(f"GET {STORAGE_PAGE} answered {status}, without start.bin: {page[:300]!r}")
    return url.decode()


def serve_a_saved_file(site: Path) -> str:
    """Under runserver, save a file through a view, then GET it at its URL; the URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=site,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, for _stop()
    )
    try:
        url = _exchange(server, port)
    except QuickStartError as error:
        raise QuickStartError(f"{error}\nrunserver printed:\n{_stop(server)}") from None
    output = _stop(server)
    if "Traceback" in output:
        fail(f"runserver printed a traceback:\n{output}")
    return url


def main(readme: Path, site: Path) -> None:
    """Every step of the quick start, in the order a user takes them; QuickStartError on failure."""
    spec = importlib.util.find_spec("inmemorystorage")
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin is None or not origin.is_relative_to(Path(sysconfig.get_path("purelib")).resolve()):
        msg = f"inmemorystorage is found at {origin}, not in this virtualenv's site-packages"
        raise QuickStartError(msg)
    shell = make_site(readme, site)
    say(run(site, "manage.py", "shell", "-c", IMPORT_EVERYTHING).strip())
    checked = run(site, "manage.py", "check")
    if "no issues" not in checked:
        fail(f"manage.py check found issues:\n{checked}")
    say(checked.strip())
    run(site, "manage.py", "shell", "-c", shell)
    say("the README's shell block ran in manage.py shell")
    url = serve_a_saved_file(site)
    say(f"runserver saved {len(CONTENT)} bytes through default_storage and served them at {url}")
    on_disk = [p for p in site.rglob("*") if p.name in {"start.bin", "media"}]
    if on_disk:
        fail(f"the quick start wrote to the disk: {on_disk}")


if __name__ == "__main__":
    try:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
    except QuickStartError as failure:
        sys.exit(f"wheel quick start: {failure}")
    say("wheel quick start: passed")
