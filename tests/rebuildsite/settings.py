"""Settings for the rebuild site: STORAGES comes from the REBUILD_STORAGES environment variable."""

import json
import os

SECRET_KEY = "tests-only-not-secret"  # noqa: S105  # test settings
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS: list[str] = []
ROOT_URLCONF = "tests.rebuildsite.urls"
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
STORAGES = json.loads(os.environ["REBUILD_STORAGES"])
USE_TZ = True
