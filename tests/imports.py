"""What importing a module pulls in, checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def django_modules_imported_by(*modules: str) -> list[str]:
    """The Django modules a fresh interpreter has loaded after importing *modules*."""
    code = (
        f"import json, sys, {', '.join(modules)};"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'django')))"
    )
    result = subprocess.run(  # this interpreter, fixed arguments
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": ""},
        timeout=60,
    )
    return list(json.loads(result.stdout))
