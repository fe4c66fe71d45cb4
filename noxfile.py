"""Sessions: tests (the support matrix), django_suites, lint, typecheck, docs, demo, bench, build.

``nox -s tests`` runs every supported (Python, Django) pair whose interpreter
this machine has, finding pyenv's interpreters without ``PYENV_VERSION``, and
names the versions it cannot find and how to get them; the first also measures
branch coverage (at least 95 %) and runs the benchmark suite's own tests, the
first and the newest run the ``once`` tests (the Redis scripts across
processes and on a cluster, the wheel), and each ends with Django's own
``InMemoryStorage`` test module, taken from
Django's sdist, run against ours. Each installs the ``redis`` extra (redis-py
with hiredis) but one, whose redis-py parses replies itself. The shared
engine's tests start a real ``redis-server`` (Debian's, installed with apt-get
where missing).
``nox -s tests -- --hypothesis-profile=long`` searches the state machine harder.
``nox -s django_suites`` runs Django's own storage, upload and file-field tests
with Django's ``InMemoryStorage`` and with ours, and fails on a difference that
``SUITE_DIFFERENCES`` does not explain.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["tests", "django_suites", "lint", "typecheck", "docs"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml("pyproject.toml")
DJANGO_MATRIX = [
    ("3.11", "5.2"),
    ("3.12", "5.2"),
    ("3.13", "5.2"),
    ("3.12", "6.0"),
    ("3.13", "6.0"),
    ("3.12", "6.1"),
    ("3.13", "6.1"),
]
#: The tests session whose redis-py reads replies with its own parser, not hiredis (the
#: ``redis`` extra's): a user who installs redis-py alone gets that one.
WITHOUT_HIREDIS = ("3.12", "6.0")
PYTHONS = sorted({py for py, _ in DJANGO_MATRIX}, key=lambda v: tuple(map(int, v.split("."))))
COMPAT_DIR = ROOT / "tests" / "django_compat"
#: The tests session that measured coverage in this run of nox, once one has.
_coverage_measured: list[str] = []


def _real_interpreter(version: str) -> str | None:
    """The path of a working ``pythonX.Y`` on PATH, or None (a pyenv shim that refuses is none)."""
    found = shutil.which(f"python{version}")
    if found is None:
        return None
    if "shims" not in Path(found).parts:
        return found
    # A pyenv shim runs only the versions PYENV_VERSION (or .python-version) selects.
    done = subprocess.run([found, "-c", ""], capture_output=True, check=False)
    return found if done.returncode == 0 else None


def find_interpreters(versions: list[str]) -> list[str]:
    """Put pyenv's interpreters of *versions* on PATH; return the versions still missing.

    pyenv's shims run ``python3.12`` only when ``PYENV_VERSION`` names it, so
    nox would skip every version but the default. Each installed
    ``$PYENV_ROOT/versions/X.Y.*`` (the newest patch release) is put on PATH
    instead, ahead of the shims.
    """
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    missing = []
    for version in versions:
        if _real_interpreter(version):
            continue
        installed = sorted(
            (p for p in (pyenv_root / "versions").glob(f"{version}.*") if (p / "bin").is_dir()),
            key=lambda p: tuple(int(part) for part in re.findall(r"\d+", p.name)),
        )
        if installed:
            os.environ["PATH"] = f"{installed[-1] / 'bin'}{os.pathsep}{os.environ['PATH']}"
        if not _real_interpreter(version):
            missing.append(version)
    return missing


MISSING_PYTHONS = find_interpreters(PYTHONS)
if MISSING_PYTHONS:
    print(
        "nox: no interpreter for Python "
        + ", ".join(MISSING_PYTHONS)
        + ": their `tests` sessions are skipped. Install them (`pyenv install "
        + " ".join(MISSING_PYTHONS)
        + "`, or your system's python3.X packages) to run the whole supported matrix.",
        file=sys.stderr,
    )


def _group(name: str) -> list[str]:
    return list(PYPROJECT["dependency-groups"][name])


@nox.session
@nox.parametrize(
    ("python", "django"),
    [nox.param(py, dj, id=f"{py}-django{dj}") for py, dj in DJANGO_MATRIX],
)
def tests(session: nox.Session, django: str) -> None:
    """Run the test suite with coverage, then Django's own InMemoryStorage tests against ours."""
    session.install(f"django~={django}.0", "-e", ".[redis]", *_group("tests"))
    if (session.python, django) == WITHOUT_HIREDIS:
        # redis-py installed alone, without the extra: its own pure-Python reply parser.
        session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "hiredis")
    env = {
        "PYTHONDEVMODE": "1",
        "COVERAGE_FILE": f".coverage.{session.name}",
        "REDIS_SERVER": _redis_server(session),  # the tests start and stop their own server
    }
    pytest = ["pytest", "-W", "error::ResourceWarning", "--ignore", str(COMPAT_DIR)]
    if not _coverage_measured:
        # The first tests session of a run measures branch coverage (the tests are
        # the same everywhere); the tracer would slow the memory measurements
        # five-fold, so they run apart.
        session.run("coverage", "run", "-m", *pytest, "-m", "not memory", *session.posargs, env=env)
        session.run("coverage", "report", "--fail-under=95", env=env)
        _coverage_measured.append(session.name)
        session.run(
            "python",
            "-m",
            *pytest,
            "-m",
            "memory",
            *session.posargs,
            env=env,
            success_codes=[0, 5] if session.posargs else [0],  # posargs may deselect them all
        )
    else:
        # The benchmark suite's own tests ran in that first session: the bench itself runs
        # on one Python and Django (`nox -s bench`), so they gain nothing from the matrix.
        # The `once` tests (the Redis scripts across processes and on a cluster, the wheel)
        # check what is the same on every pair; they run again on the newest pair, whose
        # Python and redis-py threads and pip differ most from the first's.
        # Two workers (pytest-xdist): much of a test's time is a subprocess's start or a
        # server's answer, so two halve the suite even on two cores (235 s to 113 s).
        newest = (session.python, django) == DJANGO_MATRIX[-1]
        session.log(f"coverage and the bench's tests ran in {_coverage_measured[0]}")
        skipped = "not bench" if newest else "not bench and not once"
        session.run(
            "python", "-m", *pytest, "-n", "2", *([] if session.posargs else ["-m", skipped]),
            *session.posargs, env=env,
        )  # fmt: skip
    _run_django_compat(session, env)


def _run_django_compat(session: nox.Session, env: dict[str, str]) -> None:
    """Fetch test_inmemory_storage.py from the installed Django's sdist and run it against ours."""
    with tarfile.open(_django_sdist(session)) as sdist:
        member = next(
            m
            for m in sdist.getmembers()
            if m.name.endswith("tests/file_storage/test_inmemory_storage.py")
        )
        source = sdist.extractfile(member).read().decode()  # type: ignore[union-attr]
    target = COMPAT_DIR / "test_django_inmemory_storage.py"
    target.write_text(rewrite_django_tests(source))
    session.run(
        "pytest", "-W", "error::ResourceWarning", "-p", "no:cacheprovider", str(COMPAT_DIR), env=env
    )


def _django_version(session: nox.Session) -> str:
    return session.run(
        "python", "-c", "import django; print(django.__version__)", silent=True
    ).strip()


def _django_sdist(session: nox.Session) -> Path:
    """The sdist of the Django installed in the session, downloaded once into nox's cache."""
    version = _django_version(session)
    cache = Path(session.cache_dir) / "django-sdist"
    cache.mkdir(parents=True, exist_ok=True)
    sdists = list(cache.glob(f"[dD]jango-{version}.tar.gz"))
    if not sdists:
        session.run(
            "python",
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--dest",
            str(cache),
            f"django=={version}",
        )
        sdists = list(cache.glob(f"[dD]jango-{version}.tar.gz"))
    return sdists[0]


def rewrite_django_tests(source: str) -> str:
    """Point Django's module at our class: only the import and the deconstruct path change."""
    rewritten, imports = re.subn(
        r"^from django\.core\.files\.storage import InMemoryStorage$",
        "from inmemorystorage import InMemoryStorage",
        source,
        flags=re.MULTILINE,
    )
    rewritten, paths = re.subn(
        r'"django\.core\.files\.storage\.InMemoryStorage"',
        '"inmemorystorage.InMemoryStorage"',
        rewritten,
    )
    if (imports, paths) != (1, 1):
        msg = f"Django's test module changed shape: {imports} imports, {paths} paths rewritten"
        raise RuntimeError(msg)
    header = "# Generated by noxfile.py from Django's sdist; do not edit.\n"
    return header + rewritten


# Django's own suites (issue 11): file_uploads, file_storage, files and model_fields
# from the installed Django's sdist, run with Django's InMemoryStorage and with ours.

SUITES_SCRIPT = ROOT / "tests" / "django_suites" / "suites.py"
#: One Python per Django version: each version's suite differs, the Pythons less so
#: (the tests session covers every pair). Each run takes about a minute.
SUITES_MATRIX = [("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]
SUITE_LABELS = ["file_uploads", "file_storage", "files", "model_fields"]
_NO_PATH = {
    "error": "NotImplementedError",
    "reason": (
        "calls path(): ours raises NotImplementedError, since its files have no local path "
        "(apps such as wagtail then treat them as remote); Django's InMemoryStorage returns "
        "a path where no file exists (README, differences)"
    ),
}
_PATHLIB_THEN_PATH = {
    "error": "NotImplementedError",
    "reason": (
        "exists() and save() with a pathlib.Path pass (they come first), then it compares "
        "path(Path) with a path under location: ours raises NotImplementedError there, as "
        "path() always does"
    ),
}
#: Tests that pass with Django's InMemoryStorage and not with ours, on purpose: each
#: excuses only the error named, for the reason given. The session fails on any other
#: difference, and on an entry here that no longer differs.
SUITE_DIFFERENCES = {
    "file_uploads.tests.FileUploadTests.test_filename_case_preservation": _NO_PATH,
    "file_storage.tests.FileStorageTests.test_file_path": _NO_PATH,
    "file_storage.tests.FileStorageTests.test_file_storage_preserves_filename_case": _NO_PATH,
    "file_storage.tests.FileStorageTests.test_file_methods_pathlib_path": _PATHLIB_THEN_PATH,
    "file_storage.tests.CustomStorageTests.test_file_path": _NO_PATH,
    "file_storage.tests.CustomStorageTests.test_file_storage_preserves_filename_case": _NO_PATH,
    "file_storage.tests.CustomStorageTests.test_file_methods_pathlib_path": _PATHLIB_THEN_PATH,
    "file_storage.tests.DiscardingFalseContentStorageTests.test_file_path": _NO_PATH,
    "file_storage.tests.DiscardingFalseContentStorageTests."
    "test_file_storage_preserves_filename_case": _NO_PATH,
    "file_storage.tests.DiscardingFalseContentStorageTests."
    "test_file_methods_pathlib_path": _PATHLIB_THEN_PATH,
    # Django 5.2 only: the class went with OS_OPEN_FLAGS in 6.0.
    "file_storage.tests.OverwritingStorageOSOpenFlagsTests.test_file_path": _NO_PATH,
    "file_storage.tests.OverwritingStorageOSOpenFlagsTests."
    "test_file_storage_preserves_filename_case": _NO_PATH,
    "file_storage.tests.OverwritingStorageOSOpenFlagsTests."
    "test_file_methods_pathlib_path": _PATHLIB_THEN_PATH,
}


@nox.session
@nox.parametrize(
    ("python", "django"),
    [nox.param(py, dj, id=f"{py}-django{dj}") for py, dj in SUITES_MATRIX],
)
def django_suites(session: nox.Session, django: str) -> None:
    """Django's file tests: ours must pass what Django's InMemoryStorage passes.

    Runs each label with ``STORAGES["default"]`` set to each backend, then again
    with ``FileSystemStorage`` replaced by it; prints both tallies and every
    difference (see tests/django_suites/suites.py).
    """
    session.install(f"django~={django}.0", "-e", ".", *_group("django-suites"))
    django_tests = _django_tests_dir(session)
    tmp = Path(session.create_tmp())
    results = tmp / "django-suites"
    shutil.rmtree(results, ignore_errors=True)
    allowed = tmp / "allowed-differences.json"
    allowed.write_text(json.dumps(SUITE_DIFFERENCES, indent=1))
    session.run(
        "python",
        str(SUITES_SCRIPT),
        "--django-tests",
        str(django_tests),
        "--results",
        str(results),
        "--allowed",
        str(allowed),
        *SUITE_LABELS,
    )


def _django_tests_dir(session: nox.Session) -> Path:
    """Django's tests/ directory from the installed Django's sdist, extracted once (cached)."""
    sdist = _django_sdist(session)
    target = Path(session.cache_dir) / "django-tests" / sdist.name.removesuffix(".tar.gz")
    if not (target / "runtests.py").is_file():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(sdist) as archive:
            top = archive.getmembers()[0].name.split("/")[0]
            members = [m for m in archive.getmembers() if m.name.startswith(f"{top}/tests/")]
            archive.extractall(partial, members=members, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        (partial / top / "tests").rename(target)
        shutil.rmtree(partial)
    return target


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """Ruff: lint and format check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """Mypy, strict, on the package."""
    session.install(*_group("typecheck"), "django~=5.2.0", "-e", ".")
    session.run("mypy", env={"PYTHONPATH": os.fspath(ROOT)})


# The demo project (issue 8): run it, and drive it in a real browser.

DEMO_MANAGE = ROOT / "examples" / "demo" / "manage.py"
BROWSER_TESTS = ROOT / "tests" / "browser"
BROWSER_ARTIFACTS = ROOT / ".nox" / "artifacts" / "browser"
#: The screenshots the browser tests must leave there.
BROWSER_SCREENSHOTS = ("demo", "storage-page", "storage-panel")


@nox.session
def demo(session: nox.Session) -> None:
    """Run the demo on http://127.0.0.1:8000/ under runserver (threaded, with autoreload).

    Arguments after ``--`` go to runserver, e.g. ``nox -s demo -- 127.0.0.1:8080``.
    """
    session.install("-e", ".")
    session.run("python", str(DEMO_MANAGE), "check")
    address = session.posargs or ["127.0.0.1:8000"]
    session.run("python", str(DEMO_MANAGE), "runserver", *address)


@nox.session
def browser(session: nox.Session) -> None:
    """The demo, the storage page and the debug-toolbar panel in headless Chromium.

    Installs Debian's chromium and chromium-driver with apt-get when they are
    missing, and selenium from PyPI. If the browser cannot be installed the
    session fails and says why: it never passes without a browser. The
    screenshots (the demo page, the storage page, the panel) are saved under
    .nox/artifacts/browser/, and the session fails if one is missing.
    """
    chromium, chromedriver = _chromium(session)
    session.install("-e", ".", *_group("tests"), *_group("browser"))
    BROWSER_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshots = [BROWSER_ARTIFACTS / f"{name}.png" for name in BROWSER_SCREENSHOTS]
    for screenshot in screenshots:
        screenshot.unlink(missing_ok=True)
    env = {
        "INMEMORYSTORAGE_BROWSER": "1",
        "CHROMIUM": chromium,
        "CHROMEDRIVER": chromedriver,
        "BROWSER_ARTIFACTS": os.fspath(BROWSER_ARTIFACTS),
        "SE_OFFLINE": "true",  # Selenium Manager must not try to download anything
        "SE_AVOID_STATS": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-W",
        "error::ResourceWarning",
        str(BROWSER_TESTS),
        env=env,
    )
    for screenshot in screenshots:
        if not screenshot.is_file():
            session.error(f"the browser tests passed but left no screenshot at {screenshot}")
        session.log(f"screenshot: {screenshot}")


def _apt_get_install(session: nox.Session, packages: list[str], needs: str) -> None:
    """Install Debian *packages* with apt-get, or fail saying that the session *needs* them."""
    if shutil.which("apt-get") is None:
        session.error(
            f"{needs}, which are missing, and this machine has no apt-get to install them: "
            "install them and run it again."
        )
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [*sudo, "apt-get", "update"],
        [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *packages],
    ):
        try:
            session.run(*command, external=True, env=apt_env)
        except nox.command.CommandFailed:
            session.error(
                f"Could not install {' and '.join(packages)}: `{' '.join(command)}` failed (see "
                f"above). {needs}; the session does not pass without them."
            )


def _redis_server(session: nox.Session) -> str:
    """The path of redis-server, for the shared engine's tests: Debian's, installed if missing.

    REDIS_SERVER may name another binary (on macOS, `brew install redis` gives one).
    """
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not found:
        _apt_get_install(session, ["redis-server"], "The shared engine's tests need redis-server")
        found = shutil.which("redis-server")
    if not found:
        session.error("apt-get installed redis-server, but no redis-server is on PATH.")
    return found


def _chromium(session: nox.Session) -> tuple[str, str]:
    """Paths of chromium and chromedriver, installed with apt-get if missing."""
    found = _find_chromium()
    if found is not None:
        return found
    if "CHROMIUM" not in os.environ:
        _apt_get_install(
            session,
            ["chromium", "chromium-driver"],
            "The browser session needs Chromium and chromedriver (or CHROMIUM and CHROMEDRIVER "
            "set to their paths)",
        )
    found = _find_chromium()
    if found is None:
        session.error(
            "apt-get installed chromium and chromium-driver, but still no chromium and "
            "chromedriver were found (CHROMIUM and CHROMEDRIVER, where set, must name files; "
            "otherwise they are looked up on PATH)."
        )
    return found


def _find_chromium() -> tuple[str, str] | None:
    """CHROMIUM and CHROMEDRIVER from the environment, else from PATH; None if either is missing."""
    chromium = os.environ.get("CHROMIUM") or next(
        filter(None, map(shutil.which, ["chromium", "chromium-browser", "google-chrome"])), None
    )
    chromedriver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if chromium and chromedriver and Path(chromium).is_file() and Path(chromedriver).is_file():
        return chromium, chromedriver
    return None


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The benchmark suite: ours beside every peer, wrong reads counted (``--quick``: ~2 min).

    Results go to ``benchmarks/results/``; dj-inmemorystorage 2.1.0 is installed
    apart, under ``benchmarks/.peers/``, since it has our import name. The shared
    engine's rows run against a redis-server that the bench starts itself (Debian's,
    installed where missing, as for the tests; REDIS_SERVER may name another).
    """
    session.install("django~=5.2.0", "-e", ".[redis]", *_group("bench"))
    env = {"REDIS_SERVER": _redis_server(session)}
    session.run("python", "-m", "benchmarks", *session.posargs, env=env)


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site with Sphinx, warnings as errors, into docs/_build/html."""
    session.install("django~=5.2.0", "-e", ".", *_group("docs"))
    session.run(
        "sphinx-build",
        "--fail-on-warning",
        "--keep-going",
        "--builder",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )
    session.log(f"documentation: {ROOT / 'docs' / '_build' / 'html' / 'index.html'}")


# Release artifacts (issue 25): what a packager takes, checked as a user installs it.

DIST = ROOT / "dist"
SDIST_TESTS = "--sdist-tests"


@nox.session(python="3.11")
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel into dist/ and check them as a packager and a user would.

    ``twine check --strict`` and ``check-wheel-contents``; then
    tests/distributions.py (the wheel holds every file of the package, the
    sdist the tests and all they read, both the license); then the README's
    quick start in a new ``startproject`` site, against the wheel installed in
    a fresh virtualenv (tests/wheel_quickstart.py). ``nox -s build --
    --sdist-tests`` also runs the test suite from the unpacked sdist after a
    plain ``pip install .``, as Debian or conda-forge would (minutes).
    """
    unknown = [arg for arg in session.posargs if arg != SDIST_TESTS]
    if unknown:
        session.error(f"nox -s build takes only {SDIST_TESTS}, not {' '.join(unknown)}")
    session.install(*_group("build"))
    shutil.rmtree(DIST, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(DIST), str(ROOT))
    (sdist,) = DIST.glob("*.tar.gz")
    (wheel,) = DIST.glob("*.whl")
    session.run("twine", "check", "--strict", str(sdist), str(wheel))
    session.run("check-wheel-contents", str(wheel))
    session.run("python", str(ROOT / "tests" / "distributions.py"), str(wheel), str(sdist))
    # Away from the checkout, as a user's project or a packager's build directory is:
    # under .nox/, pytest would find this checkout's pyproject.toml above its tmp_path.
    away = Path(tempfile.mkdtemp(prefix="dj-inmemorystorage-build-"))
    try:
        _quick_start_from_wheel(session, wheel, away)
        if SDIST_TESTS in session.posargs:
            _tests_from_sdist(session, sdist, away)
    finally:
        shutil.rmtree(away, ignore_errors=True)
    session.log(f"release artifacts: {sdist.name} and {wheel.name} in {DIST}")


def _fresh_venv(session: nox.Session, venv: Path) -> Path:
    """A new virtualenv at *venv*; its interpreter."""
    session.run("python", "-m", "venv", str(venv))
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _quick_start_from_wheel(session: nox.Session, wheel: Path, away: Path) -> None:
    """Install the wheel (not the checkout) in a fresh virtualenv; run the README's quick start."""
    python = _fresh_venv(session, away / "wheel-venv")
    # The wheel alone first, so that its own dependencies are what makes it work.
    session.run(str(python), "-m", "pip", "install", "--quiet", str(wheel), external=True)
    session.run(str(python), "-m", "pip", "install", "--quiet", "pytest", external=True)
    with session.chdir(away):
        session.run(
            str(python),
            "-I",  # neither the checkout nor tests/ on sys.path
            str(ROOT / "tests" / "wheel_quickstart.py"),
            str(ROOT / "README.md"),
            str(away / "quickstart-site"),
            external=True,
            env={"TMPDIR": str(away)},
        )


def _tests_from_sdist(session: nox.Session, sdist: Path, away: Path) -> None:
    """Unpack the sdist; ``pip install .`` and the tests group; ``pytest -m "not packaging"``."""
    with tarfile.open(sdist) as archive:
        archive.extractall(away / "sdist", filter="data")
    (source,) = (away / "sdist").iterdir()
    groups = nox.project.load_toml(source / "pyproject.toml")["dependency-groups"]
    python = _fresh_venv(session, away / "sdist-venv")
    with session.chdir(source):
        session.run(
            str(python), "-m", "pip", "install", "--quiet", ".", *groups["tests"], external=True
        )
        started = time.monotonic()
        session.run(
            str(python),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-m",
            "not packaging",
            external=True,
            env={"TMPDIR": str(away)},
        )
    session.log(f"the sdist's tests passed in {time.monotonic() - started:.0f} s")
