"""A storage backend whose module fails at import with its own error (not ImportError)."""

raise RuntimeError("this backend's module fails at import")
