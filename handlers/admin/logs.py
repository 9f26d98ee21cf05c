"""The delivery log (outbox) with dead-letter resend, the inbound callback log with retry of
failed callbacks, and the audit log."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for

from handlers.admin import bp
from handlers.admin.common import EDITORS, admin_ctx
from handlers.console.auth import roles_required
from handlers.context import db, settings
from models import InboxStatus, OutboxStatus
from services import audit as audit_trail
from services import inputs, labels
from services.admin import operations as admin
from services.admin.housekeeping import FAILED_RETENTION_FACTOR
from services.errors import Conflict
from services.messaging import inbox
from services.messaging.inbound import summary as inbound_summary


@bp.get("/outbox")
@roles_required(*EDITORS)
def outbox():
    status = request.args.get("status", "")
    messages = admin.list_outbox(db(), status=status)
    return render_template("admin/outbox.html", messages=messages, status=status, statuses=OutboxStatus.LABELS,
                           counts=admin.outbox_status_counts(db()), targets=admin.outbox_targets(db(), messages),
                           kinds=labels.MESSAGE_KINDS, channels=labels.PLATFORMS)


@bp.post("/outbox/<int:message_id>/retry")
@roles_required(*EDITORS)
def outbox_retry(message_id: int):
    admin.retry_dead_letter(admin_ctx(), message_id)
    flash(f"消息 #{message_id} 已重新排队发送", "success")
    return redirect(url_for("admin.outbox", status=request.form.get("status", "")))


@bp.get("/inbound")
@roles_required(*EDITORS)
def inbound():
    status = request.args.get("status", "")
    days = settings().inbound_retention_days
    return render_template("admin/inbound.html", messages=admin.list_inbound(db(), status=status), status=status,
                           statuses=InboxStatus.LABELS, counts=admin.inbound_status_counts(db()),
                           platforms=labels.PLATFORMS, summary=inbound_summary, reference=inbox.reference,
                           kept_days=(days, days * FAILED_RETENTION_FACTOR))


@bp.post("/inbound/<int:message_id>/retry")
@roles_required(*EDITORS)
def inbound_retry(message_id: int):
    try:
        message = admin.retry_failed_inbound(admin_ctx(), message_id)
    except Conflict as error:
        db().rollback()
        flash(error.message, "error")
    else:
        flash(f"回调消息 {inbox.reference(message)} 已重新排队处理", "success")
    return redirect(url_for("admin.inbound", status=request.form.get("status", "")))


def _date_arg(name: str) -> date | None:
    try:
        return inputs.parse_date((request.args.get(name) or "").strip())
    except ValueError:
        return None


@bp.get("/audit")
@roles_required(*EDITORS)
def audit():
    args = request.args
    page_arg = (args.get("page") or "").strip()
    flt = admin.AuditFilter(
        action=args.get("action", "") if args.get("action", "") in labels.AUDIT_ACTIONS else "",
        target_type=args.get("target_type", "") if args.get("target_type", "") in labels.AUDIT_TARGETS else "",
        actor=(args.get("actor") or "").strip()[:64], since=_date_arg("since"), until=_date_arg("until"),
        page=inputs.page_number(page_arg),
    )
    page = admin.list_audit(db(), flt)
    query = {k: v for k, v in args.items() if k != "page" and v}
    return render_template("admin/audit.html", page=page, views=audit_trail.describe(db(), page.items), flt=flt,
                           args=query, actions=labels.AUDIT_ACTIONS, targets=labels.AUDIT_TARGETS)
