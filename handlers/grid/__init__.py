"""The grid console (/grid): address rules, the 未分配 queue, staff within a zone, rosters, posters, exports.

Zone admins work on their own zone, system administrators on all of them; the grid center
(dispatcher) places unassigned enterprises. Every change goes through ``services.grid.rules``
(or the roster import) and is audited there.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("grid", __name__, url_prefix="/grid")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.grid import contacts, exports, home, people, posters, queue, requests, rules, staff  # noqa: E402

__all__ = ["bp", "contacts", "exports", "home", "people", "posters", "queue", "requests", "rules", "staff"]
