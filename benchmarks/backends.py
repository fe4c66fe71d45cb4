"""The backends under test, one small factory each; each runs in its own process.

Factories import what they build only when called: dj-inmemorystorage 2.1.0 has
the import name ``inmemorystorage`` too, so the worker puts it first on
``sys.path`` before anything imports that name (see ``worker.py``).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
PEER_210 = PEERS_DIR / "dj-inmemorystorage-2.1.0"

#: The bounded backend's budget: room for the read and mixed scenarios, far less
#: than one save run writes, so that saving evicts.
BOUNDED_MAX_BYTES = 4 * 1024 * 1024


def scratch_root() -> tuple[Path, str]:
    """Where FileSystemStorage writes: /dev/shm (RAM) where it exists, else the temp dir."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm, "tmpfs (/dev/shm)"
    return Path(tempfile.gettempdir()), f"the temp dir ({tempfile.gettempdir()})"


def _ours(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from inmemorystorage import InMemoryStorage

    return InMemoryStorage(allow_overwrite=overwrite)


def _ours_bounded(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from inmemorystorage import InMemoryStorage

    max_bytes = BOUNDED_MAX_BYTES if budget is None else budget
    return InMemoryStorage(allow_overwrite=overwrite, max_bytes=max_bytes, on_full="evict")


def _django(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from django.core.files.storage import InMemoryStorage

    return InMemoryStorage()


def _peer_210(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    import inmemorystorage

    origin = Path(inmemorystorage.__file__).resolve()
    if PEER_210 not in origin.parents:
        msg = f"dj-inmemorystorage 2.1.0 expected, imported {origin}"
        raise RuntimeError(msg)
    return inmemorystorage.InMemoryStorage()


def _filesystem(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from django.core.files.storage import FileSystemStorage

    return FileSystemStorage(location=scratch, allow_overwrite=overwrite)


def namespace_for(scratch: Path) -> str:
    """The shared engine's namespace for a storage in *scratch*: the same in every process.

    A fresh storage of the bench is a fresh directory (see ``Env.new_storage``);
    on the server it is the namespace named after that directory, so that the
    processes of a multi-process scenario, given the directory, share the files
    as FileSystemStorage's processes share the directory.
    """
    return "bench-" + hashlib.blake2b(str(scratch).encode(), digest_size=8).hexdigest()


def _shared(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from inmemorystorage import InMemoryStorage

    from .redisserver import url

    return InMemoryStorage(
        allow_overwrite=overwrite, server=url(), namespace=namespace_for(scratch)
    )


def _clear(storage: Any) -> None:
    storage.clear()


def _floor(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from .floors import FloorStorage

    return FloorStorage(allow_overwrite=overwrite)


def _locked_floor(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from .floors import LockedFloorStorage

    return LockedFloorStorage(allow_overwrite=overwrite)


def _round_trip_floor(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from .floors import RoundTripFloorStorage
    from .redisserver import url

    return RoundTripFloorStorage(url(), allow_overwrite=overwrite)


def _shared_position(scratch: Path, overwrite: bool, budget: int | None) -> Any:
    from .floors import SharedPositionStorage

    return SharedPositionStorage(allow_overwrite=overwrite)


@dataclass(frozen=True)
class Backend:
    """One storage under test.

    ``make(scratch, overwrite, budget)`` builds one; *budget* is the
    ``max_bytes`` of a ``bounded`` backend (``None``: its default), ignored by
    the others. ``overwrite`` says how the mixed load replaces a file:
    ``"save"`` where the storage can be told to save over a taken name
    (``allow_overwrite``), else ``"open-wb"``: ``storage.open(name, "wb")``,
    write, close, the only public way to replace a file's content in place
    there.
    """

    key: str
    label: str
    make: Callable[[Path, bool, int | None], Any]
    overwrite: str = "save"
    peer: Path | None = None
    thread_safe: bool = True
    bounded: bool = False
    #: Several processes given the same directory see the same files (the multi-process
    #: scenarios run only these).
    shared: bool = False
    #: Needs the Redis server the runner starts (see ``redisserver.py``); its files are not in
    #: the process, so the in-process memory job makes way for the server's own figures.
    server: bool = False
    #: Called on a storage a save repetition is done with: the shared engine empties its
    #: namespace, so that a run's saves do not pile up on the server.
    discard: Callable[[Any], None] | None = None
    #: The only scenarios it is measured in (``None``: all).
    scenarios: tuple[str, ...] | None = None


BACKENDS: dict[str, Backend] = {
    b.key: b
    for b in (
        Backend("ours", "inmemorystorage (ours)", _ours),
        Backend("ours-bounded", "ours, max_bytes=4 MiB", _ours_bounded, bounded=True),
        Backend("django", "Django InMemoryStorage", _django, "open-wb", thread_safe=False),
        Backend(
            "dj210", "dj-inmemorystorage 2.1.0", _peer_210, "open-wb", PEER_210, thread_safe=False
        ),
        Backend(
            "ours-shared",
            "ours, shared engine (Redis)",
            _shared,
            shared=True,
            server=True,
            discard=_clear,
        ),
        Backend("fs", "FileSystemStorage", _filesystem, thread_safe=False, shared=True),
        Backend(
            "rtt-floor",
            "round-trip floor: one Redis SET or GET a call",
            _round_trip_floor,
            shared=True,
            server=True,
            discard=_clear,
            scenarios=("save_4k", "read_4k", "save_4k_procs", "read_4k_procs"),
        ),
        Backend("floor", "floor (dict, no lock)", _floor, thread_safe=False),
        Backend("locked-floor", "floor + one Lock", _locked_floor),
        Backend("broken", "broken (shared position)", _shared_position, thread_safe=False),
    )
}

#: What ``nox -s bench`` compares, in table order; ``broken`` is for the test suite.
DEFAULT_BACKENDS = (
    "ours", "ours-bounded", "ours-shared", "django", "dj210", "fs", "floor", "locked-floor",
    "rtt-floor",
)  # fmt: skip


def use_peer(backend: Backend) -> None:
    """Put the backend's peer distribution first on ``sys.path`` (before anything imports it)."""
    if backend.peer is None:
        return
    if "inmemorystorage" in sys.modules:
        msg = "inmemorystorage was imported before the peer was put on sys.path"
        raise RuntimeError(msg)
    sys.path.insert(0, str(backend.peer))
