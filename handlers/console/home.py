"""The home dashboard and the navigation bar."""

from __future__ import annotations

from flask import current_app, render_template, request, url_for

from handlers.console import bp
from handlers.console.auth import login_required
from handlers.console.common import request_now
from handlers.context import current_person, db, settings
from models import Role
from services.admin.operations import LOCAL_TZ, calendar_warning
from services.orders import queries as order_queries
from services.permissions import can_create_order
from services.statistics.kpis import can_view_statistics

BOARD_ROLES = (Role.DISPATCHER, Role.BIZENV_OFFICE, Role.SYSADMIN)
# The 86912345 desk's intake screen (handlers/console/desk.py).
DESK_ROLES = (Role.DESK_OPERATOR, Role.DISPATCHER, Role.SYSADMIN)
COCKPIT_LANDING_ROLES = (Role.DISTRICT_LEADER, Role.BIZENV_OFFICE)
# Who may open ``admin.index`` and ``registry.enterprises`` (the pages check for themselves; this
# only hides the links).
ADMIN_ROLES = (Role.SYSADMIN, Role.DISPATCHER)
REGISTRY_ROLES = (Role.SYSADMIN, Role.ZONE_ADMIN, Role.DISPATCHER)


def nav_items(person) -> list[dict]:
    """The top navigation: only the links this person can use."""
    if person is None:
        return []
    items = [{"endpoint": "console.orders", "label": "工单", "prefix": "/orders"}]
    if can_create_order(person):
        items.append({"endpoint": "console.new_order", "label": "新建诉求", "prefix": "/orders/new"})
    if person.role in DESK_ROLES:
        items.append({"endpoint": "console.desk_page", "label": "来电受理", "prefix": "/desk"})
    if person.role in BOARD_ROLES:
        items.append({"endpoint": "console.board", "label": "调度台", "prefix": "/board"})
    if person.role == Role.SYSADMIN and settings().sandbox_enabled:
        items.append({"endpoint": "console.sandbox", "label": "沙箱消息", "prefix": "/sandbox"})
    if "grid.index" in current_app.view_functions:
        items.append({"endpoint": "grid.index", "label": "网格", "prefix": "/grid"})
    if person.role in ADMIN_ROLES and "admin.index" in current_app.view_functions:
        items.append({"endpoint": "admin.index", "label": "管理", "prefix": "/admin"})
    if person.role == Role.SYSADMIN and "studio.index" in current_app.view_functions:
        items.append({"endpoint": "studio.index", "label": "配置", "prefix": "/studio"})
    if person.role in REGISTRY_ROLES:
        items.append({"endpoint": "registry.enterprises", "label": "企业库", "prefix": "/registry"})
    elif person.role == Role.DISTRICT_LEADER:  # the census only, read only
        items.append({"endpoint": "registry.census", "label": "企业底数", "prefix": "/registry"})
    items.append({"endpoint": "policies.index", "label": "政策", "prefix": "/policies"})
    items.append({"endpoint": "knowledge.index", "label": "知识库", "prefix": "/knowledge"})
    if can_view_statistics(person):
        items.append({"endpoint": "statistics.cockpit_view", "label": "驾驶舱", "prefix": "/statistics/cockpit"})
        items.append({"endpoint": "statistics.index", "label": "统计", "prefix": "/statistics"})
    for item in items:
        item["url"] = url_for(item["endpoint"])
    # The longest matching prefix is the current page ("新建诉求" rather than "工单" on /orders/new).
    matches = [i for i in items if request.path.startswith(i["prefix"])]
    if matches:
        max(matches, key=lambda i: len(i["prefix"]))["current"] = True
    return items


@bp.app_context_processor
def _navigation():
    return {"nav_items": lambda: nav_items(current_person()), "product_name": "有需必应 · 北辰区政企同行服务平台"}


CALENDAR_KEEPERS = (Role.SYSADMIN, Role.DISPATCHER, Role.BIZENV_OFFICE)


@bp.route("/")
@login_required
def home():
    person = current_person()
    # District leaders and the 营商环境办 land on the 驾驶舱; "工作台" (?view=work) is the work overview.
    if person.role in COCKPIT_LANDING_ROLES and can_view_statistics(person) and request.args.get("view") != "work":
        from handlers.statistics.pages import cockpit_page

        return cockpit_page()
    counts = order_queries.dashboard_counts(db(), person, request_now())
    # District administrators hear about next year's missing holiday plan from 1 November on.
    warning = (calendar_warning(db(), request_now().astimezone(LOCAL_TZ).date())
               if person.role in CALENDAR_KEEPERS else None)
    return render_template("console/home.html", counts=counts, board=person.role in BOARD_ROLES,
                           can_create=can_create_order(person), calendar_warning=warning)
