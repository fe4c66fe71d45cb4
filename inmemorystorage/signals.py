"""Signals this package sends.

``file_evicted`` is sent for every eviction. ``file_saved``, ``file_opened``
and ``file_deleted`` observe a storage's operations, for tools such as the
debug-toolbar panel (:mod:`inmemorystorage.panels`): they are sent only while
they have receivers, so that a storage nobody observes pays one attribute
check per operation and nothing more. Each is sent after the operation
succeeded, with no store lock held, in the thread that made it; a receiver
that raises is logged on the ``inmemorystorage`` logger and never fails the
operation.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["file_deleted", "file_evicted", "file_opened", "file_saved"]

#: Sent after a file was evicted to make room, once the store's locks are released.
#: Arguments: ``sender`` (the storage class), ``storage`` (the instance whose write
#: caused the eviction), ``name`` and ``size`` (the evicted content's length).
file_evicted = Signal()

#: Sent after ``save()`` stored a file, or a writer from ``open(name, "wb")``
#: published one at ``close()``. Arguments: ``sender`` (the storage class),
#: ``storage``, ``name`` (the name it was stored under), ``size`` (its content's
#: length, ``None`` if another thread removed it at once) and ``duration``
#: (seconds the save took, reading the content included; a writer's, only its
#: publication).
#:
#: .. versionadded:: 3.0.0
file_saved = Signal()

#: Sent after ``open()`` returned a file. Arguments: ``sender``, ``storage``,
#: ``name``, ``mode``, ``size`` (the length of the content a reader sees, or of
#: what a writer starts from) and ``duration`` (seconds).
#:
#: .. versionadded:: 3.0.0
file_opened = Signal()

#: Sent after ``delete()`` returned (whether or not something was stored there).
#: Arguments: ``sender``, ``storage``, ``name`` and ``duration`` (seconds).
#:
#: .. versionadded:: 3.0.0
file_deleted = Signal()
