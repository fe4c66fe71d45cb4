"""Uploads survive runserver's autoreload: the stores pass from the old server process to the new.

How runserver reloads (``django.utils.autoreload``): ``manage.py runserver``
(the *parent*) runs the server in a child process, with ``RUN_MAIN=true`` in
its environment (``restart_with_reloader()``), and starts a new child each
time one exits with status 3, which a child does (``sys.exit(3)``) after the
``file_changed`` signal reports an edited file and no receiver claims it.
Every one of these processes runs ``django.setup()``, so the app's
``ready()`` runs in the parent and in each child; :func:`start` is called
from there and does what the process's role needs:

1. The parent first removes the hand-off directories that runserver commands
   of this user left behind when they were killed (``SIGKILL``, a crash):
   each directory holds a lock file that its runserver keeps locked
   (``flock``) for as long as it runs, and the kernel releases the lock
   however the process ends, so a lock that can be taken means the command
   is gone, whatever process now has its pid. Then it creates its own
   private directory (``mkdtemp``: mode 0700, owned by the user), named
   after its process id, locks the lock file, and names the directory in its
   environment, which every child inherits. It deletes the directory when it
   exits (normally, on Ctrl-C, or on ``SIGTERM``, which runserver turns into
   a normal exit).
2. A child, in ``ready()`` (before it serves anything), claims the waiting
   hand-off of its runserver command by renaming it, reads and checks all of
   it, loads every store, and deletes it. A hand-off that is broken, foreign
   (another runserver's, another format) or does not fit is reported on the
   ``inmemorystorage`` logger and ignored as a whole: nothing of it is loaded.
3. A child that saw ``file_changed`` writes, as it exits, every store to a
   new file in the directory and renames it into place, so the next child
   finds a whole hand-off or none. A child killed without warning, or
   stopped with Ctrl-C, hands nothing over; so does a child whose runserver
   command is gone (an orphan, which no new child would follow).

Only a process whose parent is the runserver command named in the
directory's name reads or writes there, and only in a directory that is
private to this user (checked on an open descriptor, never through a link);
files are opened relative to it with ``O_NOFOLLOW``, and created with
``O_EXCL``. This needs POSIX (``flock``, ``O_NOFOLLOW``, ``dir_fd``): on other
systems the hand-off is off.

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
import errno
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import stat
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import storages
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, file_changed

from .archive import dump, read_files
from .configured import in_memory_storages
from .exceptions import StorageFull
from .storage import InMemoryStorage, shared_storages

if sys.platform != "win32":
    import fcntl

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import IO

    from .store import StoredFile

__all__ = ["DIRECTORY_ENV", "SETTING", "receive", "send", "start"]

logger = logging.getLogger("inmemorystorage")

#: The environment variable through which the parent names the directory to its children.
DIRECTORY_ENV = "INMEMORYSTORAGE_HANDOFF_DIR"
#: The setting that turns the hand-off off (True by default).
SETTING = "INMEMORYSTORAGE_RELOAD_HANDOFF"
#: The format this module writes and the only one it reads.
FORMAT = "inmemorystorage-reload-handoff/2"
_MANIFEST = "manifest.json"
#: The SHA-256 of the manifest, in hex: a tar checks its headers, not what members hold.
_MANIFEST_DIGEST = "manifest.sha256"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
#: How the parent names its directory: this prefix, its process id, a dash, mkdtemp's letters.
_PREFIX = "inmemorystorage-reload-"
_DIRECTORY_NAME = re.compile(re.escape(_PREFIX) + r"(?P<pid>[0-9]{1,10})-[a-z0-9_]+")
#: The file in each directory that its runserver command keeps locked while it runs.
_LOCK = "runserver.lock"
#: Every refusal that reading or loading a hand-off may raise; each means "load none of it".
_REFUSALS = (
    OSError,  # StorageFull (ENOSPC), ENAMETOOLONG, FileExistsError, unreadable files
    tarfile.TarError,  # not a tar, or a corrupt one
    SuspiciousFileOperation,  # a name that escapes the storage, a link, a device
    ValueError,  # a blank or NUL name, a time out of range, bad JSON
    OverflowError,  # a number too large for a time
    EOFError,  # a truncated compressed stream
)
#: Open a directory itself, never a link to one.
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
#: Whether this system has what the hand-off needs to be safe (POSIX).
SUPPORTED = (
    sys.platform != "win32"
    and hasattr(os, "O_NOFOLLOW")
    and {os.open, os.rename, os.unlink, os.stat} <= os.supports_dir_fd
)

#: Set in a child when file_changed was sent: the exit that follows is a reload.
_reload_announced = threading.Event()
#: Whether this process has done what start() does (once per process).
_started = threading.Event()
#: The parent's directory and the descriptor of its lock file, locked until the process ends.
_locks: dict[Path, int] = {}


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
    if _started.is_set() or not getattr(settings, SETTING, True) or not SUPPORTED:
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
    """In the parent: remove what dead runservers left, create the private directory, lock it.

    The directory is named after this process and deleted at exit; its lock
    file stays locked until this process ends, however it ends.
    """
    root = Path(tempfile.gettempdir())
    removed = remove_abandoned(root)
    if removed:
        logger.info(
            "Removed %d reload hand-off director%s left by runserver commands that are gone.",
            len(removed),
            "y" if len(removed) == 1 else "ies",
        )
    directory = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=root))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    lock = os.open(directory / _LOCK, flags, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a new file: nobody else can hold it
    _locks[directory] = lock
    atexit.register(_finish, directory)
    os.environ[DIRECTORY_ENV] = os.fspath(directory)
    return directory


def _finish(directory: Path) -> None:
    """At the parent's exit: delete its directory, then let go of its lock."""
    shutil.rmtree(directory, ignore_errors=True)
    lock = _locks.pop(directory, None)
    if lock is not None:
        os.close(lock)


def remove_abandoned(root: Path) -> list[Path]:
    """Delete the hand-off directories in *root* whose runserver command is gone; return them.

    Only directories of this user that are private to it and named as
    :func:`prepare` names them are looked at. One is abandoned when its lock
    can be taken (its runserver holds it for life, and the kernel lets go of
    it when that process ends, whatever then reuses its pid), or, with no
    lock file (its runserver died between creating it and locking),
    when no process of this user has the pid in its name.
    """
    try:
        entries = [entry.name for entry in os.scandir(root)]
    except OSError:
        return []
    removed = []
    for name in entries:
        match = _DIRECTORY_NAME.fullmatch(name)
        if match is None:
            continue
        path = root / name
        if _abandoned(path, int(match["pid"])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _abandoned(path: Path, pid: int) -> bool:
    """Whether the hand-off directory *path*, made by process *pid*, has lost its runserver."""
    try:
        directory = os.open(path, _DIRECTORY_FLAGS | os.O_CLOEXEC)
    except OSError:
        return False  # gone already, a link, or not ours to open
    try:
        if not _is_private_stat(os.fstat(directory)):
            return False  # another user's, or not made by prepare(): not ours to remove
        try:
            lock = os.open(_LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        except FileNotFoundError:
            return not _process_of_this_user(pid)
        except OSError:
            return False
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its runserver command still runs
        finally:
            os.close(lock)
        return True
    finally:
        os.close(directory)


def _process_of_this_user(pid: int) -> bool:
    """Whether a process with *pid* exists that this user may signal (is its own)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not the runserver of this user that made it
    return True


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

    Writes only from a server process of the runserver command that made
    *directory* (an orphan writes nothing), and only into a directory that
    is private to this user, checked on the descriptor it writes through.
    The file appears whole or not at all (written aside, then renamed).

    Raises:
        PermissionError: *directory* is not a private directory of this user.
        OSError: the directory cannot be opened, or the hand-off written.
    """
    reason = _not_ours(directory)
    if reason is not None:
        logger.warning("Did not hand the in-memory files over: %s.", reason)
        return 0
    outgoing = _outgoing()
    with _private_directory(directory) as descriptor:
        aside = f"sending-{os.getpid()}-{secrets.token_hex(8)}.tar"
        with _create(descriptor, aside) as output:
            try:
                total = _write_handoff(outgoing, output, descriptor)
                output.close()
                if total:
                    final = handoff_file(directory).name
                    os.rename(aside, final, src_dir_fd=descriptor, dst_dir_fd=descriptor)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(aside, dir_fd=descriptor)
    return total


def _not_ours(directory: Path) -> str | None:
    """Why this process must not use *directory*, or None: its parent must have made it."""
    match = _DIRECTORY_NAME.fullmatch(directory.name)
    if match is None:
        return f"{os.fspath(directory)!r} is not a directory that runserver made"
    parent = int(match["pid"])
    if parent != os.getppid():
        return (
            f"the runserver command that made {os.fspath(directory)!r} (pid {parent}) is not "
            f"this process's parent (pid {os.getppid()}): it has exited, or this process "
            "was started otherwise"
        )
    return None


@contextlib.contextmanager
def _private_directory(directory: Path) -> Iterator[int]:
    """A descriptor of *directory*, which must be a private directory of this user, not a link."""
    try:
        descriptor = os.open(directory, _DIRECTORY_FLAGS | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in {errno.ELOOP, errno.ENOTDIR}:  # a link (O_NOFOLLOW), or a file
            raise _not_private(directory) from exc
        raise
    try:
        if not _is_private_stat(os.fstat(descriptor)):
            raise _not_private(directory)
        yield descriptor
    finally:
        os.close(descriptor)


def _not_private(directory: Path) -> PermissionError:
    msg = (
        "not a private directory of this user (a directory, not a link, owned by uid "
        f"{os.getuid()}, that nobody else may enter)"
    )
    return PermissionError(errno.EACCES, msg, os.fspath(directory))


def _is_private_stat(info: os.stat_result) -> bool:
    """A directory owned by this user that nobody else may enter."""
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )


def _create(directory: int, name: str) -> IO[bytes]:
    """A new file *name* in the *directory* descriptor: never an existing file, never a link."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.fdopen(os.open(name, flags, 0o600, dir_fd=directory), "w+b")


@contextlib.contextmanager
def _scratch(directory: int) -> Iterator[IO[bytes]]:
    """A temporary file in the *directory* descriptor, already unlinked: gone when closed."""
    name = f"part-{os.getpid()}-{secrets.token_hex(8)}"
    with _create(directory, name) as part:
        os.unlink(name, dir_fd=directory)
        yield part


def _write_handoff(outgoing: list[_Outgoing], output: Any, directory: int) -> int:
    """The hand-off tar: one dump() per store, then the manifest that describes them."""
    stores: list[dict[str, Any]] = []
    total = 0
    with tarfile.open(fileobj=output, mode="w", format=tarfile.PAX_FORMAT) as handoff:
        for item in outgoing:
            with _scratch(directory) as part:
                names = dump(item.storage, part, by_recency=True)
                if not names:
                    continue
                member = tarfile.TarInfo(f"stores/{len(stores)}.tar")
                member.size = part.tell()
                part.seek(0)
                digest = _digest(part)
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
                    "sha256": digest,
                }
            )
        manifest = json.dumps({"format": FORMAT, "parent": os.getppid(), "stores": stores}).encode()
        manifest_digest = hashlib.sha256(manifest).hexdigest().encode()
        for name, content in ((_MANIFEST, manifest), (_MANIFEST_DIGEST, manifest_digest)):
            member = tarfile.TarInfo(name)
            member.size = len(content)
            handoff.addfile(member, io.BytesIO(content))
    return total


def _digest(file: IO[bytes]) -> str:
    """The SHA-256 of what is left to read in *file*, in hex."""
    sha256 = hashlib.sha256()
    while chunk := file.read(_CHUNK):
        sha256.update(chunk)
    return sha256.hexdigest()


class _Digesting:
    """A reader that computes the SHA-256 of the bytes read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        """Up to *size* bytes (all that is left if negative), counted in the digest."""
        data = self.raw.read(size)
        self.sha256.update(data)
        return data

    def hexdigest(self) -> str:
        """The digest of everything *raw* holds: what was read, and the rest, read now."""
        while chunk := self.raw.read(_CHUNK):
            self.sha256.update(chunk)
        return self.sha256.hexdigest()


def _outgoing() -> list[_Outgoing]:
    """Each store this process holds that the next one can find: by alias, namespace or persist.

    Not a storage on a Redis ``server``: its files stay on the server, where
    the next process finds them without a hand-off.
    """
    persist = bool(getattr(settings, "INMEMORYSTORAGE_PERSIST", False))
    found: list[_Outgoing] = []
    for alias, _config, _class in in_memory_storages():
        try:
            storage = storages[alias]
        except (ImproperlyConfigured, TypeError):
            continue  # bad OPTIONS: the storage never held a file (check E002 says why)
        assert isinstance(storage, InMemoryStorage)  # noqa: S101  # in_memory_storages() checked the class
        if storage.server is not None:
            continue  # the shared engine's files are on the server, for the next process too
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

    Only from a directory that this process's parent made, private to this
    user; a hand-off that cannot be loaded whole is reported and loads nothing.

    Returns:
        How many files were loaded (0 when none was waiting, or it was ignored).
    """
    reason = _not_ours(directory)
    if reason is not None:
        logger.warning("Ignored the reload hand-off directory: %s.", reason)
        return 0
    try:
        with _private_directory(directory) as descriptor:
            return _receive_from(descriptor)
    except OSError as exc:
        logger.warning("Ignored the reload hand-off directory %s: %s", directory, exc)
        return 0


def _receive_from(directory: int) -> int:
    """Claim the hand-off waiting in the *directory* descriptor, load it, delete it."""
    claimed = f"loading-{os.getpid()}.tar"
    waiting = f"handoff-{os.getppid()}.tar"
    try:
        os.rename(waiting, claimed, src_dir_fd=directory, dst_dir_fd=directory)
    except FileNotFoundError:
        return 0  # the first server process of this runserver, or nothing to hand over
    try:
        loaded = _load_claimed(directory, claimed)
    except HandoffError as exc:
        logger.warning("Ignored the in-memory files handed over by the old server process: %s", exc)
        return 0
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(claimed, dir_fd=directory)
    logger.info("Kept %d in-memory file(s) across the reload.", loaded)
    return loaded


def _load_claimed(directory: int, name: str) -> int:
    """Load the hand-off file *name*: a regular file of this user, not followed if a link."""
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    except OSError as exc:
        msg = f"{name} cannot be opened ({exc})"
        raise HandoffError(msg) from exc
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            msg = f"{name} is not a regular file of this user"
            raise HandoffError(msg)
        return _load(file, name)


def handoff_file(directory: Path) -> Path:
    """Where the server processes of this runserver command leave their hand-off.

    Named after the command (the server process's parent): a process that
    another process started, inheriting the environment, never claims it.
    """
    return directory / f"handoff-{os.getppid()}.tar"


def _load(file: IO[bytes], name: str) -> int:
    """Read and check all of the hand-off in *file*, then load every store, or none.

    Each store loads whole or not at all; if a later one refuses, the stores
    loaded before it get back exactly the files they had.
    """
    try:
        with tarfile.open(fileobj=file, mode="r:") as handoff:
            stores = _read_manifest(handoff)
            targets = [(entry, _target(entry)) for entry in stores]
            incoming = [
                (storage, _read_store(handoff, entry), entry)
                for entry, storage in targets
                if storage is not None
            ]
    except _REFUSALS as exc:
        msg = f"{name} is not a readable hand-off ({exc})"
        raise HandoffError(msg) from exc
    for entry, storage in targets:
        if storage is None:
            logger.warning(
                "Dropped %d in-memory file(s) of %s: no storage of this process takes them now.",
                entry["files"],
                _describe(entry),
            )
    loaded: list[tuple[InMemoryStorage, list[str], list[StoredFile]]] = []
    try:
        for storage, files, entry in incoming:
            before = storage.stored_files()
            try:
                names = storage.load_files(files, replace=True, keep_what_fits=True)
                loaded.append((storage, names, before))
                _report_dropped(storage, entry, len({file.name for file in files}) - len(names))
            except _REFUSALS as exc:
                msg = f"{_describe(entry)} refused its files: {exc}"
                raise HandoffError(msg) from exc
    except HandoffError:
        for storage, _names, before in reversed(loaded):  # all or nothing: as they were
            storage.clear()
            storage.load_files(before)
        raise
    return sum(len(names) for _storage, names, _before in loaded)


def _report_dropped(storage: InMemoryStorage, entry: dict[str, Any], count: int) -> None:
    """One console line for the files a smaller ``max_bytes`` could not keep (if any)."""
    if count > 0:
        logger.warning(
            "Evicted %d least recently used in-memory file(s) of %s: they did not fit "
            "max_bytes=%s beside the most recently used ones (it was %s).",
            count,
            _describe(entry),
            f"{storage.max_bytes:,}",
            f"{entry['max_bytes']:,}" if entry.get("max_bytes") is not None else "unbounded",
        )


def _read_manifest(handoff: tarfile.TarFile) -> list[dict[str, Any]]:
    """The store entries of the manifest, checked: this format, this runserver, sound fields."""
    content = _small_member(handoff, _MANIFEST)
    if hashlib.sha256(content).hexdigest().encode() != _small_member(handoff, _MANIFEST_DIGEST):
        msg = f"it is damaged: its {_MANIFEST} is not the one {_MANIFEST_DIGEST} describes"
        raise HandoffError(msg)
    try:
        manifest = json.loads(content)
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
        and type(entry.get("files")) is int
        and isinstance(entry.get("sha256"), str)
        and _HEX_DIGEST.fullmatch(entry["sha256"]) is not None
    )


def _read_store(handoff: tarfile.TarFile, entry: dict[str, Any]) -> list[StoredFile]:
    """The files of one store's archive inside the hand-off, read within the budget they had.

    The old process held them within its ``max_bytes``: more is no hand-off
    of ours. Whether they fit the new budget is the store's to say, when
    they are loaded.
    """
    reader = _Digesting(_member(handoff, entry["member"]))
    try:
        # A tar is read through read() alone: the reader needs no more of IO's methods.
        files = read_files(cast("IO[bytes]", reader), max_bytes=entry["max_bytes"])
    except StorageFull as exc:
        msg = f"the files of {_describe(entry)} are more than it held ({exc})"
        raise HandoffError(msg) from exc
    if reader.hexdigest() != entry["sha256"]:
        msg = f"it is damaged: its {entry['member']} is not the one its {_MANIFEST} describes"
        raise HandoffError(msg)
    return files


def _small_member(handoff: tarfile.TarFile, name: str) -> bytes:
    """The content of the regular file *name* in the hand-off, at most 1 MiB of it."""
    reader = _member(handoff, name)
    content = reader.read(_CHUNK + 1)
    if len(content) > _CHUNK:
        msg = f"its {name} is larger than 1 MiB"
        raise HandoffError(msg)
    return content


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
