"""The recipes of docs/testing.md, copied into a small project and run as a user would run them.

Each fenced block after a ``<!-- file: PATH -->`` comment becomes that file of
the project; the project adds only what every Django project has (settings,
``manage.py``, an app with a static file).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.template import Context, Engine
from django.test import override_settings

from inmemorystorage import storage as storage_module

DOC = Path(__file__).parent.parent / "docs" / "testing.md"
BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```", re.DOTALL)
CONSOLE = re.compile(r"```console\n(?P<command>python manage\.py test .*?)\n```")
TIMEOUT = 120

PROJECT = {
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
        """,
    "mysite/__init__.py": "",
    "mysite/settings.py": """
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent
        SECRET_KEY = "docs-project"
        INSTALLED_APPS = ["django.contrib.staticfiles", "uploads"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db"}}
        TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates"}]
        STATIC_URL = "static/"
        STATIC_ROOT = BASE_DIR / "collected"
        MEDIA_ROOT = BASE_DIR / "media"
        USE_TZ = True
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        """,
    "uploads/__init__.py": "",
    "uploads/tests/__init__.py": "",
    "uploads/static/uploads/site.css": "body { color: black; }\n",
}


def doc_files():
    """The doc's files: path to content."""
    return {m["path"]: m["code"] for m in BLOCK.finditer(DOC.read_text())}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project: its own files plus every file the doc gives."""
    root = tmp_path_factory.mktemp("docs_project")
    files = {path: textwrap.dedent(code).lstrip() for path, code in PROJECT.items()}
    files.update(doc_files())
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    return root


def run(project, *args):
    """Run this Python in the project, with its settings chosen by the project, not by us."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_doc_gives_every_recipe():
    """The doc has the files the tests below run."""
    expected = {
        "mysite/test_settings.py",
        "pytest.ini",
        "conftest.py",
        "uploads/tests/test_with_pytest.py",
        "uploads/tests/test_with_testcase.py",
        "uploads/tests/test_hashed_static.py",
        "mysite/plain_static_settings.py",
    }
    assert expected == set(doc_files())


def test_the_recipes_pass_under_pytest(project):
    """pytest with pytest-django runs every recipe test, and no file reaches the disk."""
    result = run(project, "-m", "pytest", "-p", "no:cacheprovider", "-q")
    assert 0 == result.returncode, result.stdout + result.stderr
    assert "8 passed" in result.stdout
    assert not (project / "media").exists()
    assert not (project / "collected").exists()


def test_the_recipes_pass_under_manage_py_test_parallel(project):
    """The doc's own `manage.py test --parallel 2` command passes, in two processes."""
    (command,) = CONSOLE.findall(DOC.read_text())
    args = shlex.split(command)[1:]
    result = run(project, *args, "-v", "2")
    output = result.stdout + result.stderr
    assert 0 == result.returncode, output
    assert "Ran 5 tests" in output
    assert "Cloning test database for alias 'default'" in output
    assert not (project / "media").exists()
    assert not (project / "collected").exists()


@pytest.fixture
def _forget_shared_stores():
    yield
    with storage_module._shared_stores_lock:
        storage_module._shared_stores.clear()


@pytest.mark.usefixtures("_forget_shared_stores")
def test_the_plain_storage_recipe_serves_static_files(tmp_path):
    """The doc's STORAGES for a plain InMemoryStorage collects and resolves static files."""
    namespace = {}
    exec(doc_files()["mysite/plain_static_settings.py"], namespace)  # noqa: S102  # the doc's own code
    with override_settings(
        INSTALLED_APPS=["django.contrib.staticfiles", "tests.testapp"],
        STATIC_URL="/static/",
        STATIC_ROOT=str(tmp_path / "collected"),
        STORAGES=namespace["STORAGES"],
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
        engine = Engine(libraries={"static": "django.templatetags.static"})
        html = engine.from_string("{% load static %}{% static 'testapp/app.css' %}")
        assert "/static/testapp/app.css" == html.render(Context())
        assert staticfiles_storage.exists("testapp/app.css")
    assert not (tmp_path / "collected").exists()
