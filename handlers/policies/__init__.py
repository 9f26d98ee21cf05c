"""The policy console (/policies): the policy library, match preview, push campaigns, uptake,
training and consultation events with their questions.

Handlers only parse the form, call one operation in ``services.policies.library`` / ``policy_push`` /
``training`` and render; who may do what is decided there, the request boundary commits.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("policies", __name__, url_prefix="/policies")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.policies import campaigns, library, trainings, uptake  # noqa: E402

__all__ = ["bp", "campaigns", "library", "trainings", "uptake"]


@bp.context_processor
def _policy_tabs():
    from flask import current_app

    from handlers.policies.common import tabs

    return {"policy_tabs": tabs, "policy_endpoints": current_app.view_functions}
