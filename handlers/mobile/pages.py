"""The mobile pages: my work, the submit form, my orders, one order, the return-visit answer."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from handlers.boundary import arg_page
from handlers.console.common import (
    ATTACH,
    VISIT_METHODS,
    action_forms_context,
    create_order_from_form,
    new_order_page_context,
    request_now,
    send_attachment,
    viewable_order,
    visible_actions,
)
from handlers.context import current_person, db, settings
from handlers.mobile import bp
from handlers.mobile.auth import mobile_login_required, signed_in_channel
from handlers.mobile.native import native_platform
from models import Role, Satisfaction
from services.errors import DomainError, InvalidTransition, PermissionDenied
from services.orders import operations as wo
from services.orders import queries as order_queries
from services.orders.lifecycle import Action, State
from services.permissions import can, can_create_order

# Every action of the console has its phone form (the same handlers, ``handlers.console.actions``).
MOBILE_ACTIONS = (
    Action.SIGN, Action.REPLY, Action.RESOLVE, Action.RETURN, Action.TRANSFER, Action.REQUEST_EXTENSION,
    Action.FEEDBACK, Action.VISIT, Action.ACCEPT, Action.REJECT, Action.DISPATCH, Action.DECIDE_EXTENSION,
    Action.SUSPEND, Action.RESUME, Action.SUPERVISE, Action.REOPEN, Action.ARCHIVE, Action.COMMENT,
    Action.ESCALATE, Action.JOINT_MEETING, Action.INSTRUCT, "city_reference", ATTACH,
)
LIST_TABS = (
    ("", "全部"),
    (State.RECEIVED, "待甄别"),
    (State.PENDING_DISPATCH, "待派单"),
    (State.DISPATCHED, "待签收"),
    (State.PROCESSING, "办理中"),
    (State.RESOLVED, "待反馈"),
    (State.FED_BACK, "待回访"),
    (State.ARCHIVED, "已归档"),
)
INLINE_TYPES = ("image/", "application/pdf")
HUB_ROLES = (Role.DISPATCHER, Role.BIZENV_OFFICE, Role.SYSADMIN)


@lru_cache(maxsize=8)
def _asset_version(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


@bp.context_processor
def _mobile_globals():
    def asset(filename: str) -> str:
        # A content hash in the URL: in-app browsers keep stale CSS/JS otherwise.
        path = Path(current_app.static_folder) / filename
        version = _asset_version(str(path), path.stat().st_mtime) if path.is_file() else "0"
        return url_for("static", filename=filename, v=version)

    return {"mobile_asset": asset, "channel_labels": wo.CHANNEL_LABELS}


def _page(template: str, *, status: int = 200, **context):
    return render_template(f"mobile/{template}", **context), status


# --------------------------------------------------------------------------------------------
# My work
# --------------------------------------------------------------------------------------------
def _orders(person, *, state: str | None = None, mine: bool = False, per_page: int = 10):
    filters = order_queries.OrderFilters(state=state, mine=mine, per_page=per_page)
    return order_queries.search_orders(db(), person, filters, request_now())


@bp.get("/")
@mobile_login_required
def home():
    person = current_person()
    counts = order_queries.dashboard_counts(db(), person, request_now())
    sections = []
    if person.role in Role.DEPARTMENT_ROLES:
        sections.append(("待报到", _orders(person, state=State.DISPATCHED, per_page=20), State.DISPATCHED,
                         "没有等待报到的工单"))
        sections.append(("办理中", _orders(person, state=State.PROCESSING, per_page=20), State.PROCESSING,
                         "没有办理中的工单"))
    elif person.role in HUB_ROLES:
        sections.append(("待派单", _orders(person, state=State.PENDING_DISPATCH), State.PENDING_DISPATCH,
                         "没有等待派单的工单"))
    else:
        zone_side = person.role in Role.ZONE_ROLES
        sections.append(("我的工单" if zone_side else "最近工单", _orders(person, mine=zone_side), "",
                         "还没有工单，点击上方“提交诉求”登记企业诉求" if zone_side else "暂无工单"))
    return _page("home.html", person=person, counts=counts, sections=sections, title="我的工作",
                 can_create=can_create_order(person), hub=person.role in HUB_ROLES,
                 department_side=person.role in Role.DEPARTMENT_ROLES)


@bp.get("/orders")
@mobile_login_required
def orders():
    person = current_person()
    state = request.args.get("state") or ""
    if state not in State.LABELS:
        state = ""
    mine = person.role in Role.ZONE_ROLES and request.args.get("all") != "1"
    filters = order_queries.OrderFilters(state=state or None, mine=mine,
                                         q=(request.args.get("q") or "").strip()[:100],
                                         page=arg_page(), per_page=15)
    page = order_queries.search_orders(db(), person, filters, request_now())
    return _page("orders.html", page=page, tabs=LIST_TABS, state=state, q=filters.q, mine=mine,
                 zone_side=person.role in Role.ZONE_ROLES, title="我的工单" if mine else "工单")


# --------------------------------------------------------------------------------------------
# Submit
# --------------------------------------------------------------------------------------------
def _new_order_page(form: MultiDict, *, error: DomainError | None = None, status: int = 200):
    return _page("order_new.html", status=status, error=error, title="提交诉求",
                 **new_order_page_context(form, limit=10, list_without_query=False, error=error))


@bp.route("/orders/new", methods=["GET", "POST"])
@mobile_login_required
def new_order():
    person = current_person()
    if not can_create_order(person):
        raise PermissionDenied(f"您的角色（{person.role_label}）不能提交诉求；请由为企服务人员或片区管理员提交")
    if request.method == "GET":
        return _new_order_page(MultiDict(request.args))
    if request.form.get("do") == "search":  # the search button, for phones without JavaScript
        return _new_order_page(MultiDict(request.form))
    try:
        submission = create_order_from_form(person, signed_in_channel())
    except DomainError as error:
        return _new_order_page(MultiDict(request.form), error=error, status=error.http_status)
    order = submission.order
    if submission.replayed:
        flash(f"该诉求已提交过（工单号 {order.number}），未重复创建。", "info")
    elif order.duplicate_of is not None:
        flash(f"诉求已提交，工单号 {order.number}，已关联到原诉求 {order.duplicate_of.number}，由区网格中心合并办理。", "info")
    elif order.state == State.RECEIVED:
        flash(f"诉求已提交，工单号 {order.number}。系统甄别提示可能不属于受理范围，请在下方确认。", "warning")
    else:
        flash(f"诉求已提交，工单号 {order.number}，当前状态：{State.LABELS.get(order.state)}", "success")
    return redirect(url_for("mobile.order_detail", number=order.number))


# --------------------------------------------------------------------------------------------
# One order
# --------------------------------------------------------------------------------------------
def mobile_actions(person, order) -> tuple[list[str], bool]:
    """The actions this person may take here, and whether more wait in the console."""
    everything = visible_actions(person, order)
    here = [a for a in everything if a in MOBILE_ACTIONS]
    return here, len(here) < len(everything)


def render_detail(order, *, error: DomainError | None = None, form_action: str | None = None,
                  form: MultiDict | None = None, status: int = 200):
    actions, more_in_console = mobile_actions(current_person(), order)
    supervised = next((e for e in reversed(order.events) if e.action == Action.SUPERVISE), None)
    if supervised is not None and any(e.action == Action.REPLY and e.id > supervised.id for e in order.events):
        supervised = None  # answered already
    # Inside the WeCom or DingTalk client its JS bridge adds the phone's location to the photos.
    s = settings()
    platform = native_platform(s) if ATTACH in actions else ""
    native = {"platform": platform, "sdk": s.wecom.jssdk_url if platform == "wecom" else s.dingtalk.jsapi_url,
              "jsapi": url_for(f"mobile.{platform}_jsapi")} if platform else None
    return _page(
        "order_detail.html", status=status, more_in_console=more_in_console, supervised=supervised,
        native=native,
        title=order.number,
        **action_forms_context(order, actions, suggest=Action.DISPATCH in actions or Action.TRANSFER in actions,
                               error=error, form_action=form_action, form=form),
    )


@bp.get("/orders/<number>")
@mobile_login_required
def order_detail(number: str):
    return render_detail(viewable_order(number))


def render_survey(order, *, error: DomainError | None = None, form: MultiDict | None = None, status: int = 200):
    return _page("survey.html", status=status, order=order, satisfactions=Satisfaction.ALL,
                 needs_comment=[s for s in Satisfaction.ALL if s not in Satisfaction.POSITIVE],
                 visit_methods=VISIT_METHODS, error=error, form=form or MultiDict(), title="登记回访")


@bp.get("/orders/<number>/survey")
@mobile_login_required
def survey(number: str):
    """The return visit as a page of its own: the staff member reads out the five levels."""
    order = viewable_order(number)
    person = current_person()
    if not can(person, Action.VISIT, order):
        raise PermissionDenied(f"您（{person.role_label}）无权为工单 {order.number} 登记回访")
    if order.state != State.FED_BACK:
        raise InvalidTransition(f"工单当前状态为「{State.LABELS.get(order.state, order.state)}」，不需要登记回访")
    return render_survey(order)


@bp.get("/attachments/<int:attachment_id>")
@mobile_login_required
def attachment(attachment_id: int):
    # Photos and PDFs open in the in-app viewer; anything else downloads.
    return send_attachment(attachment_id, inline_types=INLINE_TYPES)
