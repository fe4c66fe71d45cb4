"""The serve view under hostile requests: every missing name is a 404, and keeps no memory.

runserver is often reachable on a LAN. Whatever name a request carries
(deep, long, overlong segments, any characters), the view answers 404 for a
file that is not there, never a 500; and after the requests, nothing of those
names is kept in memory (no cache holds request-controlled names whole).

The memory cases run in a subprocess under an address-space limit, so that a
failure cannot take the machine down; requests go through Django's WSGI
handler as runserver calls it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.http import Http404
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inmemorystorage import InMemoryStorage
from inmemorystorage.views import serve

ROOT = Path(__file__).resolve().parent.parent
#: The address space the measuring process may use: far above what it needs, far below the machine.
ADDRESS_SPACE = 1024 * 1024 * 1024
#: What the requests may leave behind after gc.collect(): a little, never their names.
KEPT_AT_MOST = 2 * 1024 * 1024

MEASURE = """
import gc, json, os, resource, sys, tracemalloc

resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import django

django.setup()
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

settings.ROOT_URLCONF = "tests.view_urls"
count, length, segment = {count}, {length}, {segment}
handler, statuses = WSGIHandler(), {{}}


def get(path):
    environ = RequestFactory().get("/").environ  # urlsplit() caches the paths it is given
    environ["PATH_INFO"] = path
    answered = []
    result = handler(environ, lambda status, headers: answered.append(status))
    b"".join(result)
    result.close()
    statuses[answered[0]] = statuses.get(answered[0], 0) + 1


get("/media/warm-up.txt")
statuses.clear()
gc.collect()
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
for i in range(count):
    one = f"s{{i:05}}".ljust(segment, "x")
    get("/media/" + "/".join([one] * (length // (segment + 1))) + ".txt")
gc.collect()
kept = tracemalloc.get_traced_memory()[0] - before
print(json.dumps({{"statuses": statuses, "kept": kept}}))
"""


def measure(count: int, length: int, segment: int) -> dict[str, object]:
    """GET *count* distinct missing names of about *length* characters in a fresh process."""
    script = MEASURE.format(limit=ADDRESS_SPACE, count=count, length=length, segment=segment)
    env = {
        **os.environ,
        "PYTHONPATH": os.fspath(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert 0 == done.returncode, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.memory
@pytest.mark.parametrize(
    ("count", "length", "segment"),
    [(300, 60_000, 200), (300, 60_000, 300), (1500, 4000, 200)],
    ids=["60kB-names", "60kB-names-long-segments", "4kB-names"],
)
def test_many_long_missing_names_are_404_and_leave_nothing_behind(count, length, segment):
    """Distinct long names each get a 404; after gc.collect() they hold (almost) no memory."""
    result = measure(count, length, segment)
    assert ({"404 Not Found": count}, True) == (
        result["statuses"],
        result["kept"] <= KEPT_AT_MOST,  # type: ignore[operator]
    ), result


#: Names as a client can send them: deep, long, any characters, segments past 255 bytes.
segments = st.one_of(
    st.text(min_size=0, max_size=8),
    st.text(alphabet="aé€😀", min_size=60, max_size=300),
    st.sampled_from([".", "..", "\x00", " ", "~"]),
)
names = st.one_of(
    st.lists(segments, min_size=1, max_size=30).map("/".join),
    st.integers(min_value=1, max_value=3000).map(lambda depth: "d/" * depth + "f"),
    st.integers(min_value=200, max_value=20_000).map(lambda size: "n" * size),
)


@pytest.fixture(params=["memory", "filesystem"])
def any_storage(request, tmp_path_factory):
    """An empty storage of ours, or Django's FileSystemStorage over an empty directory."""
    if request.param == "memory":
        return InMemoryStorage()
    return FileSystemStorage(location=tmp_path_factory.mktemp("empty"))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # it stays empty
@given(name=names)
def test_any_missing_name_is_a_404(any_storage, name):
    """Whatever the name, a storage without it answers Http404: never another exception."""
    with pytest.raises(Http404):
        serve(RequestFactory().get("/"), name, any_storage)
