"""派单目录 editor: the ordered rules, their hits, 试一试, and the catalogue as a spreadsheet.

Every change saves the whole list through ``store.apply`` (one revision, every problem shown);
rules are addressed by their position in the list the page showed.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from handlers.console.auth import roles_required
from handlers.context import current_person, db, now, settings
from handlers.studio import bp
from handlers.studio.home import EDITORS
from models import Department, RequestDomain, ServiceStage, Zone
from services.errors import ValidationFailed
from services.orders import catalogue
from services.registry import excel_io
from services.studio import catalogue_sheet as sheet
from services.studio import store
from services.studio.dispatch import CHANNELS, PRIORITIES, SIZES, Facts, decide

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rules() -> list[dict]:
    return [dict(r) for r in store.export_document(db())["dispatch_rules"]]


def _choices() -> dict:
    session = db()
    return {
        "departments": list(session.scalars(select(Department.name).where(Department.active.is_(True))
                                            .order_by(Department.sort_order, Department.id))),
        "domains": list(session.scalars(select(RequestDomain.name).order_by(RequestDomain.sort_order))),
        "stages": list(session.scalars(select(ServiceStage.name).order_by(ServiceStage.sort_order))),
        "zones": list(session.scalars(select(Zone.name).order_by(Zone.id))),
        "channels": CHANNELS, "priorities": PRIORITIES, "sizes": SIZES, "match_labels": sheet.MATCH_LABELS,
    }


def _page(*, problems=(), trial=None, trial_form=None, status=200):
    rules = _rules()
    return render_template(
        "studio/dispatch.html", rules=rules, rows=[sheet.rule_row(i, r) for i, r in enumerate(rules)],
        headers=sheet.HEADERS, hits=catalogue.hit_counts(db(), now()), problems=list(problems),
        trial=trial, trial_form=trial_form or {}, **_choices(),
    ), status


def _save(rules: list[dict], reason: str) -> None:
    revision = store.apply(db(), current_person(), {"dispatch_rules": rules}, reason=reason, now=now(),
                           ip=request.remote_addr or "")
    flash(f"派单目录已保存（版本 {revision.id}）" if revision else "没有改动", "success")


def _problems(error: ValidationFailed) -> list[str]:
    db().rollback()
    return error.fields.get("document", error.message).split("\n")


@bp.get("/dispatch")
@roles_required(*EDITORS)
def dispatch_rules():
    return _page()


def _rule_form(rule: dict | None, index: int | None, problems=(), status=200):
    values = dict(zip([k for k, _ in sheet.COLUMNS], sheet.rule_row(index or 0, rule), strict=True)) if rule else {}
    return render_template("studio/dispatch_rule.html", values=values, index=index, problems=list(problems),
                           **_choices()), status


@bp.route("/dispatch/new", methods=["GET", "POST"])
@bp.route("/dispatch/<position:index>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def dispatch_rule_edit(index: int | None = None):
    rules = _rules()
    if index is not None and not 0 <= index < len(rules):
        abort(404)
    if request.method == "GET":
        return _rule_form(rules[index] if index is not None else None, index)
    values = {key: request.form.get(key, "") for key, _ in sheet.COLUMNS}
    values["active"] = "是" if request.form.get("active") else "否"
    values["green_channel"] = "是" if request.form.get("green_channel") else ""
    rule, problems = sheet.rule_from_values(values)
    if problems:
        return _render_values(values, index, problems)
    if index is None:
        rules.append(rule)
    else:
        rules[index] = rule
    try:
        _save(rules, (request.form.get("reason") or "").strip()
              or f"{'新增' if index is None else '编辑'}派单规则「{rule['name']}」")
    except ValidationFailed as error:
        return _render_values(values, index, _problems(error))
    return redirect(url_for("studio.dispatch_rules"))


def _render_values(values: dict, index: int | None, problems):
    return render_template("studio/dispatch_rule.html", values=values, index=index, problems=list(problems),
                           **_choices()), 422


@bp.post("/dispatch/<position:index>/<any(up, down, delete, toggle):move>")
@roles_required(*EDITORS)
def dispatch_rule_move(index: int, move: str):
    rules = _rules()
    if not 0 <= index < len(rules):
        abort(404)
    name = rules[index].get("name")
    if move == "delete":
        rules.pop(index)
        reason = f"删除派单规则「{name}」"
    elif move == "toggle":
        rule = dict(rules[index])
        if rule.get("active") is False:
            rule.pop("active")
            reason = f"启用派单规则「{name}」"
        else:
            rule["active"] = False
            reason = f"停用派单规则「{name}」"
        rules[index] = rule
    else:
        other = index - 1 if move == "up" else index + 1
        if not 0 <= other < len(rules):
            return redirect(url_for("studio.dispatch_rules"))
        rules[index], rules[other] = rules[other], rules[index]
        reason = f"派单规则「{name}」{'上移' if move == 'up' else '下移'}"
    try:
        _save(rules, reason)
    except ValidationFailed as error:
        return _page(problems=_problems(error), status=422)
    return redirect(url_for("studio.dispatch_rules"))


@bp.post("/dispatch/try")
@roles_required(*EDITORS)
def dispatch_try():
    form = {key: (request.form.get(key) or "").strip() for key in
            ("title", "content", "domain", "stage", "zone", "industry", "key_industry", "size", "channel")}
    facts = Facts(text=f"{form['title']}\n{form['content']}", domain=form["domain"], stage=form["stage"],
                  zone=form["zone"], industry_code=form["industry"].upper(), key_industry=form["key_industry"] == "1",
                  size=form["size"], channel=form["channel"])
    decision = decide(_rules(), facts)
    return _page(trial={"decision": decision}, trial_form=form)


@bp.get("/dispatch/export.xlsx")
@roles_required(*EDITORS)
def dispatch_export():
    buffer = io.BytesIO()
    sheet.write(buffer, _rules())
    buffer.seek(0)
    stamp = now().strftime("%Y%m%d")
    return send_file(buffer, as_attachment=True, download_name=f"派单目录-{stamp}.xlsx", mimetype=XLSX)


@bp.post("/dispatch/import")
@roles_required(*EDITORS)
def dispatch_import():
    """The whole catalogue from a sheet: every row's problem named, nothing applied unless all is valid."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(problems=["请选择要导入的派单目录表（xlsx）"], status=422)
    filename = Path(upload.filename.replace("\\", "/")).name[:200] or "upload.xlsx"
    with tempfile.TemporaryDirectory() as folder:
        stored = Path(folder) / f"catalogue.{excel_io.file_kind(filename) or 'xlsx'}"
        upload.save(stored)
        try:
            rules, row_numbers = sheet.read(stored, filename=filename, max_bytes=settings().import_max_bytes)
        except ValidationFailed as error:
            return _page(problems=error.fields.get("document", error.message).split("\n"), status=422)
    try:
        _save(rules, (request.form.get("reason") or "").strip() or f"导入派单目录表 {filename}")
    except ValidationFailed as error:
        return _page(problems=sheet.name_rows(_problems(error), row_numbers), status=422)
    return redirect(url_for("studio.dispatch_rules"))
