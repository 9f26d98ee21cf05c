"""The staff web console: sign-in, work orders, the dispatch board and the sandbox chat."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__)

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.console import actions, auth, board, common, desk, home, hotline, orders, sandbox  # noqa: E402

__all__ = ["actions", "auth", "board", "bp", "common", "desk", "home", "hotline", "orders", "sandbox"]
