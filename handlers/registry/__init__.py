"""The enterprise registry console (/registry): the list, profiles, the census (底数) and the imports.

System administrators, zone admins (their own zone) and the grid-center dispatcher look; the
district leader reads the census only; system administrators import. Queries and edits live in ``services.registry.enterprises``, imports in
``services.registry.importer`` / ``services.registry.import_jobs`` (run by the jobs process).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("registry", __name__, url_prefix="/registry")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.registry import census, enterprises, imports  # noqa: E402

__all__ = ["bp", "census", "enterprises", "imports"]
