"""The studio's overview: the configuration in force, its revisions, YAML in and out, aliases."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from handlers.console.auth import roles_required
from handlers.context import current_person, db, now
from handlers.studio import bp
from models import Role
from services.errors import ValidationFailed
from services.studio import document as studio_document
from services.studio import store

EDITORS = (Role.SYSADMIN,)


def _ip() -> str:
    return request.remote_addr or ""


@bp.get("/")
@roles_required(*EDITORS)
def index():
    session = db()
    current = store.export_document(session)
    counts = {
        "forms": sum(len(fields or []) for fields in current["forms"].values()),
        "dispatch_rules": len(current["dispatch_rules"]),
        "templates": len(current["templates"]),
        "command_aliases": len(current["command_aliases"]),
        "industries": len(current["industries"]),
        "stage_leads": sum(1 for v in current["stage_leads"].values() if v),
        "domain_keywords": sum(len(v or []) for v in current["domain_keywords"].values()),
    }
    return render_template("studio/index.html", sections=studio_document.SECTIONS, counts=counts,
                           revisions=store.revisions(session), runtime=store.runtime(session))


@bp.get("/export.yaml")
@roles_required(*EDITORS)
def export_yaml():
    text = store.to_yaml(store.export_document(db()))
    stamp = now().strftime("%Y%m%d-%H%M")
    return Response(text, mimetype="application/x-yaml; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=youxubiying-config-{stamp}.yaml"})


@bp.post("/import")
@roles_required(*EDITORS)
def import_yaml():
    """Upload (or paste) a document: first a preview of every problem or change, then apply."""
    upload = request.files.get("file")
    raw = upload.read(store.MAX_YAML_BYTES + 1) if upload is not None and upload.filename else \
        (request.form.get("text") or "").encode("utf-8")
    reason = (request.form.get("reason") or "").strip()
    try:
        incoming = store.from_yaml(raw)
        result = store.plan(db(), incoming)
    except ValidationFailed as error:
        return render_template("studio/import.html", problems=[error.message], changes=[], text="", reason=reason), 422
    text = raw.decode("utf-8-sig", errors="replace")
    if not result.ok:
        return render_template("studio/import.html", problems=result.problems, changes=[], text=text,
                               reason=reason), 422
    if request.form.get("confirm") != "1":
        return render_template("studio/import.html", problems=[], changes=result.changes, text=text, reason=reason)
    if not reason:
        return render_template("studio/import.html", problems=["请填写修改说明（记入版本记录）"], changes=result.changes,
                               text=text, reason=reason), 422
    revision = store.apply(db(), current_person(), incoming, reason=reason, now=now(), kind="import", ip=_ip())
    flash(f"配置已导入，版本 {revision.id}" if revision else "配置与当前一致，无需修改", "success")
    return redirect(url_for("studio.index"))


@bp.post("/revisions/<int:revision_id>/restore")
@roles_required(*EDITORS)
def restore(revision_id: int):
    revision = store.restore(db(), current_person(), revision_id, reason=(request.form.get("reason") or "").strip(),
                             now=now(), ip=_ip())
    flash(f"已恢复到版本 {revision_id}（新版本 {revision.id}）" if revision else "该版本与当前配置相同，无需恢复", "success")
    return redirect(url_for("studio.index"))


@bp.route("/aliases", methods=["GET", "POST"])
@roles_required(*EDITORS)
def aliases():
    session = db()
    commands = sorted(set(studio_document.COMMAND_WORDS.values()))
    current = dict(store.export_document(session)["command_aliases"])
    if request.method == "GET":
        return render_template("studio/aliases.html", aliases=current, commands=commands, problems=[])
    words = request.form.getlist("alias")
    targets = request.form.getlist("command")
    edited = {w.strip(): c for w, c in zip(words, targets, strict=False) if w.strip()}
    try:
        revision = store.apply(session, current_person(), {"command_aliases": edited},
                               reason=(request.form.get("reason") or "").strip() or "修改聊天命令别名", now=now(), ip=_ip())
    except ValidationFailed as error:
        db().rollback()
        return render_template("studio/aliases.html", aliases=edited, commands=commands,
                               problems=error.fields.get("document", error.message).split("\n")), 422
    flash(f"命令别名已保存（版本 {revision.id}）" if revision else "没有改动", "success")
    return redirect(url_for("studio.aliases"))


@bp.route("/lists", methods=["GET", "POST"])
@roles_required(*EDITORS)
def lists():
    """“2+3” and the other industries, each service stage's lead department, each domain's keywords."""
    session = db()
    current = store.export_document(session)
    departments = sorted(store.known(session).departments)
    if request.method == "GET":
        return render_template("studio/lists.html", doc=current, departments=departments, problems=[])
    form = request.form
    industries = []
    for index, row in enumerate(current["industries"]):
        industries.append({
            "code": row["code"], "name": (form.get(f"industry-{index}-name") or "").strip(),
            "key_industry": form.get(f"industry-{index}-key") == "1",
            "codes": [c.strip().upper() for c in (form.get(f"industry-{index}-codes") or "").replace("，", ",")
                      .replace("、", ",").split(",") if c.strip()],
        })
    stage_leads = {stage: (form.get(f"stage-{index}") or None) for index, stage in enumerate(current["stage_leads"])}
    domain_keywords = {
        domain: [w.strip() for w in (form.get(f"domain-{index}") or "").replace("，", ",").replace("、", ",")
                 .replace("\n", ",").split(",") if w.strip()]
        for index, domain in enumerate(current["domain_keywords"])
    }
    edited = {"industries": industries, "stage_leads": stage_leads, "domain_keywords": domain_keywords}
    try:
        revision = store.apply(session, current_person(), edited, now=now(), ip=_ip(),
                               reason=(form.get("reason") or "").strip() or "调整产业、牵头部门与领域关键词")
    except ValidationFailed as error:
        db().rollback()
        return render_template("studio/lists.html", doc={**current, **edited}, departments=departments,
                               problems=error.fields.get("document", error.message).split("\n")), 422
    flash(f"已保存（版本 {revision.id}）" if revision else "没有改动", "success")
    return redirect(url_for("studio.lists"))
