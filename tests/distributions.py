"""What the wheel and the sdist must hold, read from their archives (nothing is installed).

The wheel holds every file of the package (``py.typed`` too) and nothing
beside it but its ``.dist-info``, which carries ``LICENSE`` under
``licenses/`` and names it in ``License-File``. The sdist holds the package,
the tests and everything they read (``benchmarks/``, ``examples/``, ``docs/``,
``.ci/run``), so that a packager can run them from it, and the license.

"The package's files" are those git tracks or would track where this is a
git checkout (so a module deleted from the work tree is missed, not
forgotten, and generated, ignored files are not expected), else those on
disk. Run as a script by ``nox -s build``: ``python tests/distributions.py
WHEEL SDIST`` prints each problem and exits 1 if there is one. Standard
library only: it runs in any interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "inmemorystorage"
LICENSE = "LICENSE"
#: The directories and files a packager's test run needs from the sdist.
SDIST_TREES = (PACKAGE, "tests", "benchmarks", "examples", "docs")
SDIST_FILES = (LICENSE, "README.md", "CHANGELOG.md", "pyproject.toml", "noxfile.py", ".ci/run")
#: Tracked files, and untracked ones that .gitignore does not exclude: what hatchling takes.
LS_FILES = ("ls-files", "-z", "--cached", "--others", "--exclude-standard")


def checkout_files(root: Path, *paths: str) -> set[str]:
    """The files under *paths* (relative, with ``/``) that a build of *root* takes.

    In a git checkout: those git tracks (a module deleted from the work tree
    too, so that it is missed, not forgotten) and those it would track (not
    ignored), as hatchling selects them. Elsewhere (an unpacked sdist), the
    files on disk but compiled ones, as the builds leave them out.
    """
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "-C", str(root), *LS_FILES, "--", *paths],  # noqa: S607  # git from PATH
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return {name for name in listed.split("\0") if name}
    found: set[str] = set()
    for path in paths:
        top = root / path
        candidates = [top] if top.is_file() else top.rglob("*")
        found.update(
            p.relative_to(root).as_posix()
            for p in candidates
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    return found


def _license_problems(
    where: str, path: str, license_bytes: bytes | None, metadata: str | None, root: Path
) -> list[str]:
    expected = (root / LICENSE).read_bytes() if (root / LICENSE).is_file() else None
    problems = []
    if expected is None:
        problems.append(f"{root / LICENSE} is missing: the BSD-3-Clause terms must travel")
    if license_bytes is None:
        problems.append(f"{where} has no {path}")
    elif expected is not None and license_bytes != expected:
        problems.append(f"{where}'s {path} differs from {root / LICENSE}")
    license_files = HeaderParser().parsestr(metadata or "").get_all("License-File") or []
    if LICENSE not in license_files:
        problems.append(f"{where}'s metadata does not say License-File: {LICENSE}")
    return problems


def _read_wheel(wheel: Path) -> tuple[set[str], str, bytes | None, str]:
    """The wheel's files outside .dist-info, its license path and bytes, and its METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (dist_info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        license_name = f"{dist_info}/licenses/{LICENSE}"
        license_bytes = archive.read(license_name) if license_name in names else None
        metadata = archive.read(f"{dist_info}/METADATA").decode()
    packaged = {n for n in names if not n.startswith(f"{dist_info}/") and not n.endswith("/")}
    return packaged, license_name, license_bytes, metadata


def wheel_file_problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """Each file of the package that *wheel* lacks, and each file it has beside the package."""
    packaged, *_ = _read_wheel(wheel)
    expected = checkout_files(root, PACKAGE)
    problems = [
        f"{name} is in the package's source but not in the wheel"
        for name in sorted(expected - packaged)
    ]
    problems += [
        f"{name} is in the wheel but not in the package's source"
        for name in sorted(packaged - expected)
    ]
    return problems


def wheel_license_problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """What keeps *wheel* from carrying this checkout's LICENSE and naming it in its metadata."""
    _, license_name, license_bytes, metadata = _read_wheel(wheel)
    return _license_problems("the wheel", license_name, license_bytes, metadata, root)


def wheel_problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with *wheel*: package files missing or extra, the license not carried."""
    return wheel_file_problems(wheel, root) + wheel_license_problems(wheel, root)


def sdist_problems(sdist: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with *sdist*: a file its tests need, or the license, left out."""
    with tarfile.open(sdist) as archive:
        members = {m.name: m for m in archive.getmembers() if m.isfile()}
        (top,) = {PurePosixPath(name).parts[0] for name in members}

        def read(name: str) -> bytes | None:
            member = members.get(f"{top}/{name}")
            extracted = archive.extractfile(member) if member is not None else None
            return extracted.read() if extracted is not None else None

        license_bytes = read(LICENSE)
        metadata = read("PKG-INFO")
    held = {name.removeprefix(f"{top}/") for name in members}
    expected = checkout_files(root, *SDIST_TREES, *SDIST_FILES)
    problems = [
        f"{name} is in the checkout but not in the sdist" for name in sorted(expected - held)
    ]
    problems += _license_problems(
        "the sdist",
        f"{top}/{LICENSE}",
        license_bytes,
        metadata.decode() if metadata is not None else None,
        root,
    )
    return problems


def main(argv: list[str]) -> int:
    """Check the wheel and the sdist named in *argv*; print each problem; 1 if there is one."""
    wheel, sdist = (Path(arg) for arg in argv)
    problems = wheel_problems(wheel) + sdist_problems(sdist)
    for problem in problems:
        print(f"distributions: {problem}", file=sys.stderr)  # noqa: T201
    if not problems:
        print(f"distributions: {wheel.name} and {sdist.name} hold what they must")  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
