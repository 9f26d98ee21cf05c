"""配置中心 (the low-code studio): the district edits how the desk works, versioned.

System administrators edit; every change is a revision (``services.studio.store``) with a reason,
a readable diff and a restore button. The whole configuration goes out and comes back as one YAML
document, the same one ``flask --app wsgi config export/import`` writes and reads.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("studio", __name__, url_prefix="/studio")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.studio import dispatch, forms, home, message_templates  # noqa: E402

__all__ = ["bp", "dispatch", "forms", "home", "message_templates"]
