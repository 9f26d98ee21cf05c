"""Browser tests: the real app served on 127.0.0.1 and driven by headless Chromium (Playwright)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def live_server(app, session_factory, tmp_path, monkeypatch):
    """The app on a free local port, in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    monkeypatch.setitem(app.config, "UPLOAD_ROOT", str(tmp_path / "uploads"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class CspWatchedBrowser:
    """A Playwright browser whose pages report what the Content-Security-Policy blocked.

    Chromium logs every violation (an inline script or handler, a foreign script, an inline style
    on the H5 pages) as a console error; a test that sees one fails, so a page that only works
    without the policy cannot pass.
    """

    def __init__(self, browser, violations: list[str]):
        self._browser = browser
        self._violations = violations

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def _seen(self, message) -> None:
        if "Content Security Policy" in message.text:
            self._violations.append(f"{message.location.get('url', '')}: {message.text}")

    def new_page(self, **options):
        page = self._browser.new_page(**options)
        page.on("console", self._seen)
        return page

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.on("console", self._seen)
        return context


@pytest.fixture
def csp_violations():
    found: list[str] = []
    yield found
    assert found == [], "the Content-Security-Policy blocked something a page needs"


@pytest.fixture
def browser(csp_violations):
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"Chromium 不可用：未找到 {CHROMIUM}，跳过浏览器测试")
    sync_api = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield CspWatchedBrowser(instance, csp_violations)
        finally:
            instance.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
