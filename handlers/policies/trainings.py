"""Training and consultation events: plan, invite the audience, sign up, attendance, questions."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.boundary import arg_id, arg_ids
from handlers.console.auth import login_required
from handlers.context import current_person, db, now
from handlers.policies import bp
from handlers.policies.common import (
    condition_choices,
    conditions_form_values,
    conditions_from_form,
    describe_conditions,
    form_data,
    training_ctx,
)
from handlers.redirects import safe_next
from models import (
    Department,
    DepartmentKind,
    Policy,
    Role,
    TrainingKind,
    TrainingRegistration,
    TrainingStatus,
)
from services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from services.grid import public_contact
from services.policies import training as training_ops


def _departments(person) -> list[Department]:
    query = select(Department).where(Department.active.is_(True), Department.kind != DepartmentKind.HUB)
    if person.role not in training_ops.DISTRICT_ORGANISERS:
        query = query.where((Department.id == person.department_id) | (Department.parent_id == person.department_id))
    return list(db().scalars(query.order_by(Department.sort_order, Department.id)))


def _policies() -> list[Policy]:
    return list(db().scalars(select(Policy).order_by(Policy.updated_at.desc(), Policy.id.desc()).limit(300)))


@bp.get("/trainings")
@login_required
def trainings():
    person = current_person()
    status = request.args.get("status") or ""
    policy_id = arg_id("policy_id")
    events = training_ops.list_events(db(), status=status if status in TrainingStatus.LABELS else None,
                                  policy_id=policy_id)
    counts = {e.id: training_ops.event_counts(db(), e) for e in events}
    return render_template("policies/trainings.html", events=events, counts=counts, status=status,
                           statuses=TrainingStatus.LABELS, can_create=training_ops.can_organise(person),
                           policy=db().get(Policy, policy_id) if policy_id else None)


def _event_form_page(event=None, *, form=None, errors=None, message: str = "", status: int = 200):
    person = current_person()
    if form is None:
        form = {
            "title": event.title, "kind": event.kind, "description": event.description,
            "starts_at": training_ops.local_input(event.starts_at), "ends_at": training_ops.local_input(event.ends_at),
            "place": event.place, "online_url": event.online_url,
            "capacity": "" if event.capacity is None else str(event.capacity),
            "department_id": str(event.department_id), "policy_id": str(event.policy_id or ""),
        } if event is not None else {
            "kind": TrainingKind.TRAINING, "department_id": str(person.department_id or ""),
            "policy_id": request.args.get("policy_id", ""),
        }
    audience = conditions_form_values(form.pop("_audience", None) if "_audience" in form
                                      else (event.audience if event is not None else {}))
    return render_template(
        "policies/training_form.html", event=event, form=form, errors=errors or {}, error_message=message,
        kinds=TrainingKind.ALL, departments=_departments(person), policies=_policies(), cond=audience,
        choices=condition_choices(),
    ), status


def _submitted_form() -> dict:
    form = form_data()
    form["_audience"] = conditions_from_form()
    return form


@bp.get("/trainings/new")
@login_required
def training_new():
    if not training_ops.can_organise(current_person()):
        raise PermissionDenied("只有部门首席帮办、部门领导、区营商环境办或系统管理员可以新建活动")
    return _event_form_page()


@bp.post("/trainings/new")
@login_required
def training_create():
    try:
        event = training_ops.save_event(training_ctx(), None, form_data(), conditions_from_form())
    except ValidationFailed as error:
        db().rollback()
        return _event_form_page(form=_submitted_form(), errors=error.fields, message=error.message, status=422)
    flash(f"已新建{event.kind}《{event.title}》。确认受众范围后请“开放报名”，再发送邀请。", "success")
    return redirect(url_for("policies.training", event_id=event.id))


@bp.get("/trainings/<int:event_id>/edit")
@login_required
def training_edit(event_id: int):
    event = training_ops.get_event(db(), event_id)
    training_ops.ensure_organiser(current_person(), event)
    return _event_form_page(event)


@bp.post("/trainings/<int:event_id>/edit")
@login_required
def training_update(event_id: int):
    event = training_ops.get_event(db(), event_id)
    try:
        training_ops.save_event(training_ctx(), event.id, form_data(), conditions_from_form())
    except ValidationFailed as error:
        db().rollback()
        return _event_form_page(event, form=_submitted_form(), errors=error.fields, message=error.message, status=422)
    flash("已保存活动信息", "success")
    return redirect(url_for("policies.training", event_id=event.id))


def _detail_page(event, *, errors=None, form=None, message: str = "", status: int = 200, anchor: str = ""):
    person = current_person()
    session = db()
    organiser = training_ops.can_organise(person, event.department_id)
    preview = None
    if organiser and event.status in (TrainingStatus.PLANNED, TrainingStatus.OPEN):
        preview = training_ops.audience_preview(session, event, now())
    mine = training_ops.invitations_for_staff(session, event, person) if person.role == Role.SERVICE_STAFF else []
    return render_template(
        "policies/training.html", event=event, counts=training_ops.event_counts(session, event),
        registrations=training_ops.registrations(session, event), questions=training_ops.questions(session, event_id=event.id),
        organiser=organiser, preview=preview, audience=describe_conditions(event.audience),
        next_statuses=[(s, training_ops.STATUS_ACTIONS[s]) for s in training_ops.next_statuses(event)],
        can_register=event.status == TrainingStatus.OPEN and event.starts_at > now()
        and (person.role in training_ops.SIGN_UP_ROLES or organiser),
        can_attend=organiser and event.starts_at <= now()
        and event.status not in (TrainingStatus.PLANNED, TrainingStatus.CANCELLED),
        can_ask=training_ops.can_ask(person), my_invited=mine, policy=session.get(Policy, event.policy_id) if event.policy_id else None,
        errors=errors or {}, form=form or {}, error_message=message, anchor=anchor, now=now(),
    ), status


@bp.get("/trainings/<int:event_id>")
@login_required
def training(event_id: int):
    return _detail_page(training_ops.get_event(db(), event_id))


@bp.post("/trainings/<int:event_id>/status")
@login_required
def training_status(event_id: int):
    event = training_ops.get_event(db(), event_id)
    target = request.form.get("status") or ""
    try:
        training_ops.set_status(training_ctx(), event, target)
    except Conflict as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("policies.training", event_id=event_id))
    flash(f"活动状态已变更为「{event.status_label}」", "success")
    return redirect(url_for("policies.training", event_id=event_id))


@bp.post("/trainings/<int:event_id>/invite")
@login_required
def training_invite(event_id: int):
    event = training_ops.get_event(db(), event_id)
    try:
        result = training_ops.invite(training_ctx(), event)
    except Conflict as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("policies.training", event_id=event_id))
    if result.invited:
        text = f"已邀请 {result.invited} 家企业，向 {result.digests} 名为企服务人员发送了名单"
        if result.without_staff:
            text += f"；其中 {result.without_staff} 家未配备服务人员，仅在其政策服务页显示"
        if result.already:
            text += f"；另有 {result.already} 家此前已邀请，未重复发送"
        flash(text, "success")
    else:
        flash(f"没有新的受邀企业（符合条件的 {result.already} 家均已邀请过）", "warning")
    return redirect(url_for("policies.training", event_id=event_id))


@bp.post("/trainings/<int:event_id>/register")
@login_required
def training_register(event_id: int):
    event = training_ops.get_event(db(), event_id)
    form = form_data()
    query = (form.get("enterprise") or "").strip()
    found = public_contact.find_enterprises(db(), query) if query else []
    try:
        if not query:
            raise ValidationFailed("请填写企业名称或统一社会信用代码", fields={"enterprise": "请填写企业名称或统一社会信用代码"})
        if not found:
            raise ValidationFailed("未找到该企业，请填写完整的企业名称或统一社会信用代码",
                                   fields={"enterprise": "未找到该企业（需完整名称或统一社会信用代码）"})
        if len(found) > 1:
            raise ValidationFailed("有多家同名企业，请改填统一社会信用代码", fields={"enterprise": "请改填统一社会信用代码"})
        registration = training_ops.register(training_ctx(), event, found[0], form)
    except ValidationFailed as error:
        db().rollback()
        return _detail_page(event, errors=error.fields, form=form, message=error.message, status=422,
                            anchor="register")
    except Conflict as error:
        db().rollback()
        return _detail_page(event, form=form, message=error.message, status=409, anchor="register")
    flash(f"已为{registration.enterprise.name}报名（联系人 {registration.contact_name}）", "success")
    return redirect(url_for("policies.training", event_id=event_id) + "#registrations")


@bp.post("/trainings/<int:event_id>/registrations/<int:registration_id>/cancel")
@login_required
def registration_cancel(event_id: int, registration_id: int):
    registration = db().get(TrainingRegistration, registration_id)
    if registration is None or registration.event_id != event_id:
        raise NotFound("未找到该报名记录")
    name = registration.enterprise.name
    try:
        training_ops.cancel_registration(training_ctx(), registration)
    except Conflict as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("policies.training", event_id=event_id))
    flash(f"已取消{name}的报名", "success")
    return redirect(url_for("policies.training", event_id=event_id) + "#registrations")


@bp.post("/trainings/<int:event_id>/attendance")
@login_required
def training_attendance(event_id: int):
    event = training_ops.get_event(db(), event_id)
    present = set(arg_ids("attended"))
    try:
        changed = training_ops.record_attendance(training_ctx(), event, present)
    except Conflict as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("policies.training", event_id=event_id))
    flash(f"已登记签到：{len(present)} 家到场（本次更新 {changed} 条）", "success")
    return redirect(url_for("policies.training", event_id=event_id) + "#registrations")


@bp.post("/trainings/<int:event_id>/questions")
@login_required
def training_question(event_id: int):
    """A question put at the event (or by phone), typed in by the organiser or a staff member."""
    event = training_ops.get_event(db(), event_id)
    form = form_data()
    enterprise = None
    query = (form.get("enterprise") or "").strip()
    if query:
        found = public_contact.find_enterprises(db(), query)
        enterprise = found[0] if len(found) == 1 else None
    try:
        training_ops.ask(training_ctx(), form, event_id=event.id, policy_id=event.policy_id, enterprise=enterprise,
                     channel="event")
    except ValidationFailed as error:
        db().rollback()
        return _detail_page(event, errors=error.fields, form=form, message=error.message, status=422,
                            anchor="questions")
    flash("已记录问题，待主办部门答复", "success")
    return redirect(url_for("policies.training", event_id=event_id) + "#questions")


# --------------------------------------------------------------------------------------------
# Questions (all events and policies): answer, and keep for the knowledge base
# --------------------------------------------------------------------------------------------
QUESTION_TABS = (("unanswered", "待答复"), ("answered", "已答复"), ("kb", "已纳入知识库"), ("all", "全部"))


@bp.get("/questions")
@login_required
def questions():
    tab = request.args.get("tab") or "unanswered"
    session = db()
    if tab == "unanswered":
        rows = training_ops.questions(session, unanswered=True)
    elif tab == "kb":
        rows = training_ops.questions(session, published=True)
    elif tab == "answered":
        rows = [q for q in training_ops.questions(session) if q.answered_at is not None]
    else:
        tab, rows = "all", training_ops.questions(session)
    person = current_person()
    return render_template("policies/questions.html", rows=rows, tab=tab, tabs=QUESTION_TABS,
                           can_answer={q.id: training_ops.can_answer(person, q, session) for q in rows},
                           policy_titles=_policy_titles({q.policy_id for q in rows if q.policy_id}))


def _policy_titles(ids) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db().execute(select(Policy.id, Policy.title).where(Policy.id.in_(ids))).all())


def _back(question) -> str:
    default = (url_for("policies.training", event_id=question.event_id) + "#questions" if question.event_id
               else url_for("policies.questions"))
    return safe_next(request.form.get("next"), default, under="/policies/")


@bp.post("/questions/<int:question_id>/answer")
@login_required
def question_answer(question_id: int):
    question = training_ops.get_question(db(), question_id)
    try:
        training_ops.answer(training_ctx(), question, form_data())
    except ValidationFailed as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(_back(question))
    flash("已保存答复" + ("，并纳入知识库" if question.published_to_kb else ""), "success")
    return redirect(_back(question))


@bp.post("/questions/<int:question_id>/publish")
@login_required
def question_publish(question_id: int):
    question = training_ops.get_question(db(), question_id)
    publish = request.form.get("published_to_kb") == "1"
    try:
        training_ops.set_published(training_ctx(), question, publish)
    except Conflict as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(_back(question))
    flash("已纳入知识库" if publish else "已从知识库撤下", "success")
    return redirect(_back(question))
