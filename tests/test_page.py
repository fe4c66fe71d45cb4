"""The storage page: what the in-memory storages of this process hold, served under DEBUG only."""

from __future__ import annotations

import io
import os
import re
import tarfile
import types
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from inmemorystorage import InMemoryStorage, dump, page
from inmemorystorage.engine import StoredFile
from inmemorystorage.page import EvictionRow
from inmemorystorage.urls import PAGE_PREFIX, media_urlpatterns, storage_page_urlpatterns

PAGE = f"/{PAGE_PREFIX}"
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


def urlconf(patterns):
    """A URLconf module holding *patterns*, as a project's urls.py would."""
    module = types.ModuleType("page_urls")
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    return module


def memory(**options):
    return {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": options}


@pytest.fixture
def site(settings):
    """DEBUG on, media and the page in the URLconf, a bounded default storage named "media"."""
    settings.DEBUG = True
    settings.STORAGES = {
        "default": memory(namespace="media", max_bytes=64 * 1024),
        "staticfiles": STATIC,
    }
    settings.ROOT_URLCONF = urlconf(media_urlpatterns())
    return settings


def test_a_missing_file_s_404_says_each_process_holds_its_own_files(site, client):
    """A file saved in manage.py shell is not in runserver: the 404 says why, and where to look."""
    response = client.get("/media/from-the-shell.txt")
    assert 404 == response.status_code
    text = response.content.decode()
    assert f"This server process (pid {os.getpid()}) holds its own in-memory files" in text
    assert f"{PAGE} shows what this process holds" in text


def test_a_missing_file_s_404_names_the_option_where_the_page_is_not_routed(site, client):
    """Without the page, the 404 points to server=, which shares one store between processes."""
    site.ROOT_URLCONF = urlconf(media_urlpatterns(page=False))
    text = client.get("/media/from-the-shell.txt").content.decode()
    assert "the option server= shares one store between processes" in text


def get_page(client, query=""):
    response = client.get(PAGE + query)
    assert 200 == response.status_code, response.content
    return response.content.decode()


def store_section(html, key):
    """The part of the page about the store with *key*."""
    match = re.search(
        rf'<section class="store"[^>]*data-key="{re.escape(key)}".*?</section>', html, re.DOTALL
    )
    assert match, f"no store {key!r} on the page"
    return match[0]


def figure(section, name):
    """A figure of a store's card (files, dirs, ...) as the page shows it."""
    return unescape(re.search(rf'<dd class="{name}"[^>]*>(.*?)</dd>', section)[1])


# Served under DEBUG only.


def test_media_urlpatterns_serves_the_page(site, client):
    """The URLconf line that serves MEDIA_URL also serves the page at /__inmemorystorage__/."""
    assert "In-memory storage" in get_page(client)


def test_no_page_without_debug(settings):
    """With DEBUG off the URL patterns leave the page out, as they leave out the files."""
    settings.DEBUG = False
    assert [] == storage_page_urlpatterns()


def test_the_page_answers_404_once_debug_is_off(site, client):
    """A URLconf built under DEBUG stops serving the page when DEBUG goes off."""
    site.DEBUG = False
    assert 404 == client.get(PAGE).status_code


def test_the_page_can_be_left_out_of_media_urlpatterns(site):
    """media_urlpatterns(page=False) serves only the files."""
    assert 1 == len(media_urlpatterns(page=False))


def test_the_page_needs_a_prefix(site):
    """An empty prefix would take the site's root: ImproperlyConfigured."""
    with pytest.raises(ImproperlyConfigured, match="needs a prefix such as"):
        storage_page_urlpatterns("/")


def test_the_page_can_live_under_another_prefix(site, client):
    """storage_page_urlpatterns() puts the page under the prefix given."""
    site.ROOT_URLCONF = urlconf(storage_page_urlpatterns("/dev/files/"))
    assert 200 == client.get("/dev/files/").status_code


# What it shows.


def test_the_page_says_it_shows_this_process_only(site, client):
    """The page names this process and says that manage.py shell is another one."""
    html = get_page(client)
    note = re.search(r'<section class="note" id="this-process">(.*?)</section>', html, re.DOTALL)[1]
    assert f"process {os.getpid()}" in note
    assert "<code>manage.py shell</code>" in note


def test_each_store_shows_its_alias_namespace_and_figures(site, client):
    """A store's card names its alias and namespace, its files, bytes used and max_bytes."""
    storage = storages["default"]
    storage.save("a.txt", ContentFile(b"x" * 100))
    section = store_section(get_page(client), "default")
    stats = storage.stats()
    assert "STORAGES[&#x27;default&#x27;], namespace &#x27;media&#x27;" in section
    assert ("1", "100\xa0bytes", "64.0\xa0KB") == (
        figure(section, "files"),
        figure(section, "content"),
        figure(section, "max"),
    )
    assert f'aria-valuenow="{stats.bytes_used}"' in section


def test_the_budget_bar_is_as_wide_as_the_share_used(site, client):
    """The bar's width is bytes_used over max_bytes, in percent."""
    storage = storages["default"]
    storage.save("big.bin", ContentFile(b"x" * 32 * 1024))
    percent = 100 * storage.stats().bytes_used / (64 * 1024)
    section = store_section(get_page(client), "default")
    assert f'style="width: {percent:.1f}%"' in section


def test_files_are_a_tree_with_sizes_and_links(site, client):
    """Directories nest their files; each file has its size, its URL and a download link."""
    storage = storages["default"]
    storage.save("photos/2026/cat.png", ContentFile(b"p" * 10))
    storage.save("notes.txt", ContentFile(b"n" * 3))
    section = store_section(get_page(client), "default")
    tree = re.sub(r"\s+", " ", section[section.index('<ul class="tree">') :])
    assert re.search(
        r'<li class="dir" data-path="photos">.*?<li class="dir" data-path="photos/2026">.*?'
        r'<li class="file" data-name="photos/2026/cat.png">.*?</ul></details></li> '
        r'</ul></details></li> <li class="file" data-name="notes.txt">',
        tree,
    )
    assert 'href="/media/photos/2026/cat.png"' in tree
    assert 'title="10 bytes"' in tree
    assert "file?store=default&amp;name=photos%2F2026%2Fcat.png" in tree


def test_a_directory_shows_the_files_and_bytes_below_it(site, client):
    """A directory's summary counts every file below it, with their bytes."""
    storage = storages["default"]
    storage.save("docs/a.txt", ContentFile(b"a" * 5))
    storage.save("docs/old/b.txt", ContentFile(b"b" * 7))
    section = store_section(get_page(client), "default")
    summary = re.search(r'data-path="docs"><details open><summary>(.*?)</summary>', section)[1]
    assert '<span class="meta">2 files, 12\xa0bytes</span>' in summary


def test_a_shared_namespace_is_shown_as_the_server_holds_it(site, client, clean_redis):
    """On Redis, the card and the tree show the namespace's files, sizes and times."""
    site.STORAGES = {
        "default": memory(namespace="media", server=clean_redis),
        "staticfiles": STATIC,
    }
    storage = storages["default"]
    created, modified = 1_700_000_000.0, 1_750_000_000.0
    storage.load_files([StoredFile("docs/a.txt", b"a" * 5, created, modified)])
    storage.save("docs/old/b.txt", ContentFile(b"b" * 7))
    section = store_section(get_page(client), "default")
    assert ("2", "2") == (figure(section, "files"), figure(section, "dirs"))
    summary = re.search(r'data-path="docs"><details open><summary>(.*?)</summary>', section)[1]
    assert '<span class="meta">2 files, 12\xa0bytes</span>' in summary
    row = re.search(r'<li class="file" data-name="docs/a.txt">.*?</li>', section, re.DOTALL)[0]
    assert 'title="5 bytes"' in row
    shown = [timezone.localtime(datetime.fromtimestamp(t, tz=UTC)) for t in (created, modified)]
    assert f'title="created {shown[0]:%Y-%m-%d %H:%M:%S}">{shown[1]:%Y-%m-%d %H:%M:%S}<' in row


def test_recent_evictions_are_listed_newest_first_with_times(site, client):
    """Evicted files show with their size and when they went, the latest first."""
    site.STORAGES = {"default": memory(namespace="small", max_bytes=3000), "staticfiles": STATIC}
    storage = storages["default"]
    for number in range(3):
        storage.save(f"logs/{number}.txt", ContentFile(b"x" * 1000))
    section = store_section(get_page(client), "default")
    rows = re.findall(r'<tr data-name="([^"]+)"><td class="name">', section)
    assert ["logs/1.txt", "logs/0.txt"] == rows
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">', section)


def test_only_the_latest_evictions_are_listed(site, client, monkeypatch):
    """Beyond MAX_LISTED_EVICTIONS the page lists the latest and says how many it remembers."""
    monkeypatch.setattr(page, "MAX_LISTED_EVICTIONS", 2)
    site.STORAGES = {"default": memory(namespace="small", max_bytes=3000), "staticfiles": STATIC}
    storage = storages["default"]
    for number in range(5):
        storage.save(f"logs/{number}.txt", ContentFile(b"x" * 1000))
    section = store_section(get_page(client), "default")
    rows = re.findall(r'<tr data-name="([^"]+)"><td class="name">', section)
    assert ["logs/3.txt", "logs/2.txt"] == rows
    remembered = len(storage.recent_evictions())
    assert f"The latest 2 of the {remembered} evictions it remembers." in section


def test_a_namespace_outside_storages_is_listed_with_downloads(site, client):
    """A store shared by namespace only is listed too; its files download through the page."""
    InMemoryStorage(namespace="thumbnails").save("t.png", ContentFile(b"t"))
    section = store_section(get_page(client), "namespace:thumbnails")
    assert "namespace &#x27;thumbnails&#x27;" in section
    assert 'class="open"' not in section
    assert "file?store=namespace%3Athumbnails&amp;name=t.png" in section


def test_a_static_files_store_links_to_downloads_only(site, client):
    """A static storage's files come through the page: runserver's static URLs serve the apps'."""
    site.STORAGES = {
        "default": memory(namespace="media"),
        "staticfiles": {"BACKEND": "inmemorystorage.InMemoryStaticFilesStorage"},
    }
    site.STATIC_ROOT = "/srv/static"
    site.STATIC_URL = "/static/"
    storages["staticfiles"].save("app.css", ContentFile(b"a{}"))
    section = store_section(get_page(client), "staticfiles")
    assert "STORAGES[&#x27;staticfiles&#x27;], static files of /srv/static" in section
    assert ('href="/static/app.css"' in section, "file?store=staticfiles" in section) == (
        False,
        True,
    )


def test_a_static_store_with_a_namespace_links_to_downloads_only(site, client):
    """Whatever shares its store, a static storage's files are not linked at STATIC_URL."""
    site.STORAGES = {
        "default": memory(namespace="media"),
        "staticfiles": {
            "BACKEND": "inmemorystorage.InMemoryStaticFilesStorage",
            "OPTIONS": {"namespace": "assets"},
        },
    }
    site.STATIC_URL = "/static/"
    storages["staticfiles"].save("app.css", ContentFile(b"a{}"))
    section = store_section(get_page(client), "staticfiles")
    assert ('class="open"' in section, "namespace &#x27;assets&#x27;" in section) == (False, True)


def test_the_persist_store_is_named_as_such(site, client):
    """With INMEMORYSTORAGE_PERSIST, an alias without a namespace is the persist store's."""
    site.INMEMORYSTORAGE_PERSIST = True
    site.STORAGES = {"default": memory(), "staticfiles": STATIC}
    storages["default"].save("a.txt", ContentFile(b"x"))
    section = store_section(get_page(client), "default")
    assert "STORAGES[&#x27;default&#x27;], the INMEMORYSTORAGE_PERSIST store" in section


@pytest.mark.parametrize(("content_bytes", "level"), [(100, "ok"), (1000, "high"), (1300, "full")])
def test_the_bar_turns_amber_then_red(site, client, content_bytes, level):
    """Under 75 % the bar is green, from 75 % amber, from 95 % red."""
    site.STORAGES = {"default": memory(namespace="bar", max_bytes=2000), "staticfiles": STATIC}
    storages["default"].save("a.txt", ContentFile(b"x" * content_bytes))
    section = store_section(get_page(client), "default")
    assert f'<div class="bar {level}" role="meter"' in section


def test_an_eviction_long_ago_says_how_long():
    """An eviction a minute old or more says how long ago; a newer one says just now."""
    now = datetime.now(tz=UTC)
    rows = [EvictionRow("a.txt", 1, now - timedelta(minutes=5)), EvictionRow("b.txt", 1, now)]
    assert ["5\xa0minutes ago", "just now"] == [row.ago for row in rows]


def test_two_aliases_of_one_namespace_are_one_store(site, client):
    """Aliases that share a namespace share a card, which names both."""
    site.STORAGES = {
        "default": memory(namespace="media"),
        "uploads": memory(namespace="media"),
        "staticfiles": STATIC,
    }
    html = get_page(client)
    assert 1 == html.count('<section class="store"')
    assert "STORAGES[&#x27;default&#x27;], STORAGES[&#x27;uploads&#x27;]" in html


def test_a_storage_that_cannot_be_built_is_reported(site, client):
    """An alias whose OPTIONS are wrong is shown with the constructor's message."""
    site.STORAGES = {"default": memory(namespace="media", on_ful="error"), "staticfiles": STATIC}
    html = get_page(client)
    assert "unknown option(s) &#x27;on_ful&#x27;" in html


def test_names_are_escaped(site, client):
    """A hostile file name is text on the page, never markup."""
    storages["default"].save("<script>alert(1)</script>.txt", ContentFile(b"x"))
    html = get_page(client)
    assert ("<script>" in html, "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in html) == (
        False,
        True,
    )


def test_a_deep_tree_renders(site, client):
    """Hundreds of nested directories render (the tree is built without recursion)."""
    name = "/".join(["d"] * 300) + "/deep.txt"
    InMemoryStorage(namespace="deep").save(name, ContentFile(b"x"))
    html = get_page(client)
    assert (300, 300) == (html.count('<li class="dir"'), html.count("</ul></details></li>"))


def test_a_large_store_lists_its_first_files(site, client, monkeypatch):
    """Beyond MAX_LISTED_FILES the page lists the first ones and says how many there are."""
    monkeypatch.setattr(page, "MAX_LISTED_FILES", 3)
    storage = storages["default"]
    for number in range(5):
        storage.save(f"{number}.txt", ContentFile(b"x"))
    section = store_section(get_page(client), "default")
    assert 3 == section.count('<li class="file"')
    assert "The first 3 of 5 files, by name; the tar has them all." in section


def test_listing_is_not_a_use(site, client):
    """Showing the page reads no file: hits and the recency order stay as they were."""
    storage = storages["default"]
    storage.save("a.txt", ContentFile(b"x"))
    before = storage.stats()
    get_page(client)
    assert before == storage.stats()


# Downloads, loading and clearing.


def test_a_file_downloads_through_the_page(site, client):
    """The download link answers with the file's bytes as an attachment."""
    storages["default"].save("docs/report.pdf", ContentFile(b"%PDF-1.7"))
    response = client.get(f"{PAGE}file", {"store": "default", "name": "docs/report.pdf"})
    assert (200, b"%PDF-1.7", 'attachment; filename="report.pdf"') == (
        response.status_code,
        b"".join(response.streaming_content) if response.streaming else response.content,
        response.headers["Content-Disposition"],
    )


def test_an_unknown_store_is_404(site, client):
    """A key that names no store of this process gets a 404."""
    assert 404 == client.get(f"{PAGE}file", {"store": "nope", "name": "a.txt"}).status_code


def test_a_store_downloads_as_a_tar_that_loads_back(site, client):
    """The tar download holds every file, as dump() writes it."""
    storage = storages["default"]
    storage.save("a.txt", ContentFile(b"alpha"))
    storage.save("b/c.txt", ContentFile(b"gamma"))
    response = client.get(f"{PAGE}tar", {"store": "default"})
    body = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}
    assert {"a.txt": b"alpha", "b/c.txt": b"gamma"} == members
    assert 'attachment; filename="default.tar"' == response.headers["Content-Disposition"]


def tar_of(files):
    """A tar (as dump() writes it) of *files*, a dict of name to bytes."""
    source = InMemoryStorage()
    for name, content in files.items():
        source.save(name, ContentFile(content))
    buffer = io.BytesIO()
    dump(source, buffer)
    return buffer.getvalue()


def test_a_server_that_does_not_answer_hides_its_store_not_the_page(site, client):
    """One shared store whose Redis server is down: the page answers and says which store."""
    site.STORAGES = {
        **site.STORAGES,
        "shared": memory(namespace="far", server="redis://127.0.0.1:1/0"),
    }
    storages["shared"]  # built, as a request that used it would build it
    response = client.get(PAGE)
    html = unescape(response.content.decode())
    assert 200 == response.status_code
    assert (
        "namespace 'far' on redis://127.0.0.1:1/0 cannot be shown: "
        "the Redis server at redis://127.0.0.1:1/0 did not answer"
    ) in html
    assert "namespace 'media'" in html


def test_a_directory_counts_every_file_below_it_beyond_those_listed(site, client, monkeypatch):
    """Past the files listed, a directory's count and size are still of all its files."""
    monkeypatch.setattr(page, "MAX_LISTED_FILES", 2)
    for index in range(5):
        storages["default"].save(f"b/{index}.txt", ContentFile(b"x" * 10))
    html = unescape(client.get(PAGE).content.decode())
    assert "5 files, 50\xa0bytes" in html
    assert "The first 2 of 5 files" in html


def test_a_tar_loads_into_a_store(site, client):
    """Posting a tar stores its files and says how many, after a redirect."""
    upload = SimpleUploadedFile("media.tar", tar_of({"x/y.txt": b"why"}))
    response = client.post(f"{PAGE}load?store=default", {"archive": upload}, follow=True)
    assert b"why" == storages["default"].open("x/y.txt").read()
    assert "Loaded 1 file(s) into STORAGES[&#x27;default&#x27;]" in response.content.decode()


@pytest.mark.parametrize("count", ["²", "①", "9" * 5000, "-1", "1e3"])
def test_a_crafted_count_in_the_query_string_is_not_shown(site, client, count):
    """``loaded=`` is only ever a count the load wrote: anything else is ignored, never a 500."""
    response = client.get(PAGE, {"store": "default", "loaded": count})
    assert 200 == response.status_code
    assert "Loaded" not in response.content.decode()


def test_a_refused_tar_loads_nothing_and_says_why(site, client):
    """A tar with a name that exists already is refused as a whole: 400, the reason, no file."""
    storages["default"].save("a.txt", ContentFile(b"kept"))
    upload = SimpleUploadedFile("media.tar", tar_of({"a.txt": b"new", "b.txt": b"b"}))
    response = client.post(f"{PAGE}load?store=default", {"archive": upload})
    assert 400 == response.status_code
    page = unescape(response.content.decode())
    assert "Nothing was loaded from 'media.tar' into STORAGES['default']" in page
    assert "'a.txt' already exists; tick “replace files of the same name”" in page
    assert (b"kept", False) == (
        storages["default"].open("a.txt").read(),
        storages["default"].exists("b.txt"),
    )


def test_a_load_without_a_file_is_refused(site, client):
    """Posting the form without a tar is a 400 that asks for one."""
    response = client.post(f"{PAGE}load?store=default", {})
    assert (400, True) == (response.status_code, "Choose a tar file" in response.content.decode())


def test_clearing_empties_the_store(site, client):
    """The clear button removes every file of the store."""
    storages["default"].save("a.txt", ContentFile(b"x"))
    response = client.post(f"{PAGE}clear?store=default", follow=True)
    assert 0 == storages["default"].stats().files
    assert "Cleared STORAGES[&#x27;default&#x27;]" in response.content.decode()


def test_the_page_gives_the_csrf_token_its_forms_need(site):
    """Without CsrfViewMiddleware too, the page sets the cookie that its forms' token matches."""
    storages["default"].save("a.txt", ContentFile(b"x"))
    browser = Client(enforce_csrf_checks=True)
    html = browser.get(PAGE).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    response = browser.post(f"{PAGE}clear?store=default", {"csrfmiddlewaretoken": token})
    assert (303, 0) == (response.status_code, storages["default"].stats().files)


def test_posts_need_the_csrf_token(site):
    """Loading and clearing are protected against cross-site requests."""
    storages["default"].save("a.txt", ContentFile(b"x"))
    response = Client(enforce_csrf_checks=True).post(f"{PAGE}clear?store=default")
    assert (403, 1) == (response.status_code, storages["default"].stats().files)
