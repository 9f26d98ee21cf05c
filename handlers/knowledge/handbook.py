"""应答手册: the recurring kinds of request the daily job found, with their counts; review of the
proposed ones (营商环境办); the published handbook as a printable page and as xlsx."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from handlers.console.auth import login_required
from handlers.context import current_person, db, now
from handlers.grid.common import xlsx_download
from handlers.knowledge import bp
from handlers.knowledge.common import knowledge_ctx
from handlers.template_helpers import LOCAL_TZ
from models import TopicStatus
from services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from services.knowledge import entries as knowledge
from services.knowledge import handbook as handbook_service

REVIEW_MESSAGES = {"publish": "已收录入应答手册", "dismiss": "已标记为不收录（计数仍会更新）",
                   "restore": "已恢复为待审核", "link": "已关联知识条目"}


@bp.get("/handbook")
@login_required
def handbook():
    """Everyone sees the published handbook's topics; editors also the proposed and dismissed ones."""
    editor = knowledge.is_editor(current_person())
    status = request.args.get("status", "")
    if not editor or status not in TopicStatus.LABELS:
        status = TopicStatus.PROPOSED if editor and not status else TopicStatus.PUBLISHED
    everything = handbook_service.list_topics(db())
    counts = {s: sum(1 for t in everything if t.status == s) for s in TopicStatus.LABELS}
    return render_template("knowledge/handbook.html", topics=[t for t in everything if t.status == status],
                           status=status, statuses=TopicStatus.LABELS, counts=counts, editor=editor,
                           window=handbook_service.WINDOW_DAYS, min_orders=handbook_service.MIN_ORDERS)


def _topic_page(topic, *, errors=None, message: str = "", status: int = 200):
    return render_template("knowledge/topic.html", topic=topic, orders=handbook_service.sample_orders(db(), topic),
                           errors=errors or {}, error_message=message, window=handbook_service.WINDOW_DAYS), status


@bp.get("/handbook/topics/<int:topic_id>")
@login_required
def topic(topic_id: int):
    if not knowledge.is_editor(current_person()):
        raise PermissionDenied("只有区营商环境办或系统管理员可以审核应答手册")
    return _topic_page(handbook_service.get_topic(db(), topic_id))


@bp.post("/handbook/topics/<int:topic_id>/review")
@login_required
def topic_review(topic_id: int):
    action = request.form.get("action") or ""
    try:
        handbook_service.review(knowledge_ctx(), topic_id, action, note=request.form.get("note") or "",
                                entry_id=(request.form.get("entry_id") or "").strip() or None)
    except (ValidationFailed, InvalidTransition) as error:
        db().rollback()
        return _topic_page(handbook_service.get_topic(db(), topic_id), errors=error.fields, message=error.message,
                           status=error.http_status)
    flash(REVIEW_MESSAGES.get(action, "已完成"), "success")
    return redirect(url_for("knowledge.topic", topic_id=topic_id))


@bp.get("/handbook/print")
@login_required
def handbook_print():
    return render_template("knowledge/handbook_print.html", sections=handbook_service.sections(db()),
                           today=now().astimezone(LOCAL_TZ).date(), window=handbook_service.WINDOW_DAYS)


@bp.get("/handbook.xlsx")
@login_required
def handbook_xlsx():
    sheet = handbook_service.handbook_sheet(db(), now().astimezone(LOCAL_TZ).date())
    return xlsx_download([sheet], "高频事项应答手册")
