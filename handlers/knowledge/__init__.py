"""The knowledge console (/knowledge): 知识库 (Q&A entries), 案例库 (cases from closed orders),
应答手册 (the high-frequency handbook), and the similar-content lookup the new-request form uses.

Handlers parse the form, call one operation in ``services.knowledge.entries`` / ``cases`` / ``handbook``
and render; who may do what is decided there, the request boundary commits.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("knowledge", __name__, url_prefix="/knowledge")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.knowledge import cases, common, entries, handbook  # noqa: E402

__all__ = ["bp", "cases", "common", "entries", "handbook"]
