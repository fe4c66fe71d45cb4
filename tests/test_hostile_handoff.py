"""The reload hand-off against what it may find: foreign directories, leftovers, orphans, bad files.

The hand-off directory lives in a shared temporary directory, and the
variables that name it are inherited by whatever a server process starts.
These tests check that only the runserver command's own server processes
write there, only into a directory private to the user; that what a killed
runserver leaves behind is removed by the next one; that an orphaned server
process writes nothing; and that a hand-off is loaded whole or not at all,
whatever its bytes. The last tests run real ``manage.py runserver`` commands
with their reloader (the demo project, copied).
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from inmemorystorage import handoff
from tests.demo_server import DemoClient
from tests.reloading_server import WAIT_SECONDS, group_alive, reloading_server
from tests.test_handoff import (
    STATIC,
    entry,
    files_of,
    handoff_tar,
    memory,
    new_process,
    runserver_directory,
    server_process,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo"


@pytest.fixture
def directory(tmp_path):
    """The runserver command's private directory, as this process's parent would have made it."""
    return runserver_directory(tmp_path, os.getppid())


@pytest.fixture
def media(settings, forget_shared_stores):
    """A namespaced default storage with a file: something to hand over."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    storage = storages["default"]
    storage.save("a.txt", ContentFile(b"alpha"))
    return storage


def dead_pid() -> int:
    """The process id of a process that has exited (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", ""])  # this interpreter
    process.wait()
    return process.pid


# send() writes only into the private directory of its own runserver command.


def test_send_writes_nothing_into_a_directory_others_may_enter(media, directory):
    """A hand-off directory made 0777 is refused before anything is written in it."""
    directory.chmod(0o777)
    with pytest.raises(PermissionError, match="not a private directory"):
        handoff.send(directory)
    assert [] == list(directory.iterdir())


def test_send_does_not_follow_a_link_to_a_directory(media, tmp_path):
    """A link named as the hand-off directory is refused, and its target is left alone."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / f"inmemorystorage-reload-{os.getppid()}-link"
    link.symlink_to(target)
    with pytest.raises(PermissionError, match="not a private directory"):
        handoff.send(link)
    assert [] == list(target.iterdir())


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a directory to another user")
def test_send_writes_nothing_into_another_users_directory(media, directory):
    """A private directory of another user is refused (the check runs as root too)."""
    os.chown(directory, 65534, 65534)
    with pytest.raises(PermissionError, match="not a private directory"):
        handoff.send(directory)
    assert [] == list(directory.iterdir())


def test_send_replaces_a_link_planted_at_the_handoff_name(media, directory, tmp_path):
    """A link at the hand-off's name is replaced by the hand-off: nothing is written through it."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"untouched")
    handoff.handoff_file(directory).symlink_to(victim)
    handoff.send(directory)
    assert (b"untouched", False) == (
        victim.read_bytes(),
        handoff.handoff_file(directory).is_symlink(),
    )


def test_an_orphaned_server_process_writes_nothing(media, tmp_path, caplog):
    """A server process whose runserver command is gone (not its parent now) hands nothing over."""
    directory = runserver_directory(tmp_path, dead_pid())
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.send(directory)
    assert ([], True) == (list(directory.iterdir()), "is not this process's parent" in caplog.text)


def test_a_directory_of_another_runserver_is_not_read(media, settings, directory, tmp_path, caplog):
    """A server process reads no hand-off from a directory its own runserver did not make."""
    handoff.send(directory)
    other = runserver_directory(tmp_path, dead_pid())
    handoff.handoff_file(directory).rename(handoff.handoff_file(other))
    new_process(settings, default=memory(namespace="default"))
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert (0, []) == (handoff.receive(other), files_of(storages["default"]))
    assert "is not this process's parent" in caplog.text


def test_a_server_process_with_a_public_directory_writes_nothing(tmp_path):
    """RUN_MAIN=true and the variable naming a 0777 directory: the process writes nothing there."""
    directory = runserver_directory(tmp_path, os.getpid())
    directory.chmod(0o777)
    server_process(directory, "first.txt", "reload")
    assert [] == list(directory.iterdir())


# A new runserver command removes what killed ones left behind.


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """The temporary directory prepare() uses, empty; what it made is removed after the test."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", os.fspath(root))
    monkeypatch.delenv(handoff.DIRECTORY_ENV, raising=False)
    made = []
    yield root, made
    for directory in made:
        handoff._finish(directory)


def prepare(made):
    directory = handoff.prepare()
    made.append(directory)
    return directory


def leftover(root: Path, pid: int, *, lock: bool = True) -> Path:
    """A hand-off directory as a killed runserver *pid* leaves it: a lock file and a hand-off."""
    directory = root / f"inmemorystorage-reload-{pid}-abcd1234"
    directory.mkdir(mode=0o700)
    (directory / "handoff-1.tar").write_bytes(b"uploads")
    if lock:
        (directory / "runserver.lock").write_bytes(b"")
    return directory


def test_a_directory_left_by_a_killed_runserver_is_removed(temp_root):
    """Its lock is free: the next runserver command removes it, hand-off and all."""
    root, made = temp_root
    old = leftover(root, dead_pid())
    new = prepare(made)
    assert [new] == list(root.iterdir()), old


def test_a_directory_whose_pid_is_reused_is_still_removed(temp_root):
    """The lock, not the pid, says whether its runserver runs: a live pid does not keep it."""
    root, made = temp_root
    leftover(root, os.getpid())  # this process has the pid now, and holds no lock there
    new = prepare(made)
    assert [new] == list(root.iterdir())


def test_the_directory_of_a_running_runserver_is_kept(temp_root):
    """A lock still held (by a live runserver command) keeps its directory."""
    root, made = temp_root
    alive = leftover(root, dead_pid())
    held = os.open(alive / "runserver.lock", os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        new = prepare(made)
        assert sorted([alive, new]) == sorted(root.iterdir())
    finally:
        os.close(held)


def test_a_directory_without_a_lock_goes_only_with_its_process(temp_root):
    """Without a lock file (killed before locking), the pid decides: dead goes, alive stays."""
    root, made = temp_root
    dead = leftover(root, dead_pid(), lock=False)
    alive = leftover(root, os.getpid(), lock=False)
    new = prepare(made)
    assert (False, True) == (dead.exists(), alive.exists()), new


@pytest.mark.parametrize("kind", ["public", "link", "file", "other-name"])
def test_what_is_not_a_private_handoff_directory_is_left_alone(temp_root, tmp_path, kind):
    """Only private directories named as runserver names them go; links are not followed."""
    root, made = temp_root
    name = root / f"inmemorystorage-reload-{dead_pid()}-abcd1234"
    if kind == "public":
        leftover(root, int(name.name.split("-")[2])).chmod(0o755)
    elif kind == "link":
        target = leftover(tmp_path, dead_pid())
        name.symlink_to(target)
    elif kind == "file":
        name.write_bytes(b"")
    else:
        name = root / "inmemorystorage-reload-abcd1234"  # no pid: not ours to judge
        name.mkdir(mode=0o700)
    prepare(made)
    assert True is os.path.lexists(name)


def test_the_link_target_survives(temp_root, tmp_path):
    """A link named as a hand-off directory is not followed: what it points to stays whole."""
    root, made = temp_root
    target = leftover(tmp_path, dead_pid())
    (root / f"inmemorystorage-reload-{dead_pid()}-abcd1234").symlink_to(target)
    prepare(made)
    assert ["handoff-1.tar", "runserver.lock"] == sorted(p.name for p in target.iterdir())


# A hand-off is loaded whole or not at all.


def pax_tar(members):
    """A tar of ``(name, content, pax_headers)`` members, as dump() writes them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content, pax in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 1_700_000_000
            info.pax_headers = dict(pax)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def write_handoff(directory, stores):
    """A hand-off by hand: *stores* maps an alias (and its namespace) to the tar of its files."""
    entries = [
        entry(member=f"stores/{i}.tar", aliases=[alias], namespace=alias)
        for i, alias in enumerate(stores)
    ]
    manifest = {"format": handoff.FORMAT, "parent": os.getppid(), "stores": entries}
    members = {f"stores/{i}.tar": tar for i, tar in enumerate(stores.values())}
    handoff_tar(directory, manifest, members)


@pytest.fixture
def two_stores(settings, forget_shared_stores):
    """STORAGES 'first' and 'second', each in its namespace; 'first' holds keep.txt already."""
    settings.STORAGES = {
        "first": memory(namespace="first"),
        "second": memory(namespace="second"),
        "staticfiles": STATIC,
    }
    storages["first"].save("keep.txt", ContentFile(b"kept"))
    return storages["first"], storages["second"]


BAD_SECOND_STORES = {
    "mtime-nan": [("bad.txt", b"b", {"mtime": "nan"})],
    "mtime-1e308": [("bad.txt", b"b", {"mtime": "1e308"})],
    "mtime-year-33658": [("bad.txt", b"b", {"mtime": "1000000000000"})],
    "name-over-4096": [("/".join(["d" * 200] * 21), b"b", {})],
    "segment-over-255": [("s" * 256, b"b", {})],
    "escape": [("../../etc/passwd", b"b", {})],
}


@pytest.mark.parametrize("members", BAD_SECOND_STORES.values(), ids=BAD_SECOND_STORES.keys())
def test_a_refused_store_leaves_every_store_as_it_was(two_stores, directory, caplog, members):
    """A second store that refuses its files is reported; the first keeps exactly what it had."""
    first, second = two_stores
    before = files_of(first)
    write_handoff(
        directory,
        {
            "first": pax_tar([("keep.txt", b"replaced", {}), ("new.txt", b"new", {})]),
            "second": pax_tar([("good.txt", b"g", {}), *members]),
        },
    )
    with caplog.at_level(logging.WARNING, "inmemorystorage"):
        assert 0 == handoff.receive(directory)
    assert (before, [], True) == (
        files_of(first),
        files_of(second),
        "Ignored the in-memory files handed over" in caplog.text,
    )


def test_a_budget_refusal_restores_the_files_a_store_had(settings, directory, forget_shared_stores):
    """Files loaded into the first store are taken back, and the ones they replaced come back."""
    settings.STORAGES = {
        "first": memory(namespace="first"),
        "small": memory(namespace="small", max_bytes=2000, on_full="error"),
        "staticfiles": STATIC,
    }
    storages["first"].save("keep.txt", ContentFile(b"kept"))
    before = files_of(storages["first"])
    write_handoff(
        directory,
        {
            "first": pax_tar([("keep.txt", b"replaced", {}), ("new.txt", b"new", {})]),
            "small": pax_tar([("big.bin", b"x" * 4000, {})]),
        },
    )
    assert (0, before) == (handoff.receive(directory), files_of(storages["first"]))


@pytest.fixture
def good_handoff(settings, directory, forget_shared_stores):
    """The bytes of a hand-off of two stores as send() writes it, and the files it holds.

    The stores are emptied again, as a new server process finds them.
    """
    settings.STORAGES = {
        "first": memory(namespace="first"),
        "second": memory(namespace="second"),
        "staticfiles": STATIC,
    }
    first, second = storages["first"], storages["second"]
    first.save("one.txt", ContentFile(b"1" * 700))
    second.save("dir/two.bin", ContentFile(bytes(range(256)) * 4))
    handoff.send(directory)
    data = handoff.handoff_file(directory).read_bytes()
    handoff.handoff_file(directory).unlink()
    whole = (files_of(first), files_of(second))
    first.clear()
    second.clear()
    return data, whole


@st.composite
def damage(draw, size: int):
    """A way to break a hand-off of *size* bytes: cut it, flip bits, or overwrite a run."""
    how = draw(st.sampled_from(["cut", "flip", "overwrite"]))
    if how == "cut":
        return ("cut", draw(st.integers(0, size - 1)))
    if how == "flip":
        offsets = st.integers(0, size - 1)
        return ("flip", draw(st.lists(st.tuples(offsets, st.integers(0, 7)), min_size=1)))
    start = draw(st.integers(0, size - 1))
    return ("overwrite", start, draw(st.binary(min_size=1, max_size=600)))


def broken(data: bytes, how) -> bytes:
    if how[0] == "cut":
        return data[: how[1]]
    if how[0] == "flip":
        flipped = bytearray(data)
        for offset, bit in how[1]:
            flipped[offset] ^= 1 << bit
        return bytes(flipped)
    _, start, run = how
    return data[:start] + run + data[start + len(run) :]


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(data=st.data())
def test_a_damaged_handoff_loads_whole_or_not_at_all(good_handoff, directory, data):
    """Whatever is cut, flipped or overwritten, receive() raises nothing and loads all or none."""
    good, whole = good_handoff
    first, second = storages["first"], storages["second"]
    first.clear()  # a new server process's stores are empty
    second.clear()
    handoff.handoff_file(directory).write_bytes(broken(good, data.draw(damage(len(good)))))
    handoff.receive(directory)
    got = (files_of(first), files_of(second))
    assert (True, []) == (got in [([], []), whole], list(directory.iterdir())), got


# Real runserver commands: one is killed, its server process lives on.


@pytest.fixture(scope="module")
def killed_runserver(tmp_path_factory):
    """A runserver command killed with SIGKILL after an upload; its orphan then sees a change.

    Returns the temporary directory the command used, its hand-off directory,
    and what that directory held once the orphaned server process had exited.
    """
    base = tmp_path_factory.mktemp("killed_runserver")
    project = base / "demo"
    shutil.copytree(DEMO, project, ignore=shutil.ignore_patterns("__pycache__"))
    tmpdir = base / "tmp"
    with reloading_server(project, base / "runserver.log", tmpdir) as server:
        with DemoClient(server.demo) as client:
            client.upload("upload.txt", b"uploaded before the kill")
        (directory,) = tmpdir.glob("inmemorystorage-reload-*")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(WAIT_SECONDS)
        orphan_alive = group_alive(server.process)
        touch = project / "demo" / "views.py"
        deadline, stamp = time.monotonic() + WAIT_SECONDS, time.time()
        while group_alive(server.process):  # the orphan reloads on the change, then exits
            assert time.monotonic() < deadline, server.output()
            stamp += 1
            os.utime(touch, (stamp, stamp))
            time.sleep(1.0)
        held = sorted(path.name for path in directory.iterdir())
    return project, tmpdir, directory, orphan_alive, held


def test_a_killed_runserver_leaves_its_server_process_and_directory(killed_runserver):
    """SIGKILL gives runserver no chance to clean up: the directory stays, the server lives on."""
    _project, _tmpdir, directory, orphan_alive, _held = killed_runserver
    assert (True, True) == (orphan_alive, directory.exists())


def test_the_orphaned_server_process_writes_nothing(killed_runserver):
    """On its next file change the orphan exits without writing the uploads into the directory."""
    _project, _tmpdir, _directory, _orphan_alive, held = killed_runserver
    assert [] == [name for name in held if name != "runserver.lock"]


def test_the_next_runserver_removes_what_the_killed_one_left(killed_runserver, tmp_path):
    """A new runserver command with the same temporary directory removes the leftover one."""
    project, tmpdir, directory, _orphan_alive, _held = killed_runserver
    with reloading_server(project, tmp_path / "runserver.log", tmpdir):
        remaining = list(tmpdir.glob("inmemorystorage-reload-*"))
    assert (False, 1) == (directory.exists(), len(remaining))
