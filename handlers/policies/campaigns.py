"""Push campaigns: create from published items (with the match preview), approval by the owner
department, the progress page (sent / waiting / failed, polled as JSON), pause, resume, cancel."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.boundary import arg_id
from handlers.console.auth import login_required
from handlers.context import current_person, db
from handlers.policies import bp
from handlers.policies.common import policy_ctx
from models import CampaignStatus, ItemStatus, Policy, PolicyStatus, PushStatus, Role, Zone
from services import inputs
from services.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from services.policies import library as policies
from services.policies import push as policy_push
from services.policies import training


def _can_approve(campaign) -> bool:
    person = current_person()
    return person is not None and (person.role == Role.SYSADMIN or policies.is_owner_person(
        db(), person, campaign.owner_department_id))


@bp.get("/campaigns")
@login_required
def campaigns():
    status = request.args.get("status") or ""
    policy_id = arg_id("policy_id")
    rows = policy_push.list_campaigns(db(), status=status, policy_id=policy_id)
    return render_template("policies/campaigns.html", rows=rows, status=status, statuses=CampaignStatus.LABELS,
                           policy=db().get(Policy, policy_id) if policy_id else None)


def _new_page(policy, *, selected=None, title: str = "", scheduled: str = "", errors=None, message: str = "",
              status: int = 200):
    items = [i for i in policy.items if i.status == ItemStatus.PUBLISHED]
    selected = set(selected if selected is not None else [i.id for i in items])
    ctx = policy_ctx()
    previews = policy_push.preview_campaign(db(), [i.id for i in items if i.id in selected], ctx.today, sample_size=5)
    settings = policy_push.push_settings(db())
    return render_template("policies/campaign_new.html", policy=policy, items=items, selected=selected, title=title,
                           scheduled=scheduled, previews=previews, settings=settings, errors=errors or {},
                           error_message=message), status


@bp.get("/campaigns/new")
@login_required
def campaign_new():
    policy = policies.get_policy(db(), request.args.get("policy_id"))
    if not policies.can(db(), current_person(), "edit", policy):
        raise PermissionDenied("只有牵头部门或营商环境办可以发起政策推送")
    if policy.status != PolicyStatus.PUBLISHED:
        raise Conflict("政策发布后才能发起推送")
    item_id = arg_id("item_id")
    return _new_page(policy, selected=[item_id] if item_id else None)


@bp.post("/campaigns/new")
@login_required
def campaign_create():
    policy = policies.get_policy(db(), request.form.get("policy_id"))
    item_ids = request.form.getlist("item_ids")
    title = (request.form.get("title") or "").strip()
    scheduled_raw = (request.form.get("scheduled_for") or "").strip()
    selected = inputs.ids(item_ids)
    try:
        scheduled_for = None
        if scheduled_raw:
            scheduled_for = training.parse_local_datetime(scheduled_raw)
            if scheduled_for is None:
                raise ValidationFailed("发送时间格式应为 年-月-日 时:分", fields={"scheduled_for": "时间无效"})
        if request.form.get("intent") == "preview":
            return _new_page(policy, selected=selected, title=title, scheduled=scheduled_raw)
        campaign = policy_push.create_campaign(policy_ctx(), item_ids, title=title, scheduled_for=scheduled_for)
    except ValidationFailed as error:
        db().rollback()
        return _new_page(policy, selected=selected, title=title, scheduled=scheduled_raw, errors=error.fields,
                         message=error.message, status=422)
    flash("已创建推送任务，待牵头部门审批后开始推送", "success")
    return redirect(url_for("policies.campaign", campaign_id=campaign.id))


def progress_json(campaign) -> dict:
    return {
        "ok": True, "id": campaign.id, "status": campaign.status, "status_label": campaign.status_label,
        "total": campaign.total, "sent": campaign.sent, "waiting": campaign.waiting, "failed": campaign.failed,
        "capped": campaign.capped, "already_pushed": campaign.already_pushed, "digests": campaign.digests,
        "percent": campaign.percent, "notes": list(campaign.notes or []),
        "done": campaign.status in (CampaignStatus.DONE, CampaignStatus.CANCELLED),
        "last_run_at": campaign.last_run_at.isoformat() if campaign.last_run_at else None,
    }


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):
    session = db()
    campaign = policy_push.get_campaign(session, campaign_id)
    person = current_person()
    args = request.args
    zone, page = (args.get("zone") or "").strip(), (args.get("page") or "").strip()
    flt = policy_push.PushFilter(
        status=args.get("push_status") or "", stage=args.get("stage") or "",
        zone_id=inputs.to_id(zone), q=(args.get("q") or "").strip()[:64],
        page=inputs.page_number(page),
    )
    previews = []
    if campaign.status == CampaignStatus.DRAFT:
        previews = policy_push.preview_campaign(session, campaign, policy_ctx().today, sample_size=10)
    pushes = policy_push.campaign_pushes(session, campaign.id, flt)
    query = {k: v for k, v in args.items() if k != "page" and v}
    return render_template(
        "policies/campaign.html", campaign=campaign, previews=previews, progress=progress_json(campaign),
        can_approve=_can_approve(campaign), pushes=pushes, flt=flt, args=query, push_statuses=PushStatus.LABELS,
        push_stages=policy_push.PUSH_STAGES, zones=list(session.scalars(select(Zone).order_by(Zone.sort_order))),
        can_mark={p.id: (policy_push.can_mark(session, person, p, "applied"),
                         policy_push.can_mark(session, person, p, "granted")) for p in pushes.items},
        settings=policy_push.push_settings(session), CampaignStatus=CampaignStatus,
    )


@bp.get("/campaigns/<int:campaign_id>/progress")
@login_required
def campaign_progress(campaign_id: int):
    return jsonify(progress_json(policy_push.get_campaign(db(), campaign_id)))


@bp.post("/campaigns/<int:campaign_id>/<any(approve, pause, resume, cancel):action>")
@login_required
def campaign_action(campaign_id: int, action: str):
    ctx = policy_ctx()
    try:
        if action == "approve":
            raw = (request.form.get("scheduled_for") or "").strip()
            when = training.parse_local_datetime(raw) if raw else None
            if raw and when is None:
                raise ValidationFailed("发送时间格式应为 年-月-日 时:分", fields={"scheduled_for": "时间无效"})
            policy_push.approve_campaign(ctx, campaign_id, scheduled_for=when)
        elif action == "pause":
            policy_push.pause_campaign(ctx, campaign_id)
        elif action == "resume":
            policy_push.resume_campaign(ctx, campaign_id)
        else:
            policy_push.cancel_campaign(ctx, campaign_id)
    except (InvalidTransition, Conflict, ValidationFailed) as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("policies.campaign", campaign_id=campaign_id))
    flash({"approve": "已审批，推送将由后台任务分批发送（免打扰时段自动顺延）", "pause": "已暂停推送",
           "resume": "已恢复推送", "cancel": "已取消推送任务，尚未转达的企业不会再推送"}[action], "success")
    return redirect(url_for("policies.campaign", campaign_id=campaign_id))
