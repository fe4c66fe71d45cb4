"""Settings of the benchmark site: no database, no middleware, one storage chosen by env var."""

import os

BENCH_BACKEND = os.environ.get("BENCH_HTTP_BACKEND", "ours")
BENCH_FILE_SIZE = int(os.environ.get("BENCH_HTTP_FILE_SIZE", str(64 * 1024)))
BENCH_FILE_NAME = "bench/blob.bin"

SECRET_KEY = "bench-only-not-secret"  # a loopback-only benchmark site
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
USE_TZ = True
INSTALLED_APPS = ["benchmarks.httpsite.apps.BenchSiteConfig"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchmarks.httpsite.urls"
DATABASES: dict[str, dict[str, str]] = {}
MEDIA_ROOT = os.environ.get("BENCH_MEDIA_ROOT", "/nonexistent")
MEDIA_URL = "/media/"
_DEFAULT_STORAGE = {
    "ours": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": {"namespace": "bench"}},
    "django": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "fs": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "http-floor": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    # Upload floors (see docs/benchmarks.md): the body kept in a dict by the view itself,
    # which decides whether the upload goal applies, and a dict behind Django's Storage API
    # (its generic save()). Both answer GETs with the floor's view.
    "http-floor-kept": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "storage-floor": {"BACKEND": "benchmarks.floors.FloorStorage"},
    # A view that answers GETs with ours' headers from constant bytes (measured on GETs only).
    "http-floor-same": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
}
#: The servers whose GETs answer constant bytes: no file is stored for them to serve.
BENCH_FLOORS = ("http-floor", "http-floor-kept", "storage-floor", "http-floor-same")
STORAGES = {
    "default": _DEFAULT_STORAGE[BENCH_BACKEND],
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
