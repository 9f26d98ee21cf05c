"""The staff member's H5 lists behind a policy digest and a training invitation:
"你负责的 N 家企业符合《…》" with, per enterprise, why it matched and a one-tap forward text
(copied to the clipboard) carrying the enterprise's own policy page link."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.boundary import arg_id
from handlers.context import current_person, db, now, settings
from handlers.mobile import bp
from handlers.mobile.auth import mobile_login_required
from models import CampaignKind, PolicyPush
from services import inputs
from services.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.policies import matching as policy_matching
from services.policies import push as policy_push
from services.policies import training
from services.policies.training import TrainingContext


@dataclass
class EnterpriseRow:
    enterprise: object
    pushes: list = field(default_factory=list)
    texts: list = field(default_factory=list)  # (push, forward text)
    reasons: list = field(default_factory=list)


def _base_url() -> str:
    return settings().base_url.rstrip("/")


def _campaign_page(campaign_id: int):
    session = db()
    person = current_person()
    campaign = policy_push.get_campaign(session, campaign_id)
    pushes = policy_push.staff_pushes(session, campaign.id, person)
    today = policy_push.local_today(now())
    labels = policy_matching.load_labels(session)
    rows: dict[int, EnterpriseRow] = {}
    for push in pushes:
        row = rows.setdefault(push.enterprise_id, EnterpriseRow(push.enterprise))
        row.pushes.append(push)
        row.texts.append((push, policy_push.forward_text(push, _base_url())))
        if not row.reasons:
            conditions = policy_matching.parse_conditions(push.item.conditions)
            row.reasons = [r for r in policy_matching.explain(conditions, push.enterprise, today, labels)
                           if r.matched and r.key != "active_only"]  # every pushed enterprise is operating
    policies = list(dict.fromkeys(f"《{i.policy.title}》" for i in campaign.items))
    return render_template(
        "mobile/policies.html", campaign=campaign, rows=list(rows.values()), policies="、".join(policies),
        reminder=campaign.kind == CampaignKind.DEADLINE_REMINDER,
        can_mark={p.id: policy_push.can_mark(session, person, p, "applied") for p in pushes},
        title="政策推送名单",
    )


@bp.get("/policies/<int:campaign_id>")
@mobile_login_required
def policy_digest(campaign_id: int):
    return _campaign_page(campaign_id)


@bp.get("/policy-campaigns/<int:campaign_id>")
@mobile_login_required
def policy_digest_link(campaign_id: int):
    """The address the digests carry (``policy_push.digest_link``)."""
    return _campaign_page(campaign_id)


@bp.post("/policies/pushes/<int:push_id>/applied")
@mobile_login_required
def policy_push_applied(push_id: int):
    session = db()
    push = session.get(PolicyPush, push_id)
    if push is None:
        raise NotFound("推送记录不存在")
    back = url_for("mobile.policy_digest", campaign_id=arg_id("campaign_id", request.form) or push.campaign_id or 0)
    try:
        policy_push.mark_applied(session, push.id, current_person(), now(), ip=request.remote_addr or "")
    except InvalidTransition as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash(f"已标记{push.enterprise.name}已申报", "success")
    return redirect(back + f"#e{push.enterprise_id}")


# --------------------------------------------------------------------------------------------
# Training invitations
# --------------------------------------------------------------------------------------------
def _page_links(enterprise_ids: list[int]) -> dict[int, str]:
    """The newest policy page link of each enterprise (for self sign-up), where it has one."""
    if not enterprise_ids:
        return {}
    rows = db().execute(select(PolicyPush.enterprise_id, PolicyPush.open_token)
                        .where(PolicyPush.enterprise_id.in_(enterprise_ids)).order_by(PolicyPush.id)).all()
    return {enterprise_id: f"{_base_url()}/p/{token}" for enterprise_id, token in rows}


def _training_page(event, *, errors=None, form=None, message: str = "", status: int = 200):
    session = db()
    person = current_person()
    invitations = training.invitations_for_staff(session, event, person)
    links = _page_links([i.enterprise_id for i in invitations])
    registered = {r.enterprise_id: r for r in training.registrations(session, event)}
    rows = [(inv, training.forward_text(event, inv.enterprise, links.get(inv.enterprise_id, "")),
             registered.get(inv.enterprise_id)) for inv in invitations]
    open_for_sign_up = event.status == training.TrainingStatus.OPEN and event.starts_at > now()
    return render_template("mobile/policies_training.html", event=event, rows=rows, open_for_sign_up=open_for_sign_up,
                           errors=errors or {}, form=form or {}, error_message=message, title="活动邀请名单"), status


@bp.get("/trainings/<int:event_id>")
@mobile_login_required
def training_digest(event_id: int):
    return _training_page(training.get_event(db(), event_id))


@bp.post("/trainings/<int:event_id>/register")
@mobile_login_required
def training_register(event_id: int):
    session = db()
    event = training.get_event(session, event_id)
    form = {key: (request.form.get(key) or "").strip() for key in ("enterprise_id", "contact_name", "contact_phone")}
    enterprise = None
    enterprise_id = inputs.to_id(form["enterprise_id"])
    if enterprise_id is not None:
        enterprise = next((i.enterprise for i in training.invitations_for_staff(session, event, current_person())
                           if i.enterprise_id == enterprise_id), None)
    try:
        if enterprise is None:
            raise PermissionDenied("只能为本人负责的受邀企业报名")
        ctx = TrainingContext(session=session, actor=current_person(), now=now(), ip=request.remote_addr or "")
        training.register(ctx, event, enterprise, form, channel="console")
    except ValidationFailed as error:
        session.rollback()
        return _training_page(event, errors=error.fields, form=form, message=error.message, status=422)
    except Conflict as error:
        session.rollback()
        return _training_page(event, form=form, message=error.message, status=409)
    flash(f"已为{enterprise.name}报名", "success")
    return redirect(url_for("mobile.training_digest", event_id=event.id) + f"#e{enterprise.id}")
