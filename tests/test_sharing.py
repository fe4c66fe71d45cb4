"""Which instances share files, and how the storage deconstructs for migrations."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.test import override_settings

from inmemorystorage import InMemoryStorage

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def test_instances_have_their_own_files():
    """Two plain instances do not see each other's files, as in Django."""
    first, second = InMemoryStorage(), InMemoryStorage()
    first.save("f", ContentFile(b"x"))
    assert not second.exists("f")


def test_a_namespace_is_shared():
    """Instances with one namespace share one store."""
    first = InMemoryStorage(namespace="uploads")
    second = InMemoryStorage(namespace="uploads")
    other = InMemoryStorage(namespace="other")
    first.save("f", ContentFile(b"x"))
    assert (True, False) == (second.exists("f"), other.exists("f"))


@override_settings(INMEMORYSTORAGE_PERSIST=True)
def test_persist_setting_shares_instances_without_namespace():
    """INMEMORYSTORAGE_PERSIST = True (from 2.1.0) makes namespace-less instances share."""
    first, second = InMemoryStorage(), InMemoryStorage()
    first.save("f", ContentFile(b"x"))
    assert second.open("f").read() == b"x"
    assert not InMemoryStorage(namespace="private").exists("f")


def test_clear_empties_the_shared_store():
    """clear() on one instance empties the namespace for all."""
    first = InMemoryStorage(namespace="n")
    first.save("f", ContentFile(b"x"))
    InMemoryStorage(namespace="n").clear()
    assert not first.exists("f")


def test_deconstruct_default():
    """A default instance deconstructs to the public path with no arguments."""
    assert ("inmemorystorage.InMemoryStorage", (), {}) == InMemoryStorage().deconstruct()


def test_deconstruct_keeps_given_arguments():
    """Given arguments come back from deconstruct(), for migrations."""
    kwargs = {
        "location": "/files",
        "base_url": "/f/",
        "allow_overwrite": True,
        "namespace": "ns",
        "max_bytes": 1024,
        "on_full": "error",
    }
    assert kwargs == InMemoryStorage(**kwargs).deconstruct()[2]


def test_equality_follows_configuration():
    """Instances with the same arguments are equal; others are not."""
    assert InMemoryStorage(base_url="/a/") == InMemoryStorage(base_url="/a/")
    assert InMemoryStorage(base_url="/a/") != InMemoryStorage(base_url="/b/")
    assert InMemoryStorage() != object()
    assert hash(InMemoryStorage()) == hash(InMemoryStorage())


@override_settings(MEDIA_ROOT="media_root", MEDIA_URL="/m/")
def test_settings_are_read_lazily_and_follow_changes():
    """Setting-backed defaults follow setting_changed; explicit values do not."""
    defaults, explicit = InMemoryStorage(), InMemoryStorage(base_url="/explicit/")
    assert ("/m/", "/explicit/") == (defaults.base_url, explicit.base_url)
    with override_settings(MEDIA_URL="/changed/", MEDIA_ROOT="other_root"):
        assert ("/changed/", "/explicit/") == (defaults.base_url, explicit.base_url)
        assert defaults.location.endswith("other_root")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("namespace", ""),
        ("namespace", 3),
        ("max_bytes", -1),
        ("max_bytes", True),
        ("max_bytes", 1.5),
        ("max_bytes", "1024"),
        ("max_bytes", [1024]),
        ("on_full", "drop"),
        ("on_full", None),
    ],
)
def test_bad_options_are_improperly_configured(option, value):
    """A bad option value raises ImproperlyConfigured naming the option and the value."""
    with pytest.raises(ImproperlyConfigured, match=option) as info:
        InMemoryStorage(**{option: value})
    assert repr(value) in str(info.value)


def test_a_namespace_cannot_change_its_budget():
    """A second instance that states a different budget for a namespace is refused."""
    InMemoryStorage(namespace="b", max_bytes=10_000)
    with pytest.raises(ImproperlyConfigured, match="max_bytes=10000"):
        InMemoryStorage(namespace="b", max_bytes=20_000)


def test_a_namespace_user_without_budget_shares_the_first_budget():
    """An instance that states no budget adopts the namespace's."""
    InMemoryStorage(namespace="c", max_bytes=10_000)
    assert InMemoryStorage(namespace="c").max_bytes == 10_000
