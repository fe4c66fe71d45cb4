"""The shared engine's own failure modes, as ``manage.py check`` and a user meet them.

A server that is down, one whose ``maxmemory-policy`` would drop our keys
behind our back, a URL that is no URL, and redis-py missing: each says what
it is and what to do, with the password hidden. Real servers, never mocks.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage
from inmemorystorage.checks import check_storages
from inmemorystorage.exceptions import EngineUnavailable
from inmemorystorage.redis_store import redacted

from .redis_server import free_port, running_server

STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def on(server, **options):
    """STORAGES with a default storage on *server*."""
    options = {"namespace": "media", "server": server, **options}
    return {"default": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": options}}


def test_a_server_that_does_not_answer_is_an_error_with_the_password_hidden(settings):
    """E004 names the URL without its password, and says to start the server."""
    url = f"redis://app:s3cret@127.0.0.1:{free_port()}/0"
    settings.STORAGES = {**on(url), "staticfiles": STATIC}
    [message] = check_storages()
    assert "inmemorystorage.E004" == message.id
    assert "redis://app:***@127.0.0.1" in message.msg
    assert "s3cret" not in message.msg + (message.hint or "")


def test_a_server_that_may_drop_keys_is_an_error(settings):
    """E005: under allkeys-lru the server could evict our keys; the check says so."""
    with running_server("--maxmemory-policy", "allkeys-lru") as url:
        settings.STORAGES = {**on(url), "staticfiles": STATIC}
        [message] = check_storages()
    assert "inmemorystorage.E005" == message.id
    assert "'allkeys-lru'" in message.msg


def test_a_safe_server_passes(settings, clean_redis):
    """noeviction (the default) passes the checks."""
    settings.STORAGES = {**on(clean_redis), "staticfiles": STATIC}
    assert [] == check_storages()


def test_a_server_down_mid_run_raises_a_connection_error():
    """An OSError callers already handle (ConnectionError), naming the server; nothing half-done."""
    with running_server() as url:
        storage = InMemoryStorage(namespace="gone", server=url)
        storage.save("a.txt", ContentFile(b"a"))
    with pytest.raises(EngineUnavailable) as raised:
        storage.open("a.txt")
    assert isinstance(raised.value, ConnectionError)
    assert errno.ECONNREFUSED == raised.value.errno
    assert url.removesuffix("/0") in str(raised.value)


@pytest.mark.parametrize("server", ["localhost:6379", "http://127.0.0.1/", 6379, ""])
def test_a_server_that_is_no_url_is_refused(server):
    """ImproperlyConfigured names the schemes a server URL may have."""
    with pytest.raises(ImproperlyConfigured, match=r"redis://, rediss://, unix://"):
        InMemoryStorage(server=server)


def test_without_redis_py_the_message_says_what_to_install():
    """ImproperlyConfigured, with the pip line, when the extra is not installed."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from django.conf import settings; settings.configure()\n"
        "from inmemorystorage import InMemoryStorage\n"
        "from django.core.exceptions import ImproperlyConfigured\n"
        "try:\n"
        "    InMemoryStorage(server='redis://127.0.0.1:1/0')\n"
        "except ImproperlyConfigured as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": ""},
        timeout=60,
    )
    assert "pip install 'dj-inmemorystorage[redis]'" in done.stdout


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:pw@host:6379/0", "redis://user:***@host:6379/0"),
        ("redis://:pw@host/0", "redis://:***@host/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_urls_are_shown_without_their_password(url, shown):
    """Messages and checks show a URL with its password replaced by ***."""
    assert shown == redacted(url)
