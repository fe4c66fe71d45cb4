"""Signals this package sends."""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["file_evicted"]

#: Sent after a file was evicted to make room, once the store's locks are released.
#: Arguments: ``sender`` (the storage class), ``storage`` (the instance whose write
#: caused the eviction), ``name`` and ``size`` (the evicted content's length).
file_evicted = Signal()
