"""pytest plugin: the ``inmemory_storage`` fixture and marker.

Registered through the ``pytest11`` entry point, so installing the package is
enough. It is inert until a test asks for the fixture or carries the marker,
and imports Django only then. Django settings must be configured (by
pytest-django, or by ``settings.configure()`` in a ``conftest.py``).
Disable it with ``-p no:inmemorystorage``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .storage import InMemoryStorage

__all__ = ["inmemory_storage"]

MARKER = "inmemory_storage"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so that ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): give the test a fresh, empty InMemoryStorage as the "
        "default storage, with these options (max_bytes=..., on_full=...)",
    )


def _marker_options(node: pytest.Item) -> dict[str, Any]:
    """The storage options of the ``inmemory_storage`` markers on *node*; the closest win.

    Raises:
        TypeError: a marker has positional arguments.
    """
    options: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            msg = (
                f"@pytest.mark.{MARKER} takes InMemoryStorage options as keywords "
                f"(max_bytes=..., on_full=...), not positional arguments {marker.args!r}"
            )
            raise TypeError(msg)
        options.update(marker.kwargs)
    return options


@pytest.fixture
def inmemory_storage(request: pytest.FixtureRequest) -> Iterator[InMemoryStorage]:
    """A fresh, empty ``InMemoryStorage`` installed as the ``default`` storage for one test.

    ``default_storage`` and ``storages["default"]`` are this storage during the
    test; its files are cleared afterwards. Options come from the
    ``@pytest.mark.inmemory_storage(...)`` marker.
    """
    # Imported here: the plugin loads in every pytest run, Django only when used.
    from .testing import use_inmemory_storage  # noqa: PLC0415

    with use_inmemory_storage(**_marker_options(request.node)) as storage:
        yield storage


@pytest.fixture(autouse=True)
def _inmemory_storage_marker(request: pytest.FixtureRequest) -> None:
    """Give a test that carries the marker the storage, even if it does not ask for it."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("inmemory_storage")
