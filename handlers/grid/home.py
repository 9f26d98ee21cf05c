"""The grid's landing page: what needs doing, and the tools this person may use."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from handlers.console.auth import login_required
from handlers.context import current_person, db
from handlers.grid import bp
from handlers.grid.common import MANAGERS, PLACERS, POSTER_ROLES
from models import Enterprise
from services.grid import rules as zone_rules
from services.grid.public_contact import pending_requests_count


@bp.get("/")
@login_required
def index():
    person = current_person()
    session = db()
    zones = zone_rules.managed_zones(session, person) if person.role in MANAGERS else []
    overview = zone_rules.zones_overview(session, zones)
    unassigned = (session.scalar(select(func.count(Enterprise.id)).where(Enterprise.zone_id.is_(None))) or 0
                  if person.role in PLACERS else None)
    return render_template(
        "grid/index.html", overview=overview, unassigned=unassigned,
        managers=person.role in MANAGERS, placers=person.role in PLACERS, posters=person.role in POSTER_ROLES,
        pending=pending_requests_count(session, person),
    )
