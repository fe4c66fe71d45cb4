"""The demo in headless Chromium, driven by selenium: what a developer does in the browser.

Run by ``nox -s browser``, which installs Chromium, chromedriver and selenium
and says where they are (CHROMIUM, CHROMEDRIVER). Nothing here skips: a
missing browser fails the run with the reason.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import struct
import wave
from pathlib import Path

import pytest

from tests.demo_server import ROOT, running_demo

try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as exc:  # fail, never skip: this module is only collected to be run
    pytest.fail(
        f"the browser tests need selenium (nox -s browser installs it): {exc}", pytrace=False
    )

ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / ".nox" / "artifacts" / "browser"))
WAIT_SECONDS = 30
#: What Chromium as root in a container needs, and what keeps it off the network.
CHROMIUM_ARGUMENTS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1100,1300",
]


@pytest.fixture(scope="module")
def server():
    """The demo under runserver, its output kept beside the screenshot."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_demo(ARTIFACTS / "runserver.log") as demo:
        yield demo


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with a fresh profile, through the chromedriver Debian ships."""
    driver = headless_chromium(tmp_path_factory.mktemp("chromium-profile"), "chromedriver.log")
    yield driver
    driver.quit()


def headless_chromium(profile: Path, log_name: str, *arguments: str) -> webdriver.Chrome:
    """Chromium as CHROMIUM and CHROMEDRIVER name it, headless, its driver's log in ARTIFACTS.

    Fails (never skips) when they name no files: the tests must not pass without a browser.
    """
    chromium, chromedriver = os.environ.get("CHROMIUM"), os.environ.get("CHROMEDRIVER")
    if not (
        chromium and chromedriver and Path(chromium).is_file() and Path(chromedriver).is_file()
    ):
        pytest.fail(
            f"CHROMIUM={chromium!r} and CHROMEDRIVER={chromedriver!r} must name the browser and "
            "its driver: run these tests with nox -s browser, which installs them",
            pytrace=False,
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in [*CHROMIUM_ARGUMENTS, *arguments, f"--user-data-dir={profile}"]:
        options.add_argument(argument)
    service = webdriver.ChromeService(
        executable_path=chromedriver, log_output=os.fspath(ARTIFACTS / log_name)
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT_SECONDS)
    return driver


def upload(browser, server, path: Path) -> str:
    """Upload *path* through the page's form; return the name the page says it was saved as."""
    browser.get(f"{server.url}/")
    browser.find_element(By.ID, "id_file").send_keys(os.fspath(path))
    browser.find_element(By.ID, "submit").click()
    saved = WebDriverWait(browser, WAIT_SECONDS).until(lambda b: b.find_elements(By.ID, "saved"))
    return saved[0].find_element(By.TAG_NAME, "a").text


def stat(browser, name: str) -> int:
    """One of the page's storage figures (files, bytes, evictions) as a number."""
    return int(browser.find_element(By.ID, f"stats-{name}").text)


def fetch_base64(browser, url: str) -> tuple[int, str]:
    """GET *url* from the page with fetch(); the status and the body in base64."""
    script = """
        const [url, done] = arguments;
        fetch(url).then(async (response) => {
            const bytes = new Uint8Array(await response.arrayBuffer());
            let binary = "";
            for (const byte of bytes) binary += String.fromCharCode(byte);
            done([response.status, btoa(binary)]);
        }).catch((error) => done([0, String(error)]));
    """
    status, body = browser.execute_async_script(script, url)
    return status, body


def tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A short 440 Hz tone as a WAV file, which every Chromium plays."""
    frames = b"".join(
        struct.pack("<h", round(12000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(round(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def test_an_upload_is_listed_with_its_size_and_counted_in_the_stats(browser, server, tmp_path):
    """After an upload the page lists the file with its size, and the stats count it."""
    browser.set_script_timeout(WAIT_SECONDS)
    browser.get(f"{server.url}/")
    files_before, bytes_before = stat(browser, "files"), stat(browser, "bytes")
    path = tmp_path / "browser-notes.txt"
    path.write_bytes(b"Written in Chromium, kept in memory.\n")
    name = upload(browser, server, path)
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-name="{name}"]')
    assert str(path.stat().st_size) == row.find_element(By.CLASS_NAME, "size").text
    assert files_before + 1 == stat(browser, "files")
    assert stat(browser, "bytes") >= bytes_before + path.stat().st_size


def test_the_link_serves_the_same_bytes(browser, server, tmp_path):
    """Following the file's link shows its text; fetch() of its URL gets the very bytes."""
    content = bytes(range(256)) * 64 + b"\nend of binary\n"
    path = tmp_path / "browser-bytes.bin"
    path.write_bytes(content)
    upload(browser, server, path)
    text = tmp_path / "browser-link.txt"
    text.write_bytes(b"Served by inmemorystorage.views.serve")
    name = upload(browser, server, text)
    browser.find_element(By.LINK_TEXT, name).click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda b: b.current_url.endswith(f"/media/{name}"))
    assert "Served by inmemorystorage.views.serve" == browser.find_element(By.TAG_NAME, "body").text
    status, body = fetch_base64(browser, f"{server.url}/media/{path.name}")
    assert (200, content) == (status, base64.b64decode(body))


def test_audio_loads_through_range_requests(browser, server, tmp_path):
    """An <audio> element loads (and plays) an uploaded WAV; Chromium's Range requests get 206."""
    path = tmp_path / "browser-tone.wav"
    path.write_bytes(tone_wav())
    name = upload(browser, server, path)
    audio = browser.find_element(By.CSS_SELECTOR, f'tr[data-name="{name}"] audio')
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: b.execute_script("return arguments[0].readyState >= 2", audio)
    )
    duration = browser.execute_script("return arguments[0].duration", audio)
    browser.execute_script("arguments[0].play().catch(() => {})", audio)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(os.fspath(ARTIFACTS / "demo.png"))
    ranged = re.findall(rf'"GET /media/{re.escape(name)} HTTP/1\.1" 206 ', server.output())
    assert (1.0, True) == (round(duration, 1), len(ranged) >= 1)
