"""The delivery log (outbox) with dead-letter resend, and the audit log."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from handlers.admin import bp
from handlers.admin.common import EDITORS, admin_ctx
from handlers.console.auth import roles_required
from handlers.context import db
from models import OutboxStatus
from services import admin


@bp.get("/outbox")
@roles_required(*EDITORS)
def outbox():
    status = request.args.get("status", "")
    return render_template("admin/outbox.html", messages=admin.list_outbox(db(), status=status), status=status,
                           statuses=OutboxStatus.LABELS, counts=admin.outbox_status_counts(db()))


@bp.post("/outbox/<int:message_id>/retry")
@roles_required(*EDITORS)
def outbox_retry(message_id: int):
    admin.retry_dead_letter(admin_ctx(), message_id)
    flash(f"消息 #{message_id} 已重新排队发送", "success")
    return redirect(url_for("admin.outbox", status=request.form.get("status", "")))


@bp.get("/audit")
@roles_required(*EDITORS)
def audit():
    action = request.args.get("action", "")
    return render_template("admin/audit.html", rows=admin.list_audit(db(), action=action), action=action,
                           actions=admin.AUDIT_ACTIONS, action_label=admin.audit_action_label)
