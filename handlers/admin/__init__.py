"""Administration pages: organisation, people, deadlines, holidays, screening rules, settings, logs.

System administrators edit; the grid-center dispatcher may look at the deadline policies and the
holiday calendar. Every change goes through ``services.admin.operations`` and is audited there.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.admin import home, logs, org, people, rules, sms  # noqa: E402

__all__ = ["bp", "home", "logs", "org", "people", "rules", "sms"]
