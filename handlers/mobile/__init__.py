"""The H5 pages opened from the WeCom workbench and the DingTalk micro-app: one set for both.

Light, mobile-first pages of their own (no console navigation): sign-in by the platform's
OAuth / 免登, my work by role, the submit form, my orders, an order with its timeline and
exactly the actions the person may take, and the return-visit answer page.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("mobile", __name__, url_prefix="/m")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.mobile import actions, auth, native, pages, policies  # noqa: E402

__all__ = ["actions", "auth", "bp", "native", "pages", "policies"]
