"""System checks: what ``manage.py check`` says about this storage's configuration.

Registered by the app (``"inmemorystorage"`` in ``INSTALLED_APPS``). Each
message has an id and says what to do; docs/runserver.md lists them:

- ``inmemorystorage.E001``: ``DEFAULT_FILE_STORAGE`` or ``STATICFILES_STORAGE``
  names an in-memory backend, which Django (5.1 and later) ignores: files go
  to disk.
- ``inmemorystorage.W001``: one of those settings names another backend
  (also ignored), or repeats what ``STORAGES`` already says.
- ``inmemorystorage.E002``: an in-memory storage in ``STORAGES`` cannot be
  built from its ``OPTIONS``.
- ``inmemorystorage.W002``: ``OPTIONS`` that the storage accepts but that
  have no effect (``on_full`` without ``max_bytes``).
- ``inmemorystorage.W003``: an in-memory storage in ``STORAGES`` has no
  ``namespace``, so another instance of it sees none of its files.
- ``inmemorystorage.W004``: a storage has ``max_bytes`` but ``MIDDLEWARE``
  lacks :class:`~inmemorystorage.middleware.StorageFullMiddleware`, so a
  full storage is a 500.
- ``inmemorystorage.W005`` (``check --deploy``, ``DEBUG`` off): an in-memory
  storage in ``STORAGES``.
- ``inmemorystorage.E004``: a storage's Redis ``server`` does not answer.
- ``inmemorystorage.E005``: that server's ``maxmemory-policy`` could drop our keys.
- ``inmemorystorage.W006``: that server does not say its ``maxmemory-policy``.

``inmemorystorage.E003`` (the debug-toolbar panel without the app) is the
panel's own check, run by django-debug-toolbar (``panels.py``).
"""

from __future__ import annotations

import contextlib
import difflib
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .configured import in_memory_class, in_memory_storages, options_of
from .middleware import StorageFullMiddleware
from .storage import OPTION_NAMES, check_options

__all__ = ["check_deploy", "check_middleware", "check_removed_settings", "check_storages"]

#: The settings Django 5.1 removed, and the STORAGES alias each of them configured.
_REMOVED_SETTINGS = (("DEFAULT_FILE_STORAGE", "default"), ("STATICFILES_STORAGE", "staticfiles"))
_MIDDLEWARE = "inmemorystorage.middleware.StorageFullMiddleware"


def check_removed_settings(**kwargs: Any) -> list[checks.CheckMessage]:  # noqa: ARG001  # the check framework's signature
    """``DEFAULT_FILE_STORAGE`` / ``STATICFILES_STORAGE``: ignored since Django 5.1.

    dj-inmemorystorage 2.1.0's quick start sets ``DEFAULT_FILE_STORAGE``; on
    Django 5.1 and later the ``default`` storage then stays on disk while the
    project believes its files are in memory. The message shows the
    ``STORAGES`` setting to write instead.
    """
    messages: list[checks.CheckMessage] = []
    storages = dict(settings.STORAGES)
    for setting, alias in _REMOVED_SETTINGS:
        backend = getattr(settings, setting, None)
        if backend is None:
            continue
        configured = storages.get(alias, {})
        if not isinstance(configured, dict):
            configured = {}  # Django's to report, when the storage is built
        if configured.get("BACKEND") == backend:
            messages.append(
                checks.Warning(
                    f"{setting} = {backend!r} is ignored by Django 5.1 and later; "
                    f"STORAGES[{alias!r}] already uses that backend.",
                    hint=f"Remove {setting} from your settings.",
                    id="inmemorystorage.W001",
                )
            )
            continue
        in_memory = in_memory_class(backend) is not None
        actual = configured.get("BACKEND", "nothing")
        consequence = "files go to disk" if in_memory else "it has no effect"
        message_class = checks.Error if in_memory else checks.Warning
        messages.append(
            message_class(
                f"{setting} = {backend!r} is ignored by Django 5.1 and later: "
                f"STORAGES[{alias!r}] is {actual!r}, so {consequence}.",
                hint=(
                    f"Remove {setting} and configure the storage in STORAGES instead:\n"
                    f"{_storages_text({**storages, alias: _entry(backend, alias)})}"
                ),
                id="inmemorystorage.E001" if in_memory else "inmemorystorage.W001",
            )
        )
    return messages


def check_storages(**kwargs: Any) -> list[checks.CheckMessage]:  # noqa: ARG001  # the check framework's signature
    """Every in-memory storage in ``STORAGES`` builds from its ``OPTIONS``, and keeps its files.

    Each is built here as Django's ``storages`` handler builds it, so a bad
    option is reported by ``manage.py check`` with the constructor's own
    message, rather than by the first request that touches the storage;
    building it checks a subclass's own options too (``manifest_storage`` of
    the manifest static files storage), which :func:`check_options` does not
    know. Then :func:`check_options` finds what the constructor accepts but
    that has no effect.
    """
    messages: list[checks.CheckMessage] = []
    for alias, config, storage_class in in_memory_storages():
        options = config.get("OPTIONS", {})
        if not isinstance(options, dict):
            messages.append(
                checks.Error(
                    f"STORAGES[{alias!r}]['OPTIONS'] must be a dict, not "
                    f"{type(options).__name__}: {options!r}",
                    hint=f"Make STORAGES[{alias!r}]['OPTIONS'] a dict, or remove it.",
                    id="inmemorystorage.E002",
                )
            )
            continue
        options = dict(options)
        try:
            storage = storage_class(**options)
        except (ImproperlyConfigured, TypeError) as exc:
            messages.append(
                checks.Error(
                    f"STORAGES[{alias!r}] cannot be built from its OPTIONS: {exc}",
                    hint=f"{_suggestions(options)}Fix STORAGES[{alias!r}]['OPTIONS'].",
                    id="inmemorystorage.E002",
                )
            )
            continue
        try:
            # What the constructor accepts but has no effect (on_full without max_bytes).
            check_options(**{name: options[name] for name in options if name in OPTION_NAMES})
        except ImproperlyConfigured as exc:
            messages.append(
                checks.Warning(
                    f"STORAGES[{alias!r}]: {exc}.",
                    hint=f"Fix STORAGES[{alias!r}]['OPTIONS'].",
                    id="inmemorystorage.W002",
                )
            )
        messages.extend(_server_checks(alias, storage))
        if not storage.shared:
            messages.append(
                checks.Warning(
                    f"STORAGES[{alias!r}] has no namespace: each instance of it has its own "
                    "files, and other code can build a second instance that sees none of them "
                    "(a FileField's deconstruct(), a fresh StorageHandler(), two requests "
                    "building the storages handler at once).",
                    hint=(
                        f'Add "namespace": {_namespace_for(alias)!r} to '
                        f"STORAGES[{alias!r}]['OPTIONS'], or set INMEMORYSTORAGE_PERSIST = True."
                    ),
                    id="inmemorystorage.W003",
                )
            )
    return messages


def _server_checks(alias: str, storage: Any) -> list[checks.CheckMessage]:
    """What is wrong with the Redis server a storage keeps its files on, if it names one."""
    server = getattr(storage, "server", None)
    if server is None:
        return []
    from .redis_store import SAFE_POLICIES, redacted  # noqa: PLC0415  # only with a server

    url = redacted(server)
    try:
        policy = storage._store.eviction_policy()  # noqa: SLF001  # package-internal
    except OSError as exc:
        return [
            checks.Error(
                f"STORAGES[{alias!r}] keeps its files on the Redis server at {url}, which does "
                f"not answer: {exc}",
                hint="Start the server (redis-server), or fix OPTIONS['server'].",
                id="inmemorystorage.E004",
            )
        ]
    if policy is None:
        return [
            checks.Warning(
                f"STORAGES[{alias!r}]: the Redis server at {url} does not say its "
                "maxmemory-policy (CONFIG GET is refused), so it may drop stored files.",
                hint=f"Make sure its maxmemory-policy is one of {', '.join(SAFE_POLICIES)}.",
                id="inmemorystorage.W006",
            )
        ]
    if policy not in SAFE_POLICIES:
        return [
            checks.Error(
                f"STORAGES[{alias!r}]: the Redis server at {url} has maxmemory-policy "
                f"{policy!r}, under which it drops keys of its own accord: files would vanish "
                "behind the storage's back and its byte count would be wrong.",
                hint=(
                    "Set maxmemory-policy to noeviction (or a volatile-* policy) on that "
                    "server, or give the storage a server of its own; the storage's max_bytes "
                    "bounds its files instead."
                ),
                id="inmemorystorage.E005",
            )
        ]
    return []


def check_middleware(**kwargs: Any) -> list[checks.CheckMessage]:  # noqa: ARG001  # the check framework's signature
    """A bounded storage without ``StorageFullMiddleware``: a full storage would be a 500."""
    bounded = [
        alias
        for alias, config, _class in in_memory_storages()
        if options_of(config).get("max_bytes") is not None
    ]
    if not bounded or any(map(_is_storage_full_middleware, settings.MIDDLEWARE)):
        return []
    return [
        checks.Warning(
            f"STORAGES[{bounded[0]!r}] has max_bytes, but MIDDLEWARE lacks {_MIDDLEWARE!r}: "
            "an upload that does not fit is answered with a 500 page.",
            hint=f"Add {_MIDDLEWARE!r} to MIDDLEWARE: a 413 or 507 page then says what to change.",
            id="inmemorystorage.W004",
        )
    ]


def check_deploy(**kwargs: Any) -> list[checks.CheckMessage]:  # noqa: ARG001  # the check framework's signature
    """``check --deploy`` with ``DEBUG`` off: an in-memory storage loses files in production."""
    if settings.DEBUG:
        return []
    return [
        checks.Warning(
            f"STORAGES[{alias!r}] keeps its files in memory ({config['BACKEND']}): they vanish "
            "when the process restarts and are not shared between worker processes.",
            hint=(
                "In production settings, use a storage on disk or in the cloud, such as "
                "django.core.files.storage.FileSystemStorage."
            ),
            id="inmemorystorage.W005",
        )
        for alias, config, _class in in_memory_storages()
    ]


def _is_storage_full_middleware(path: str) -> bool:
    """Whether the ``MIDDLEWARE`` entry *path* is StorageFullMiddleware or a subclass."""
    if path == _MIDDLEWARE:
        return True
    with contextlib.suppress(ImportError):
        middleware = import_string(path)
        return isinstance(middleware, type) and issubclass(middleware, StorageFullMiddleware)
    return False


def _entry(backend: str, alias: str) -> dict[str, Any]:
    """The ``STORAGES`` entry for *backend*, with a namespace if the class has none of its own."""
    entry: dict[str, Any] = {"BACKEND": backend}
    storage_class = in_memory_class(backend)
    if storage_class is not None and not storage_class().shared:
        entry["OPTIONS"] = {"namespace": _namespace_for(alias)}
    return entry


def _namespace_for(alias: str) -> str:
    """The namespace the docs give the storage of *alias*: ``"media"`` for the default one."""
    return "media" if alias == "default" else alias


def _suggestions(options: dict[str, Any]) -> str:
    """``Did you mean 'on_full' for 'on_ful'? `` for each unknown option close to a real one."""
    suggestions = []
    for name in options:
        if name in OPTION_NAMES:
            continue
        close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
        if close:
            suggestions.append(f"Did you mean {close[0]!r} for {name!r}? ")
    return "".join(suggestions)


def _storages_text(storages: dict[str, Any]) -> str:
    """*storages* as the Python a settings module would hold."""
    lines = [f"    {alias!r}: {config!r}," for alias, config in storages.items()]
    return "\n".join(["STORAGES = {", *lines, "}"])
