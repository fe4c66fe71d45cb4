"""A model FileField saving into the storage, as an app would use it."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.testapp.models import Document

pytestmark = pytest.mark.django_db


def test_file_field_saves_into_the_storage():
    """Saving a model stores its file; reading it back gives the same bytes."""
    doc = Document(title="report")
    doc.attachment.save("report.txt", ContentFile(b"quarterly numbers"))
    doc.refresh_from_db()
    assert doc.attachment.name.startswith("documents/")
    with doc.attachment.open("rb") as file:
        assert file.read() == b"quarterly numbers"
    assert storages["default"].exists(doc.attachment.name)


def test_file_field_upload_and_size():
    """An uploaded file is saved with the model; its size and URL are known."""
    doc = Document.objects.create(
        title="upload", attachment=SimpleUploadedFile("notes.txt", b"12345")
    )
    assert doc.attachment.size == 5
    assert doc.attachment.url.startswith("/media/documents/")


def test_reopening_a_field_file_reads_again():
    """FieldFile.open() after close() reopens from the storage, never from disk."""
    doc = Document(title="again")
    doc.attachment.save("again.txt", ContentFile(b"once"))
    doc.attachment.open("rb")
    doc.attachment.close()
    doc.attachment.open("rb")
    assert doc.attachment.read() == b"once"
    doc.attachment.close()


def test_deleting_the_field_file():
    """FieldFile.delete() removes the stored file."""
    doc = Document(title="gone")
    doc.attachment.save("gone.txt", ContentFile(b"x"))
    name = doc.attachment.name
    doc.attachment.delete()
    assert not storages["default"].exists(name)


def test_a_second_upload_of_a_name_gets_its_own_name_within_max_length():
    """Two uploads named alike: the second gets an alternative, cut to the field's max_length."""
    upload_name = "a-picture-of-the-day-here.png"  # "thumbs/" and this: 36 of the 40 characters
    first = Document.objects.create(
        title="one", thumbnail=SimpleUploadedFile(upload_name, b"first upload")
    )
    second = Document.objects.create(
        title="two", thumbnail=SimpleUploadedFile(upload_name, b"second upload")
    )
    assert first.thumbnail.name == f"thumbs/{upload_name}"
    assert second.thumbnail.name != first.thumbnail.name
    # The root loses the 4 characters that "_" and a 7-character suffix overran by.
    assert len(second.thumbnail.name) == 40
    assert second.thumbnail.name.startswith("thumbs/a-picture-of-the-day-_")
    assert second.thumbnail.name.endswith(".png")
    with first.thumbnail.open("rb") as one, second.thumbnail.open("rb") as two:
        assert (one.read(), two.read()) == (b"first upload", b"second upload")
