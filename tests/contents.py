"""Content objects for save() that behave like uploads of unknown size."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.core.files.base import File


class StreamedFile(File):  # type: ignore[type-arg]  # django-stubs types File as generic
    """Content of unknown size, handed over chunk by chunk, optionally failing after them.

    ``consumed`` counts the chunks the storage has asked for so far.
    """

    def __init__(self, chunks: Iterable[bytes], *, then_raise: BaseException | None = None) -> None:
        super().__init__(None, name="streamed.bin")
        self._chunks = chunks
        self._then_raise = then_raise
        self.consumed = 0

    @property
    def size(self) -> int:
        raise AttributeError("the size of streamed content is not known up front")

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.consumed += 1
            yield chunk
        if self._then_raise is not None:
            raise self._then_raise
