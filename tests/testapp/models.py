"""A model with file fields, saved into whatever storage the test installs."""

from django.core.files.storage import Storage, storages
from django.db import models


def _default_storage() -> Storage:
    return storages["default"]


class Document(models.Model):
    title = models.CharField(max_length=100)
    attachment = models.FileField(upload_to="documents/%Y/", storage=_default_storage)
    thumbnail = models.FileField(
        upload_to="thumbs/", max_length=40, blank=True, storage=_default_storage
    )

    class Meta:
        app_label = "testapp"
