"""System checks: each id is raised by the configuration it names, and only by it."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from inmemorystorage.checks import (
    check_deploy,
    check_middleware,
    check_removed_settings,
    check_storages,
)

STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MIDDLEWARE = "inmemorystorage.middleware.StorageFullMiddleware"

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def memory(**options):
    return {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": options}


def ids(messages):
    return [message.id for message in messages]


@pytest.fixture
def clean(settings):
    """Settings that no check objects to."""
    settings.STORAGES = {"default": memory(namespace="default"), "staticfiles": STATIC}
    settings.MIDDLEWARE = [MIDDLEWARE]
    settings.DEBUG = True
    return settings


# E001 / W001: the settings Django 5.1 removed.


def test_the_seeds_default_file_storage_is_an_error_that_shows_storages(clean):
    """DEFAULT_FILE_STORAGE naming this package (2.1.0's quick start) is E001, with STORAGES."""
    clean.STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    clean.DEFAULT_FILE_STORAGE = "inmemorystorage.InMemoryStorage"
    (message,) = check_removed_settings()
    assert ("inmemorystorage.E001", checks.ERROR) == (message.id, message.level)
    assert "files go to disk" in message.msg
    expected = (
        "STORAGES = {\n"
        "    'default': {'BACKEND': 'inmemorystorage.InMemoryStorage', "
        "'OPTIONS': {'namespace': 'media'}},\n"
        "}"
    )
    assert message.hint.endswith(expected)


def test_the_written_storages_entry_is_valid_python_that_passes_the_checks(clean):
    """Pasting the hint's STORAGES gives settings the checks accept."""
    clean.STORAGES = {"staticfiles": STATIC}
    clean.DEFAULT_FILE_STORAGE = "inmemorystorage.InMemoryStorage"
    (message,) = check_removed_settings()
    namespace = {}
    exec(message.hint.split("\n", 1)[1], namespace)  # noqa: S102  # the hint's own code
    del clean.DEFAULT_FILE_STORAGE
    clean.STORAGES = namespace["STORAGES"]
    assert [] == check_removed_settings() + check_storages()


def test_staticfiles_storage_naming_the_static_class_needs_no_namespace(clean):
    """STATICFILES_STORAGE with the in-memory static class: E001; its default namespace is kept."""
    clean.STATICFILES_STORAGE = "inmemorystorage.InMemoryStaticFilesStorage"
    (message,) = check_removed_settings()
    assert "inmemorystorage.E001" == message.id
    assert "'staticfiles': {'BACKEND': 'inmemorystorage.InMemoryStaticFilesStorage'}," in (
        message.hint
    )


def test_another_backend_in_a_removed_setting_is_a_warning(clean):
    """DEFAULT_FILE_STORAGE naming another backend is W001: ignored, but nothing goes astray."""
    clean.DEFAULT_FILE_STORAGE = "django.core.files.storage.FileSystemStorage"
    (message,) = check_removed_settings()
    assert ("inmemorystorage.W001", checks.WARNING) == (message.id, message.level)
    assert "it has no effect" in message.msg


def test_a_removed_setting_that_repeats_storages_is_a_warning_to_remove_it(clean):
    """STATICFILES_STORAGE equal to STORAGES['staticfiles'] is W001: remove the leftover."""
    clean.STATICFILES_STORAGE = STATIC["BACKEND"]
    (message,) = check_removed_settings()
    assert ("inmemorystorage.W001", "Remove STATICFILES_STORAGE from your settings.") == (
        message.id,
        message.hint,
    )


def test_no_removed_setting_no_message(clean):
    """Without DEFAULT_FILE_STORAGE or STATICFILES_STORAGE there is nothing to say."""
    assert [] == check_removed_settings()


# E002 / W002: OPTIONS.


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"namespace": "d", "max_byte": 10}, "unknown option(s) 'max_byte'; the options are:"),
        ({"namespace": "d", "max_bytes": "64MB"}, "max_bytes must be None or an int"),
        ({"namespace": "d", "max_bytes": 10, "on_full": "drop"}, "on_full must be 'evict' or"),
        ({"namespace": ""}, "namespace must be None or a non-empty str"),
        (
            {"namespace": "a}:f:x", "server": "redis://127.0.0.1:1/0"},
            "namespace must not hold '{' or '}' with a server",
        ),
    ],
    ids=["unknown", "max_bytes", "on_full", "namespace", "namespace-brace"],
)
def test_bad_options_are_an_error_with_the_constructors_message(clean, options, words):
    """An option the storage refuses is E002, reported by check instead of the first request."""
    clean.STORAGES = {"default": memory(**options), "staticfiles": STATIC}
    (message,) = check_storages()
    assert ("inmemorystorage.E002", checks.ERROR) == (message.id, message.level)
    assert "STORAGES['default'] cannot be built from its OPTIONS" in message.msg
    assert words in message.msg


def test_a_subclass_option_is_checked_by_the_subclass(clean):
    """The manifest storage's own manifest_storage option is accepted, as its constructor does."""
    clean.STORAGES = {
        "default": memory(namespace="default"),
        "staticfiles": {
            "BACKEND": "inmemorystorage.InMemoryManifestStaticFilesStorage",
            "OPTIONS": {"manifest_storage": None},
        },
    }
    assert [] == check_storages()


def test_on_full_without_max_bytes_is_a_warning(clean):
    """on_full without max_bytes is accepted but has no effect: W002."""
    clean.STORAGES = {"default": memory(namespace="d", on_full="error"), "staticfiles": STATIC}
    (message,) = check_storages()
    assert ("inmemorystorage.W002", checks.WARNING) == (message.id, message.level)
    assert "no effect without max_bytes" in message.msg


def test_on_full_with_max_bytes_is_fine(clean):
    """on_full with max_bytes is what it is for."""
    clean.STORAGES = {
        "default": memory(namespace="d", max_bytes=1024, on_full="error"),
        "staticfiles": STATIC,
    }
    assert [] == check_storages()


# W003: a storage without namespace.


def test_a_storage_without_namespace_is_a_warning_that_names_the_fix(clean):
    """An in-memory storage in STORAGES without a namespace is W003; the hint gives the option."""
    clean.STORAGES = {"uploads": memory(), "staticfiles": STATIC}
    (message,) = check_storages()
    assert "inmemorystorage.W003" == message.id
    assert "Add \"namespace\": 'uploads' to STORAGES['uploads']['OPTIONS']" in message.hint


def test_no_namespace_warning_with_persist(clean):
    """With INMEMORYSTORAGE_PERSIST every instance shares one store: nothing to warn about."""
    clean.INMEMORYSTORAGE_PERSIST = True
    clean.STORAGES = {"default": memory(), "staticfiles": STATIC}
    assert [] == check_storages()


def test_no_namespace_warning_for_the_static_class_and_its_default_namespace(clean):
    """InMemoryStaticFilesStorage shares a namespace of its own without being told."""
    clean.STORAGES = {
        "default": memory(namespace="default"),
        "staticfiles": {"BACKEND": "inmemorystorage.InMemoryStaticFilesStorage"},
    }
    assert [] == check_storages()


def test_other_backends_are_not_looked_at(clean):
    """FileSystemStorage, or a backend that does not import, is not this check's business."""
    clean.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "broken": {"BACKEND": "no.such.Backend"},
        "staticfiles": STATIC,
    }
    assert [] == check_storages() + check_middleware()


# W004: the middleware.


def test_a_bounded_storage_without_the_middleware_is_a_warning(clean):
    """max_bytes without StorageFullMiddleware in MIDDLEWARE is W004."""
    clean.STORAGES = {"default": memory(namespace="d", max_bytes=1024), "staticfiles": STATIC}
    clean.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    (message,) = check_middleware()
    assert ("inmemorystorage.W004", f"Add {MIDDLEWARE!r} to MIDDLEWARE") == (
        message.id,
        message.hint.split(":")[0],
    )


def test_the_middleware_or_a_subclass_satisfies_the_check(clean):
    """With the middleware (or a subclass of it) installed, W004 is not raised."""
    clean.STORAGES = {"default": memory(namespace="d", max_bytes=1024), "staticfiles": STATIC}
    for middleware in (MIDDLEWARE, "tests.testapp.middleware.QuietStorageFullMiddleware"):
        clean.MIDDLEWARE = ["no.such.Middleware", middleware]
        assert [] == check_middleware()


def test_an_unbounded_storage_needs_no_middleware(clean):
    """Without max_bytes a storage is never full: no W004."""
    clean.MIDDLEWARE = []
    assert [] == check_middleware()


# W005: check --deploy.


def test_deploy_with_debug_off_warns_about_each_in_memory_storage(clean):
    """Under --deploy with DEBUG off, each in-memory storage in STORAGES is W005."""
    clean.DEBUG = False
    (message,) = check_deploy()
    assert "inmemorystorage.W005" == message.id
    assert "vanish when the process restarts" in message.msg


def test_deploy_with_debug_on_says_nothing(clean):
    """With DEBUG on (a developer's machine) --deploy does not warn about it."""
    assert [] == check_deploy()


# Registration by the app.


@pytest.fixture
def app_installed(settings):
    """The app in INSTALLED_APPS, so that its ready() registers the checks."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "inmemorystorage"]


@pytest.mark.usefixtures("app_installed")
def test_manage_py_check_reports_through_the_app(clean):
    """With the app installed, manage.py check stops on E001, naming it."""
    clean.STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    clean.DEFAULT_FILE_STORAGE = "inmemorystorage.InMemoryStorage"
    with pytest.raises(SystemCheckError, match=r"inmemorystorage\.E001"):
        call_command("check")


@pytest.mark.usefixtures("app_installed")
def test_the_deploy_check_runs_only_under_deploy(clean):
    """W005 is a deployment check: run by check --deploy, not by check."""
    clean.DEBUG = False
    assert "inmemorystorage.W005" not in ids(checks.run_checks())
    assert "inmemorystorage.W005" in ids(checks.run_checks(include_deployment_checks=True))


# Odd STORAGES entries: Django reports them when the storage is built; the checks never crash.

ODD_STORAGES = {
    "options-none": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": None},
    "options-list": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": ["max_bytes"]},
    "backend-none": {"BACKEND": None},
    "no-backend": {"OPTIONS": {}},
    "entry-str": "inmemorystorage.InMemoryStorage",
    "unimportable": {"BACKEND": "no.such.module.Storage"},
    "module-raising": {"BACKEND": "tests.raising_backend.Storage"},
}


@pytest.mark.parametrize("entry", ODD_STORAGES.values(), ids=ODD_STORAGES)
def test_every_check_runs_on_an_odd_storages_entry(clean, entry):
    """No check raises, whatever a STORAGES entry holds: `manage.py check` must get to report."""
    clean.STORAGES = {"default": memory(namespace="d"), "odd": entry, "staticfiles": STATIC}
    clean.DEFAULT_FILE_STORAGE = "inmemorystorage.InMemoryStorage"
    clean.DEBUG = False
    for check in (check_removed_settings, check_storages, check_middleware, check_deploy):
        check()


@pytest.mark.parametrize("options", [None, ["max_bytes"], "max_bytes"], ids=["none", "list", "str"])
def test_options_that_are_no_dict_are_an_error(clean, options):
    """OPTIONS must be a dict: E002 says so, where Django would fail on the first request."""
    clean.STORAGES = {
        "default": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": options},
        "staticfiles": STATIC,
    }
    (message,) = check_storages()
    assert ("inmemorystorage.E002", checks.ERROR) == (message.id, message.level)
    assert "STORAGES['default']['OPTIONS'] must be a dict" in message.msg
