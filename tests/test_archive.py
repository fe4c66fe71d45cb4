"""``dump()`` and ``load()``: a storage to and from a tar or a directory; tars are untrusted."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage, StorageFull, dump, load
from inmemorystorage.archive import CREATED_HEADER


def files_of(storage):
    """Every file of *storage* as ``(name, content, created, modified)``."""
    return [(f.name, f.content, f.created, f.modified) for f in storage.stored_files()]


def tar_of(*members):
    """A tar in memory; each member is ``(TarInfo, content or None)``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    buffer.seek(0)
    return buffer


def member(name, kind=tarfile.REGTYPE, **attributes):
    info = tarfile.TarInfo(name)
    info.type = kind
    for attribute, value in attributes.items():
        setattr(info, attribute, value)
    return info


class Stream(io.RawIOBase):
    """A read-only stream that cannot seek, as a pipe or a socket."""

    def __init__(self, data):
        self.data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.fixture
def source():
    """A storage with two files, one in a directory."""
    storage = InMemoryStorage()
    storage.save("a.txt", ContentFile(b"alpha"))
    storage.save("docs/b.bin", ContentFile(os.urandom(3000)))
    return storage


def test_a_dump_loads_back_with_names_bytes_and_times(source):
    """dump() then load() gives the same names, bytes, creation and modification times."""
    buffer = io.BytesIO()
    assert ["a.txt", "docs/b.bin"] == dump(source, buffer)
    buffer.seek(0)
    target = InMemoryStorage()
    assert ["a.txt", "docs/b.bin"] == load(target, buffer)
    assert files_of(source) == files_of(target)


def test_a_dump_is_a_standard_tar(source):
    """Any tar reader sees one regular file per stored file, with its mtime to the microsecond."""
    buffer = io.BytesIO()
    dump(source, buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as archive:
        members = archive.getmembers()
        content = archive.extractfile("a.txt").read()
    modified = source.stored_files()[0].modified
    assert (["a.txt", "docs/b.bin"], b"alpha", modified) == (
        [m.name for m in members],
        content,
        members[0].mtime,
    )
    assert all(m.isreg() for m in members)


def test_a_dump_writes_to_a_path_and_loads_from_it(source, tmp_path):
    """A path works on both sides: dump() creates the file, load() reads it."""
    path = tmp_path / "media.tar"
    dump(source, path)
    target = InMemoryStorage()
    load(target, path)
    assert files_of(source) == files_of(target)


def test_a_dump_of_an_empty_storage_is_an_empty_tar():
    """An empty storage dumps to a valid tar with no members."""
    buffer = io.BytesIO()
    assert [] == dump(InMemoryStorage(), buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as archive:
        assert [] == archive.getmembers()


def test_a_compressed_tar_from_a_stream_loads(source):
    """A gzip-compressed tar read from a stream that cannot seek loads all its files."""
    buffer = io.BytesIO()
    dump(source, buffer)
    target = InMemoryStorage()
    load(target, Stream(gzip.compress(buffer.getvalue())))
    assert files_of(source) == files_of(target)


def test_a_tar_without_creation_times_uses_the_modification_time():
    """A tar from another tool (no creation header) gives created == modified."""
    archive = tar_of((member("x.txt", mtime=1_700_000_000), b"x"))
    storage = InMemoryStorage()
    load(storage, archive)
    assert [("x.txt", b"x", 1_700_000_000.0, 1_700_000_000.0)] == files_of(storage)


def test_a_creation_time_that_is_not_a_number_falls_back_to_the_modification_time():
    """A foreign creation header that is not a number is not trusted."""
    info = member("x.txt", mtime=1_700_000_000, pax_headers={CREATED_HEADER: "yesterday"})
    storage = InMemoryStorage()
    load(storage, tar_of((info, b"x")))
    assert 1_700_000_000.0 == storage.stored_files()[0].created


def test_directory_members_are_skipped():
    """Directories are implicit in the storage: a directory member creates nothing by itself."""
    archive = tar_of((member("./", tarfile.DIRTYPE), None), (member("d/f.txt"), b"f"))
    storage = InMemoryStorage()
    assert ["d/f.txt"] == load(storage, archive)


@pytest.mark.parametrize(
    ("info", "content"),
    [
        (member("/etc/passwd"), b"x"),
        (member("../outside.txt"), b"x"),
        (member("a/../../outside.txt"), b"x"),
        (member("..\\outside.txt"), b"x"),
        (member("a\\..\\..\\outside.txt"), b"x"),
        (member("\\outside.txt"), b"x"),
        (member("C:\\outside.txt"), b"x"),
        (member("C:/outside.txt"), b"x"),
        (member("..\\abs-dir", tarfile.DIRTYPE), None),
        (member("/abs-dir", tarfile.DIRTYPE), None),
        (member("link", tarfile.SYMTYPE, linkname="/etc/passwd"), None),
        (member("hard", tarfile.LNKTYPE, linkname="ok.txt"), None),
        (member("tty", tarfile.CHRTYPE, devmajor=4, devminor=1), None),
        (member("disk", tarfile.BLKTYPE, devmajor=8, devminor=0), None),
        (member("pipe", tarfile.FIFOTYPE), None),
    ],
    ids=[
        "absolute",
        "dotdot",
        "nested-dotdot",
        "backslash-dotdot",
        "backslash-nested-dotdot",
        "backslash-absolute",
        "drive-backslash",
        "drive-slash",
        "backslash-dotdot-dir",
        "absolute-dir",
        "symlink",
        "hardlink",
        "chr",
        "blk",
        "fifo",
    ],
)
def test_an_unsafe_member_refuses_the_whole_tar(info, content):
    """Absolute names, '..', links and devices raise SuspiciousFileOperation; nothing is stored."""
    storage = InMemoryStorage()
    storage.save("kept.txt", ContentFile(b"kept"))
    before = files_of(storage)
    archive = tar_of((member("ok.txt"), b"fine"), (info, content))
    with pytest.raises(SuspiciousFileOperation):
        load(storage, archive)
    assert before == files_of(storage)


def test_a_directory_member_repeated_is_charged_once():
    """A tar that holds ``d/`` many times loads where it fits once: the store holds it once."""
    once = tar_of((member("d/", tarfile.DIRTYPE), None), (member("d/x.txt"), b"xy"))
    measured = InMemoryStorage()
    load(measured, once)
    used = measured.stats().bytes_used
    storage = InMemoryStorage(max_bytes=used * 4, on_full="error")
    repeated = [(member("d/", tarfile.DIRTYPE), None)] * 300
    assert ["d/x.txt"] == load(storage, tar_of(*repeated, (member("d/x.txt"), b"xy")))
    assert used == storage.stats().bytes_used


def non_utf8_name(name: bytes) -> bytes:
    """A one-file ustar whose member name holds *name*'s bytes (not UTF-8), checksum mended."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        archive.addfile(member("x" * len(name), size=1), io.BytesIO(b"x"))
    raw = bytearray(buffer.getvalue())
    raw[: len(name)] = name
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw[:512])
    return bytes(raw)


def test_a_member_name_that_is_not_utf8_refuses_the_whole_tar():
    """tarfile decodes such bytes to lone surrogates, which no URL or page can carry: ValueError."""
    storage = InMemoryStorage()
    storage.save("kept.txt", ContentFile(b"kept"))
    before = files_of(storage)
    with pytest.raises(ValueError, match="surrogate"):
        load(storage, io.BytesIO(non_utf8_name(b"\xff\xfeA.txt")))
    assert before == files_of(storage)


def test_a_file_name_on_disk_that_is_not_utf8_refuses_the_whole_directory(tmp_path):
    """``os.listdir()`` gives such a name with lone surrogates: the load is refused, as a tar's."""
    (tmp_path / "fine.txt").write_bytes(b"fine")
    with open(os.path.join(os.fsencode(tmp_path), b"\xff.txt"), "wb") as file:
        file.write(b"x")
    storage = InMemoryStorage()
    with pytest.raises(ValueError, match="surrogate"):
        load(storage, tmp_path)
    assert [] == files_of(storage)


def test_an_existing_name_refuses_the_load_unless_replacing(source):
    """Without replace=True, a name already stored refuses the whole load; with it, replaces."""
    buffer = io.BytesIO()
    dump(source, buffer)
    target = InMemoryStorage()
    target.save("a.txt", ContentFile(b"mine"))
    buffer.seek(0)
    with pytest.raises(FileExistsError):
        load(target, buffer)
    assert [("a.txt", b"mine")] == [(name, content) for name, content, *_ in files_of(target)]
    buffer.seek(0)
    load(target, buffer, replace=True)
    assert files_of(source) == files_of(target)


def test_a_tar_larger_than_the_budget_is_refused_before_it_is_read():
    """Files charged more than max_bytes together raise StorageFull before the rest is read.

    Each 600-byte file is charged 1,247 bytes (its content, its name and the
    per-file overhead): the second passes 2,000.
    """
    big = tar_of((member("one.bin"), b"1" * 600), (member("two.bin"), b"2" * 600))
    truncated = io.BytesIO(big.getvalue()[: 3 * 512 + 1024])  # the second content is cut off
    storage = InMemoryStorage(max_bytes=2000)
    with pytest.raises(StorageFull) as raised:
        load(storage, truncated)
    assert ("two.bin", 2000) == (raised.value.filename, raised.value.max_bytes)
    assert [] == storage.stored_files()


def test_a_tar_that_fits_only_after_eviction_evicts(source):
    """With on_full='evict' a load makes room by evicting least recently used files."""
    storage = InMemoryStorage(max_bytes=5000)
    storage.save("old.bin", ContentFile(b"o" * 3000))
    load(storage, tar_of((member("new.bin"), b"n" * 3000)))
    assert ["new.bin"] == [f.name for f in storage.stored_files()]


def test_a_tar_that_does_not_fit_is_refused_with_on_full_error():
    """With on_full='error' a load that needs an eviction is refused; nothing changes."""
    storage = InMemoryStorage(max_bytes=5000, on_full="error")
    storage.save("old.bin", ContentFile(b"o" * 3000))
    with pytest.raises(StorageFull):
        load(storage, tar_of((member("new.bin"), b"n" * 3000)))
    assert ["old.bin"] == [f.name for f in storage.stored_files()]


def test_something_else_than_a_tar_is_a_tar_error():
    """Bytes that are no tar raise tarfile.ReadError, and nothing is stored."""
    storage = InMemoryStorage()
    with pytest.raises(tarfile.ReadError):
        load(storage, io.BytesIO(b"this is not a tar archive at all" * 40))
    assert [] == storage.stored_files()


def test_a_truncated_tar_stores_nothing():
    """A tar cut in the middle of a member's content raises, and nothing is stored."""
    whole = tar_of((member("one.bin"), b"1" * 600), (member("two.bin"), b"2" * 6000))
    storage = InMemoryStorage()
    with pytest.raises(tarfile.TarError):
        load(storage, io.BytesIO(whole.getvalue()[:3000]))
    assert [] == storage.stored_files()


@pytest.fixture
def fixtures_dir(tmp_path):
    """A directory of media fixtures: two files, one nested, with known modification times."""
    root = tmp_path / "media"
    (root / "img").mkdir(parents=True)
    (root / "logo.svg").write_bytes(b"<svg/>")
    (root / "img" / "cat.jpg").write_bytes(b"\xff\xd8cat")
    os.utime(root / "logo.svg", (1_600_000_000, 1_600_000_000.25))
    return root


def test_a_directory_loads_by_relative_names(fixtures_dir):
    """Every file below the directory is stored under its '/'-separated relative name."""
    storage = InMemoryStorage()
    assert ["img/cat.jpg", "logo.svg"] == load(storage, fixtures_dir)
    assert b"\xff\xd8cat" == storage.open("img/cat.jpg").read()


def test_a_directory_load_keeps_modification_times(fixtures_dir):
    """A file loaded from disk has the file's modification time."""
    storage = InMemoryStorage()
    load(storage, fixtures_dir)
    assert 1_600_000_000.25 == storage.get_modified_time("logo.svg").timestamp()


def test_a_directory_with_a_symlink_is_refused(fixtures_dir, tmp_path):
    """A link in the directory (to a file or a directory) refuses the load; nothing is stored."""
    (tmp_path / "elsewhere").mkdir()
    (fixtures_dir / "img" / "away").symlink_to(tmp_path / "elsewhere")
    storage = InMemoryStorage()
    with pytest.raises(SuspiciousFileOperation, match="symbolic link"):
        load(storage, fixtures_dir)
    assert [] == storage.stored_files()


@pytest.mark.parametrize("name", ["..\\escape.txt", "C:escape.txt"])
def test_a_file_on_disk_whose_name_climbs_out_of_the_storage_is_refused(fixtures_dir, name):
    """A backslash separates in a storage name: a file ..\\x on disk is refused as in a tar."""
    (fixtures_dir / name).write_bytes(b"x")
    storage = InMemoryStorage()
    with pytest.raises(SuspiciousFileOperation, match="outside the storage"):
        load(storage, fixtures_dir)
    assert [] == storage.stored_files()


def test_a_directory_larger_than_the_budget_is_refused(fixtures_dir):
    """A directory whose files add up to more than max_bytes raises StorageFull; nothing stored."""
    storage = InMemoryStorage(max_bytes=8)
    with pytest.raises(StorageFull):
        load(storage, fixtures_dir)
    assert [] == storage.stored_files()


def test_an_unknown_member_type_is_refused():
    """A member of a type tar readers do not know (a volume header) is refused like a device."""
    storage = InMemoryStorage()
    with pytest.raises(SuspiciousFileOperation, match="special member"):
        load(storage, tar_of((member("label", b"V"), None)))


def open_descriptors():
    """The descriptors this process has open."""
    return sorted(os.listdir("/proc/self/fd"))


def path_of(descriptor):
    """The path a descriptor (or a path) names."""
    if isinstance(descriptor, int):
        return os.readlink(f"/proc/self/fd/{descriptor}")
    return os.fspath(descriptor)


def test_a_directory_that_cannot_be_read_refuses_the_load(fixtures_dir, monkeypatch):
    """A subdirectory that cannot be listed is an error, never files silently missing."""
    real_scandir = os.scandir

    def scandir(directory):
        if path_of(directory).endswith("img"):
            raise PermissionError(13, "Permission denied", path_of(directory))
        return real_scandir(directory)

    monkeypatch.setattr(os, "scandir", scandir)
    storage = InMemoryStorage()
    before = open_descriptors()
    with pytest.raises(PermissionError):
        load(storage, fixtures_dir)
    assert [] == storage.stored_files()
    assert before == open_descriptors()


def test_a_file_that_grows_while_loading_is_refused(fixtures_dir, monkeypatch):
    """A file with more bytes than fstat() said when it was opened refuses the load.

    At most one byte more than that size is read: 3 of logo.svg's 6 bytes
    when fstat() says 2.
    """
    real_fstat = os.fstat

    def fstat(descriptor):
        info = real_fstat(descriptor)
        if not path_of(descriptor).endswith("logo.svg"):
            return info
        fields = list(info[:10])
        fields[6] = 2  # st_size: the file grew since
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", fstat)
    storage = InMemoryStorage()
    with pytest.raises(SuspiciousFileOperation, match="has 3 bytes, not the 2"):
        load(storage, fixtures_dir)
    assert [] == storage.stored_files()
