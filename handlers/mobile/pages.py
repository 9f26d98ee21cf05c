"""The mobile pages: my work, the submit form, my orders, one order, the return-visit answer."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from handlers.console.common import checkbox, form_text, optional_int, request_now, upload_root
from handlers.console.orders import VISIT_METHODS, visible_actions
from handlers.context import current_person, db, op_context, settings
from handlers.mobile import bp
from handlers.mobile.auth import mobile_login_required, signed_in_channel
from models import Attachment, RequestDomain, Role, Satisfaction, ServiceStage
from services import attachments, order_queries
from services import workorders as wo
from services.errors import DomainError, InvalidTransition, PermissionDenied, ValidationFailed
from services.ladder import LEVELS
from services.lifecycle import Action, State
from services.permissions import can, can_create_order, ensure_can_view

# Actions whose forms fit a phone; the rest (升级, 联席会商, 市级编号) link to the console.
MOBILE_ACTIONS = (
    Action.SIGN, Action.REPLY, Action.RESOLVE, Action.RETURN, Action.TRANSFER, Action.REQUEST_EXTENSION,
    Action.FEEDBACK, Action.VISIT, Action.ACCEPT, Action.REJECT, Action.DISPATCH, Action.DECIDE_EXTENSION,
    Action.SUSPEND, Action.RESUME, Action.SUPERVISE, Action.REOPEN, Action.ARCHIVE, Action.COMMENT,
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
    raw_page = request.args.get("page", "")
    mine = person.role in Role.ZONE_ROLES and request.args.get("all") != "1"
    filters = order_queries.OrderFilters(state=state or None, mine=mine,
                                         q=(request.args.get("q") or "").strip()[:100],
                                         page=int(raw_page) if raw_page.isdigit() else 1, per_page=15)
    page = order_queries.search_orders(db(), person, filters, request_now())
    return _page("orders.html", page=page, tabs=LIST_TABS, state=state, q=filters.q, mine=mine,
                 zone_side=person.role in Role.ZONE_ROLES, title="我的工单" if mine else "工单")


# --------------------------------------------------------------------------------------------
# Submit
# --------------------------------------------------------------------------------------------
def _new_order_page(form: MultiDict, *, error: DomainError | None = None, status: int = 200):
    session = db()
    person = current_person()
    found = order_queries.search_enterprises(session, person, form.get("eq", ""), limit=10)
    raw_id = (form.get("enterprise_id") or "").strip()
    selected = order_queries.enterprise_in_scope(session, person, int(raw_id)) if raw_id.isdigit() else None
    if selected is not None and selected not in found:
        found = [selected, *found]
    return _page(
        "order_new.html", status=status, form=form, error=error, enterprises=found, selected=selected,
        domains=list(session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order))),
        stages=list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order))),
        departments=order_queries.department_choices(session), priorities=wo.PRIORITIES, levels=LEVELS,
        accept=attachments.ACCEPT_ATTR, allowed_label=attachments.ALLOWED_LABEL,
        max_mb=settings().upload_max_bytes // (1024 * 1024), title="提交诉求",
    )


def _new_order_from_form(person) -> wo.NewOrder:
    form = request.form
    enterprise_id = optional_int("enterprise_id", "企业")
    if enterprise_id is None or order_queries.enterprise_in_scope(db(), person, enterprise_id) is None:
        raise ValidationFailed("请选择企业（只能选择本片区的企业）", fields={"enterprise_id": "必选"})
    level = optional_int("level", "响应层级") or 1
    return wo.NewOrder(
        enterprise_id=enterprise_id,
        content=form.get("content", ""),
        title=form_text("title"),
        domain_id=optional_int("domain_id", "诉求领域"),
        stage_id=optional_int("stage_id", "服务阶段"),
        priority=form.get("priority") or "normal",
        is_complex=checkbox("is_complex"),
        level=level,
        department_id=optional_int("department_id", "承办部门") if level == 2 else None,
        contact_name=form_text("contact_name")[:64],
        contact_phone=form_text("contact_phone")[:32],
    )


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
    batch = None
    try:
        data = _new_order_from_form(person)
        files = [attachments.Upload(f.filename or "", f.stream) for f in request.files.getlist("attachments")]
        batch = attachments.store_uploads(files, upload_root(), max_bytes=settings().upload_max_bytes)
        order = wo.create_order(op_context(signed_in_channel()), replace(data, attachments=tuple(batch.records)))
    except DomainError as error:
        if batch is not None:
            batch.discard()
        db().rollback()
        return _new_order_page(MultiDict(request.form), error=error, status=error.http_status)
    except Exception:
        if batch is not None:  # no order will point at the files: do not leave them behind
            batch.discard()
        raise
    if order.state == State.RECEIVED:
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
    person = current_person()
    session = db()
    actions, more_in_console = mobile_actions(person, order)
    departments = order_queries.department_choices(session)
    names = {d.id: d.display_name for d in departments}
    suggested: list[int] = []
    if Action.DISPATCH in actions or Action.TRANSFER in actions:
        _, suggested = wo.classify(session, f"{order.title}\n{order.content}")
    return _page(
        "order_detail.html", status=status, order=order, actions=actions, more_in_console=more_in_console,
        action_labels=Action.LABELS, departments=departments, suggested=[d for d in suggested if d in names],
        pending_extension=next((r for r in order.extension_requests if r.status == "pending"), None),
        satisfactions=Satisfaction.ALL, visit_methods=VISIT_METHODS,
        max_returns=int(wo.setting(session, "max_returns", 3)),
        can_designate=person.role in (Role.DISPATCHER, Role.SYSADMIN),
        error=error, form_action=form_action, form=form or MultiDict(), title=order.number,
    )


def load_order(number: str):
    order = wo.get_order(db(), number)
    ensure_can_view(current_person(), order)
    return order


@bp.get("/orders/<number>")
@mobile_login_required
def order_detail(number: str):
    return render_detail(load_order(number))


def render_survey(order, *, error: DomainError | None = None, form: MultiDict | None = None, status: int = 200):
    return _page("survey.html", status=status, order=order, satisfactions=Satisfaction.ALL,
                 needs_comment=[s for s in Satisfaction.ALL if s not in Satisfaction.POSITIVE],
                 visit_methods=VISIT_METHODS, error=error, form=form or MultiDict(), title="登记回访")


@bp.get("/orders/<number>/survey")
@mobile_login_required
def survey(number: str):
    """The return visit as a page of its own: the staff member reads out the five levels."""
    order = load_order(number)
    person = current_person()
    if not can(person, Action.VISIT, order):
        raise PermissionDenied(f"您（{person.role_label}）无权为工单 {order.number} 登记回访")
    if order.state != State.FED_BACK:
        raise InvalidTransition(f"工单当前状态为「{State.LABELS.get(order.state, order.state)}」，不需要登记回访")
    return render_survey(order)


@bp.get("/attachments/<int:attachment_id>")
@mobile_login_required
def attachment(attachment_id: int):
    record = db().get(Attachment, attachment_id)
    if record is None:
        abort(404)
    ensure_can_view(current_person(), record.work_order)
    path = attachments.storage_path(upload_root(), record.storage_key)
    if not path.is_file():
        abort(404)
    # Photos and PDFs open in the in-app viewer; anything else downloads.
    inline = record.content_type.startswith(INLINE_TYPES)
    response = send_file(path, mimetype=record.content_type, as_attachment=not inline,
                         download_name=record.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
