"""The file objects open() returns: snapshots for readers, atomic publication for writers."""

from __future__ import annotations

import gc
import io

import pytest
from django.core.files.base import ContentFile, File
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inmemorystorage import InMemoryStorage, StorageFull
from inmemorystorage.files import parse_mode


@pytest.fixture
def saved(storage):
    storage.save("f.txt", ContentFile(b"line one\nline two\n"))
    return storage


def test_readers_have_their_own_position(saved):
    """Two readers of one name never move each other's position."""
    first = saved.open("f.txt")
    second = saved.open("f.txt")
    assert first.read(4) == b"line"
    assert second.read(4) == b"line"
    assert first.read(4) == b" one"
    first.close()
    second.close()


def test_a_reader_keeps_its_snapshot_across_overwrite_and_delete(saved):
    """A reader opened before an overwrite and a delete still reads the old content."""
    reader = saved.open("f.txt")
    with saved.open("f.txt", "wb") as writer:
        writer.write(b"replaced")
    saved.delete("f.txt")
    assert reader.read() == b"line one\nline two\n"
    reader.close()


def test_a_reader_cannot_write(saved):
    """Writing to a file opened for reading raises io.UnsupportedOperation, as open() does."""
    with saved.open("f.txt", "rb") as reader, pytest.raises(io.UnsupportedOperation):
        reader.write(b"x")
    with saved.open("f.txt", "r") as reader, pytest.raises(io.UnsupportedOperation):
        reader.write("x")


def test_text_mode_decodes_utf8_with_universal_newlines(storage):
    """Mode 'r' decodes UTF-8 and turns \\r\\n into \\n, as open() does by default."""
    storage.save("t.txt", ContentFile("é\r\nz".encode()))
    with storage.open("t.txt", "r") as reader:
        assert reader.read() == "é\nz"


def test_reader_size_and_chunks(saved):
    """A reader knows its size and can be read in chunks."""
    with saved.open("f.txt") as reader:
        assert reader.size == 18
        assert b"".join(reader.chunks(chunk_size=5)) == b"line one\nline two\n"


def test_reopening_a_closed_reader_reads_current_content(saved):
    """File.open() on a closed reader takes a fresh snapshot of the name."""
    reader = saved.open("f.txt")
    reader.close()
    with saved.open("f.txt", "wb") as writer:
        writer.write(b"new")
    assert reader.open().read() == b"new"
    reader.close()


_READER_STEPS = st.lists(
    st.one_of(
        st.just(("read", -1)),
        st.tuples(st.just("read"), st.integers(0, 24)),
        st.tuples(st.just("seek"), st.integers(0, 24)),
        st.just(("tell", None)),
        st.just(("chunks", None)),
        st.just(("size", None)),
        st.just(("file", None)),
        st.just(("close", None)),
        st.just(("reopen", None)),
    ),
    max_size=8,
)


_ACTIONS = {
    "read": lambda reader, size: reader.read(size),
    "seek": lambda reader, offset: reader.seek(offset),
    "tell": lambda reader, _: reader.tell(),
    "chunks": lambda reader, _: b"".join(reader.chunks(chunk_size=5)),
    "size": lambda reader, _: reader.size,
    "file": lambda reader, _: (reader.file.tell(), reader.file.closed),
    "close": lambda reader, _: reader.close(),
    "reopen": lambda reader, _: reader.open().tell(),
}


def _step(reader, step):
    """Do one step on *reader*; what it returns, or the type of what it raised."""
    action, argument = step
    try:
        return _ACTIONS[action](reader, argument)
    except (ValueError, OSError) as exc:
        return type(exc)


class _ReopenableFile(File):
    """Django's File over a BytesIO that, like our reader, reopens once closed.

    And knows its size even once closed, as our reader does (Django's File
    measures it with seek() and tell(), which a closed file refuses).
    """

    @property
    def size(self):
        return len(self.content)

    def open(self, mode=None, *args, **kwargs):
        if self.closed:
            self.file = io.BytesIO(self.content)
            return self
        return super().open(mode, *args, **kwargs)


@given(steps=_READER_STEPS)
@example(steps=[("read", -1), ("read", -1)])
@example(steps=[("close", None), ("read", -1)])
@example(steps=[("read", -1), ("close", None), ("file", None)])
@example(steps=[("read", 4), ("read", -1), ("seek", 0), ("read", -1)])
@settings(max_examples=300)
def test_a_reader_behaves_as_a_django_file_over_bytesio(steps):
    """Any sequence of reads, seeks, closes and reopens does what it does on File(BytesIO).

    The reader makes its position only when something needs one (see
    files._Position): this holds it to the plain object in every order.
    """
    content = b"line one\nline two\n"
    storage = InMemoryStorage()
    storage.save("f.txt", ContentFile(content))
    reader = storage.open("f.txt")
    expected = _ReopenableFile(io.BytesIO(content), "f.txt")
    expected.content = content
    for step in steps:
        assert _step(reader, step) == _step(expected, step), step
        assert reader.closed == expected.closed, step
    assert reader.closed == expected.closed


def test_a_reader_given_another_file_reads_and_closes_that_file(saved):
    """Assigning ``.file``, as on any Django File, replaces the position, unread or not."""
    for read_first in (False, True):
        reader = saved.open("f.txt")
        if read_first:
            reader.read()
        replacement = io.BytesIO(b"other")
        reader.file = replacement
        assert reader.read() == b"other"
        reader.close()
        assert replacement.closed
        assert reader.closed


def test_writer_publishes_on_close_only(storage):
    """Written content is invisible until close(), then visible all at once."""
    writer = storage.open("w.bin", "wb")
    writer.write(b"part one, ")
    assert not storage.exists("w.bin")
    writer.write(b"part two")
    writer.close()
    assert storage.open("w.bin").read() == b"part one, part two"


def test_a_with_block_that_raises_publishes_nothing(storage):
    """An exception inside the with block discards the writer."""
    with pytest.raises(RuntimeError), storage.open("w.bin", "wb") as writer:
        writer.write(b"half")
        raise RuntimeError
    assert not storage.exists("w.bin")


def test_a_base_exception_in_a_writer_publishes_nothing(storage):
    """Even KeyboardInterrupt-like exceptions discard the writer."""

    class Stop(BaseException):
        pass

    with pytest.raises(Stop), storage.open("w.bin", "wb") as writer:
        writer.write(b"half")
        raise Stop
    assert not storage.exists("w.bin")


def test_an_unclosed_writer_is_discarded_with_a_resource_warning(storage):
    """A forgotten writer warns and publishes nothing."""
    writer = storage.open("w.bin", "wb")
    writer.write(b"lost")
    with pytest.warns(ResourceWarning, match="unclosed in-memory writer"):
        del writer
        gc.collect()
    assert not storage.exists("w.bin")


def test_mode_w_truncates(saved):
    """'w' starts from empty."""
    with saved.open("f.txt", "w") as writer:
        writer.write("short")
    assert saved.open("f.txt").read() == b"short"


def test_mode_w_cannot_read(storage):
    """A write-only file refuses reads, as open() does."""
    with storage.open("w", "wb") as writer, pytest.raises(io.UnsupportedOperation):
        writer.read()
    with storage.open("w", "w") as writer, pytest.raises(io.UnsupportedOperation):
        writer.read()


def test_mode_a_appends(saved):
    """'ab' keeps the content and writes at the end, even after a seek."""
    with saved.open("f.txt", "ab") as writer:
        writer.seek(0)
        writer.write(b"three\n")
    assert saved.open("f.txt").read() == b"line one\nline two\nthree\n"


def test_mode_a_text_creates_a_missing_file(storage):
    """'a' on a missing name starts empty."""
    with storage.open("new.txt", "a") as writer:
        writer.write("first")
    assert storage.open("new.txt").read() == b"first"


def test_mode_r_plus_edits_in_place(saved):
    """'r+b' reads and overwrites from the start."""
    with saved.open("f.txt", "r+b") as file:
        assert file.read(4) == b"line"
        file.seek(0)
        file.write(b"LINE")
    assert saved.open("f.txt").read() == b"LINE one\nline two\n"


def test_mode_r_plus_needs_an_existing_file(storage):
    """'r+' on a missing name raises FileNotFoundError."""
    with pytest.raises(FileNotFoundError):
        storage.open("missing", "r+")


def test_mode_w_plus_reads_back_what_it_wrote(storage):
    """'w+b' can read what it has written so far."""
    with storage.open("f", "w+b") as file:
        file.write(b"abc")
        file.seek(0)
        assert file.read() == b"abc"


def test_mode_x_refuses_an_existing_name(saved):
    """'xb' on an existing name raises FileExistsError at open."""
    with pytest.raises(FileExistsError):
        saved.open("f.txt", "xb")


def test_mode_x_creates(storage):
    """'x' creates a new file."""
    with storage.open("new.txt", "x") as writer:
        writer.write("made")
    assert storage.open("new.txt").read() == b"made"


def test_mode_x_loses_a_race_at_close(storage):
    """If another writer publishes first, an 'x' writer fails at close and publishes nothing."""
    writer = storage.open("race", "xb")
    writer.write(b"late")
    with storage.open("race", "wb") as other:
        other.write(b"early")
    with pytest.raises(FileExistsError):
        writer.close()
    assert storage.open("race").read() == b"early"


def test_opening_a_directory_for_writing(storage):
    """A directory cannot be opened as a file, for reading or writing."""
    storage.save("d/f", ContentFile(b"x"))
    for mode in ("rb", "wb", "ab", "xb"):
        with pytest.raises(IsADirectoryError):
            storage.open("d", mode)


def test_writer_size_grows(storage):
    """A writer's size is what it holds so far."""
    with storage.open("f", "wb") as writer:
        writer.write(b"abc")
        assert writer.size == 3
        writer.write(b"de")
        assert writer.size == 5


def test_writer_cannot_be_reopened_after_close(storage):
    """A closed writer stays closed; open the name again instead."""
    writer = storage.open("f", "wb")
    writer.close()
    with pytest.raises(ValueError, match="open the name again"):
        writer.open()


@pytest.mark.parametrize("mode", ["rq", "rw", "", "rbt", "rr", "U", "r+w", "wa", "b", "+"])
def test_invalid_modes_raise_value_error(saved, mode):
    """Modes that Python's open() rejects are rejected, and nothing changes."""
    before = saved.stats()
    with pytest.raises(ValueError, match="invalid mode"):
        saved.open("f.txt", mode)
    with pytest.raises(ValueError):  # Python's own message differs by version
        open("/dev/null", mode)  # noqa: SIM115  # the reference behaviour
    assert before.files == saved.stats().files
    assert saved.open("f.txt").read() == b"line one\nline two\n"


@pytest.mark.parametrize(
    ("mode", "reading", "writing"),
    [
        ("r", True, False),
        ("rb", True, False),
        ("rt", True, False),
        ("r+", True, True),
        ("w", False, True),
        ("w+b", True, True),
        ("a", False, True),
        ("ab+", True, True),
        ("x", False, True),
        ("xb", False, True),
    ],
)
def test_valid_modes(mode, reading, writing):
    """Each valid mode says whether it reads and whether it writes."""
    parsed = parse_mode(mode)
    assert (reading, writing) == (parsed.reading, parsed.writing)


def test_mode_must_be_a_string():
    """A non-string mode is a TypeError."""
    with pytest.raises(TypeError):
        parse_mode(1)


def test_a_reader_refuses_every_kind_of_write(saved):
    """writelines() and truncate() are refused too, and the reader says it is not writable."""
    with saved.open("f.txt", "rb") as reader:
        assert not reader.writable()
        with pytest.raises(io.UnsupportedOperation):
            reader.writelines([b"x"])
        with pytest.raises(io.UnsupportedOperation):
            reader.truncate(0)
    assert saved.open("f.txt").read() == b"line one\nline two\n"


def test_a_text_reader_buffer_refuses_writes(saved):
    """Under a text reader, even the binary buffer refuses writes."""
    with saved.open("f.txt", "r") as reader:
        buffer = reader.file.buffer
        assert not buffer.writable()
        for attempt in (
            lambda: buffer.write(b"x"),
            lambda: buffer.writelines([b"x"]),
            lambda: buffer.truncate(0),
        ):
            with pytest.raises(io.UnsupportedOperation):
                attempt()


def test_reopening_a_reader_in_another_mode(saved):
    """File.open('r') on an open binary reader switches to text on a fresh snapshot."""
    reader = saved.open("f.txt", "rb")
    assert reader.open("r").read() == "line one\nline two\n"
    reader.close()


def test_a_reader_cannot_be_reopened_for_writing(saved):
    """A reader reopened with a writing mode refuses: open the name for writing instead."""
    reader = saved.open("f.txt")
    reader.close()
    with pytest.raises(ValueError, match="cannot be opened with the writing mode"):
        reader.open("wb")


def test_read_plus_writer_supports_every_read_method(saved):
    """'r+b' writers read like files: read1, readinto, readline, readlines, iteration."""
    with saved.open("f.txt", "r+b") as file:
        assert file.file.read1(4) == b"line"
        buffer = bytearray(4)
        assert file.file.readinto(buffer) == 4
        assert bytes(buffer) == b" one"
        assert file.file.readline() == b"\n"
        assert file.file.readlines() == [b"line two\n"]
        file.seek(0)
        assert list(file.file) == [b"line one\n", b"line two\n"]


def test_write_only_writer_refuses_every_read_method(storage):
    """A 'wb' writer refuses read1, readinto, readline, readlines and iteration."""
    with storage.open("w.bin", "wb") as writer:
        for attempt in (
            lambda: writer.file.read1(1),
            lambda: writer.file.readinto(bytearray(1)),
            writer.file.readline,
            writer.file.readlines,
            lambda: next(iter(writer.file)),
        ):
            with pytest.raises(io.UnsupportedOperation):
                attempt()


def test_writer_writelines_and_truncate(storage):
    """writelines() appends each line; truncate() cuts the buffer, and the size follows."""
    with storage.open("w.bin", "w+b") as writer:
        writer.writelines([b"abc", b"def"])
        writer.truncate(4)
        assert writer.size == 4
    assert storage.open("w.bin").read() == b"abcd"


def truncated_past_the_end(file, binary):
    """The steps of a truncate past the end, then a write, on any file object: its content."""
    file.write(b"abc" if binary else "abc")
    file.truncate(6)
    file.seek(0, io.SEEK_END)
    end = file.tell()
    file.seek(8)
    file.truncate()
    file.write(b"k" if binary else "k")
    return end


@pytest.mark.parametrize("mode", ["w+b", "r+b", "a+b", "wb", "w+", "r+", "a+"])
def test_truncate_past_the_end_grows_the_file_with_zeros_as_open_does(storage, tmp_path, mode):
    """truncate(n) beyond the end makes the file n bytes long, zero-filled, as a real file."""
    binary = "b" in mode
    real = tmp_path / "real"
    real.write_bytes(b"")
    storage.save("f", ContentFile(b""))
    with open(real, mode) as file:  # the reference: Python's own open()
        expected_end = truncated_past_the_end(file, binary)
    with storage.open("f", mode) as file:
        end = truncated_past_the_end(file, binary)
    assert (expected_end, real.read_bytes()) == (end, storage.open("f").read())


def test_truncate_past_the_budget_is_refused():
    """Growing a file with truncate() is a write: past max_bytes it raises StorageFull."""
    bounded = InMemoryStorage(max_bytes=10_000, on_full="error")
    with pytest.raises(StorageFull), bounded.open("f.bin", "wb") as file:
        file.truncate(20_000)
    assert not bounded.exists("f.bin")


def test_writing_nothing_past_the_end_grows_nothing_as_bytesio_does():
    """write(b"") after a seek past the budget is no write: the writer keeps what it had."""
    bounded = InMemoryStorage(max_bytes=10_000, on_full="error")
    with bounded.open("kept.bin", "wb") as file:
        file.write(b"important")
        file.seek(20_000)
        assert (0, 9) == (file.write(b""), file.size)
    with bounded.open("empty.bin", "wb") as file:
        file.seek(3000)
        file.write(b"")
    assert (b"important", 0) == (bounded.open("kept.bin").read(), bounded.size("empty.bin"))


def test_a_write_that_fails_grows_nothing(storage):
    """A buffer BytesIO cannot take (not contiguous) raises as BytesIO does; the size stays."""
    with storage.open("f.bin", "wb") as file:
        with pytest.raises(BufferError):
            file.write(memoryview(b"abcd")[::2])
        assert 0 == file.size
    assert 0 == storage.size("f.bin")


def test_rewinding_an_open_writer(storage):
    """File.open() on an open writer rewinds it, so it can be read back (with '+')."""
    with storage.open("w.bin", "w+b") as writer:
        writer.write(b"data")
        assert writer.open().read() == b"data"


def test_closing_a_writer_twice_publishes_once(storage):
    """A second close() does nothing."""
    writer = storage.open("w.bin", "wb")
    writer.write(b"once")
    writer.close()
    with storage.open("w.bin", "wb") as other:
        other.write(b"later")
    writer.close()
    assert storage.open("w.bin").read() == b"later"


def test_a_discarded_writer_publishes_nothing_on_close(storage):
    """discard() closes without publishing; a later close() stays quiet."""
    writer = storage.open("w.bin", "wb")
    writer.write(b"no")
    writer.discard()
    writer.close()
    assert not storage.exists("w.bin")
