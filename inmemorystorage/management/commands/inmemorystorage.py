"""``manage.py inmemorystorage``: list, measure, dump, load and clear the in-memory stores.

A management command runs in a process of its own. With the in-process
engine it sees the files *that* process holds: none at first, and what it
loads, such as a tar downloaded from the storage page. It never sees what a
running ``runserver`` holds, and it says so; the storage page
(``/__inmemorystorage__/`` on the dev server) shows that. A storage with a
``server`` is shared: the command acts on what every process sees.

Subcommands, each with ``--help``::

    manage.py inmemorystorage ls [STORE] [--load TAR]
    manage.py inmemorystorage stats [STORE] [--load TAR]
    manage.py inmemorystorage dump [STORE] TARGET
    manage.py inmemorystorage load [STORE] SOURCE [--replace]
    manage.py inmemorystorage clear [STORE]
    manage.py inmemorystorage repair [STORE]

``STORE`` is a ``STORAGES`` alias (``default`` when left out) or
``namespace:<name>``. Errors are reported as Django's own commands report
them (``CommandError``: a message on stderr and exit status 1; a usage
error, exit status 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from inmemorystorage.archive import dump, load
from inmemorystorage.inventory import HeldStore, take_inventory
from inmemorystorage.urls import PAGE_PREFIX

#: What loading an archive can refuse: each is the input's fault, reported as a CommandError.
_LOAD_ERRORS = (OSError, ValueError, SuspiciousFileOperation, tarfile.TarError)
_DEFAULT_STORE = "default"


def _common_options() -> CommandParser:
    """Django's options that every command takes, for the subcommands: ``ls -v 0`` as ``-v 0 ls``.

    A Django developer writes them after the arguments (``migrate app -v 0``);
    a subcommand's parser would refuse them there. Left out, each keeps what
    the command's own parser read before the subcommand (``SUPPRESS``).
    """
    common = CommandParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        default=argparse.SUPPRESS,
        help="0 prints only the data (a listing, a tar), 1 also what was done (the default)",
    )
    for option in ("--settings", "--pythonpath"):
        common.add_argument(option, default=argparse.SUPPRESS, help="as Django's commands take it")
    for flag in ("--traceback", "--no-color", "--force-color"):
        common.add_argument(
            flag,
            action="store_true",
            default=argparse.SUPPRESS,
            help="as Django's commands take it",
        )
    return common


class Command(BaseCommand):
    """List, measure, dump, load and clear the in-memory stores of this process."""

    help = (
        "List, measure, dump (to a tar), load (from a tar or a directory) and clear the "
        "in-memory stores. Runs in its own process: it sees what it loads itself, and none of "
        f"the files a running runserver holds (open /{PAGE_PREFIX} on the dev server for those)."
    )
    #: The checks are for servers; a command that reads stores needs none of them.
    requires_system_checks: list[str] = []  # noqa: RUF012  # Django's declared type

    def add_arguments(self, parser: CommandParser) -> None:
        """The subcommands and their arguments."""
        subcommands = parser.add_subparsers(
            dest="subcommand", required=True, metavar="{ls,stats,dump,load,clear,repair}"
        )
        common = _common_options()
        store_help = (
            f"A STORAGES alias, or namespace:<name> (default: {_DEFAULT_STORE}); "
            "ls and stats show every store when it is left out"
        )

        listing = subcommands.add_parser(
            "ls",
            parents=[common],
            help="list the files of a store: size, modification time (in TIME_ZONE), name",
        )
        listing.add_argument("store", nargs="?", help=store_help)
        listing.add_argument("--load", metavar="TAR", help="first load this tar (or directory)")

        stats = subcommands.add_parser(
            "stats",
            parents=[common],
            help="a store's figures: files, bytes used against max_bytes, evictions",
        )
        stats.add_argument("store", nargs="?", help=store_help)
        stats.add_argument("--load", metavar="TAR", help="first load this tar (or directory)")

        dumping = subcommands.add_parser(
            "dump", parents=[common], help="write every file of a store to a tar"
        )
        dumping.add_argument("store_and_target", nargs="+", metavar="[STORE] TARGET")
        dumping.epilog = "TARGET is a path to create, or - for standard output."

        loading = subcommands.add_parser(
            "load",
            parents=[common],
            help="store the files of a tar or a directory: all of them, or none",
        )
        loading.add_argument("store_and_source", nargs="+", metavar="[STORE] SOURCE")
        loading.add_argument(
            "--replace", action="store_true", help="overwrite files of the same name"
        )
        loading.epilog = (
            "SOURCE is a tar (plain or compressed), a directory, or - for standard input."
        )

        clearing = subcommands.add_parser(
            "clear", parents=[common], help="remove every file of a store"
        )
        clearing.add_argument("store", nargs="?", help=store_help)

        repairing = subcommands.add_parser(
            "repair",
            parents=[common],
            help="count a shared store again from the keys its Redis server holds",
        )
        repairing.add_argument("store", nargs="?", help=store_help)

    def handle(self, *_args: Any, **options: Any) -> None:
        """Say which process this is, then run the subcommand."""
        self.verbosity = int(options["verbosity"])
        self._note_process()
        subcommand = options["subcommand"]
        if subcommand in {"ls", "stats"}:
            stores = self._stores(options["store"])
            if options["load"]:
                self._load(self._one(options["store"]), options["load"], replace=False)
            for held in stores:
                (self._list if subcommand == "ls" else self._stats)(held)
        elif subcommand == "dump":
            store, target = self._split(options["store_and_target"], "TARGET")
            self._dump(self._one(store), target)
        elif subcommand == "load":
            store, source = self._split(options["store_and_source"], "SOURCE")
            self._load(self._one(store), source, replace=options["replace"])
        elif subcommand == "repair":
            self._repair(self._one(options["store"]))
        else:
            self._clear(self._one(options["store"]))

    # Finding the store.

    def _stores(self, key: str | None) -> list[HeldStore]:
        """The store *key* names, or every store of this process when it is ``None``."""
        if key is not None:
            return [self._one(key)]
        return list(take_inventory().stores)

    def _one(self, key: str | None) -> HeldStore:
        """The store *key* names (``default`` when ``None``), or a CommandError listing them."""
        key = key or _DEFAULT_STORE
        inventory = take_inventory()
        held = inventory.find(key)
        if held is not None:
            return held
        for broken in inventory.broken:
            if broken.alias == key:
                msg = f"STORAGES[{key!r}] cannot be built: {broken.error}"
                raise CommandError(msg)
        if key in settings.STORAGES:
            backend = settings.STORAGES[key].get("BACKEND", "")
            msg = f"STORAGES[{key!r}] is not an in-memory storage: its BACKEND is {backend!r}."
            raise CommandError(msg)
        known = ", ".join(held.key for held in inventory.stores) or "none"
        msg = f"No in-memory store {key!r} in this process; the stores are: {known}."
        raise CommandError(msg)

    @staticmethod
    def _split(words: list[str], last: str) -> tuple[str | None, str]:
        """``[STORE] PATH`` as given: one word is the path, two are the store and the path."""
        if len(words) > 2:  # noqa: PLR2004  # [STORE] and the path
            msg = f"expected [STORE] {last}, got {len(words)} arguments"
            raise CommandError(msg, returncode=2)
        return (None, words[0]) if len(words) == 1 else (words[0], words[1])

    # The subcommands.

    def _list(self, held: HeldStore) -> None:
        files = held.storage.file_listing()
        self.stdout.write(f"{held.label}: {len(files)} file{'s' if len(files) != 1 else ''}")
        for file in files:
            modified = _when(file.modified).strftime("%Y-%m-%d %H:%M:%S")
            self.stdout.write(f"{file.size:>12,}  {modified}  {file.name}")

    def _stats(self, held: HeldStore) -> None:
        stats = held.storage.stats()
        if stats.max_bytes is None:
            budget = f"{stats.bytes_used:,} bytes used, no max_bytes"
        else:
            share = 100 * stats.bytes_used / stats.max_bytes if stats.max_bytes else 100.0
            budget = (
                f"{stats.bytes_used:,} of {stats.max_bytes:,} bytes used ({share:.1f} %), "
                f"on_full={held.storage.on_full!r}"
            )
        self.stdout.write(held.label)
        self.stdout.write(f"  {stats.files:,} files, {stats.dirs:,} directories")
        self.stdout.write(f"  {budget}")
        self.stdout.write(
            f"  {stats.hits:,} reads, {stats.misses:,} misses, "
            f"{stats.evictions:,} evictions, {stats.refusals:,} refusals"
        )

    def _dump(self, held: HeldStore, target: str) -> None:
        try:
            if target == "-":
                names = dump(held.storage, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                names = dump(held.storage, target)
        except OSError as exc:
            msg = f"Could not write {target!r}: {exc}"
            raise CommandError(msg) from exc
        where = "standard output" if target == "-" else repr(target)
        self._say(f"Wrote {len(names)} file(s) of {held.label} to {where}.")

    def _load(self, held: HeldStore, source: str, *, replace: bool) -> None:
        if source != "-" and not os.path.exists(source):
            msg = f"{source!r} does not exist: give a tar file, a directory, or - for stdin."
            raise CommandError(msg)
        try:
            names = load(
                held.storage, sys.stdin.buffer if source == "-" else source, replace=replace
            )
        except _LOAD_ERRORS as exc:
            msg = f"Nothing was loaded from {source!r} into {held.label}: {exc}"
            raise CommandError(msg) from exc
        size = sum(held.storage.size(name) for name in names if held.storage.exists(name))
        loaded = f"Loaded {len(names)} file(s), {filesizeformat(size)}, into {held.label}"
        if held.server:
            self._say(f"{loaded} on {held.server}: every process using it sees them.")
            return
        self._say(
            f"{loaded} in this process. They are gone when this command exits; to give them "
            f"to runserver, load the tar on the storage page (/{PAGE_PREFIX})."
        )

    def _clear(self, held: HeldStore) -> None:
        files = held.storage.stats().files
        held.storage.clear()
        if held.server:
            self._say(f"Cleared {held.label} on {held.server} ({files} file(s)): every process.")
            return
        self._say(
            f"Cleared {held.label} in this process ({files} file(s)). A running runserver's "
            f"files are untouched: use the Clear button of the storage page (/{PAGE_PREFIX})."
        )

    def _repair(self, held: HeldStore) -> None:
        if not held.server:
            self._say(
                f"{held.label} is in this process: only it changes its files, nothing to mend."
            )
            return
        before = held.storage.stats().bytes_used
        mended = held.storage.repair()
        after = held.storage.stats().bytes_used
        self._say(
            f"Counted {held.label} again from the keys on {held.server}: {mended} entries "
            f"mended, {before:,} bytes charged before, {after:,} now."
        )

    # Output.

    def _note_process(self) -> None:
        """Say, on stderr, which files this command can see, and where runserver's are."""
        if self.verbosity < 1:
            return
        stores = take_inventory().stores
        servers = sorted({held.server for held in stores if held.server})
        if servers:
            self.stderr.write(
                self.style.NOTICE(
                    f"The stores on {', '.join(servers)} are shared: this command acts on the "
                    "files every process using that server sees."
                )
            )
            if all(held.server for held in stores):  # nothing of this process's own to explain
                return
        self.stderr.write(
            self.style.NOTICE(
                f"This command runs in its own process (pid {os.getpid()}): it sees the in-memory "
                "files this process holds, those it loads itself, and none of the files a running "
                f"runserver holds. To see those, open /{PAGE_PREFIX} on the dev server (DEBUG on, "
                "media_urlpatterns() in the URLconf)."
            )
        )

    def _say(self, message: str) -> None:
        """A progress line on stderr, so that stdout stays the data (a listing, a tar)."""
        if self.verbosity >= 1:
            self.stderr.write(message)


def _when(timestamp: float) -> datetime:
    """A file time in ``TIME_ZONE``, as the storage page and runserver's log show times."""
    if settings.USE_TZ:
        return timezone.localtime(datetime.fromtimestamp(timestamp, tz=UTC))
    return datetime.fromtimestamp(timestamp)  # noqa: DTZ006  # Django sets local time to TIME_ZONE
