"""The reload hand-off: stores pass from a dying server process to the next, whole or not at all.

Most tests play both processes in this one (``send()`` then ``receive()``,
with the stores forgotten in between, as a new process starts with none);
the last ones run real processes as runserver's reloader runs them: a server
process (``RUN_MAIN=true``) that sees ``file_changed`` and exits, and the next
one, both children of this process.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils.autoreload import file_changed

from inmemorystorage import InMemoryStorage, dump, handoff
from inmemorystorage import storage as storage_module
from inmemorystorage.storage import shared_storages

ROOT = Path(__file__).resolve().parent.parent
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def memory(**options):
    return {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": options}


def files_of(storage):
    return [(f.name, f.content, f.created, f.modified) for f in storage.stored_files()]


def new_process(settings, **storages_config):
    """Forget every store, as a new server process starts with none, with these STORAGES."""
    with storage_module._shared_stores_lock:
        storage_module._shared_stores.clear()
    settings.STORAGES = {"staticfiles": STATIC, **storages_config}


def runserver_directory(parent: Path, runserver_pid: int) -> Path:
    """A private directory in *parent*, named as the runserver command *runserver_pid* names it."""
    path = parent / f"inmemorystorage-reload-{runserver_pid}-test"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def directory(tmp_path):
    """The runserver command's private directory, as this process's parent would have made it."""
    return runserver_directory(tmp_path, os.getppid())


@pytest.fixture
def child_directory(tmp_path):
    """A private directory as this process makes it, for server processes it starts."""
    return runserver_directory(tmp_path, os.getpid())


@pytest.fixture
def media(settings, forget_shared_stores):
    """A namespaced default storage with two files."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    storage = storages["default"]
    storage.save("a.txt", ContentFile(b"alpha"))
    storage.save("photos/b.jpg", ContentFile(b"\xff\xd8beta"))
    return storage


def test_the_files_come_back_with_their_names_bytes_and_times(media, settings, directory):
    """What one process sends, the next receives: the same names, bytes and times."""
    before = files_of(media)
    assert 2 == handoff.send(directory)
    new_process(settings, default=memory(namespace="default"))
    assert 2 == handoff.receive(directory)
    assert before == files_of(storages["default"])


def test_the_handoff_is_deleted_once_loaded(media, settings, directory):
    """After the next process loaded it, nothing is left in the directory."""
    handoff.send(directory)
    new_process(settings, default=memory(namespace="default"))
    handoff.receive(directory)
    assert [] == list(directory.iterdir())


def test_a_storage_without_namespace_is_found_by_its_alias(settings, directory):
    """A STORAGES entry with a private store is handed over to the same alias."""
    settings.STORAGES = {"uploads": memory(), "staticfiles": STATIC}
    storages["uploads"].save("u.txt", ContentFile(b"u"))
    handoff.send(directory)
    settings.STORAGES = {"uploads": memory(), "staticfiles": STATIC}  # a new instance
    assert 0 == len(storages["uploads"].stored_files())
    handoff.receive(directory)
    assert [b"u"] == [f.content for f in storages["uploads"].stored_files()]


def test_a_storage_moved_off_memory_drops_its_files_and_says_so(settings, directory, caplog):
    """An alias that is no longer in memory takes nothing; the console says what was dropped."""
    settings.STORAGES = {"uploads": memory(), "staticfiles": STATIC}
    storages["uploads"].save("u.txt", ContentFile(b"u"))
    handoff.send(directory)
    settings.STORAGES = {
        "uploads": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": STATIC,
    }
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert "Dropped 1 in-memory file(s) of STORAGES['uploads']" in caplog.text


@pytest.mark.usefixtures("forget_shared_stores")
def test_a_namespace_outside_storages_comes_back_with_its_budget(settings, directory):
    """A namespace that code builds itself is rebuilt with its max_bytes and on_full."""
    thumbs = InMemoryStorage(namespace="thumbs", max_bytes=10**6, on_full="error")
    thumbs.save("t.png", ContentFile(b"t"))
    handoff.send(directory)
    new_process(settings)
    handoff.receive(directory)
    (rebuilt,) = [s for s in shared_storages() if s.namespace == "thumbs"]
    assert (10**6, "error", [b"t"]) == (
        rebuilt.max_bytes,
        rebuilt.on_full,
        [f.content for f in rebuilt.stored_files()],
    )


def test_an_edited_budget_applies_to_the_files_handed_over(media, settings, directory):
    """A max_bytes edited between the processes is the new storage's, with the files in it."""
    handoff.send(directory)
    new_process(settings, default=memory(namespace="default", max_bytes=10_000))
    handoff.receive(directory)
    storage = storages["default"]
    assert (10_000, 2) == (storage.max_bytes, len(storage.stored_files()))


def test_a_smaller_evicting_budget_keeps_the_most_recently_used_files(
    media, settings, directory, caplog
):
    """A lowered max_bytes keeps what fits, most recent first, and says in one line what went."""
    media.save("big.bin", ContentFile(b"x" * 4000))
    media.open("a.txt").close()  # read after big.bin was saved: the most recently used
    handoff.send(directory)
    new_process(settings, default=memory(namespace="default", max_bytes=6000))
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 2 == handoff.receive(directory)
    storage = storages["default"]
    assert ["a.txt", "big.bin"] == [f.name for f in storage.stored_files()]
    assert storage.recent_eviction("photos/b.jpg") is not None
    evicted = [r.getMessage() for r in caplog.records if "least recently used" in r.getMessage()]
    expected = (
        "Evicted 1 least recently used in-memory file(s) of STORAGES['default']: they did not "
        "fit max_bytes=6,000 beside the most recently used ones (it was unbounded)."
    )
    assert [expected] == evicted


def test_files_over_an_edited_refusing_budget_are_refused_as_a_whole(
    media, settings, directory, caplog
):
    """With on_full='error', files that no longer fit together are reported and not loaded."""
    media.save("big.bin", ContentFile(b"x" * 4000))
    handoff.send(directory)
    new_process(settings, default=memory(namespace="default", max_bytes=4800, on_full="error"))
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert [] == storages["default"].stored_files()
    assert "more than the whole budget (max_bytes=4,800)" in caplog.text
    assert "cannot store 3 files" in caplog.text  # big.bin and the two files media starts with


def test_nothing_is_written_when_no_store_has_files(settings, directory, forget_shared_stores):
    """Empty storages hand nothing over: no file appears."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    assert (0, []) == (handoff.send(directory), list(directory.iterdir()))


def test_a_refused_store_refuses_the_whole_handoff(media, settings, directory, caplog):
    """If one store cannot take its files, no store keeps any: never half loaded."""
    settings.STORAGES = {**settings.STORAGES, "reports": memory(namespace="reports")}
    storages["reports"].save("r.csv", ContentFile(b"r" * 4000))
    handoff.send(directory)
    new_process(
        settings,
        default=memory(namespace="default"),
        reports=memory(namespace="reports", max_bytes=2000, on_full="error"),
    )
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert ([], []) == (storages["default"].stored_files(), storages["reports"].stored_files())
    assert "STORAGES['reports'] refused its files" in caplog.text


def test_a_broken_handoff_is_reported_and_ignored(
    settings, directory, caplog, forget_shared_stores
):
    """Bytes that are no hand-off are reported, loaded not at all, and deleted."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    handoff.handoff_file(directory).write_bytes(b"\0garbage" * 300)
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert ([], []) == (storages["default"].stored_files(), list(directory.iterdir()))
    assert "Ignored the in-memory files handed over" in caplog.text


def handoff_tar(directory, manifest, members):
    """Write a hand-off by hand: a manifest and named member contents, with their digests.

    Each store entry without a ``sha256`` gets its member's (zeros if it has
    none), and the manifest its ``manifest.sha256``, as send() writes them.
    """
    for store in manifest["stores"] if isinstance(manifest.get("stores"), list) else []:
        content = members.get(store.get("member"), None) if isinstance(store, dict) else None
        if isinstance(store, dict) and "sha256" not in store:
            store["sha256"] = hashlib.sha256(content).hexdigest() if content else "0" * 64
    encoded = json.dumps(manifest).encode()
    digest = hashlib.sha256(encoded).hexdigest().encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in [
            *members.items(),
            ("manifest.json", encoded),
            ("manifest.sha256", digest),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    handoff.handoff_file(directory).write_bytes(buffer.getvalue())


def entry(**fields):
    return {
        "member": "stores/0.tar",
        "aliases": ["default"],
        "namespace": "default",
        "persist": False,
        "max_bytes": None,
        "on_full": "evict",
        "files": 1,
        **fields,
    }


def inner_tar(*names):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("manifest", "members", "reason"),
    [
        (
            {"format": "someone-else/1", "parent": "PARENT", "stores": []},
            {},
            "not in the format",
        ),
        (
            {"format": handoff.FORMAT, "parent": "OTHER", "stores": [entry()]},
            {"stores/0.tar": inner_tar("a.txt")},
            "another runserver",
        ),
        (
            {"format": handoff.FORMAT, "parent": "PARENT", "stores": [entry(max_bytes="lots")]},
            {"stores/0.tar": inner_tar("a.txt")},
            "does not describe the stores",
        ),
        (
            {"format": handoff.FORMAT, "parent": "PARENT", "stores": [entry()]},
            {},
            "it has no stores/0.tar",
        ),
        (
            {"format": handoff.FORMAT, "parent": "PARENT", "stores": [entry()]},
            {"stores/0.tar": inner_tar("ok.txt", "../../etc/cron.d/evil")},
            "outside the storage",
        ),
    ],
    ids=["foreign-format", "other-runserver", "bad-field", "missing-store", "unsafe-name"],
)
def test_a_foreign_or_unsafe_handoff_is_ignored_as_a_whole(
    settings, directory, caplog, forget_shared_stores, manifest, members, reason
):
    """A hand-off of another format or runserver, or with an unsafe name, loads nothing."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    if manifest["parent"] == "PARENT":
        manifest["parent"] = os.getppid()
    elif manifest["parent"] == "OTHER":  # not 1: an orphaned test run's parent is init
        manifest["parent"] = os.getppid() + 1
    handoff_tar(directory, manifest, members)
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert [] == storages["default"].stored_files()
    assert reason in caplog.text


def test_a_handoff_from_the_same_runserver_loads(settings, directory, forget_shared_stores):
    """The hand-written hand-off of the test above, with nothing wrong in it, loads."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    manifest = {"format": handoff.FORMAT, "parent": os.getppid(), "stores": [entry()]}
    handoff_tar(directory, manifest, {"stores/0.tar": inner_tar("ok.txt")})
    assert 1 == handoff.receive(directory)


def test_a_directory_others_may_enter_is_not_trusted(media, settings, directory, caplog):
    """A hand-off directory that is not private (0755) is reported and not read."""
    handoff.send(directory)
    directory.chmod(0o755)
    new_process(settings, default=memory(namespace="default"))
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert "not a private directory" in caplog.text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["manage.py", "runserver"], True),
        (["manage.py", "runserver", "0:8000"], True),
        (["manage.py", "runserver", "--noreload"], False),
        (["manage.py", "shell"], False),
        (["manage.py"], False),
    ],
)
def test_only_runserver_with_its_reloader_prepares_a_handoff(argv, expected):
    """The runserver command with its reloader is told apart as Django's execute() does."""
    assert expected == handoff.is_runserver_with_reloader(argv)


def test_the_parent_creates_a_private_directory_for_its_children(monkeypatch, tmp_path):
    """prepare() makes a 0700 directory and names it in the environment children inherit."""
    monkeypatch.setattr("tempfile.tempdir", os.fspath(tmp_path))
    monkeypatch.delenv(handoff.DIRECTORY_ENV, raising=False)
    directory = handoff.prepare()
    try:
        assert (os.fspath(directory), 0o700) == (
            os.environ[handoff.DIRECTORY_ENV],
            directory.stat().st_mode & 0o777,
        )
    finally:
        handoff._finish(directory)


@pytest.fixture
def fresh_start(monkeypatch):
    """start() as in a new process: not yet started; what it would do is recorded."""
    calls = []
    monkeypatch.setattr(handoff, "_started", threading.Event())
    monkeypatch.setattr(handoff, "prepare", lambda: calls.append("prepare"))
    monkeypatch.setattr(handoff, "receive", lambda directory: calls.append(("receive", directory)))
    monkeypatch.setattr(handoff, "atexit", _NoAtexit())
    monkeypatch.delenv("RUN_MAIN", raising=False)
    monkeypatch.delenv(handoff.DIRECTORY_ENV, raising=False)
    return calls


class _NoAtexit:
    """Stands in for atexit: the test process must not hand anything over when it exits."""

    def register(self, *args):
        pass


def test_start_in_the_runserver_command_prepares(fresh_start, monkeypatch):
    """In the runserver command (no RUN_MAIN), start() prepares the directory."""
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver"])
    handoff.start()
    assert ["prepare"] == fresh_start


def test_start_in_a_server_process_receives(fresh_start, monkeypatch, tmp_path):
    """In a server process (RUN_MAIN=true and the directory named), start() receives."""
    monkeypatch.setenv("RUN_MAIN", "true")
    monkeypatch.setenv(handoff.DIRECTORY_ENV, os.fspath(tmp_path))
    handoff.start()
    assert [("receive", tmp_path)] == fresh_start


def test_start_does_nothing_when_turned_off(fresh_start, monkeypatch, settings):
    """INMEMORYSTORAGE_RELOAD_HANDOFF = False turns the hand-off off in every process."""
    settings.INMEMORYSTORAGE_RELOAD_HANDOFF = False
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver"])
    handoff.start()
    assert [] == fresh_start


def test_start_does_nothing_in_other_commands(fresh_start, monkeypatch):
    """manage.py shell (or migrate, or test) neither prepares nor receives."""
    monkeypatch.setattr(sys, "argv", ["manage.py", "shell"])
    handoff.start()
    assert [] == fresh_start


# Real processes, as runserver's reloader runs them.

SERVER_PROCESS = """
import os, signal, sys
import django
from django.conf import settings

settings.configure(
    DEBUG=True,
    INSTALLED_APPS=["inmemorystorage"],
    STORAGES={
        "default": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": {"namespace": "m"}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
)
django.setup()
from pathlib import Path
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils.autoreload import file_changed

storage = storages["default"]
print("found:", sorted(f.name for f in storage.stored_files()), flush=True)
storage.save(sys.argv[1], ContentFile(sys.argv[1].encode()))
if sys.argv[2] != "no-change":
    file_changed.send(sender=None, file_path=Path("views.py"))
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(3)
"""


def server_process(directory, name, how):
    """Run one server process as the reloader would; return its output."""
    env = {
        **os.environ,
        "RUN_MAIN": "true",
        handoff.DIRECTORY_ENV: os.fspath(directory),
        "PYTHONPATH": os.fspath(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SERVER_PROCESS), name, how],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    expected = -signal.SIGKILL if how == "killed" else 3
    assert expected == result.returncode, result.stderr
    return result.stdout


def test_a_reloading_process_hands_its_files_to_the_next(child_directory):
    """A server process that saw file_changed exits with its files; the next one has them."""
    server_process(child_directory, "first.txt", "reload")
    assert "found: ['first.txt']" in server_process(child_directory, "second.txt", "reload")


def test_a_killed_process_hands_nothing_over(child_directory):
    """A server process killed without warning leaves no hand-off behind."""
    server_process(child_directory, "first.txt", "killed")
    assert [] == list(child_directory.iterdir())


def test_a_process_that_saw_no_change_hands_nothing_over(child_directory):
    """Without file_changed (a Ctrl-C, a crash) the exit is no reload: nothing is written."""
    server_process(child_directory, "first.txt", "no-change")
    assert [] == list(child_directory.iterdir())


def test_dump_is_the_format_of_each_store(media, directory):
    """Each store inside a hand-off is exactly what dump() writes for it."""
    handoff.send(directory)
    expected = io.BytesIO()
    dump(media, expected)
    with tarfile.open(handoff.handoff_file(directory)) as archive:
        inner = archive.extractfile("stores/0.tar").read()
    assert expected.getvalue() == inner


def raw_handoff(directory, members):
    """Write a hand-off tar by hand: *members* maps names to bytes, or to None for a directory.

    A manifest given as bytes gets its ``manifest.sha256``, as send() writes it.
    """
    if isinstance(members.get("manifest.json"), bytes):
        members["manifest.sha256"] = hashlib.sha256(members["manifest.json"]).hexdigest().encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    handoff.handoff_file(directory).write_bytes(buffer.getvalue())


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"stores/0.tar": b""}, "it has no manifest.json"),
        ({"manifest.json": None}, "manifest.json in it is not a regular file"),
        ({"manifest.json": b"{not json"}, "its manifest.json is not JSON"),
        (
            {"stores/0.tar": None, "manifest.json": "MANIFEST"},
            "stores/0.tar in it is not a regular file",
        ),
    ],
    ids=["no-manifest", "manifest-dir", "manifest-not-json", "store-dir"],
)
def test_a_malformed_handoff_is_ignored(
    settings, directory, caplog, forget_shared_stores, members, reason
):
    """A hand-off missing its manifest, or with members of the wrong kind, loads nothing."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    if members.get("manifest.json") == "MANIFEST":
        manifest = {
            "format": handoff.FORMAT,
            "parent": os.getppid(),
            "stores": [entry(sha256="0" * 64)],
        }
        members["manifest.json"] = json.dumps(manifest).encode()
    raw_handoff(directory, members)
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert reason in caplog.text


def test_no_handoff_waiting_loads_nothing(directory):
    """The first server process of a runserver finds no hand-off, and says nothing."""
    assert 0 == handoff.receive(directory)


def test_a_missing_directory_is_not_trusted(tmp_path, caplog):
    """A directory named in the environment that does not exist is reported, not created."""
    gone = tmp_path / f"inmemorystorage-reload-{os.getppid()}-gone"
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert (0, False) == (handoff.receive(gone), gone.exists())
    assert "Ignored the reload hand-off directory" in caplog.text


def test_a_namespace_rebuilt_with_another_budget_refuses_the_handoff(
    settings, directory, caplog, forget_shared_stores
):
    """If the new process already has the namespace with another budget, nothing is loaded."""
    InMemoryStorage(namespace="thumbs", max_bytes=10**6).save("t.png", ContentFile(b"t"))
    handoff.send(directory)
    new_process(settings)
    InMemoryStorage(namespace="thumbs", max_bytes=10**5)
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert "namespace 'thumbs' cannot be rebuilt" in caplog.text


def test_the_persist_store_comes_back(settings, directory, forget_shared_stores):
    """With INMEMORYSTORAGE_PERSIST, the store all instances share is handed over too."""
    settings.STORAGES = {"staticfiles": STATIC}  # the store is only code's, not an alias's
    settings.INMEMORYSTORAGE_PERSIST = True
    InMemoryStorage().save("p.txt", ContentFile(b"p"))
    handoff.send(directory)
    new_process(settings)
    handoff.receive(directory)
    assert [b"p"] == [f.content for f in InMemoryStorage().stored_files()]


def test_the_persist_store_is_dropped_when_persist_is_turned_off(
    settings, directory, caplog, forget_shared_stores
):
    """Turning INMEMORYSTORAGE_PERSIST off between processes leaves its files behind, reported."""
    settings.STORAGES = {"staticfiles": STATIC}  # the store is only code's, not an alias's
    settings.INMEMORYSTORAGE_PERSIST = True
    InMemoryStorage().save("p.txt", ContentFile(b"p"))
    handoff.send(directory)
    new_process(settings)
    settings.INMEMORYSTORAGE_PERSIST = False
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        handoff.receive(directory)
    assert "of the INMEMORYSTORAGE_PERSIST store" in caplog.text


def test_two_aliases_of_one_namespace_are_handed_over_once(
    settings, directory, forget_shared_stores
):
    """Aliases that share a store send it once, and both find it in the next process."""
    settings.STORAGES = {
        "default": memory(namespace="shared"),
        "uploads": memory(namespace="shared"),
        "staticfiles": STATIC,
    }
    storages["default"].save("s.txt", ContentFile(b"s"))
    assert 1 == handoff.send(directory)
    new_process(settings, default=memory(namespace="shared"), uploads=memory(namespace="shared"))
    handoff.receive(directory)
    assert ["s.txt"] == [f.name for f in storages["uploads"].stored_files()]


def test_a_storage_with_bad_options_is_skipped_when_sending(
    settings, directory, forget_shared_stores
):
    """A STORAGES entry that cannot be built held no file: the others are still sent."""
    settings.STORAGES = {
        "broken": memory(max_bytes="lots"),
        "default": memory(namespace="default"),
        "staticfiles": STATIC,
    }
    storages["default"].save("d.txt", ContentFile(b"d"))
    assert 1 == handoff.send(directory)


@pytest.fixture
def reload_flag(monkeypatch):
    """A fresh "reload announced" flag, and the receiver connected as start() connects it."""
    flag = threading.Event()
    monkeypatch.setattr(handoff, "_reload_announced", flag)
    file_changed.connect(handoff._announce_reload, dispatch_uid=handoff.__name__)
    yield flag
    file_changed.disconnect(dispatch_uid=handoff.__name__)


def test_file_changed_announces_a_reload_without_claiming_the_change(reload_flag):
    """The receiver notes the reload and returns nothing, so the reloader does reload."""
    results = file_changed.send(sender=None, file_path=Path("views.py"))
    assert (True, [None]) == (
        reload_flag.is_set(),
        [result for receiver, result in results if receiver is handoff._announce_reload],
    )


def test_the_exit_hook_sends_only_after_an_announced_reload(media, directory, reload_flag):
    """At exit, nothing is written unless file_changed came first; then the stores are."""
    handoff._send_on_reload(directory)
    assert [] == list(directory.iterdir())
    file_changed.send(sender=None, file_path=Path("views.py"))
    handoff._send_on_reload(directory)
    assert [handoff.handoff_file(directory)] == list(directory.iterdir())


def test_the_exit_hook_reports_what_it_cannot_write(media, tmp_path, reload_flag, caplog):
    """A hand-off that cannot be written (its directory is gone) is reported, not raised."""
    reload_flag.set()
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        handoff._send_on_reload(tmp_path / f"inmemorystorage-reload-{os.getppid()}-gone")
    assert "Could not hand the in-memory files over" in caplog.text


def test_start_without_a_directory_does_nothing_in_a_server_process(fresh_start, monkeypatch):
    """A server process whose runserver prepared no directory (turned off then) receives nothing."""
    monkeypatch.setenv("RUN_MAIN", "true")
    handoff.start()
    assert [] == fresh_start


def test_a_handoff_of_another_runserver_command_is_left_alone(media, settings, directory):
    """A process of another runserver command (a child's own subprocess) leaves it be."""
    handoff.send(directory)
    other = directory / "handoff-1.tar"
    handoff.handoff_file(directory).rename(other)
    new_process(settings, default=memory(namespace="default"))
    assert (0, [other]) == (handoff.receive(directory), list(directory.iterdir()))
