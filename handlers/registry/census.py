"""The census (摸清企业底数): per zone, by entity type and status, with this month's changes."""

from __future__ import annotations

from flask import render_template

from handlers.console.auth import roles_required
from handlers.context import current_person, db, now
from handlers.registry import bp
from models import EntityType, RegistrationStatus
from services.registry import enterprises as registry
from services.registry.enterprises import CENSUS_ROLES


@bp.get("/census")
@roles_required(*CENSUS_ROLES)
def census():
    person = current_person()
    data = registry.census(db(), person, now())
    groups = {k: label for k, (label, _s) in RegistrationStatus.GROUPS.items()}
    return render_template("registry/census.html", census=data, entity_types=EntityType.LABELS, groups=groups,
                           linked=registry.can_open_list(person))
