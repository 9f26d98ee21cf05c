"""/api/v1/reference: the ids, names and codes a client needs to fill in a request."""

from __future__ import annotations

from sqlalchemy import select

from handlers.api.actions import ACTIONS
from handlers.api.base import bp, ok
from handlers.context import db
from models import Department, DepartmentKind, RequestDomain, Satisfaction, ServiceStage, Zone
from services.orders import ladder, screening
from services.orders.lifecycle import State
from services.orders.operations import PRIORITIES
from services.orders.serializers import VISIT_METHODS


def _labelled(mapping: dict) -> list[dict]:
    return [{"value": key, "label": label} for key, label in mapping.items()]


def _department(d: Department) -> dict:
    return {"id": d.id, "code": d.code, "name": d.name, "kind": d.kind}


@bp.get("/reference")
def reference():
    session = db()
    zones = session.scalars(select(Zone).where(Zone.active.is_(True)).order_by(Zone.sort_order, Zone.id))
    departments = list(
        session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.id))
    )
    units: dict[int, list[Department]] = {}
    for d in departments:
        if d.parent_id is not None:
            units.setdefault(d.parent_id, []).append(d)
    stages = session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order, ServiceStage.id))
    domains = session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order, RequestDomain.id))
    return ok({
        "zones": [{"id": z.id, "code": z.code, "name": z.name, "kind": z.kind} for z in zones],
        "departments": [
            {**_department(d), "units": [_department(u) for u in units.get(d.id, [])]}
            for d in departments
            if d.parent_id is None and d.kind != DepartmentKind.HUB
        ],
        "hubs": [_department(d) for d in departments if d.kind == DepartmentKind.HUB],
        "stages": [
            {"id": s.id, "code": s.code, "name": s.name, "lead_department_id": s.lead_department_id} for s in stages
        ],
        "domains": [{"id": d.id, "code": d.code, "name": d.name} for d in domains],
        "enums": {
            "states": _labelled(State.LABELS),
            "levels": [{"value": level, "label": label} for level, label in ladder.LEVELS.items()],
            "priorities": _labelled(PRIORITIES),
            "actions": [{"value": name, "label": spec.summary} for name, spec in ACTIONS.items()],
            "satisfaction": [{"value": s, "label": s} for s in Satisfaction.ALL],
            "reject_categories": _labelled(screening.CATEGORIES),
            "city_routes": _labelled(ladder.CITY_ROUTES),
            "visit_methods": _labelled(VISIT_METHODS),
        },
    })
