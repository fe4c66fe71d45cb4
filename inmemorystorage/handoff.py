"""Uploads survive runserver's autoreload: the stores pass from the old server process to the new.

How runserver reloads (``django.utils.autoreload``): ``manage.py runserver``
(the *parent*) runs the server in a child process, with ``RUN_MAIN=true`` in
its environment (``restart_with_reloader()``), and starts a new child each
time one exits with status 3, which a child does (``sys.exit(3)``) after the
``file_changed`` signal reports an edited file and no receiver claims it.
Every one of these processes runs ``django.setup()``, so the app's
``ready()`` runs in the parent and in each child; :func:`start` is called
from there and does what the process's role needs:

1. The parent creates a private directory (``mkdtemp``: mode 0700, owned by
   the user) and names it in its environment, which every child inherits. It
   is deleted when the parent exits (normally, on Ctrl-C, or on ``SIGTERM``,
   which runserver turns into a normal exit).
2. A child, in ``ready()`` (before it serves anything), claims the waiting
   hand-off of its runserver command (the file is named after the command's
   process id) by renaming it, reads and checks all of it, loads every store,
   and deletes it. A hand-off that is broken, foreign (another runserver's,
   another format) or does not fit is reported on the ``inmemorystorage``
   logger and ignored as a whole: nothing of it is loaded.
3. A child that saw ``file_changed`` writes, as it exits, every store to a
   new file in the directory and renames it into place, so the next child
   finds a whole hand-off or none. A child killed without warning, or
   stopped with Ctrl-C, hands nothing over.

The stores handed over are those of every in-memory storage in ``STORAGES``
and every shared store (namespaces, ``INMEMORYSTORAGE_PERSIST``); an
instance with a private store built elsewhere is not found. The new process
loads each into the storage its *current* settings configure, so an edited
``max_bytes`` applies at once (files that no longer fit it together refuse
the hand-off). ``INMEMORYSTORAGE_RELOAD_HANDOFF = False`` turns it off.

No monkeypatching: the seams are the ``RUN_MAIN`` variable and the
``file_changed`` signal that Django documents for the autoreloader, the
environment that ``restart_with_reloader()`` passes on, and ``atexit``.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import logging
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import storages
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, file_changed

from .archive import dump, read_files
from .configured import in_memory_storages
from .storage import InMemoryStorage, shared_storages

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO

    from .store import StoredFile

__all__ = ["DIRECTORY_ENV", "SETTING", "receive", "send", "start"]

logger = logging.getLogger("inmemorystorage")

#: The environment variable through which the parent names the directory to its children.
DIRECTORY_ENV = "INMEMORYSTORAGE_HANDOFF_DIR"
#: The setting that turns the hand-off off (True by default).
SETTING = "INMEMORYSTORAGE_RELOAD_HANDOFF"
#: The format this module writes and the only one it reads.
FORMAT = "inmemorystorage-reload-handoff/1"
_MANIFEST = "manifest.json"

#: Set in a child when file_changed was sent: the exit that follows is a reload.
_reload_announced = threading.Event()
#: Whether this process has done what start() does (once per process).
_started = threading.Event()


class HandoffError(Exception):
    """A hand-off that cannot be loaded as a whole: broken, foreign, or refused by a store."""


@attrs.frozen
class _Outgoing:
    """One store to hand over: a storage that uses it, and how the next process finds it."""

    storage: InMemoryStorage
    aliases: tuple[str, ...]
    namespace: str | None
    persist: bool


def start() -> None:
    """Do this process's part of the hand-off: parent, server child, or nothing.

    Called from the app's ``ready()``; later calls do nothing.
    """
    if _started.is_set() or not getattr(settings, SETTING, True):
        return
    _started.set()
    if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
        directory = os.environ.get(DIRECTORY_ENV)
        if directory:
            receive(Path(directory))
            file_changed.connect(_announce_reload, dispatch_uid=__name__)
            atexit.register(_send_on_reload, Path(directory))
    elif is_runserver_with_reloader(sys.argv):
        prepare()


def is_runserver_with_reloader(argv: Sequence[str]) -> bool:
    """Whether *argv* runs runserver with its reloader: Django's own test, in ``execute()``."""
    return list(argv[1:2]) == ["runserver"] and "--noreload" not in argv


def prepare() -> Path:
    """In the parent: create the private directory, name it for the children, delete it at exit."""
    directory = Path(tempfile.mkdtemp(prefix="inmemorystorage-reload-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    os.environ[DIRECTORY_ENV] = os.fspath(directory)
    return directory


def _announce_reload(**kwargs: Any) -> None:  # noqa: ARG001  # a receiver takes the signal's arguments
    """``file_changed`` receiver: remember that a reload is coming; never claims the change."""
    _reload_announced.set()


def _send_on_reload(directory: Path) -> None:
    """At exit: hand the stores over if a reload was announced; report what cannot be written."""
    if not _reload_announced.is_set():
        return
    try:
        send(directory)
    except OSError as exc:
        logger.warning("Could not hand the in-memory files over to the reloaded server: %s", exc)


def send(directory: Path) -> int:
    """Write every store with files to a hand-off in *directory*; return how many files.

    The file appears whole or not at all (written aside, then renamed).
    """
    outgoing = _outgoing()
    descriptor, name = tempfile.mkstemp(prefix="sending-", suffix=".tar", dir=directory)
    aside = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as output:
            total = _write_handoff(outgoing, output, directory)
        if total:
            aside.replace(handoff_file(directory))
    finally:
        aside.unlink(missing_ok=True)
    return total


def _write_handoff(outgoing: list[_Outgoing], output: Any, directory: Path) -> int:
    """The hand-off tar: one dump() per store, then the manifest that describes them."""
    stores: list[dict[str, Any]] = []
    total = 0
    with tarfile.open(fileobj=output, mode="w", format=tarfile.PAX_FORMAT) as handoff:
        for item in outgoing:
            with tempfile.TemporaryFile(dir=directory) as part:
                names = dump(item.storage, part)
                if not names:
                    continue
                member = tarfile.TarInfo(f"stores/{len(stores)}.tar")
                member.size = part.tell()
                part.seek(0)
                handoff.addfile(member, part)
            total += len(names)
            stores.append(
                {
                    "member": member.name,
                    "aliases": list(item.aliases),
                    "namespace": item.namespace,
                    "persist": item.persist,
                    "max_bytes": item.storage.max_bytes,
                    "on_full": item.storage.on_full,
                    "files": len(names),
                }
            )
        manifest = json.dumps({"format": FORMAT, "parent": os.getppid(), "stores": stores}).encode()
        member = tarfile.TarInfo(_MANIFEST)
        member.size = len(manifest)
        handoff.addfile(member, io.BytesIO(manifest))
    return total


def _outgoing() -> list[_Outgoing]:
    """Each store this process holds that the next one can find: by alias, namespace or persist."""
    persist = bool(getattr(settings, "INMEMORYSTORAGE_PERSIST", False))
    found: list[_Outgoing] = []
    for alias, _config, _class in in_memory_storages():
        try:
            storage = storages[alias]
        except (ImproperlyConfigured, TypeError):
            continue  # bad OPTIONS: the storage never held a file (check E002 says why)
        assert isinstance(storage, InMemoryStorage)  # noqa: S101  # in_memory_storages() checked the class
        for index, item in enumerate(found):
            if _same_store(item.storage, storage):
                found[index] = attrs.evolve(item, aliases=(*item.aliases, alias))
                break
        else:
            in_persist_store = storage.namespace is None and persist
            found.append(_Outgoing(storage, (alias,), storage.namespace, in_persist_store))
    for storage in shared_storages():
        if not any(_same_store(item.storage, storage) for item in found):
            found.append(_Outgoing(storage, (), storage.namespace, storage.namespace is None))
    return found


def _same_store(first: InMemoryStorage, second: InMemoryStorage) -> bool:
    """Whether two storages share one store (both files and budget)."""
    # Package-internal: the storage exposes no public identity for its store.
    return first._store is second._store  # noqa: SLF001


def receive(directory: Path) -> int:
    """In a new server process: load the hand-off waiting in *directory*, then delete it.

    Returns:
        How many files were loaded (0 when none was waiting, or it was ignored).
    """
    if not _is_private(directory):
        logger.warning(
            "Ignored the reload hand-off directory %s: it is not a private directory of this user.",
            directory,
        )
        return 0
    claimed = directory / f"loading-{os.getpid()}.tar"
    try:
        handoff_file(directory).rename(claimed)
    except FileNotFoundError:
        return 0  # the first server process of this runserver, or nothing to hand over
    try:
        loaded = _load(claimed)
    except HandoffError as exc:
        logger.warning("Ignored the in-memory files handed over by the old server process: %s", exc)
        return 0
    finally:
        claimed.unlink(missing_ok=True)
    logger.info("Kept %d in-memory file(s) across the reload.", loaded)
    return loaded


def _is_private(directory: Path) -> bool:
    """A directory, not a link, owned by this user, that nobody else may enter."""
    try:
        info = directory.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )


def handoff_file(directory: Path) -> Path:
    """Where the server processes of this runserver command leave their hand-off.

    Named after the command (the server process's parent): a process that
    another process started, inheriting the environment, never claims it.
    """
    return directory / f"handoff-{os.getppid()}.tar"


def _load(path: Path) -> int:
    """Read and check all of the hand-off at *path*, then load every store, or none."""
    try:
        with tarfile.open(path, "r:") as handoff:
            stores = _read_manifest(handoff)
            incoming = [(entry, _read_store(handoff, entry)) for entry in stores]
    except (OSError, tarfile.TarError, SuspiciousFileOperation, ValueError) as exc:
        msg = f"{path.name} is not a readable hand-off ({exc})"
        raise HandoffError(msg) from exc
    targets = []
    for entry, files in incoming:
        storage = _target(entry)
        if storage is None:
            logger.warning(
                "Dropped %d in-memory file(s) of %s: no storage of this process takes them now.",
                len(files),
                _describe(entry),
            )
        else:
            targets.append((storage, files, entry))
    loaded: list[tuple[InMemoryStorage, list[str]]] = []
    try:
        for storage, files, entry in targets:
            try:
                loaded.append((storage, storage.load_files(files, replace=True)))
            except (OSError, ValueError, SuspiciousFileOperation) as exc:
                msg = f"{_describe(entry)} refused its files: {exc}"
                raise HandoffError(msg) from exc
    except HandoffError:
        for storage, names in loaded:  # all or nothing: take back what went in
            for name in names:
                storage.delete(name)
        raise
    return sum(len(names) for _storage, names in loaded)


def _read_manifest(handoff: tarfile.TarFile) -> list[dict[str, Any]]:
    """The store entries of the manifest, checked: this format, this runserver, sound fields."""
    reader = _member(handoff, _MANIFEST)
    try:
        manifest = json.loads(reader.read())
    except ValueError as exc:
        msg = f"its {_MANIFEST} is not JSON ({exc})"
        raise HandoffError(msg) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        msg = f"it is not in the format {FORMAT!r}"
        raise HandoffError(msg)
    if manifest.get("parent") != os.getppid():
        msg = "it was written under another runserver command"
        raise HandoffError(msg)
    stores = manifest.get("stores")
    if not isinstance(stores, list) or not all(map(_sound_entry, stores)):
        msg = f"its {_MANIFEST} does not describe the stores as {FORMAT!r} does"
        raise HandoffError(msg)
    return stores


def _sound_entry(entry: object) -> bool:
    """Whether a manifest entry has every field, each of its type."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("member"), str)
        and isinstance(entry.get("aliases"), list)
        and all(isinstance(alias, str) for alias in entry["aliases"])
        and isinstance(entry.get("namespace"), str | None)
        and isinstance(entry.get("persist"), bool)
        and (entry.get("max_bytes") is None or type(entry.get("max_bytes")) is int)
        and entry.get("on_full") in {"evict", "error"}
    )


def _read_store(handoff: tarfile.TarFile, entry: dict[str, Any]) -> list[StoredFile]:
    """The files of one store's archive inside the hand-off."""
    return read_files(_member(handoff, entry["member"]))


def _member(handoff: tarfile.TarFile, name: str) -> IO[bytes]:
    """The content of the regular file *name* in the hand-off, or a HandoffError saying why not."""
    try:
        member = handoff.getmember(name)
    except KeyError:
        msg = f"it has no {name}"
        raise HandoffError(msg) from None
    reader = handoff.extractfile(member) if member.isreg() else None
    if reader is None:
        msg = f"{name} in it is not a regular file"
        raise HandoffError(msg)
    return reader


def _target(entry: dict[str, Any]) -> InMemoryStorage | None:
    """The storage of this process that takes an entry's files, as the settings now say."""
    configured = {alias for alias, _config, _class in in_memory_storages()}
    for alias in entry["aliases"]:
        if alias in configured:
            with contextlib.suppress(ImproperlyConfigured, TypeError):
                storage = storages[alias]
                assert isinstance(storage, InMemoryStorage)  # noqa: S101  # checked just above
                return storage
    persist = bool(getattr(settings, "INMEMORYSTORAGE_PERSIST", False))
    if entry["namespace"] is None and not (entry["persist"] and persist):
        return None
    try:
        return InMemoryStorage(
            namespace=entry["namespace"], max_bytes=entry["max_bytes"], on_full=entry["on_full"]
        )
    except ImproperlyConfigured as exc:
        msg = f"{_describe(entry)} cannot be rebuilt: {exc}"
        raise HandoffError(msg) from exc


def _describe(entry: dict[str, Any]) -> str:
    """A store as the user configured it: its aliases, namespace, or the persist store."""
    if entry["aliases"]:
        return " and ".join(f"STORAGES[{alias!r}]" for alias in entry["aliases"])
    if entry["namespace"] is not None:
        return f"namespace {entry['namespace']!r}"
    return "the INMEMORYSTORAGE_PERSIST store"
