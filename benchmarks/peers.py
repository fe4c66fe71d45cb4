"""Install dj-inmemorystorage 2.1.0 into its own directory, apart from ours (same import name)."""

from __future__ import annotations

import subprocess
import sys

from .backends import PEER_210

PEER_210_REQUIREMENTS = ("dj-inmemorystorage==2.1.0", "six")


def ensure_peer_210() -> str | None:
    """Install 2.1.0 and ``six`` under ``benchmarks/.peers`` if absent; return why not, or None."""
    if (PEER_210 / "inmemorystorage" / "storage.py").is_file() and (PEER_210 / "six.py").is_file():
        return None
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--target",
        str(PEER_210),
        *PEER_210_REQUIREMENTS,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        return f"pip could not install dj-inmemorystorage 2.1.0: {done.stderr.strip()[-300:]}"
    return None
