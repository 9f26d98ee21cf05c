"""Excel exports with Chinese headers, filtered like the console lists: the ledger and enterprise lists."""

from __future__ import annotations

from flask import request

from handlers.boundary import arg_id
from handlers.console.auth import login_required
from handlers.console.orders import _filters_from
from handlers.context import current_person, db, now
from handlers.grid import bp
from handlers.grid.common import xlsx_download
from models import Role
from services import inputs, xlsx_export
from services.errors import PermissionDenied
from services.xlsx_export import EnterpriseFilters

# Enterprise lists are registry data: the roles that look after enterprises, not departments.
ENTERPRISE_ROLES = (Role.SYSADMIN, Role.DISPATCHER, Role.BIZENV_OFFICE, Role.DISTRICT_LEADER, Role.ZONE_ADMIN,
                    Role.SERVICE_STAFF)


@bp.get("/exports/orders.xlsx")
@login_required
def export_orders():
    """The ledger (台账): the orders the list shows for the same query string, every page of them."""
    person = current_person()
    moment = now()
    sheet = xlsx_export.ledger_sheet(db(), person, _filters_from(request.args), moment)
    return xlsx_download([sheet], "工单台账")


def enterprise_filters(args) -> EnterpriseFilters:
    def number(name):
        return arg_id(name, args)

    zone = (args.get("zone") or args.get("zone_id") or "").strip()
    return EnterpriseFilters(
        zone_id=inputs.to_id(zone),
        unassigned=zone == "none" or args.get("unassigned") == "1",
        status=(args.get("status") or "").strip()[:16],
        entity_type=(args.get("entity_type") or args.get("type") or "").strip()[:16],
        staff_id=number("staff"),
        no_staff=args.get("no_staff") == "1",
        key_industry=args.get("key_industry") == "1",
        q=(args.get("q") or "").strip()[:100],
    )


@bp.get("/exports/enterprises.xlsx")
@login_required
def export_enterprises():
    person = current_person()
    if person.role not in ENTERPRISE_ROLES:
        raise PermissionDenied("您的角色无权导出企业名录")
    sheet = xlsx_export.enterprise_sheet(db(), person, enterprise_filters(request.args), now())
    return xlsx_download([sheet], "企业名录")
