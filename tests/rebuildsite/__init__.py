"""A tiny site whose storage two requests build at once (tests/test_rebuilt_instances.py)."""
