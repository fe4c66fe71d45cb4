"""The README's Python snippets run as pasted: settings build, examples work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.storage import InvalidStorageError
from django.utils.module_loading import import_string

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.MULTILINE)


def test_the_readme_has_python_snippets():
    """The README shows its settings and examples as Python blocks."""
    assert len(SNIPPETS) >= 4


@pytest.mark.usefixtures("forget_shared_stores")
@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.splitlines()[0][:40])
def test_each_snippet_runs(snippet, settings):
    """Each snippet executes; a STORAGES setting it defines builds every storage it names."""
    settings.STATIC_URL = "/static/"
    settings.STATIC_ROOT = "static"
    namespace: dict[str, object] = {"urlpatterns": []}
    exec(compile(snippet, str(README), "exec"), namespace)  # noqa: S102  # our own README
    storages = namespace.get("STORAGES")
    if storages is None:
        return
    for alias, config in storages.items():  # type: ignore[attr-defined]
        try:
            backend = import_string(config["BACKEND"])
        except ImportError as exc:
            raise InvalidStorageError(f"{alias}: {exc}") from exc
        backend(**config.get("OPTIONS", {}))
