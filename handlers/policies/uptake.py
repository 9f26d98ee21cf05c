"""Uptake: pushed → opened → applied → granted per policy, item, zone and staff member; marking a
push applied (the staff member, the zone, the owner department) or granted (the owner department)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.boundary import arg_id
from handlers.console.auth import login_required
from handlers.context import current_person, db, now
from handlers.policies import bp
from handlers.policies.common import policy_ctx
from handlers.redirects import safe_next
from models import Department, DepartmentKind, PolicyPush
from services import inputs
from services.errors import InvalidTransition, NotFound
from services.policies import library as policies
from services.policies import push as policy_push
from services.policies import uptake as policy_stats

PERIODS = (("", "全部"), ("30", "近 30 天"), ("90", "近 90 天"), ("365", "近一年"))


@bp.get("/uptake")
@login_required
def uptake():
    session = db()
    period = request.args.get("days") or ""
    since = None
    try:
        days = inputs.optional_int(period, minimum=1, maximum=36_600)
    except ValueError:
        days = None
    if days:
        today = policy_ctx().today - timedelta(days=days)
        since = datetime.combine(today, time(0), policy_push.LOCAL_TZ)
    policy_id = arg_id("policy_id")
    department_id = arg_id("department_id")
    policy = policies.get_policy(session, policy_id) if policy_id else None
    return render_template(
        "policies/uptake.html", period=period, periods=PERIODS, policy=policy, department_id=department_id,
        departments=list(session.scalars(
            select(Department).where(Department.kind != DepartmentKind.HUB)
            .order_by(Department.sort_order, Department.id))),
        total=policy_stats.totals(session, policy_id=policy_id, department_id=department_id, since=since),
        by_policy=[] if policy else policy_stats.by_policy(session, department_id=department_id, since=since),
        by_item=policy_stats.by_item(session, policy.id) if policy else [],
        by_zone=policy_stats.by_zone(session, policy_id=policy_id, since=since),
        by_staff=policy_stats.by_staff(session, policy_id=policy_id, since=since)[:100],
    )


def _back(push: PolicyPush) -> str:
    return safe_next(request.form.get("next"), url_for("policies.uptake", policy_id=push.item.policy_id))


@bp.post("/pushes/<int:push_id>/<any(applied, granted):step>")
@login_required
def push_mark(push_id: int, step: str):
    session = db()
    push = session.get(PolicyPush, push_id)
    if push is None:
        raise NotFound("推送记录不存在")
    try:
        if step == "applied":
            policy_push.mark_applied(session, push.id, current_person(), now(), ip=request.remote_addr or "")
        else:
            policy_push.mark_granted(session, push.id, current_person(), now(),
                                     note=request.form.get("note") or "", ip=request.remote_addr or "")
    except InvalidTransition as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(_back(push))
    flash(f"已标记{push.enterprise.name}{'已申报' if step == 'applied' else '已兑现'}", "success")
    return redirect(_back(push))
