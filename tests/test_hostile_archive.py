"""Hostile archives, directories and dump targets: issue 21's observations 5 to 9, reproduced.

Each test is one observation made against a036b65, where it failed; here the
load is bounded, refused whole as GNU tar refuses it, or never follows a
link. Loads that could allocate without bound run in a child process under
an address-space limit (``tests.hostile_tars.measure``), so that a failure
there cannot take the machine down; the peak is what tracemalloc traced
while the load ran.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage, StorageFull, archive
from inmemorystorage.archive import dump, load
from inmemorystorage.store import StoredFile
from tests.hostile_tars import (
    MiB,
    big_file,
    compress,
    empty_files,
    extension_bomb,
    four_files,
    header,
    measure,
    measure_growing,
    member,
    padding,
    tar,
    with_checksum,
    xz_asking_for,
)

MAX_BYTES = MiB
#: What the archive module promises a refused load allocates at most, for
#: stores under 20 MiB: 20 MiB + 6 x max_bytes (see its docstring).
PEAK_LIMIT = 20 * MiB + 6 * MAX_BYTES


def snapshot(storage):
    """What a refusal must leave unchanged: the counts and budget, and every file."""
    stats = storage.stats()
    files = [(f.name, f.content, f.created, f.modified) for f in storage.stored_files()]
    return (stats.files, stats.dirs, stats.bytes_used), files


@pytest.fixture
def storage():
    """A 1 MiB storage holding one file, to show that a refusal changes nothing."""
    storage = InMemoryStorage(max_bytes=MAX_BYTES)
    storage.save("kept/old.txt", ContentFile(b"old"))
    return storage


# Observation 5: compression and metadata bombs, and member counts.

BOMBS = {
    # A 64 MiB file of zeros in 100 bytes of bzip2: a036b65 decompressed the
    # whole chunk it read before looking at the member's size.
    "bz2-file": (lambda: compress("bz2", big_file("big.bin", 64 * MiB)), "StorageFull"),
    # A 64 MiB pax header (a comment) or GNU long name, gzip-compressed to 65 kB.
    "gz-pax-header": (lambda: compress("gz", extension_bomb("pax", 64 * MiB), 1), "ReadError"),
    "gz-long-name": (lambda: compress("gz", extension_bomb("gnu", 64 * MiB), 1), "ReadError"),
    # xz headers that ask for a 64 MiB (xz -9) and a 1.5 GiB dictionary.
    "xz-64MiB-dictionary": (lambda: xz_asking_for(28, four_files()), "ReadError"),
    "xz-1.5GiB-dictionary": (lambda: xz_asking_for(37), "ReadError"),
    # 20,000 empty files: refused at the member whose charge passes max_bytes.
    "gz-20000-empty-files": (
        lambda: compress("gz", empty_files(20_000), level=1),
        "StorageFull: cannot store 'e1627'",
    ),
}


@pytest.mark.parametrize("case", BOMBS)
def test_a_bomb_is_refused_within_the_stated_allocation(case):
    """A bomb is refused with a documented error, allocating at most 20 MiB + 6 x max_bytes."""
    make, expected = BOMBS[case]
    report = measure(make(), MAX_BYTES)
    assert expected in report["outcome"]
    assert report["peak"] <= PEAK_LIMIT, report


def test_a_bomb_changes_nothing(storage):
    """A refused bomb leaves the files and the budget count as they were."""
    before = snapshot(storage)
    with pytest.raises(StorageFull):
        load(storage, io.BytesIO(compress("gz", big_file("big.bin", 8 * MiB))))
    assert before == snapshot(storage)


def test_the_decompressed_tar_is_bounded_even_without_files():
    """Bytes that hold no member (zeros after the end) still count: 4 x max_bytes + 1 MiB."""
    data = compress("gz", [tar(member("a.txt", b"a")), b"\0" * (6 * MiB)])
    with pytest.raises(StorageFull, match="decompresses to more than 5,242,880 bytes"):
        load(InMemoryStorage(max_bytes=MAX_BYTES), io.BytesIO(data))


def test_a_store_without_a_budget_takes_at_most_half_this_machine_s_memory():
    """The bound of an unbounded store's loads: half the physical memory the OS reports."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert memory // 2 == archive.unbounded_input_limit()


def test_a_bomb_is_refused_by_a_store_without_a_budget(monkeypatch):
    """Without max_bytes a bomb is refused past the machine's bound (here made 4 MiB), whole."""
    monkeypatch.setattr(archive, "unbounded_input_limit", lambda: 4 * MiB)
    storage = InMemoryStorage()
    storage.save("kept/old.txt", ContentFile(b"old"))
    before = snapshot(storage)
    bomb = compress("bz2", big_file("big.bin", 64 * MiB))
    with pytest.raises(StorageFull, match="half this machine's memory") as refused:
        load(storage, io.BytesIO(bomb))
    assert ("memory", 4 * MiB) == (refused.value.limit, refused.value.max_bytes)
    assert before == snapshot(storage)


def test_the_input_is_bounded_even_where_it_decompresses_to_nothing():
    """NUL padding after a gzip member counts too: input past 4 x max_bytes + 1 MiB is refused."""
    data = gzip.compress(four_files(), mtime=0) + b"\0" * (6 * MiB)
    with pytest.raises(StorageFull, match="reads more than 5,242,880 bytes"):
        load(InMemoryStorage(max_bytes=MAX_BYTES), io.BytesIO(data))


def test_an_xz_header_asking_for_more_memory_than_allowed_is_refused_before_decoding():
    """A 1.5 GiB dictionary is refused by the decoder's limit (16 MiB for a 1 MiB store)."""
    with pytest.raises(tarfile.ReadError, match="decoder needs more than the 16 MiB"):
        load(InMemoryStorage(max_bytes=MAX_BYTES), io.BytesIO(xz_asking_for(37)))


def test_an_xz_archive_loads_where_its_dictionary_fits_the_budget():
    """xz -9 (a 64 MiB dictionary) needs 65 MiB to decode: allowed from max_bytes = 16 MiB."""
    data = xz_asking_for(28, four_files())
    storage = InMemoryStorage(max_bytes=16 * MiB)
    assert ["a.txt", "b.txt", "c.txt", "d.txt"] == load(storage, io.BytesIO(data))


# Observation 6: corrupt archives, refused whole as GNU tar refuses them.


def bad_checksum():
    """Four files, the second header's checksum wrong."""
    data = bytearray(four_files())
    data[1024 + 148 : 1024 + 156] = b"0000000\0"
    return bytes(data)


def flipped_gzip_bit():
    """Four files in a stored (uncompressed) gzip, one bit of b.txt's BBBB flipped to CBBB."""
    data = bytearray(gzip.compress(four_files(), compresslevel=0, mtime=0))
    data[data.index(b"BBBB")] ^= 1
    return bytes(data)


def two_gzip_members():
    """Four files, the first two in one gzip member and the last two in another."""
    whole = four_files()
    return gzip.compress(whole[:2048], mtime=0) + gzip.compress(whole[2048:], mtime=0)


def truncated(data, keep):
    """The first *keep* bytes of *data*."""
    return data[:keep]


GNU_PARITY = {
    # The five: GNU tar refuses the first four and loads all of the last.
    "bad-checksum-in-second-header": (bad_checksum, False),
    "pax-size-zz": (lambda: tar(member("f.txt", b"FFFF", size="zz"), member("g.txt", b"G")), False),
    "gzip-bit-flip": (flipped_gzip_bit, False),
    "gzip-without-trailer": (lambda: gzip.compress(four_files(), mtime=0)[:-8], False),
    "tar-across-two-gzip-members": (two_gzip_members, True),
    # More of what GNU tar 1.34 refuses ...
    "pax-mtime-nan": (lambda: tar(member("f.txt", b"F", mtime="nan")), False),
    "pax-uid-not-a-number": (lambda: tar(member("f.txt", b"F", uid="x")), False),
    "pax-size-with-a-space": (lambda: tar(member("f.txt", b"FFFF", size=" 4")), False),
    "pax-record-longer-than-its-header": (lambda: pax_record(b"99 comment=x\n"), False),
    "truncated-content": (lambda: truncated(four_files(), 2 * 1024 + 512 + 2), False),
    "gzip-trailing-garbage": (lambda: gzip.compress(four_files(), mtime=0) + b"garbage", False),
    "bzip2-truncated": (lambda: truncated(bz2.compress(four_files()), 60), False),
    "xz-truncated": (lambda: truncated(lzma.compress(four_files()), 100), False),
    "xz-trailing-garbage": (lambda: lzma.compress(four_files()) + b"garbage", False),
    # ... and what it loads.
    "no-end-of-archive-blocks": (lambda: four_files()[:4096], True),
    "a-lone-zero-block": (lambda: four_files()[:4096] + b"\0" * 512, True),
    "gzip-trailing-zeros": (lambda: gzip.compress(four_files(), mtime=0) + b"\0" * 100, True),
    "bzip2-two-streams": (lambda: two_streams(bz2.compress), True),
    "xz-two-streams": (lambda: two_streams(lzma.compress), True),
    "xz-stream-padding": (lambda: lzma.compress(four_files()) + b"\0" * 8, True),
    "xz-padding-not-in-fours": (lambda: lzma.compress(four_files()) + b"\0" * 3, False),
}


def pax_record(record):
    """Four files, a pax header holding exactly *record* before the first."""
    pax = header("././@PaxHeader", len(record), tarfile.XHDTYPE) + record + padding(len(record))
    return pax + four_files()


def two_streams(compressor):
    """Four files, the first two in one compressed stream and the last two in another."""
    whole = four_files()
    return compressor(whole[:2048]) + compressor(whole[2048:])


def gnu_tar_lists(data, directory):
    """The names GNU tar lists in *data*, or None when it refuses it (exit status 2)."""
    path = Path(directory) / "archive"
    path.write_bytes(data)
    done = subprocess.run([TAR, "-tf", path], capture_output=True, text=True, check=False)
    return done.stdout.split() if done.returncode == 0 else None


#: This machine's tar.
TAR = shutil.which("tar") or "/usr/bin/tar"


def gnu_tar():
    """Whether this machine's ``tar`` is GNU tar."""
    if not Path(TAR).exists():
        return False
    done = subprocess.run([TAR, "--version"], capture_output=True, text=True, check=False)
    return "GNU tar" in done.stdout


needs_gnu_tar = pytest.mark.skipif(not gnu_tar(), reason="GNU tar is not installed")


@pytest.mark.parametrize("case", GNU_PARITY)
def test_a_corrupt_archive_is_refused_whole_and_a_sound_one_loads(case, storage):
    """Refused with tarfile.ReadError and nothing changed, or every file loaded, as said."""
    make, sound = GNU_PARITY[case]
    before = snapshot(storage)
    if sound:
        names = load(storage, io.BytesIO(make()))
        assert ["a.txt", "b.txt", "c.txt", "d.txt"] == names
        assert b"BBBB" == storage.open("b.txt").read()
    else:
        with pytest.raises(tarfile.ReadError):
            load(storage, io.BytesIO(make()))
        assert before == snapshot(storage)


@needs_gnu_tar
@pytest.mark.parametrize("case", GNU_PARITY)
def test_gnu_tar_refuses_and_loads_the_same_archives(case, tmp_path):
    """The real GNU tar lists the same files where load() loads them, and refuses the rest."""
    make, sound = GNU_PARITY[case]
    expected = ["a.txt", "b.txt", "c.txt", "d.txt"] if sound else None
    assert expected == gnu_tar_lists(make(), tmp_path)


def test_a_header_cut_short_is_refused():
    """A last header cut in the middle is refused (GNU tar lists what comes before it)."""
    with pytest.raises(tarfile.ReadError, match="damaged header at byte 3,072"):
        load(InMemoryStorage(), io.BytesIO(four_files()[: 3 * 1024 + 100]))


def test_a_negative_size_is_refused():
    """A GNU base-256 size below zero is refused (tarfile would read the rest as its content)."""
    block = bytearray(header("f.txt", 1))
    block[124:136] = b"\xff" * 12  # -1 in base-256
    with pytest.raises(tarfile.ReadError, match="negative size"):
        load(InMemoryStorage(), io.BytesIO(with_checksum(block) + b"\0" * 1024))


def test_a_sparse_member_is_refused(tmp_path):
    """A sparse member (GNU tar --sparse) is refused, its map never built."""
    block = bytearray(header("s.bin", 0))
    block[156:157] = tarfile.GNUTYPE_SPARSE
    with pytest.raises(tarfile.ReadError, match="sparse"):
        load(InMemoryStorage(), io.BytesIO(with_checksum(block) + b"\0" * 1024))


def test_records_hidden_in_a_pax_header_s_padding_are_refused():
    """Bytes past a pax header's size (which tarfile would read as records) are refused."""
    record = b"18 comment=hello\n"
    hidden = b"18 path=evil.txt\n"
    pax = header("././@PaxHeader", len(record), tarfile.XHDTYPE) + record + hidden
    data = pax + padding(len(record + hidden)) + member("f.txt", b"F") + b"\0" * 1024
    with pytest.raises(tarfile.ReadError, match="after the end of an extension header"):
        load(InMemoryStorage(), io.BytesIO(data))


# Observation 7: tarfile's quadratic pax parser (CVE-2024-6232).


@pytest.mark.parametrize("digits", [7_000, 32_000])
def test_a_pax_header_with_a_long_run_of_digits_is_refused(digits):
    """Refused before tarfile parses it, on every interpreter: by its digits, or its size."""
    data = tar(member("f.txt", b"F", comment="1" * digits))
    with pytest.raises(tarfile.ReadError, match=r"CVE-2024-6232|at most 8,192"):
        load(InMemoryStorage(), io.BytesIO(data))


def test_a_long_chain_of_pax_headers_is_refused():
    """400 pax headers before one member are refused (tarfile nests a call for each)."""
    one = header("././@PaxHeader", 10, tarfile.XHDTYPE) + b"10 a=bcd\n\n".ljust(512, b"\0")
    data = one * 400 + tar(member("f.txt", b"F"))
    with pytest.raises(tarfile.ReadError, match="more than 8 extension headers"):
        load(InMemoryStorage(), io.BytesIO(data))


# Observation 8: a directory is read through descriptors, without following links.


@pytest.fixture
def media(tmp_path):
    """A directory to load (media/), and a secret beside it that a link could point at.

    media/ holds 100 small files and z.txt, which the loads read last. The
    secret has z.txt's size, so that a size check cannot catch a swap.
    """
    (tmp_path / "media").mkdir()
    for number in range(100):
        (tmp_path / "media" / f"f{number:03}.txt").write_bytes(b"filler")
    (tmp_path / "media" / "z.txt").write_bytes(b"inside z")
    (tmp_path / "secret.txt").write_bytes(b"SECRET!!")
    (tmp_path / "spare").mkdir()
    return tmp_path


def swap_for_a_link(root, stop):
    """Replace media/z.txt by a link to the secret and back, atomically, until *stop*."""
    target = root / "media" / "z.txt"
    link = root / "spare" / "link"
    regular = root / "spare" / "regular"
    while not stop.is_set():
        link.symlink_to(root / "secret.txt")
        link.replace(target)
        regular.write_bytes(b"inside z")
        regular.replace(target)


def test_a_file_swapped_for_a_link_after_the_listing_never_loads_outside_bytes(
    media, fast_switching
):
    """300 loads while a thread swaps z.txt for a link: none stores the linked file's bytes.

    Every load stores the directory's own files or is refused
    (SuspiciousFileOperation). At a036b65, which listed every file first and
    opened each later, following links, some loads stored the secret.
    """
    stop = threading.Event()
    swapper = threading.Thread(target=swap_for_a_link, args=(media, stop))
    swapper.start()
    outcomes = {"stored": 0, "refused": 0, "outside bytes stored": 0}
    try:
        for _ in range(300):
            storage = InMemoryStorage()
            try:
                load(storage, media / "media")
            except SuspiciousFileOperation:
                outcomes["refused"] += 1
                continue
            stored = storage.open("z.txt").read()
            outcomes["stored" if stored == b"inside z" else "outside bytes stored"] += 1
            if outcomes["outside bytes stored"]:
                break  # seen: no need to go on
    finally:
        stop.set()
        swapper.join()
    assert 0 == outcomes["outside bytes stored"], outcomes


def test_a_file_that_grows_after_the_listing_is_never_read_past_its_size(tmp_path):
    """300 loads while a thread resizes a file from 10 bytes to 200 MiB: nothing big is read.

    Each load reads at most one byte past the size fstat() gave when it
    opened the file, so the peak stays small under max_bytes = 1 MiB.
    a036b65 sized the file when it listed it, and read whatever it held
    later: 200 MiB.
    """
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.txt").write_bytes(b"small")
    growing = tmp_path / "media" / "grow.bin"
    growing.write_bytes(b"")
    report = measure_growing(tmp_path / "media", growing, MAX_BYTES, 300)
    assert {"stored", "StorageFull", "SuspiciousFileOperation"} >= set(report["outcomes"]), report
    assert report["peak"] <= 2 * MAX_BYTES, report


def test_names_that_are_one_storage_name_refuse_the_load(tmp_path):
    r"""'sub\c.txt' and 'sub/c.txt' on disk are both 'sub/c.txt': refused, never one dropped."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_bytes(b"one")
    (tmp_path / "sub\\c.txt").write_bytes(b"two")
    storage = InMemoryStorage()
    with pytest.raises(SuspiciousFileOperation, match=r"both the storage name 'sub/c\.txt'"):
        load(storage, tmp_path)
    assert [] == storage.stored_files()


def test_a_fifo_in_the_directory_is_refused_without_blocking(tmp_path):
    """A FIFO below the directory is a special file: refused, never opened (which would block)."""
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(SuspiciousFileOperation, match="special file"):
        load(InMemoryStorage(), tmp_path)


# Observation 9: dump() never writes through a link planted at its target.


@pytest.fixture
def source():
    """A storage with two files."""
    storage = InMemoryStorage()
    storage.save("a.txt", ContentFile(b"alpha"))
    storage.save("docs/b.txt", ContentFile(b"beta"))
    return storage


def test_dump_refuses_a_link_planted_at_its_target(source, tmp_path):
    """A symbolic link at the target raises ELOOP; the file it points at is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (tmp_path / "media.tar").symlink_to(victim)
    with pytest.raises(OSError) as raised:
        dump(source, tmp_path / "media.tar")
    assert (errno.ELOOP, b"precious") == (raised.value.errno, victim.read_bytes())


def test_dump_replaces_a_hard_link_instead_of_writing_into_it(source, tmp_path):
    """A hard link planted at the target is replaced: the other name keeps its bytes."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    os.link(victim, tmp_path / "media.tar")
    dump(source, tmp_path / "media.tar")
    assert b"precious" == victim.read_bytes()
    assert ["a.txt", "docs/b.txt"] == load(InMemoryStorage(), tmp_path / "media.tar")


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_dump_refuses_a_target_that_is_no_regular_file(kind, source, tmp_path):
    """A directory or a FIFO at the target is refused (a file object writes to a FIFO)."""
    target = tmp_path / "media.tar"
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    with pytest.raises(OSError, match=r"Is a directory|not a regular file"):
        dump(source, target)
    assert ["media.tar"] == os.listdir(tmp_path)


class Unwritable:
    """A storage whose second file cannot be written (its content is not bytes)."""

    def stored_files(self, *, by_recency=False):
        return [StoredFile("a.txt", b"a", 1e9, 1e9), StoredFile("b.txt", "text", 1e9, 1e9)]


def test_a_dump_that_fails_leaves_the_target_as_it_was(tmp_path):
    """A write that fails midway removes its temporary file; the old archive stays."""
    (tmp_path / "media.tar").write_bytes(b"an older dump")
    with pytest.raises(TypeError):
        dump(Unwritable(), tmp_path / "media.tar")
    assert (["media.tar"], b"an older dump") == (
        os.listdir(tmp_path),
        (tmp_path / "media.tar").read_bytes(),
    )


def test_dump_to_a_path_leaves_only_the_archive(source, tmp_path):
    """The temporary file is renamed into place: nothing else is left in the directory."""
    (tmp_path / "media.tar").write_bytes(b"an older dump")
    dump(source, tmp_path / "media.tar")
    assert ["media.tar"] == sorted(os.listdir(tmp_path))
    assert ["a.txt", "docs/b.txt"] == load(InMemoryStorage(), tmp_path / "media.tar")


# Issue 23: GNU tar warned about LIBARCHIVE.creationtime on every member of a dump.


@pytest.fixture
def replaced():
    """A storage whose file was replaced, so that its creation and modification times differ."""
    storage = InMemoryStorage()
    storage.save("a.txt", ContentFile(b"first"))
    storage._store.write("a.txt", b"second")
    storage.save("dir/b.txt", ContentFile(b"bee"))
    return storage


@needs_gnu_tar
def test_gnu_tar_lists_and_extracts_a_dump_without_a_warning(replaced, tmp_path):
    """``tar -tvf`` and ``tar -xf`` on a dump: exit status 0, nothing on stderr, the bytes out."""
    dump(replaced, tmp_path / "media.tar")
    listed = subprocess.run(
        [TAR, "-tvf", tmp_path / "media.tar"], capture_output=True, text=True, check=False
    )
    (tmp_path / "out").mkdir()
    extracted = subprocess.run(
        [TAR, "-xf", tmp_path / "media.tar", "-C", tmp_path / "out"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (0, "", 0, "") == (
        listed.returncode,
        listed.stderr,
        extracted.returncode,
        extracted.stderr,
    )
    assert b"second" == (tmp_path / "out" / "a.txt").read_bytes()


def test_a_dump_keeps_a_creation_time_that_differs_from_the_modification_time(replaced):
    """The creation time travels in the pax ctime and comes back on load."""
    buffer = io.BytesIO()
    dump(replaced, buffer)
    target = InMemoryStorage()
    load(target, io.BytesIO(buffer.getvalue()))
    assert snapshot(replaced)[1] == snapshot(target)[1]
    created, modified = target.stored_files()[0].created, target.stored_files()[0].modified
    assert created < modified


@needs_gnu_tar
def test_a_gnu_tar_pax_archive_gives_its_ctime_as_the_creation_time(tmp_path):
    """GNU tar's pax archives carry ctime, which Django's FileSystemStorage reports as created."""
    (tmp_path / "f.txt").write_bytes(b"f")
    os.utime(tmp_path / "f.txt", (1_600_000_000, 1_600_000_000))  # ctime stays now
    subprocess.run([TAR, "--format=posix", "-cf", "f.tar", "f.txt"], cwd=tmp_path, check=True)
    with tarfile.open(tmp_path / "f.tar") as archive:
        ctime = float(archive.getmember("f.txt").pax_headers["ctime"])
    storage = InMemoryStorage()
    load(storage, tmp_path / "f.tar")
    file = storage.stored_files()[0]
    assert (round(ctime, 6), 1_600_000_000) == (round(file.created, 6), file.modified)


@needs_gnu_tar
@pytest.mark.parametrize("format_", ["gnu", "posix"])
def test_a_sparse_archive_from_gnu_tar_is_refused(format_, tmp_path):
    """GNU tar --sparse, in its old (GNU) and pax forms: refused, the map never built."""
    with (tmp_path / "holes.bin").open("wb") as holes:
        holes.truncate(1 * MiB)
        holes.seek(512 * 1024)
        holes.write(b"data")
    command = [TAR, "--sparse", f"--format={format_}", "-cf", "s.tar", "holes.bin"]
    subprocess.run(command, cwd=tmp_path, check=True)
    with pytest.raises(tarfile.ReadError, match="sparse"):
        load(InMemoryStorage(), tmp_path / "s.tar")
