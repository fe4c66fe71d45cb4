"""The installs: editable exposes only the package, and the wheel holds all of it and the license.

Other projects that install this one editable must keep their own ``tests``
package: if the install put this checkout's root on ``sys.path``, our
``tests`` (and ``benchmarks``, ``noxfile``) would shadow theirs. The wheel
pip builds holds every file of the package and nothing else, with LICENSE
(tests/distributions.py says what each must hold; ``nox -s build`` checks the
sdist too, and runs the README's quick start on the installed wheel).

Each test here builds and installs the project into a fresh virtualenv with
pip (about 10 s, from the package index pip is configured with); the
virtualenv borrows this environment's installed packages (Django, and the
``editables`` hook that hatchling's exact editable mode needs) through a
``.pth`` file instead of downloading them again.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests import distributions

pytestmark = [pytest.mark.packaging, pytest.mark.once]

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


# The wheel, built from this checkout as pip builds it; tests/distributions.py reads it.
# `nox -s build` checks the sdist and runs the README's quick start on the wheel.


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's wheel, built by pip with hatchling from the package index."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
    )
    (built,) = out.glob("*.whl")
    return built


def _rewrite_zip(source: Path, target: Path, drop: set[str], metadata_drop: str = "") -> Path:
    """A copy of the zip *source* without the members *drop*, and METADATA without a line."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            if item.filename in drop:
                continue
            data = old.read(item)
            if metadata_drop and item.filename.endswith(".dist-info/METADATA"):
                data = data.replace(metadata_drop.encode(), b"")
            new.writestr(item, data)
    return target


def test_the_wheel_holds_every_file_of_the_package_and_nothing_else(wheel):
    """Every module, ``py.typed`` and template of the package, and no checkout-only file."""
    assert [] == distributions.wheel_file_problems(wheel)


def test_the_wheel_carries_the_license(wheel):
    """LICENSE is under .dist-info/licenses/, as in the checkout, and METADATA names it."""
    assert [] == distributions.wheel_license_problems(wheel)


def test_a_wheel_that_lacks_a_module_is_refused(wheel, tmp_path):
    """The check names a module of the package that a wheel left out."""
    doctored = _rewrite_zip(wheel, tmp_path / wheel.name, {"inmemorystorage/archive.py"})
    expected = ["inmemorystorage/archive.py is in the package's source but not in the wheel"]
    assert expected == distributions.wheel_file_problems(doctored)


def test_a_wheel_without_the_license_is_refused(wheel, tmp_path):
    """The check says so when a wheel carries no LICENSE and its metadata names none."""
    dist_info = wheel.name.split("-py3")[0] + ".dist-info"
    doctored = _rewrite_zip(
        wheel, tmp_path / wheel.name, {f"{dist_info}/licenses/LICENSE"}, "License-File: LICENSE\n"
    )
    expected = [
        f"the wheel has no {dist_info}/licenses/LICENSE",
        "the wheel's metadata does not say License-File: LICENSE",
    ]
    assert expected == distributions.wheel_license_problems(doctored)


def test_an_sdist_without_the_benchmarks_is_refused(tmp_path):
    """An sdist that leaves out a directory its tests import is named file by file."""
    sdist = tmp_path / "dj_inmemorystorage-0.tar.gz"
    shipped = distributions.checkout_files(
        ROOT, *distributions.SDIST_TREES, *distributions.SDIST_FILES
    )
    shipped = {name for name in shipped if (ROOT / name).is_file()}
    left_out = {name for name in shipped if name.startswith("benchmarks/")}
    with tarfile.open(sdist, "w:gz") as archive:
        for name in sorted(shipped - left_out):
            archive.add(ROOT / name, arcname=f"dj_inmemorystorage-0/{name}")
        info = tarfile.TarInfo("dj_inmemorystorage-0/PKG-INFO")
        pkg_info = b"Metadata-Version: 2.4\nName: dj-inmemorystorage\nLicense-File: LICENSE\n"
        info.size = len(pkg_info)
        archive.addfile(info, io.BytesIO(pkg_info))
    expected = [f"{name} is in the checkout but not in the sdist" for name in sorted(left_out)]
    assert left_out
    assert expected == distributions.sdist_problems(sdist)
