"""Settings of the demo: files in memory with a byte budget, no database, DEBUG on.

For the dev server only (``DEBUG = True``, a published secret key).
"""

import os

SECRET_KEY = "demo-only-not-secret"  # the demo never leaves the developer's machine
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

# The inmemorystorage app keeps uploads across runserver's reloads, checks the
# settings, and shows evictions on the console; its middleware answers an
# upload that does not fit with 413 or 507 instead of a 500.
INSTALLED_APPS = ["demo", "inmemorystorage"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "inmemorystorage.middleware.StorageFullMiddleware",
]
ROOT_URLCONF = "demo.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {}  # nothing here needs one: the files live in the storage
USE_TZ = True

# Uploads go to memory, bounded by max_bytes; the least recently used files
# make room for new ones. A namespace gives every instance the same files (the
# storages handler can build two at the first concurrent requests). Saving a
# name that exists replaces it atomically: a reader gets the old or the new file.
MEDIA_URL = "/media/"
STORAGES = {
    "default": {
        "BACKEND": "inmemorystorage.InMemoryStorage",
        "OPTIONS": {
            "namespace": "demo",
            "max_bytes": int(os.environ.get("DEMO_MAX_BYTES", str(16 * 1024 * 1024))),
            "allow_overwrite": True,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
