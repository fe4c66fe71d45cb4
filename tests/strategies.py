"""Hypothesis strategies for archives: tars as a hostile peer would write them, and their mutations.

A tar is described by :func:`tar_specs` (members with types, names, sizes,
times and pax headers) and built by :func:`build_tar` with ``tarfile`` in the
format the spec names; :func:`archives` adds a compression (gzip, bzip2, xz,
split over several members or streams) and a mutation (a truncation, a bit
flip, trailing bytes). :func:`sound_tar_specs` makes only tars that must
load.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile

from hypothesis import strategies as st

FORMATS = {"pax": tarfile.PAX_FORMAT, "gnu": tarfile.GNU_FORMAT, "ustar": tarfile.USTAR_FORMAT}
COMPRESSIONS = ["none", "gz", "bz2", "xz", "gz-split", "bz2-split", "xz-split"]

#: The types a member may have: files, directories, links, devices, FIFOs, and two
#: that tar readers do not know (a volume label, and an invented one).
MEMBER_TYPES = [
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.CONTTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
    tarfile.CHRTYPE,
    tarfile.BLKTYPE,
    tarfile.FIFOTYPE,
    b"V",
    b"Z",
]

#: Path segments: mostly sound ones, some that a storage refuses or rewrites.
SOUND_SEGMENTS = ["a", "b", "d", "e.txt", "f.bin", "ü", "long" * 30]
HOSTILE_SEGMENTS = ["..", ".", "", " ", "a\\b", "x\x00y", "z" * 300]
segments = st.sampled_from(SOUND_SEGMENTS * 40 + HOSTILE_SEGMENTS)
names = st.sampled_from(range(20)).flatmap(
    lambda dice: (
        st.sampled_from(["/etc/passwd", "./a", "a//b", "C:/x", "b" * 5000])
        if dice == 0
        else st.lists(segments, min_size=1, max_size=4).map("/".join)
    )
)

#: Times as a tar may carry them: whole seconds, fractions, before 1970, far future.
times = st.one_of(
    st.integers(min_value=0, max_value=2**33 - 1),
    st.floats(min_value=-1e10, max_value=1e11, allow_nan=False),
    st.integers(min_value=-(2**40), max_value=2**40),
)
#: Text a pax number field may hold, sound or not.
pax_numbers = st.one_of(
    st.integers(min_value=-5, max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["zz", " 4", "1_0", "", "1e9", "+5", "5.", "-0.5", "0x10", "nan"]),
)
pax_headers = st.dictionaries(
    st.sampled_from(["mtime", "atime", "ctime", "size", "uid", "gid"]), pax_numbers, max_size=2
) | st.dictionaries(
    st.sampled_from(["LIBARCHIVE.creationtime", "comment", "hdrcharset"]),
    st.one_of(pax_numbers, st.text(max_size=20), st.just("1" * 300)),
    max_size=2,
)


#: Member types: mostly regular files.
member_types = st.sampled_from([tarfile.REGTYPE] * 60 + MEMBER_TYPES)


@st.composite
def members(draw, names=names, types=member_types):
    """One member: ``(TarInfo, content or None)``."""
    info = tarfile.TarInfo(draw(names))
    info.type = draw(types)
    info.mtime = draw(times)
    info.mode = 0o644
    content = None
    if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, b"Z"):
        content = draw(st.binary(max_size=2048) | st.builds(bytes, st.integers(0, 40_000)))
        info.size = len(content)
    if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = draw(names)
    info.pax_headers = draw(st.one_of(st.just({}), st.just({}), st.just({}), pax_headers))
    return info, content


@st.composite
def tar_specs(draw):
    """A tar described: ``(format name, [(TarInfo, content or None), ...])``."""
    return draw(st.sampled_from(sorted(FORMATS))), draw(st.lists(members(), max_size=8))


def build_tar(spec):
    """The bytes of the tar *spec* describes (in pax format where its own cannot hold a member)."""
    format_name, member_list = spec
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=FORMATS[format_name]) as archive:
        for info, content in member_list:
            data = io.BytesIO(content) if content is not None else None
            try:
                block = info.tobuf(archive.format, archive.encoding, archive.errors)
            except ValueError:  # a name or number this format cannot hold
                block = info.tobuf(tarfile.PAX_FORMAT, archive.encoding, archive.errors)
            archive.fileobj.write(block)
            archive.offset += len(block)
            if data is not None:
                archive.fileobj.write(content + b"\0" * (-len(content) % tarfile.BLOCKSIZE))
                archive.offset += len(content) + (-len(content) % tarfile.BLOCKSIZE)
    return buffer.getvalue()


def compressed(data, compression, split):
    """*data* compressed as *compression* says, split at *split* into two members or streams."""
    kind = compression.removesuffix("-split")
    if kind == "none":
        return data
    compress = {
        "gz": lambda part: gzip.compress(part, mtime=0),
        "bz2": bz2.compress,
        "xz": lzma.compress,
    }[kind]
    if compression.endswith("-split"):
        cut = split % (len(data) + 1)
        return compress(data[:cut]) + compress(data[cut:])
    return compress(data)


@st.composite
def mutations(draw, data):
    """*data*, or *data* cut short, with one bit flipped, or with bytes appended."""
    kind = draw(st.sampled_from(["none", "none", "truncate", "flip", "append"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if kind == "flip" and data:
        position = draw(st.integers(0, len(data) - 1))
        flipped = bytearray(data)
        flipped[position] ^= 1 << draw(st.integers(0, 7))
        return bytes(flipped)
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=64) | st.just(b"\0" * 512))
    return data


class Archive:
    """Generated archive bytes, shown by what made them (its bytes can be 50 kB)."""

    def __init__(self, data, how):
        self.data = data
        self.how = how

    def __repr__(self):
        return f"Archive({self.how}, {len(self.data):,} bytes)"


def describe(spec):
    """A short description of a tar spec: its format and each member's type, name and size."""
    format_name, member_list = spec
    shown = [(info.type, info.name[:40], info.size, info.pax_headers) for info, _ in member_list]
    return f"{format_name} {shown}"


@st.composite
def archives(draw):
    """An :class:`Archive`: a tar from :func:`tar_specs`, compressed, maybe mutated."""
    spec = draw(tar_specs())
    compression = draw(st.sampled_from(COMPRESSIONS))
    data = compressed(build_tar(spec), compression, draw(st.integers()))
    mutated = draw(mutations(data))
    how = f"{describe(spec)}, {compression}, {'mutated' if mutated != data else 'intact'}"
    return Archive(mutated, how)


#: Names that are sound and never both a file and a directory: files end in .txt.
sound_names = st.lists(st.sampled_from(["d", "e", "ü"]), max_size=3).flatmap(
    lambda dirs: st.sampled_from(["a.txt", "b.txt", "c.txt"]).map(lambda f: "/".join([*dirs, f]))
)
#: Times every format and datetime hold, to the second (ustar and GNU keep no fraction).
#: (a store keeps 0 as 1 ns, and a time later than its clock as the clock's).
sound_times = st.integers(min_value=1, max_value=1_700_000_000)


@st.composite
def sound_members(draw):
    """A regular member with a sound name, time and content, or a directory."""
    if draw(st.integers(0, 5)) == 0:
        info = tarfile.TarInfo(draw(st.sampled_from(["d", "e", "d/e"])))
        info.type = tarfile.DIRTYPE
        info.mtime = draw(sound_times)
        return info, None
    info = tarfile.TarInfo(draw(sound_names))
    info.mtime = draw(sound_times)
    content = draw(st.binary(max_size=4096))
    info.size = len(content)
    return info, content


def sound_tar_specs():
    """Tars that must load whole: sound members, in any format."""
    return st.tuples(st.sampled_from(sorted(FORMATS)), st.lists(sound_members(), max_size=8))
