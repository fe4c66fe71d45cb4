"""Hostile archives (issue 21, observations 5 to 9) and a child process that loads one, measured.

The builders make tars byte by byte where ``tarfile`` would refuse to write
what a hostile peer sends, and stream big contents through a compressor so
that a bomb never exists decompressed in the test process. :func:`measure`
loads an archive in a child process under an address-space limit (so that a
load that is not bounded fails there, not here) and reports the outcome and
the peak of traced memory while it ran.

The children run as ``python -m tests.hostile_tars load ...`` or ``grow ...``
from the repository's root (see :func:`measure` and :func:`measure_growing`).
"""

from __future__ import annotations

import bz2
import gc
import importlib.util
import io
import json
import lzma
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

MiB = 1024 * 1024
BLOCK = tarfile.BLOCKSIZE
END = b"\0" * (2 * BLOCK)
ROOT = Path(__file__).resolve().parent.parent


def header(name, size, kind=tarfile.REGTYPE, pax=None, mtime=1_700_000_000):
    """The header block(s) of one member (a pax header first when *pax* is given)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mtime = mtime
    if pax:
        info.pax_headers = pax
        return info.tobuf(format=tarfile.PAX_FORMAT)
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def with_checksum(block):
    """The 512-byte header *block* (bytes or bytearray), its checksum computed again."""
    block = bytearray(block)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def padding(size):
    """The NUL bytes that pad *size* bytes of content to a whole block."""
    return b"\0" * (-size % BLOCK)


def member(name, content, **pax):
    """One regular member: header(s), content and padding."""
    return header(name, len(content), pax=pax or None) + content + padding(len(content))


def tar(*members):
    """A plain tar of *members* (bytes from :func:`member`), with its end blocks."""
    return b"".join(members) + END


def four_files():
    """A tar of four small files, a.txt to d.txt, each holding its letter four times."""
    return tar(*(member(f"{c}.txt", c.upper().encode() * 4) for c in "abcd"))


def zeros(size, fill=b"\0"):
    """*size* NUL bytes (or *fill* bytes), in pieces of at most 1 MiB."""
    piece = fill * MiB
    while size > 0:
        yield piece[: min(size, MiB)]
        size -= MiB


def big_file(name, size):
    """A tar (in pieces) of one file of *size* NUL bytes."""
    yield header(name, size)
    yield from zeros(size)
    yield padding(size) + END


def extension_bomb(kind, size):
    """A tar (in pieces) whose one small file has a pax or GNU long-name header of *size* bytes.

    *kind* is ``"pax"`` (a ``comment`` record, which tarfile accepts) or
    ``"gnu"`` (a long name).
    """
    if kind == "pax":
        prefix = f"{size} comment=".encode()  # one record: its length counts itself
        body = size - len(prefix) - 1
        yield header("././@PaxHeader", size, tarfile.XHDTYPE)
        yield prefix
        yield from zeros(body, b"a")
        yield b"\n"
    else:
        yield header("././@LongLink", size, tarfile.GNUTYPE_LONGNAME)
        yield from zeros(size - 1, b"a")
        yield b"\0"
    yield padding(size)
    yield header("f.txt", 1) + b"x" + padding(1) + END


def empty_files(count):
    """A tar (in pieces) of *count* empty files."""
    for number in range(count):
        yield header(f"e{number}", 0)
    yield END


def compress(kind, pieces: Iterable[bytes], level=9):
    """*pieces* compressed as one gzip, bzip2 or xz stream (*kind*: gz, bz2, xz)."""
    if kind == "gz":
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    elif kind == "bz2":
        compressor = bz2.BZ2Compressor(level)
    else:
        compressor = lzma.LZMACompressor(preset=min(level, 9))
    out = io.BytesIO()
    for piece in pieces:
        out.write(compressor.compress(piece))
    out.write(compressor.flush())
    return out.getvalue()


def xz_asking_for(dictionary_code, payload=b""):
    """An xz stream of *payload* whose LZMA2 header asks for a dictionary of the given size code.

    Code 37 is 1.5 GiB, 40 is 4 GiB - 1 (xz's file format, section 5.3.1):
    the stream is small, the decoder allocates the dictionary it asks for.
    """
    data = bytearray(lzma.compress(payload or tar(), format=lzma.FORMAT_XZ, preset=0))
    start = 12  # the stream header
    size = (data[start] + 1) * 4
    flags = data[start + 1]
    position = start + 2
    for present in (flags & 0x40, flags & 0x80):  # compressed and uncompressed sizes
        if present:
            while data[position] & 0x80:
                position += 1
            position += 1
    filter_id, properties_size = data[position], data[position + 1]
    if (filter_id, properties_size) != (0x21, 1):
        msg = f"not an LZMA2 block header: {bytes(data[start : start + size])!r}"
        raise ValueError(msg)
    data[position + 2] = dictionary_code
    crc = zlib.crc32(bytes(data[start : start + size - 4]))
    data[start + size - 4 : start + size] = crc.to_bytes(4, "little")
    return bytes(data)


def measure(data: bytes | Path, max_bytes, limit=512 * MiB, archive_file=None, traced=True):
    """Load *data* into a storage of *max_bytes* in a child process; its report as a dict.

    The child runs under ``RLIMIT_AS`` = *limit*. The report holds
    ``outcome`` (``"stored N"``, or the exception's type and message),
    ``peak`` (the most bytes traced by tracemalloc during the load, when
    *traced*), ``maxrss_growth`` (kB the resident peak grew by) and
    ``seconds``. *archive_file* loads another version of ``archive.py``
    (for before/after figures).
    """
    with tempfile.TemporaryDirectory() as directory:
        if isinstance(data, bytes):
            path = Path(directory) / "input"
            path.write_bytes(data)
        else:
            path = data
        command = [sys.executable, "-m", "tests.hostile_tars", "load", os.fspath(path)]
        command += [str(max_bytes), str(limit), archive_file or "", "1" if traced else ""]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"outcome": f"child failed ({done.returncode}): {done.stderr[-2000:]}"}
    return json.loads(lines[-1])


def _archive_module(archive_file):
    """``inmemorystorage.archive``, or the module in *archive_file* loaded in its place."""
    if not archive_file:
        return importlib.import_module("inmemorystorage.archive")
    spec = importlib.util.spec_from_file_location("inmemorystorage._measured", archive_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run_child(path, max_bytes, limit, archive_file, traced):
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    import django  # noqa: PLC0415  # the child sets itself up

    django.setup()
    from inmemorystorage import InMemoryStorage  # noqa: PLC0415

    archive = _archive_module(archive_file)
    storage = InMemoryStorage(max_bytes=int(max_bytes) if max_bytes != "None" else None)
    report = _timed(lambda: _load(archive, storage, path), traced=traced)
    print(json.dumps(report))  # noqa: T201  # the report for the parent


def _load(archive, storage, path):
    with Path(path).open("rb") as source:
        return f"stored {len(archive.load(storage, source))}"


def _timed(operation: Callable[[], str], *, traced: bool) -> dict:
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = operation()
    except MemoryError:
        outcome = "MemoryError"
    except Exception as error:  # the report names whatever was raised
        outcome = f"{type(error).__module__}.{type(error).__qualname__}: {str(error)[:300]}"
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "outcome": outcome,
        "peak": peak,
        "maxrss_growth": rss_after - rss_before,
        "seconds": round(seconds, 3),
    }


def measure_growing(
    directory: Path, growing: Path, max_bytes, loads, limit=512 * MiB, archive_file=None
):
    """Load *directory* *loads* times in a child while a thread resizes *growing*; its report.

    The thread truncates *growing* to 10 bytes and to 200 MiB in turn
    (sparse: no disk is used), so that a load may list it small and find it
    large when it reads it. The report holds ``outcomes`` (how many loads
    ended each way) and ``peak`` (the most bytes traced during the loads).
    """
    command = [sys.executable, "-m", "tests.hostile_tars", "grow", os.fspath(directory)]
    command += [os.fspath(growing), str(max_bytes), str(loads), str(limit), archive_file or ""]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"outcomes": {f"child failed ({done.returncode}): {done.stderr[-2000:]}": 1}}
    return json.loads(lines[-1])


def _run_growing(directory, growing, max_bytes, loads, limit, archive_file):
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    import threading  # noqa: PLC0415  # the child sets itself up

    import django  # noqa: PLC0415

    django.setup()
    from inmemorystorage import InMemoryStorage  # noqa: PLC0415

    archive = _archive_module(archive_file)
    stop = threading.Event()

    def resize():
        while not stop.is_set():
            os.truncate(growing, 10)
            os.truncate(growing, 200 * MiB)

    outcomes: dict[str, int] = {}
    sys.setswitchinterval(1e-6)
    resizer = threading.Thread(target=resize)
    resizer.start()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(int(loads)):
            storage = InMemoryStorage(max_bytes=int(max_bytes))
            try:
                archive.load(storage, directory)
                outcome = "stored"
            except MemoryError:
                outcome = "MemoryError"
            except Exception as error:  # the report names whatever was raised
                outcome = type(error).__qualname__
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        stop.set()
        resizer.join()
    print(json.dumps({"outcomes": outcomes, "peak": peak}))  # noqa: T201  # the report


if __name__ == "__main__":
    if sys.argv[1] == "load":
        _run_child(*sys.argv[2:5], sys.argv[5] or None, bool(sys.argv[6:7] and sys.argv[6]))
    elif sys.argv[1] == "grow":
        _run_growing(*sys.argv[2:7], sys.argv[7] or None)
