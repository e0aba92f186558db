"""The app as a real server, and a real Chromium to look at it: shared by the browser tests and the screenshots.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright for Python; `playwright install` is never needed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
WIDTH = 1400
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_app(
    database_url: str, *, timeout: float = START_TIMEOUT, root: Path = REPO_ROOT, script: str = "app/server.py"
) -> Iterator[str]:
    """Start `streamlit run app/server.py` on a free local port against `database_url`; yield its base URL. `root`:
    another checkout of the repository to serve instead (its packages come first on the path)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = os.environ | {"DATABASE_URL": database_url, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    if root != REPO_ROOT:
        env["PYTHONPATH"] = str(root)
    command = [sys.executable, "-m", "streamlit", "run", script]
    command += ["--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(base_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace")
                    raise RuntimeError(f"the app did not start on {base_url}:\n{output}")
                time.sleep(0.2)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (Playwright Browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until_idle(page, timeout: float = 30_000) -> None:
    """Wait until the script run is over and the page has drawn."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)


def submit_sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page, base_url: str, username: str, password: str) -> None:
    submit_sign_in(page, base_url, username, password)
    signed_in(page)


def signed_in(page) -> None:
    """Wait until the sign-in is complete: the session cookie set (the browser has been to /session/open and back)
    and the page asked for drawn."""
    page.get_by_role("button", name="Sign out").wait_for(timeout=30_000)
    page.wait_for_function("() => !location.pathname.startsWith('/session/')", timeout=30_000)
    for _ in range(150):
        if any(cookie["name"] == "wb_session" for cookie in page.context.cookies()):
            break
        page.wait_for_timeout(100)
    page.get_by_role("button", name="Sign out").wait_for(timeout=30_000)
    wait_until_idle(page)


def open_page(page, title: str) -> None:
    """Click a page's link in the sidebar navigation (a new URL would start a new, signed-out session)."""
    page.locator('[data-testid="stPageLink-NavLink"]', has_text=title).first.click()
    page.get_by_role("heading", level=1).first.wait_for()
    wait_until_idle(page)


def shown_item(page) -> str:
    """The judging page's current item, once its key script has marked it (it runs after the page has drawn)."""
    page.wait_for_function("Boolean(document.body.dataset.wbItem)", timeout=30_000)
    return page.evaluate("document.body.dataset.wbItem")


def next_item_shown(page, before: str) -> None:
    page.wait_for_function(f"document.body.dataset.wbItem !== {before!r}", timeout=30_000)
    wait_until_idle(page)


def full_page_png(page, path: Path) -> None:
    """Streamlit scrolls inside its main block, so grow the window to the content's height, then shoot it whole."""
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]') || document.body;
            const content = document.querySelector('[data-testid="stMainBlockContainer"]') || main;
            return Math.max(content.scrollHeight + 80, main.scrollHeight, 700);
        }"""
    )
    page.set_viewport_size({"width": WIDTH, "height": int(height)})
    wait_until_idle(page)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
