"""Settings for Django's ``runtests.py``: Django's own SQLite settings, one default storage.

``runtests.py --settings=inmemorystorage_suite_settings`` imports this module
with Django's ``tests/`` directory and this one on ``sys.path``. The default
storage's backend is ``INMEMORYSTORAGE_SUITE_BACKEND``, configured as the
README's quick start does (a ``BACKEND`` and nothing else); the runner records
every test's outcome for ``compare.py``.
"""

import os

from test_sqlite import *  # noqa: F403  (Django's own settings for its test suite)

STORAGES = {
    "default": {"BACKEND": os.environ["INMEMORYSTORAGE_SUITE_BACKEND"]},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TEST_RUNNER = "inmemorystorage_suite_runner.RecordingRunner"

if os.environ.get("INMEMORYSTORAGE_SUITE_STANDIN"):
    import inmemorystorage_suite_standin

    inmemorystorage_suite_standin.install(os.environ["INMEMORYSTORAGE_SUITE_BACKEND"])
