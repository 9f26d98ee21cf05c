"""Steps the browser tests share."""

from __future__ import annotations


def sign_in(page, base: str, username: str) -> None:
    """Through the console's login form, with the factory's password."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def sign_out(page) -> None:
    page.click("text=退出")
    page.wait_for_selector("text=您已安全退出")


def desktop_page(browser, width: int = 1280):
    """A Chinese-locale desktop tab that gives up on a selector after 15 s."""
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
    page.set_default_timeout(15_000)
    return page
