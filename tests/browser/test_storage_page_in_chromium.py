"""The storage page and the debug-toolbar panel in headless Chromium, under a real runserver.

The site is the one docs/howto/see-what-runserver-holds.md builds (page,
command and toolbar panel), with a small budget so that loading evicts, and
a view that saves and reads a note for the panel to show. Files reach the
server the way a user gives them to it: a tar loaded through the page's
form. Screenshots of the page and of the panel are saved in
BROWSER_ARTIFACTS (storage-page.png, storage-panel.png).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from inmemorystorage import InMemoryStorage, dump
from tests.browser.test_demo_in_chromium import ARTIFACTS, WAIT_SECONDS, headless_chromium
from tests.test_docs import DOCS, _command, _env, _free_port, _request, build

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as exc:  # fail, never skip: this module is only collected to be run
    pytest.fail(
        f"the browser tests need selenium (nox -s browser installs it): {exc}", pytrace=False
    )

HOWTO = DOCS / "howto" / "see-what-runserver-holds.md"
MAX_BYTES = 64 * 1024
#: Added to the how-to's site: a small budget, and a page whose view stores a note.
SITE_APPENDS = {
    "mysite/settings.py": f"""
        STORAGES["default"]["OPTIONS"]["max_bytes"] = {MAX_BYTES}
        DEBUG_TOOLBAR_CONFIG = {{"SHOW_COLLAPSED": True}}  # the page's screenshot shows the page
        """,
    "uploads/views.py": """
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage
        from django.http import HttpResponse


        def note(request):
            name = default_storage.save("notes/hello.txt", ContentFile(b"Hello from a view."))
            with default_storage.open(name) as file:
                text = file.read().decode()
            return HttpResponse(f"<!doctype html><html><body><p>{text}</p></body></html>")
        """,
    "mysite/urls.py": """
        from uploads.views import note

        urlpatterns.append(path("note/", note))
        """,
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The how-to's project under its own runserver on a free port, stopped at the end."""
    root = tmp_path_factory.mktemp("see-what-runserver-holds")
    project = build(HOWTO, root)
    for name, code in SITE_APPENDS.items():
        with (root / name).open("a") as target:
            target.write("\n" + textwrap.dedent(code))
    port = _free_port()
    (server_block,) = project.servers
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / "storage-page-runserver.log").open("w")
    server = subprocess.Popen(
        [*_command(server_block.code.strip()), "--noreload", f"127.0.0.1:{port}"],
        cwd=root,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=30)
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()


def _wait_for(port, server):
    """Until the server answers the page, or fail with its output."""
    for _attempt in range(600):
        if server.poll() is not None:
            pytest.fail("runserver exited: see storage-page-runserver.log", pytrace=False)
        with contextlib.suppress(OSError):
            if _request(port, "GET", "/__inmemorystorage__/")[0] == 200:
                return
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=0.1)
    pytest.fail("runserver did not serve the page within 60 s", pytrace=False)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium, wide enough for the page's file tree, with a fresh profile."""
    driver = headless_chromium(
        tmp_path_factory.mktemp("chromium-profile"),
        "storage-page-chromedriver.log",
        "--window-size=1280,1400",
    )
    driver.set_script_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


def tar_of(files: dict[str, bytes], path: Path) -> Path:
    """A tar at *path* holding *files*, as the page's download writes one."""
    source = InMemoryStorage()
    for name, content in files.items():
        source.save(name, ContentFile(content))
    dump(source, path)
    return path


def load_through_the_page(browser, site, archive: Path) -> str:
    """Load *archive* with the default store's form; the page's message after the redirect."""
    browser.get(f"{site}/__inmemorystorage__/")
    card = browser.find_element(By.CSS_SELECTOR, 'section.store[data-key="default"]')
    card.find_element(By.CSS_SELECTOR, 'form.load input[name="archive"]').send_keys(
        os.fspath(archive)
    )
    card.find_element(By.CSS_SELECTOR, 'form.load button[type="submit"]').click()
    done = WebDriverWait(browser, WAIT_SECONDS).until(lambda b: b.find_elements(By.ID, "done"))
    return done[0].text


def card(browser):
    return browser.find_element(By.CSS_SELECTOR, 'section.store[data-key="default"]')


def test_the_page_says_it_shows_this_process_only(browser, site):
    """The note names the server's process and says that manage.py shell is another one."""
    browser.get(f"{site}/__inmemorystorage__/")
    note = browser.find_element(By.ID, "this-process").text
    assert re.search(r"This page shows this process only: process \d+\.", note)
    assert "manage.py shell" in note


def test_a_loaded_tar_shows_as_a_tree_with_sizes(browser, site, tmp_path):
    """Files loaded through the form are listed under their directories, with their sizes."""
    files = {f"photos/2026/cat-{number}.jpg": bytes([number]) * 6000 for number in range(4)}
    files["docs/readme.txt"] = b"Kept in memory by runserver.\n"
    message = load_through_the_page(browser, site, tar_of(files, tmp_path / "first.tar"))
    assert message.startswith("Loaded 5 file(s) into STORAGES['default'], namespace 'media'")
    rows = card(browser).find_elements(By.CSS_SELECTOR, "li.file")
    assert sorted(files) == sorted(row.get_attribute("data-name") for row in rows)
    photos = card(browser).find_element(By.CSS_SELECTOR, 'li.dir[data-path="photos"] summary')
    assert "photos/ 4 files, 23.4 KB" == photos.text
    size = card(browser).find_element(By.CSS_SELECTOR, 'li.file[data-name="docs/readme.txt"] .size')
    assert ("29 bytes", "29 bytes") == (size.text, size.get_attribute("title"))


def test_loading_past_the_budget_evicts_and_the_page_shows_it(browser, site, tmp_path):
    """A second tar that does not fit with the first evicts; the evictions are listed, timed."""
    files = {f"videos/clip-{number}.bin": b"v" * 12000 for number in range(3)}
    load_through_the_page(browser, site, tar_of(files, tmp_path / "second.tar"))
    evicted = card(browser).find_elements(By.CSS_SELECTOR, "table.evictions tbody tr")
    names = [row.get_attribute("data-name") for row in evicted]
    assert names
    assert all(name.startswith(("photos/", "docs/")) for name in names)
    when = evicted[0].find_element(By.TAG_NAME, "time").get_attribute("datetime")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", when)
    bar = card(browser).find_element(By.CSS_SELECTOR, "div.bar")
    used = int(bar.get_attribute("aria-valuenow"))
    width = bar.find_element(By.TAG_NAME, "span").value_of_css_property("width")
    total = bar.value_of_css_property("width")
    share = float(width.removesuffix("px")) / float(total.removesuffix("px"))
    assert used <= MAX_BYTES
    assert abs(share - used / MAX_BYTES) < 0.02  # a border's pixels
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(os.fspath(ARTIFACTS / "storage-page.png"))


def test_a_file_downloads_through_the_page_with_its_bytes(browser, site):
    """A file's download link gives its very bytes."""
    browser.get(f"{site}/__inmemorystorage__/")
    link = card(browser).find_element(By.CSS_SELECTOR, 'li.file[data-name^="videos/"] a.download')
    script = """
        const [url, done] = arguments;
        fetch(url).then(async (response) => {
            const bytes = new Uint8Array(await response.arrayBuffer());
            let binary = "";
            for (const byte of bytes) binary += String.fromCharCode(byte);
            done([response.status, btoa(binary)]);
        }).catch((error) => done([0, String(error)]));
    """
    status, body = browser.execute_async_script(script, link.get_attribute("href"))
    assert (200, b"v" * 12000) == (status, base64.b64decode(body))


def test_the_toolbar_panel_lists_the_requests_operations(browser, site):
    """On a page whose view saves and reads a note, the panel lists both, with the budget."""
    browser.get(f"{site}/note/")
    toolbar = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: b.find_element(By.ID, "djDebugRoot").shadow_root
    )
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda _: toolbar.find_element(By.ID, "djShowToolBarButton").is_displayed()
    )
    toolbar.find_element(By.ID, "djShowToolBarButton").click()
    button = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda _: toolbar.find_element(By.CSS_SELECTOR, "#djdt-InMemoryStoragePanel a")
    )
    assert re.match(r"In-memory storage\n2 operations, 36 bytes, \d+\.\d\d ms", button.text)
    button.click()
    operations = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda _: toolbar.find_elements(By.CSS_SELECTOR, "#inmemorystorage-operations tbody tr")
    )
    kinds = [row.get_attribute("class") for row in operations]
    names = {row.get_attribute("data-name") for row in operations}
    assert (["save", "open"], {"notes/hello.txt"}) == (kinds, names)
    stores = toolbar.find_element(By.CSS_SELECTOR, "#inmemorystorage-stores").text
    assert "STORAGES['default'], namespace 'media'" in stores
    page_link = toolbar.find_element(By.LINK_TEXT, "storage page").get_attribute("href")
    assert f"{site}/__inmemorystorage__/" == page_link
    browser.save_screenshot(os.fspath(ARTIFACTS / "storage-panel.png"))
