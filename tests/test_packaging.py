"""An editable install (``pip install -e .``) exposes the package, and nothing else of the checkout.

Other projects that install this one editable must keep their own ``tests``
package: if the install put this checkout's root on ``sys.path``, our
``tests`` (and ``benchmarks``, ``noxfile``) would shadow theirs.

Each test here builds and installs the project into a fresh virtualenv with
pip (about 10 s, from the package index pip is configured with); the
virtualenv borrows this environment's installed packages (Django, and the
``editables`` hook that hatchling's exact editable mode needs) through a
``.pth`` file instead of downloading them again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
#: What the checkout's root holds besides the package, as importable names.
CHECKOUT_ONLY = ("tests", "benchmarks", "examples", "noxfile")
PROBE = textwrap.dedent(
    """
    import importlib.util, json, sys
    names = json.loads(sys.argv[1])
    origins = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None:
            origins[name] = None
        else:  # a namespace package (a plain directory) has locations, not an origin
            origins[name] = spec.origin or list(spec.submodule_search_locations)[0]
    import inmemorystorage
    origins["imported inmemorystorage"] = inmemorystorage.__file__
    print(json.dumps(origins))
    """
)


@pytest.fixture(scope="module")
def editable_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh virtualenv with this project installed editable."""
    venv = tmp_path_factory.mktemp("editable") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # Sorted before the editable hook's .pth, so that the hook finds `editables`.
    (site_packages / "00-borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--editable",
            str(ROOT),
        ],
        check=True,
    )
    return python


def probe(python: Path, cwd: Path) -> dict[str, str | None]:
    """Where each checkout-only name and the package are found, run from ``cwd``."""
    result = subprocess.run(
        [str(python), "-c", PROBE, json.dumps(CHECKOUT_ONLY)],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "Error processing line" not in result.stderr, result.stderr
    origins: dict[str, str | None] = json.loads(result.stdout)
    return origins


def test_the_package_is_imported_from_the_checkout(editable_python, tmp_path):
    """``import inmemorystorage`` in another project finds this checkout's source (editable)."""
    origins = probe(editable_python, tmp_path)
    assert str(ROOT / "inmemorystorage" / "__init__.py") == origins["imported inmemorystorage"]


def test_the_checkouts_other_top_level_names_are_not_importable(editable_python, tmp_path):
    """This checkout's ``tests``, ``benchmarks``, ``examples`` and ``noxfile`` stay private."""
    origins = probe(editable_python, tmp_path)
    leaked = {
        name: origin
        for name, origin in origins.items()
        if name in CHECKOUT_ONLY and origin is not None and Path(origin).is_relative_to(ROOT)
    }
    assert {} == leaked
