"""The configuration the docs show survives code that builds its own storage instance.

wagtail rebuilds a field's storage from ``deconstruct()``; django-import-export
builds a fresh ``StorageHandler()``; Django's ``storages`` handler builds two
instances when two requests touch it first at once. With a ``namespace``, every
such instance sees the same files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import StorageHandler, storages
from django.test import override_settings
from django.utils.module_loading import import_string

from inmemorystorage import InMemoryStorage

from .demo_server import HOST, ROOT, DemoClient, DemoServer, _stop, _wait_until_serving, free_port

pytestmark = pytest.mark.usefixtures("forget_shared_stores")

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: What a documented setting reads from REDIS_URL; the tests put a real server's URL there.
SERVER_PLACEHOLDER = "redis://documented-server/0"
DOCUMENTED_ENVIRON = {"REDIS_URL": SERVER_PLACEHOLDER}
FENCED_PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def documented_storages() -> list[pytest.ParameterSet]:
    """Every STORAGES setting in the docs whose default storage is ours."""
    found = []
    for document in DOCUMENTS:
        for block in FENCED_PYTHON.findall(document.read_text()):
            match = re.search(r"^STORAGES = (\{.*?^\})", block, re.DOTALL | re.MULTILINE)
            if match is None:
                continue
            # A literal, with sizes such as 64 * 1024 * 1024: evaluated with no names but the
            # os.environ that the shared engine's how-to reads its server from.
            names = {"__builtins__": {}, "os": SimpleNamespace(environ=DOCUMENTED_ENVIRON)}
            setting = eval(match.group(1), names)  # noqa: S307  # our own docs
            if setting.get("default", {}).get("BACKEND") == "inmemorystorage.InMemoryStorage":
                found.append(pytest.param(setting, id=f"{document.name}:{len(found)}"))
    return found


DOCUMENTED = documented_storages()


@pytest.fixture
def on_the_test_server(request):
    """*setting* with the documented REDIS_URL replaced by a real server's, started for the test."""

    def resolve(setting: dict) -> dict:
        setting = json.loads(json.dumps(setting))
        options = setting["default"].get("OPTIONS", {})
        if options.get("server") == SERVER_PLACEHOLDER:
            options["server"] = request.getfixturevalue("clean_redis")
        return setting

    return resolve


def test_the_docs_show_storages_settings():
    """There is something to check: the README's quick start configures the default storage."""
    assert any(p.id.startswith("README.md") for p in DOCUMENTED)


@pytest.mark.parametrize("setting", DOCUMENTED)
def test_an_instance_rebuilt_from_deconstruct_sees_the_files(setting, on_the_test_server):
    """As wagtail does: a storage rebuilt from deconstruct() holds what the original saved."""
    with override_settings(STORAGES=on_the_test_server(setting)):
        original = storages["default"]
        original.save("rebuilt.txt", ContentFile(b"seen"))
        path, args, kwargs = original.deconstruct()
        rebuilt = import_string(path)(*args, **kwargs)
        assert b"seen" == rebuilt.open("rebuilt.txt").read()
        original.delete("rebuilt.txt")


@pytest.mark.parametrize("setting", DOCUMENTED)
def test_a_fresh_storage_handler_sees_the_files(setting, on_the_test_server):
    """As django-import-export does: a new StorageHandler() builds a storage with the same files."""
    with override_settings(STORAGES=on_the_test_server(setting)):
        storages["default"].save("handled.txt", ContentFile(b"seen"))
        fresh = StorageHandler()["default"]
        assert fresh is not storages["default"]
        assert b"seen" == fresh.open("handled.txt").read()
        storages["default"].delete("handled.txt")


def two_requests_build_the_storage_at_once(setting: dict, log: Path) -> list[str]:
    """Under a real runserver, two first requests save a file each; then list the files."""
    setting = json.loads(json.dumps(setting))
    setting["default"]["BACKEND"] = "tests.rebuildsite.urls.RacingInMemoryStorage"
    port = free_port()
    env = {
        **os.environ,
        "REBUILD_STORAGES": json.dumps(setting),
        "DJANGO_SETTINGS_MODULE": "tests.rebuildsite.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "django", "runserver", f"{HOST}:{port}", "--noreload"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    server = DemoServer(port, process, log)
    try:
        assert _wait_until_serving(server), server.output()
        results: dict[str, str] = {}

        def save(name: str) -> None:
            with DemoClient(server) as client:
                results[name] = client.get(f"/save/{name}").body.decode()

        threads = [threading.Thread(target=save, args=(n,)) for n in ("one.txt", "two.txt")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {"one.txt", "two.txt"} == set(results), server.output()
        with DemoClient(server) as client:
            return list(json.loads(client.get("/names").body))
    finally:
        _stop(server)


@pytest.mark.parametrize("setting", DOCUMENTED[:1])
def test_two_requests_that_build_the_storage_at_once_share_it(setting, tmp_path):
    """Both files saved by two racing first requests are there for the next request."""
    assert ["one.txt", "two.txt"] == two_requests_build_the_storage_at_once(
        setting, tmp_path / "server.log"
    )


def test_without_a_namespace_the_race_loses_a_file(tmp_path):
    """The hazard is real: without a namespace, one racing request's file is lost."""
    setting = {"default": {"BACKEND": "inmemorystorage.InMemoryStorage"}}
    names = two_requests_build_the_storage_at_once(setting, tmp_path / "server.log")
    assert 1 == len(names)


def test_a_storage_without_namespace_keeps_its_own_files():
    """Django's own contract stays: instances without a namespace share nothing."""
    InMemoryStorage().save("private.txt", ContentFile(b"x"))
    assert not InMemoryStorage().exists("private.txt")
