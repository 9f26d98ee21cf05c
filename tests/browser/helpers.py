"""Steps the browser tests share."""

from __future__ import annotations


def sign_in(page, base: str, username: str) -> None:
    """Through the console's login form, with the factory's password."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
