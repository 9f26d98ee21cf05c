"""People: the list with filters, create/edit, console login, deactivation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.admin import bp
from handlers.admin.common import EDITORS, admin_ctx, form_data, render_invalid
from handlers.console.auth import roles_required
from handlers.context import current_person, db, start_session
from models import ConsoleLogin, Department, Person, Role, ServiceStage, Zone
from services import inputs
from services.admin import operations as admin
from services.errors import ValidationFailed


def _choices() -> dict:
    session = db()
    return {
        "roles": Role.LABELS,
        "zones": list(session.scalars(select(Zone).order_by(Zone.sort_order, Zone.id))),
        "departments": list(session.scalars(select(Department).order_by(Department.sort_order, Department.id))),
        "stages": list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order))),
        "zone_roles": Role.ZONE_ROLES, "department_roles": Role.DEPARTMENT_ROLES,
    }


@bp.get("/people")
@roles_required(*EDITORS)
def people():
    filters = {key: (request.args.get(key) or "").strip()
               for key in ("q", "role", "zone_id", "department_id", "active")}
    raw_page = (request.args.get("page") or "").strip()
    page = admin.list_people(db(), **filters, page=inputs.page_number(raw_page))
    args = {k: v for k, v in filters.items() if v}
    return render_template("admin/people.html", page=page, people=page.items, filters=filters, args=args,
                           logins=admin.logins_by_person(db(), [p.id for p in page.items]), **_choices())


def _person_page(person: Person | None) -> dict:
    login = None
    if person is not None:
        login = db().scalar(select(ConsoleLogin).where(ConsoleLogin.person_id == person.id))
    return {"person": person, "login": login, "login_errors": {}, **_choices()}


def _person_form(person: Person) -> dict:
    return {
        "name": person.name, "role": person.role, "zone_id": str(person.zone_id or ""),
        "department_id": str(person.department_id or ""), "stage_ids": [str(s.id) for s in person.stages],
        "phone": person.phone, "title": person.title, "wecom_userid": person.wecom_userid or "",
        "dingtalk_userid": person.dingtalk_userid or "", "active": "1" if person.active else "",
    }


@bp.get("/people/new")
@roles_required(*EDITORS)
def person_new():
    form = {"role": request.args.get("role", Role.SERVICE_STAFF), "active": "1"}
    return render_template("admin/person_edit.html", errors={}, form=form, **_person_page(None))


@bp.post("/people/new")
@roles_required(*EDITORS)
def person_create():
    try:
        person = admin.save_person(admin_ctx(), None, form_data())
    except ValidationFailed as error:
        return render_invalid("admin/person_edit.html", error, **_person_page(None))
    flash(f"已新增人员「{person.name}」，可在下方开通登录账号", "success")
    return redirect(url_for("admin.person_edit", person_id=person.id))


def _load(person_id: int) -> Person:
    person = db().get(Person, person_id)
    if person is None:
        abort(404)
    return person


@bp.get("/people/<int:person_id>")
@roles_required(*EDITORS)
def person_edit(person_id: int):
    person = _load(person_id)
    return render_template("admin/person_edit.html", errors={}, form=_person_form(person), **_person_page(person))


@bp.post("/people/<int:person_id>")
@roles_required(*EDITORS)
def person_update(person_id: int):
    try:
        person = admin.save_person(admin_ctx(), person_id, form_data())
    except ValidationFailed as error:
        return render_invalid("admin/person_edit.html", error, **_person_page(_load(person_id)))
    flash(f"人员「{person.name}」已保存", "success")
    return redirect(url_for("admin.person_edit", person_id=person.id))


@bp.post("/people/<int:person_id>/login")
@roles_required(*EDITORS)
def person_login(person_id: int):
    try:
        login = admin.set_login(admin_ctx(), person_id, form_data())
    except ValidationFailed as error:
        db().rollback()
        person = _load(person_id)
        page = _person_page(person)
        page["login_errors"] = error.fields
        return render_template("admin/person_edit.html", errors={}, form=_person_form(person),
                               login_form={"username": request.form.get("username", "")},
                               error_message=error.message, **page), 422
    if request.form.get("password") and login.person_id == current_person().id:
        start_session(current_person())  # a new password ends the other sessions, not this one
    flash(f"登录账号「{login.username}」已保存", "success")
    return redirect(url_for("admin.person_edit", person_id=person_id))


@bp.post("/people/<int:person_id>/deactivate")
@roles_required(*EDITORS)
def person_deactivate(person_id: int):
    person, enterprises = admin.deactivate_person(admin_ctx(), person_id)
    flash(f"已停用「{person.name}」", "success")
    if enterprises:
        flash(f"该人员仍是 {enterprises} 家企业的为企服务人员，请尽快在网格分配中调整", "warning")
    return redirect(url_for("admin.person_edit", person_id=person.id))
