"""``python -m inmemorystorage``: says what it cannot do, and what can.

The files of an in-memory storage live in the memory of the process that
saved them. This module runs in a new process with no Django project, so it
can show none of them; it points to what can: the storage page of the dev
server, the ``inmemorystorage`` management command and the debug-toolbar
panel. It imports no Django.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

__all__ = ["main"]

EXPLANATION = """\
python -m inmemorystorage cannot show or change any stored file: it runs in a
process of its own, and an in-memory storage keeps its files in the memory of
the process that saved them (your runserver, a test run, a manage.py shell).
No other process sees them, this one included.

What shows them:

  The storage page of a running dev server, with DEBUG on and
  media_urlpatterns() from inmemorystorage.urls in the URLconf:
      http://127.0.0.1:8000/__inmemorystorage__/
  every in-memory storage of that server process, its files, its budget and
  its recent evictions; a store downloads as a tar and loads one.

  python manage.py inmemorystorage --help
  ls, stats, dump, load and clear, in the command's own process: it sees the
  files it loads itself (a tar downloaded from the page, say), never those of
  a running runserver.

  The django-debug-toolbar panel inmemorystorage.panels.InMemoryStoragePanel:
  the storage operations of each request, and the budgets.

To share the files between processes (runserver, manage.py shell, workers,
containers), give the storage a Redis server: OPTIONS["server"] =
"redis://127.0.0.1:6379/0". Then every process sees them, manage.py
inmemorystorage included (the how-to "Share files between processes").
"""


def main(argv: list[str] | None = None) -> int:
    """Print the explanation; any command is refused with a pointer to ``manage.py``.

    Returns:
        0, or 2 when a command was given (argparse's status for a usage error).
    """
    parser = argparse.ArgumentParser(
        prog="python -m inmemorystorage",
        description=EXPLANATION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _options, unknown = parser.parse_known_args(argv)
    if unknown:
        command = " ".join(unknown)
        sys.stderr.write(
            f"python -m inmemorystorage runs no command ({command!r}): it would see no file. "
            f"In your project, run: python manage.py inmemorystorage {command}\n"
        )
        return 2
    sys.stdout.write(f"dj-inmemorystorage {_version()}\n\n{EXPLANATION}")
    return 0


def _version() -> str:
    """The installed distribution's version, or ``unknown`` from a bare checkout."""
    try:
        return version("dj-inmemorystorage")
    except PackageNotFoundError:  # pragma: no cover  # the tests run an installed package
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
