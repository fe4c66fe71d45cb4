"""The browser tests run only in ``nox -s browser``, which installs Chromium and selenium.

Elsewhere they are not collected at all (rather than skipped), so that no run
can pass them without a browser: the session sets INMEMORYSTORAGE_BROWSER=1.
"""

import os

if os.environ.get("INMEMORYSTORAGE_BROWSER") != "1":
    collect_ignore_glob = ["test_*.py"]
