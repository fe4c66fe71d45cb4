"""Properties of ``load()`` and ``dump()`` on generated archives and directories (hypothesis).

For any input: the load stores exactly the files an independent reader finds
in it (``tarfile`` reading the whole decompressed tar at its leisure), or it
raises one of the documented errors and changes nothing; the budget is never
exceeded. Sound tars always load, and a dump always loads back the same.
About 10 seconds on the 2-core CI machine with the default profile (see ``EXAMPLES``).
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import stat
import tarfile
import tempfile
from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.archive import dump, load
from inmemorystorage.store import StoredFile
from inmemorystorage.tree import canonical_name
from tests.strategies import archives, build_tar, compressed, sound_tar_specs

#: What load() documents that it raises; anything else is a bug (see documented()).
DOCUMENTED = (
    SuspiciousFileOperation,
    ValueError,
    FileExistsError,
    IsADirectoryError,
    StorageFull,
    tarfile.TarError,
    OSError,
)


def documented(error):
    """Whether *error* is one load() documents: OSError only for a name too long."""
    if type(error) is OSError:
        return error.errno == errno.ENAMETOOLONG
    return isinstance(error, DOCUMENTED)


def attempt(loading):
    """``(names, None)`` from a load that worked, or ``(None, error)``: a documented error.

    Any other error is raised. Each outcome is counted (``--hypothesis-show-statistics``).
    """
    try:
        names = loading()
    except DOCUMENTED as error:
        if not documented(error):
            raise
        event(f"refused: {type(error).__name__}")
        return None, error
    event(f"loaded {min(len(names), 3)}+ files")
    return names, None


MAX_BYTES = 64 * 1024
#: Examples: a multiple of the profile's (100 by default, 1,000 with --hypothesis-profile=long).
EXAMPLES = settings().max_examples
BOUNDED = settings(
    max_examples=4 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def snapshot(storage):
    """What a refusal must leave unchanged: the counts and budget, and every file."""
    stats = storage.stats()
    files = [(f.name, f.content, f.created, f.modified) for f in storage.stored_files()]
    return (stats.files, stats.dirs, stats.bytes_used), files


def decompressed(data):
    """The tar inside *data*, decompressed by the standard library; None if it cannot be."""
    try:
        if data.startswith(b"\x1f\x8b"):
            return gzip.GzipFile(fileobj=io.BytesIO(data)).read()
        if data.startswith(b"BZh"):
            return bz2.decompress(data)
        if data.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
            return xz_streams(data)
    except (OSError, EOFError, lzma.LZMAError):
        return None
    return data


def xz_streams(data):
    """Every stream of xz *data*, with the padding xz allows (NULs, 4 at a time); else None.

    ``lzma.decompress()`` refuses any padding after the last stream.
    """
    out = []
    while data:
        decompressor = lzma.LZMADecompressor()
        out.append(decompressor.decompress(data))
        if not decompressor.eof:
            return None
        rest = decompressor.unused_data
        data = rest.lstrip(b"\0")
        if (len(rest) - len(data)) % 4:
            return None
    return b"".join(out)


def files_in(data):
    """Each regular file of the archive *data* by its storage name (the last of a name wins)."""
    tar = decompressed(data)
    if tar is None:
        return None
    found = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
            for member in archive:
                if member.isreg():
                    name = canonical_name(member.name)
                    found.pop(name, None)
                    found[name] = archive.extractfile(member).read()
    except tarfile.TarError:
        return None
    return found


def stored(storage, names):
    """The bytes *storage* holds at each of *names*."""
    return {name: storage._store.read(name) for name in names}


@st.composite
def storages(draw):
    """A bounded storage that already holds a file, evicting or refusing when full."""
    storage = InMemoryStorage(
        max_bytes=MAX_BYTES, on_full=draw(st.sampled_from(["evict", "error"]))
    )
    storage._store.write("kept/old.txt", b"old" * draw(st.integers(0, 5000)))
    return storage


@BOUNDED
@given(storage=storages(), archive=archives(), replace=st.booleans())
def test_a_generated_archive_is_loaded_exactly_or_refused_whole(storage, archive, replace):
    """Exactly the files tarfile finds, or a documented error and nothing changed; in budget."""
    data = archive.data
    before = snapshot(storage)
    names, refusal = attempt(lambda: load(storage, io.BytesIO(data), replace=replace))
    if refusal is not None:
        assert before == snapshot(storage)
    else:
        expected = files_in(data)
        assert expected is not None, "loaded an archive the standard library cannot read"
        assert expected == stored(storage, names)
        assert sorted(expected) == sorted(names)
    assert storage.stats().bytes_used <= MAX_BYTES


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    spec=sound_tar_specs(),
    compression=st.sampled_from(["none", "gz", "bz2", "xz", "gz-split", "xz-split"]),
    split=st.integers(),
)
def test_a_sound_archive_loads_with_its_bytes_and_times(spec, compression, split):
    """Sound members in any format and compression: every file, its bytes and its mtime."""
    data = compressed(build_tar(spec), compression, split)
    storage = InMemoryStorage()
    names = load(storage, io.BytesIO(data))
    expected = {}
    for info, content in spec[1]:
        if content is not None:
            expected.pop(info.name, None)
            expected[info.name] = (content, float(info.mtime))
    loaded = {f.name: (f.content, f.modified) for f in storage.stored_files()}
    assert (list(expected), expected) == (names, loaded)


stored_times = st.one_of(
    st.floats(min_value=-2e9, max_value=1.7e9, allow_nan=False),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.integers(min_value=0, max_value=2**33).map(float),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    files=st.dictionaries(
        st.sampled_from(["a.txt", "d/b.txt", "d/e/c.txt", "ü/f.bin", "x" * 200]),
        st.tuples(st.binary(max_size=1024), stored_times, stored_times),
        max_size=5,
    )
)
def test_a_dump_loads_back_the_same_files_and_times(files):
    """dump() then load(): the same names, bytes, creation and modification times (as floats)."""
    source = InMemoryStorage()
    source.load_files(
        [
            StoredFile(name, content, created, modified)
            for name, (content, created, modified) in files.items()
        ]
    )
    buffer = io.BytesIO()
    dump(source, buffer)
    target = InMemoryStorage()
    load(target, io.BytesIO(buffer.getvalue()))
    assert snapshot(source)[1] == snapshot(target)[1]


# Directories on disk.

entries = st.dictionaries(
    st.sampled_from(["a.txt", "b.txt", "sub", "sub/c.txt", "sub\\c.txt", "sub/d", "sub/d/e.txt"]),
    st.sampled_from(["file", "empty", "big", "link-out", "link-in", "fifo"]),
    max_size=6,
)


def make_tree(root, spec):
    """Build *spec* below *root*: files, links (out of and within *root*) and FIFOs."""
    outside = root.parent / "outside.txt"
    outside.write_bytes(b"OUTSIDE")
    for name, kind in sorted(spec.items()):
        path = root / name
        above = [p for p in path.parents if root in p.parents]
        if any(p.is_symlink() or (p.exists() and not p.is_dir()) for p in above):
            continue  # "sub" as a file, then "sub/c.txt": the first one wins
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            continue
        if kind == "file":
            path.write_bytes(name.encode())
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "big":
            path.write_bytes(b"B" * (MAX_BYTES + 1))
        elif kind == "link-out":
            path.symlink_to(outside)
        elif kind == "link-in":
            path.symlink_to(root / "a.txt")
        else:
            os.mkfifo(path)


def files_on_disk(root):
    """Each regular file below *root* (links not followed) by its storage name."""
    found = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if stat.S_ISREG(path.lstat().st_mode):
                found[canonical_name(path.relative_to(root).as_posix())] = path.read_bytes()
    return found


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=entries, storage=storages())
def test_a_generated_directory_is_loaded_exactly_or_refused_whole(spec, storage):
    """Every regular file below it, by its name, or a documented error and nothing changed."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory, "media")
        root.mkdir()
        make_tree(root, spec)
        before = snapshot(storage)
        names, refusal = attempt(lambda: load(storage, root))
        if refusal is not None:
            assert before == snapshot(storage)
        else:
            expected = files_on_disk(root)
            assert expected == stored(storage, names)
        assert storage.stats().bytes_used <= MAX_BYTES
