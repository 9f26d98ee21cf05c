"""Pages for people outside the government side: no sign-in, no navigation (the survey link)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.public import contact, knowledge_pages, policy_page, survey, track  # noqa: E402

__all__ = ["bp", "contact", "knowledge_pages", "policy_page", "survey", "track"]
