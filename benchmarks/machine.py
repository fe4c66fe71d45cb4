"""A description of what a run measured: the machine, the software, and every backend.

It is stored with the figures, so that the JSON document reads without the
code: each backend's key comes with its label and the version of what it runs.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from typing import Any

from . import redisserver
from .backends import BACKENDS, PEER_210, scratch_root

#: The servers of the runserver part, by key.
HTTP_LABELS = {
    "ours": "inmemorystorage.views.serve (ours)",
    "django": "Django InMemoryStorage + our view",
    "fs": "FileSystemStorage + static.serve",
    "http-floor": "floor: FileResponse(BytesIO(constant))",
    "http-floor-kept": "keeping floor: each upload kept in a dict",
    "storage-floor": "storage floor: a dict behind Django's save()",
    "http-floor-same": "same-answer floor: ours' headers, constant bytes",
}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _commit() -> str | None:
    """The short commit measured, with ``+dirty`` when tracked files differ from it."""
    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git("status", "--porcelain", "--untracked-files=no"):
        return f"{commit}+dirty"
    return commit or None


def describe() -> dict[str, Any]:
    """CPU count and model, OS, Python and Django versions, and where FileSystemStorage writes."""
    _root, where = scratch_root()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "django": _version("django"),
        "dj_inmemorystorage": _version("dj-inmemorystorage"),
        "filesystem_storage_on": where,
        "commit": _commit(),
    }


def _peer_version() -> str | None:
    """The version of dj-inmemorystorage installed apart for the 2.1.0 backend, if it is."""
    for info in sorted(PEER_210.glob("dj_inmemorystorage-*.dist-info")):
        match = re.match(r"dj_inmemorystorage-(.+)\.dist-info$", info.name)
        if match:
            return match.group(1)
    return None


def _what_runs(key: str, machine: dict[str, Any]) -> str:
    """The software a backend runs, with its version."""
    ours = f"dj-inmemorystorage {machine['dj_inmemorystorage']} (commit {machine['commit']})"
    django = f"Django {machine['django']}"
    harness = f"benchmarks/ of this repository (commit {machine['commit']})"
    if key in BACKENDS and BACKENDS[key].server:
        server = redisserver.version() or "(no redis-server found)"
        client = f"{ours}, on Redis {server} through redis-py {_version('redis')}"
        return client if key.startswith("ours") else f"{harness}, on Redis {server}"
    if key.startswith("ours"):
        return ours
    if key == "dj210":
        peer = _peer_version()
        return f"dj-inmemorystorage {peer}" if peer else "dj-inmemorystorage 2.1.0 (not installed)"
    if key == "fs":
        return f"{django}, on {machine['filesystem_storage_on']}"
    if key == "django":
        return django
    return harness


def backends(keys: list[str], machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each Storage API backend's label and the version of what it runs."""
    return {
        key: {
            "label": BACKENDS[key].label if key in BACKENDS else key,
            "version": _what_runs(key, machine),
            "thread_safe": BACKENDS[key].thread_safe if key in BACKENDS else None,
        }
        for key in keys
    }


def http_servers(keys: list[str], machine: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each runserver backend's label and the version of what it runs."""
    return {
        key: {"label": HTTP_LABELS.get(key, key), "version": _what_runs(key, machine)}
        for key in keys
    }
