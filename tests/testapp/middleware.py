"""A project's own subclass of the StorageFull middleware, as the checks must recognise it."""

from inmemorystorage.middleware import StorageFullMiddleware


class QuietStorageFullMiddleware(StorageFullMiddleware):
    """The same answers; a project might change the page."""
