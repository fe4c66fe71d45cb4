"""``manage.py runserver`` *with its autoreloader*, in a project directory, for end-to-end tests.

The server runs in a session of its own, so that stopping it is what Ctrl-C
does in a terminal: SIGINT to the runserver command and its server process
together. Its temporary directory (``TMPDIR``) is the test's, so a test can
see what the hand-off leaves there.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import attrs

from tests.demo_server import HOST, DemoServer, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: How long a server may take to answer, to reload, and to stop.
WAIT_SECONDS = 60.0
#: What runserver prints each time a server process starts (Django 6.1 says "Starting WSGI
#: development server at", 5.2 "Starting development server at"; both say this).
STARTED = "Quit the server with"


@attrs.frozen
class ReloadingServer:
    """A runserver command: its address, process, console output and temporary directory."""

    demo: DemoServer
    tmpdir: Path

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The runserver command itself (the reloader's parent process)."""
        return self.demo.process

    def output(self) -> str:
        """What the command and its server processes printed so far."""
        return self.demo.output()

    def starts(self) -> int:
        """How many server processes have started so far."""
        return self.output().count(STARTED)

    def wait_for_reload(self, touch: Path) -> None:
        """Edit *touch* (a Python file) until a new server process serves; as a developer would.

        The reloader notices changes by modification time, once it has seen
        the file: the edit is repeated, a second later each time, until the
        server restarts.
        """
        before = self.starts()
        deadline = time.monotonic() + WAIT_SECONDS
        stamp = time.time()
        while self.starts() == before:
            if time.monotonic() > deadline:
                msg = f"no reload after editing {touch}; the output:\n{self.output()}"
                raise AssertionError(msg)
            stamp += 1
            os.utime(touch, (stamp, stamp))
            _sleep_until(lambda: self.starts() > before, 2.0)
        wait_until_serving(self)

    def stop(self) -> int:
        """Ctrl-C: SIGINT to the command and its server process; return the command's status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        return self._reap()

    def terminate(self) -> int:
        """SIGTERM to the command alone, as a process manager sends it; return its status."""
        self.process.terminate()
        return self._reap()

    def _reap(self) -> int:
        try:
            return self.process.wait(WAIT_SECONDS)
        finally:
            kill_group(self.process)


def _sleep_until(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():  # type: ignore[operator]
        time.sleep(0.05)


#: ``python manage.py ...`` as typed in a terminal, where Ctrl-C interrupts it.
#: A process started in the background by a non-interactive shell (a CI job
#: runner may be one) inherits SIGINT as ignored, and Python then installs no
#: handler for it: restore Python's own before running manage.py as __main__.
_AS_TYPED = (
    "import runpy, signal, sys; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


@contextlib.contextmanager
def reloading_server(
    project: Path, log: Path, tmpdir: Path, **environ: str
) -> Iterator[ReloadingServer]:
    """Run ``manage.py runserver 127.0.0.1:PORT`` in *project*, reloading, until the block ends."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "RUN_MAIN"}}
    env |= {"PYTHONUNBUFFERED": "1", "TMPDIR": os.fspath(tmpdir), **environ}
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", _AS_TYPED, "manage.py", "runserver", f"{HOST}:{port}"],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = ReloadingServer(DemoServer(port, process, log), tmpdir)
    try:
        wait_until_serving(server)
        yield server
    finally:
        if process.poll() is None:
            server.stop()
        kill_group(process)


def wait_until_serving(server: ReloadingServer) -> None:
    """Return once the server answers a request."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            msg = f"runserver exited with {server.process.returncode}:\n{server.output()}"
            raise AssertionError(msg)
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection(HOST, server.demo.port, timeout=5)
            try:
                connection.request("HEAD", "/")
                connection.getresponse().read()
                return
            finally:
                connection.close()
        time.sleep(0.1)
    msg = f"runserver did not answer in {WAIT_SECONDS:.0f} s:\n{server.output()}"
    raise AssertionError(msg)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Make sure nothing of the server's session is left running (a reaped group is gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(WAIT_SECONDS)


def group_alive(process: subprocess.Popen[bytes]) -> bool:
    """Whether any process of the server's session still exists."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True
