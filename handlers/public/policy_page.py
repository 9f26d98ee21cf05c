"""The enterprise's policy page behind its link /p/<token>: no sign-in, made for a phone.

The token (one push's 128-bit ``open_token``) is the credential; an unknown one gets a friendly
404 and nothing is written. Opening the page records the open (``policy_push.record_open``);
the enterprise can mark an item applied, sign up for a training event open to it and ask a
question. Every hit counts against per-address limits shared by all processes, as on /contact.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from handlers.context import db, now
from handlers.public import bp
from handlers.public.contact import client_address as _client
from handlers.public.contact import over_limit as _over_limit
from services.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.grid import public_contact
from services.policies import page as policy_page
from services.policies import push as policy_push
from services.policies import training
from services.policies.training import TrainingContext

# (bucket, limit, window seconds) per client address.
VIEW_LIMIT = ("policy_view", 60, 60)
POST_LIMIT = ("policy_post", 10, 600)


def _unknown():
    return render_template(
        "public/notice.html", heading="链接无效",
        message="该政策服务链接不存在或已失效。请联系为您服务的工作人员重新获取，"
                f"或拨打企业服务热线 {public_contact.HOTLINE} 咨询惠企政策。"), 404


def _page(push, *, status: int = 200, errors=None, form=None, message: str = "", anchor: str = "",
          notice: str = ""):
    page = policy_page.build(db(), push, now())
    if anchor.startswith("event-") and anchor not in {f"event-{e.id}" for e in page.events}:
        anchor = ""  # an event not shown here: the message goes at the top
    return render_template("public/policy_page.html", page=page, token=push.open_token, errors=errors or {},
                           form=form or {}, error_message=message, anchor=anchor, notice=notice,
                           hotline=public_contact.HOTLINE), status


def _ctx() -> TrainingContext:
    # actor None: the enterprise itself, whoever may be signed in to the console in this browser.
    return TrainingContext(session=db(), actor=None, now=now(), ip=_client())


@bp.get("/p/<token>")
def policy_page_view(token: str):
    refused = _over_limit(VIEW_LIMIT)
    if refused:
        return refused
    push = policy_push.find_by_token(db(), token)
    if push is None:
        return _unknown()
    policy_push.record_open(db(), push.open_token, now())
    return _page(push, notice={"applied": "已记录：贵企业已申报该事项。", "registered": "报名成功，请按时参加。",
                               "asked": "问题已提交，牵头部门答复后会显示在本页。"}.get(request.args.get("done", ""), ""))


def _posted_push(token: str):
    """(the push a form on the enterprise's page was posted for, None), or (None, the refusal):
    too many posts from this address, or a token we do not know."""
    refused = _over_limit(VIEW_LIMIT, POST_LIMIT)
    if refused:
        return None, refused
    push = policy_push.find_by_token(db(), token)
    return (push, None) if push is not None else (None, _unknown())


@bp.post("/p/<token>/applied")
def policy_page_applied(token: str):
    push, refused = _posted_push(token)
    if refused:
        return refused
    try:
        target = policy_page.sibling_push(db(), push, request.form.get("push_id") or push.id)
        policy_push.mark_applied_by_token(db(), target.open_token, now(), ip=_client())
    except (NotFound, PermissionDenied, InvalidTransition) as error:
        db().rollback()
        return _page(push, status=error.http_status, message=error.message)
    return redirect(url_for("public.policy_page_view", token=push.open_token, done="applied") + "#items")


@bp.post("/p/<token>/events/<int:event_id>/register")
def policy_page_register(token: str, event_id: int):
    push, refused = _posted_push(token)
    if refused:
        return refused
    form = {key: (request.form.get(key) or "").strip() for key in ("contact_name", "contact_phone")}
    try:
        event = training.get_event(db(), event_id)
        training.register(_ctx(), event, push.enterprise, form, channel="policy_page")
    except ValidationFailed as error:
        db().rollback()
        return _page(push, status=422, errors=error.fields, form={**form, "event_id": event_id},
                     message=error.message, anchor=f"event-{event_id}")
    except (NotFound, PermissionDenied, Conflict) as error:
        db().rollback()
        return _page(push, status=error.http_status, form={**form, "event_id": event_id}, message=error.message,
                     anchor=f"event-{event_id}")
    return redirect(url_for("public.policy_page_view", token=push.open_token, done="registered") + "#events")


@bp.post("/p/<token>/questions")
def policy_page_question(token: str):
    push, refused = _posted_push(token)
    if refused:
        return refused
    form = {key: (request.form.get(key) or "").strip()
            for key in ("question", "asked_by", "contact_phone", "policy_id", "event_id")}
    page = policy_page.build(db(), push, now())
    policy_id, event_id = policy_page.question_target(page, form["policy_id"], form["event_id"])
    try:
        training.ask(_ctx(), form, policy_id=policy_id, event_id=event_id, enterprise=push.enterprise,
                     channel="policy_page")
    except ValidationFailed as error:
        db().rollback()
        return _page(push, status=422, errors=error.fields, form=form, message=error.message, anchor="ask")
    return redirect(url_for("public.policy_page_view", token=push.open_token, done="asked") + "#ask")
