"""The enterprise's satisfaction survey (回访/好差评) behind the link it receives: /s/<token>.

No sign-in: the token is the credential. It takes a rating while the order waits for its return
visit (State.FED_BACK); after a rating below 基本满意 reopened the order it says the rating was
received and the order is handled again; a used link answers 410, an unknown one 404, and
nothing changes (``services.orders.surveys.link_state``).
"""

from __future__ import annotations

import re

from flask import current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from handlers.context import db, delivery_channels, now
from handlers.public import bp
from handlers.public.ratelimit import SlidingWindowLimiter
from models import Satisfaction, WorkOrder
from services.errors import DomainError, ValidationFailed
from services.orders import operations as workorders
from services.orders.surveys import LinkState, link_state

POSTS_PER_MINUTE = 10
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,64}")
LEVELS = Satisfaction.ALL
RESOLVED_CHOICES = {"yes": "已解决", "no": "未解决"}


def limiter() -> SlidingWindowLimiter:
    limiters = current_app.extensions.setdefault("public_limiters", {})
    if "survey" not in limiters:
        limiters["survey"] = SlidingWindowLimiter(POSTS_PER_MINUTE, 60)
    return limiters["survey"]


def _gone(status: int, heading: str, message: str):
    return render_template("public/notice.html", heading=heading, message=message), status


def _unknown():
    return _gone(404, "链接无效", "该评价链接不存在或已失效。如需反映情况，请联系为您服务的工作人员，或拨打 86912345。")


def _used():
    return _gone(410, "该工单已完成评价", "感谢您的反馈！该工单的满意度评价已经提交，无需重复评价。")


def _reopened(order: WorkOrder):
    return _gone(200, "评价已收到，工单正在重新办理",
                 f"感谢您的评价！您对工单 {order.number} 的意见已转交承办单位重新办理，工作人员会尽快与您联系；"
                 "办理完成后，仍可通过本链接再次评价。如有急事请拨打 86912345。")


def _not_open(order: WorkOrder | None):
    """The page for a link that takes no rating now, or None when it does."""
    state = link_state(order)
    if state == LinkState.UNKNOWN:
        return _unknown()
    if state == LinkState.REOPENED:
        return _reopened(order)
    if state == LinkState.RATED:
        return _used()
    return None


def _find(token: str) -> WorkOrder | None:
    if not _TOKEN.fullmatch(token):
        return None
    return db().scalar(select(WorkOrder).where(WorkOrder.survey_token == token))


def _form_page(order: WorkOrder, token: str, *, errors=None, form=None, message: str = "", status: int = 200):
    return render_template(
        "public/survey.html", order=order, token=token, levels=LEVELS, needs_comment=Satisfaction.POSITIVE,
        resolved_choices=RESOLVED_CHOICES, errors=errors or {}, form=form or {}, error_message=message,
    ), status


@bp.get("/s/<path:token>")
def survey(token: str):
    order = _find(token)
    return _not_open(order) or _form_page(order, token)


@bp.post("/s/<path:token>")
def survey_submit(token: str):
    if not limiter().allow(request.remote_addr or "unknown"):
        return _gone(429, "提交过于频繁", "请稍等一分钟后再提交。")
    order = _find(token)
    refused = _not_open(order)
    if refused is not None:
        return refused
    form = {key: (request.form.get(key) or "").strip() for key in ("satisfaction", "resolved", "comment")}
    try:
        if form["resolved"] not in RESOLVED_CHOICES:
            raise ValidationFailed("请选择问题是否解决", fields={"resolved": "请选择问题是否解决"})
        # actor None: the enterprise itself, whoever may be signed in to the console in this browser.
        ctx = workorders.OpContext(session=db(), actor=None, now=now(), channel="public",
                                   channels=delivery_channels())
        workorders.visit(
            ctx, order, satisfaction=form["satisfaction"],
            resolved=form["resolved"] == "yes", comment=form["comment"][:2000], method="survey",
        )
    except ValidationFailed as error:
        db().rollback()
        order = _find(token)
        if order is None:
            return _unknown()
        return _form_page(order, token, errors=error.fields, form=form, message=error.message, status=422)
    except DomainError:
        # Someone else rated it between our read and the row lock.
        db().rollback()
        return _not_open(_find(token)) or _used()
    positive = form["satisfaction"] in Satisfaction.POSITIVE
    return render_template("public/survey_done.html", order=order, positive=positive)


@bp.errorhandler(CSRFError)
def _csrf_failed(_error):
    return _gone(400, "页面已过期", "页面停留时间过长或浏览器禁用了 Cookie，请刷新页面后重新提交。")
