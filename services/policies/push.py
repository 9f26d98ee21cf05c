"""Push campaigns: matched enterprises told each item once, through their service staff members.

How a campaign runs
-------------------
1. ``create_campaign`` (console, kind ``manual``) → ``approve_campaign`` by the owner department
   (its chief helpers or leaders, or a system administrator) → status ``approved``. The
   ``policy_campaigns`` job also creates campaigns by itself, already approved by whoever published
   the policy: ``new_item`` for items published before today's push time (setting
   ``policy_push_time``, working days only, one campaign per policy), and ``deadline_reminder``
   ``policy_reminder_days`` (7) days before an item's application window closes.
2. The job (``run_campaigns``, every 20 s) moves approved campaigns whose ``scheduled_for`` has come
   to ``running`` and steps each running campaign, every step in its own short transaction:

   a. **targets** — one ``INSERT INTO policy_push … SELECT … FROM enterprise WHERE <match> …
      ON CONFLICT DO NOTHING`` per item: operating enterprises only, never an enterprise already told
      the item (unique enterprise × item), and only enterprises with fewer than
      ``policy_push_weekly_cap`` pushes in the last 7 days; the rest wait for a later run;
   b. **digests** — per service staff member, ONE message (outbox kind ``policy_digest``) naming
      their enterprises and linking to ``digest_link(campaign)`` (the H5 list with each
      enterprise's link and forward text); enterprises without a staff member go to their zone's
      administrators; the pushes get the digest's key in the same transaction;
   c. **sync** — pushes whose digest the outbox delivered become ``sent`` (dead letters: ``failed``);
      counters refreshed; done when nothing is queued or waiting (or the items closed).

   Nothing is written inside the quiet hours (``policy_quiet_hours``, Beijing time): the job waits.
   A deadline reminder reuses the push rows (``reminder_*`` columns) — an item is never pushed twice.
   Reminders are not counted against the weekly cap (they are about an item already pushed).
3. All state is in the database: a killed job process resumes where it stopped; unique keys on
   pushes and outbox rows make a repeated step a no-op.

(b) Each enterprise of a digest also gets its item by text at the registry's contact mobile when the
job knows the site's address (``base_url``): ``services.messaging.enterprise.tell_policy``, with
opt-outs, quiet hours and per-number caps. WeCom customer mass-sending (``externalcontact/add_msg_template``)
goes to an order's contact when it is an external contact (``WorkOrder.contact_external_userid``);
the registry does not hold external user ids, so ``external_contact_targets`` still returns nothing
for campaigns, and the campaign notes say so.

Tracking (no login): ``open_link(push)`` → ``/p/<token>`` (a 128-bit random token stored on the
push, unguessable like the survey links); ``find_by_token``, ``record_open(session, token, now)``;
``mark_applied(session, push_id, actor, now)`` (the staff member, zone administrators, the owner
department or a sysadmin), ``mark_applied_by_token`` (the enterprise itself), ``mark_granted``.
Uptake statistics are in services.policies.uptake.

Pages (built elsewhere) use: ``preview_campaign``, ``list_campaigns``, ``refresh_counters``,
``staff_pushes``, ``forward_text``, ``enterprise_pushes``, ``push_settings`` /
``update_push_settings``.
"""

from __future__ import annotations

import logging
import re
import time as _time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, exists, func, literal, not_, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload, sessionmaker

from database import session_scope
from models import (
    Department,
    Enterprise,
    MessageKind,
    OutboundMessage,
    OutboxStatus,
    Person,
    RegistrationStatus,
    Role,
    SystemSetting,
)
from models.base import UTCDateTime
from models.policy import (
    CampaignKind,
    CampaignStatus,
    ItemStatus,
    Policy,
    PolicyItem,
    PolicyPush,
    PolicyStatus,
    PushCampaign,
    PushCampaignItem,
    PushChannel,
    PushStatus,
)
from services import inputs, wording
from services.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.lookup import get_or_not_found
from services.messaging.notify import Channels, Notifier, local_time, public_link
from services.paging import Page, paginate
from services.policies.library import PolicyContext, can, is_owner_person
from services.policies.matching import MatchPreview, item_open, match_clause, parse_conditions, preview

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CAP_WINDOW = timedelta(days=7)
DIGEST_NAMES = 10  # enterprises named in a digest; the H5 page lists all
DIGEST_KIND = MessageKind.POLICY_DIGEST
UPTAKE_KIND = MessageKind.POLICY_UPTAKE
EXTERNAL_SKIPPED_NOTE = "企业微信客户群发：未配置外部联系人，已跳过"
TOKEN_PATTERN = re.compile(r"^[0-9a-f]{32}$")


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PushSettings:
    weekly_cap: int = 2
    quiet_hours: tuple[time, time] | None = (time(21, 0), time(8, 0))  # None: no quiet hours
    push_time: time = time(9, 30)
    reminder_days: int = 7

    @property
    def quiet_hours_text(self) -> str:
        if self.quiet_hours is None:
            return ""
        start, end = self.quiet_hours
        return f"{start:%H:%M}-{end:%H:%M}"


SETTING_KEYS = {
    "weekly_cap": "policy_push_weekly_cap",
    "quiet_hours": "policy_quiet_hours",
    "push_time": "policy_push_time",
    "reminder_days": "policy_reminder_days",
}
_HHMM = re.compile(r"^(\d{1,2})[:：](\d{2})$")


def parse_hhmm(text: str) -> time:
    match = _HHMM.match(str(text).strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"时间格式应为 HH:MM：{text}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_quiet_hours(text: Any) -> tuple[time, time] | None:
    """'21:00-08:00' → (21:00, 08:00); '' or '无' → None (no quiet hours)."""
    value = str(text or "").strip().replace("～", "-").replace("~", "-").replace("—", "-").replace("至", "-")
    if value in ("", "无", "不限"):
        return None
    parts = [p for p in value.split("-") if p.strip()]
    if len(parts) != 2:
        raise ValueError("免打扰时段格式应为 21:00-08:00")
    start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    if start == end:
        return None
    return start, end


def push_settings(session: Session) -> PushSettings:
    rows = {r.key: r.value for r in session.scalars(
        select(SystemSetting).where(SystemSetting.key.in_(list(SETTING_KEYS.values()))))}
    default = PushSettings()
    try:
        cap = int(rows.get(SETTING_KEYS["weekly_cap"], default.weekly_cap))
    except (TypeError, ValueError):
        cap = default.weekly_cap
    try:
        quiet = parse_quiet_hours(rows.get(SETTING_KEYS["quiet_hours"], default.quiet_hours_text))
    except ValueError:
        quiet = default.quiet_hours
    try:
        push_at = parse_hhmm(rows.get(SETTING_KEYS["push_time"], "09:30"))
    except ValueError:
        push_at = default.push_time
    try:
        days = int(rows.get(SETTING_KEYS["reminder_days"], default.reminder_days))
    except (TypeError, ValueError):
        days = default.reminder_days
    return PushSettings(weekly_cap=max(cap, 0), quiet_hours=quiet, push_time=push_at, reminder_days=max(days, 0))


def update_push_settings(ctx: PolicyContext, data: Mapping[str, Any]) -> PushSettings:
    """System administrators only; keys as in ``PushSettings`` (quiet_hours as text, push_time HH:MM)."""
    if ctx.actor is None or ctx.actor.role != Role.SYSADMIN:
        raise PermissionDenied("只有系统管理员可以修改政策推送设置")
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, label, low, high in (("weekly_cap", "每周推送上限", 0, 50), ("reminder_days", "截止前提醒天数", 0, 60)):
        try:
            number = int(str(data.get(key, "")).strip())
            if not low <= number <= high:
                raise ValueError
            values[key] = number
        except ValueError:
            errors[key] = f"{label}应为 {low}–{high} 的整数"
    try:
        quiet = parse_quiet_hours(data.get("quiet_hours", ""))
        values["quiet_hours"] = f"{quiet[0]:%H:%M}-{quiet[1]:%H:%M}" if quiet else ""
    except ValueError as exc:
        errors["quiet_hours"] = str(exc)
    try:
        values["push_time"] = f"{parse_hhmm(str(data.get('push_time', ''))):%H:%M}"
    except ValueError as exc:
        errors["push_time"] = str(exc)
    if errors:
        raise ValidationFailed("推送设置有误：" + "；".join(errors.values()), fields=errors)
    changes = {}
    for key, value in values.items():
        row = ctx.session.get(SystemSetting, SETTING_KEYS[key])
        if row is None:
            ctx.session.add(SystemSetting(key=SETTING_KEYS[key], value=value, updated_at=ctx.now))
            changes[SETTING_KEYS[key]] = [None, value]
        elif row.value != value:
            changes[SETTING_KEYS[key]] = [row.value, value]
            row.value = value
            row.updated_at = ctx.now
    ctx.session.flush()
    if changes:
        ctx.audit("setting.update", "system_setting", ",".join(changes)[:64], {"changes": changes})
    return push_settings(ctx.session)


def in_quiet_hours(settings: PushSettings, now: datetime) -> bool:
    if settings.quiet_hours is None:
        return False
    start, end = settings.quiet_hours
    clock = now.astimezone(LOCAL_TZ).time()
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # the window wraps midnight


def quiet_hours_end(settings: PushSettings, now: datetime) -> datetime | None:
    """When the current quiet window ends (None when not in one)."""
    if not in_quiet_hours(settings, now):
        return None
    _start, end = settings.quiet_hours  # type: ignore[misc]
    local = now.astimezone(LOCAL_TZ)
    candidate = datetime.combine(local.date(), end, LOCAL_TZ)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


# --------------------------------------------------------------------------------------------------
# Links and texts
# --------------------------------------------------------------------------------------------------
def open_link(push: PolicyPush) -> str:
    """The enterprise's no-login page for this push (and its other matched policies)."""
    return f"/p/{push.open_token}"


def digest_link(campaign_id: int) -> str:
    """The H5 page listing the signed-in staff member's enterprises of this campaign."""
    return f"/m/policy-campaigns/{campaign_id}"


def deadline_text(item: PolicyItem) -> str:
    if item.no_application:
        return "免申即享，无需申报"
    if item.apply_until:
        return f"申报截止 {item.apply_until:%Y-%m-%d}"
    return "常年受理"


def forward_text(push: PolicyPush, base_url: str) -> str:
    """The one-tap text a staff member forwards to the enterprise (WeChat, SMS): its link is absolute."""
    item = push.item
    policy = item.policy
    link = public_link(base_url, open_link(push))
    what = f"《{policy.title}》中的「{item.title}」"
    summary = wording.shorten(item.summary or policy.summary, 80)
    lines = [f"【北辰区惠企政策】{push.enterprise.name}：经比对企业信息，贵单位可能符合{what}。"]
    if summary:
        lines.append(summary)
    lines.append(deadline_text(item) + "。")
    lines.append(f"政策详情与申报指引：{link}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Campaign operations (console)
# --------------------------------------------------------------------------------------------------
def get_campaign(session: Session, campaign_id: Any) -> PushCampaign:
    return get_or_not_found(session, PushCampaign, campaign_id, "推送任务不存在")


def list_campaigns(session: Session, *, status: str = "", department_id: int | None = None, policy_id: int | None = None,
                   limit: int = 100) -> list[PushCampaign]:
    query = select(PushCampaign)
    if status in CampaignStatus.LABELS:
        query = query.where(PushCampaign.status == status)
    if department_id:
        query = query.where(PushCampaign.owner_department_id == department_id)
    if policy_id:
        query = query.where(PushCampaign.id.in_(
            select(PushCampaignItem.campaign_id).join(PolicyItem, PolicyItem.id == PushCampaignItem.item_id)
            .where(PolicyItem.policy_id == policy_id)))
    return list(session.scalars(query.order_by(PushCampaign.id.desc()).limit(limit)))


def _pushable_items(session: Session, item_ids: Iterable[Any]) -> list[PolicyItem]:
    ids = []
    for value in item_ids:
        number = inputs.to_id(value)
        if number is None:
            raise ValidationFailed("请选择要推送的申报事项", fields={"item_ids": "无效的事项"})
        ids.append(number)
    ids = sorted(set(ids))
    if not ids:
        raise ValidationFailed("请选择要推送的申报事项", fields={"item_ids": "至少选择一项"})
    items = list(session.scalars(select(PolicyItem).where(PolicyItem.id.in_(ids)).order_by(PolicyItem.id)))
    if len(items) != len(ids):
        raise NotFound("申报事项不存在")
    for item in items:
        if item.policy.status != PolicyStatus.PUBLISHED or item.status != ItemStatus.PUBLISHED:
            raise ValidationFailed(f"「{item.title}」尚未发布，不能推送", fields={"item_ids": "只能推送已发布的事项"})
    departments = {item.policy.owner_department_id for item in items}
    if len(departments) != 1:
        raise ValidationFailed("一次推送只能包含同一牵头部门的政策事项", fields={"item_ids": "牵头部门不一致"})
    return items


def create_campaign(ctx: PolicyContext, item_ids: Iterable[Any], *, title: str = "",
                    scheduled_for: datetime | None = None, kind: str = CampaignKind.MANUAL) -> PushCampaign:
    """A draft campaign for published items of one owner department (approve it to start)."""
    items = _pushable_items(ctx.session, item_ids)
    policy = items[0].policy
    if not can(ctx.session, ctx.actor, "edit", policy):
        raise PermissionDenied("只有牵头部门或营商环境办可以发起政策推送")
    if scheduled_for is not None and scheduled_for.tzinfo is None:
        raise ValidationFailed("发送时间无效", fields={"scheduled_for": "缺少时区"})
    title = wording.shorten(title, 200) or _campaign_title(kind, items)
    campaign = PushCampaign(
        kind=kind, title=title, owner_department_id=policy.owner_department_id, status=CampaignStatus.DRAFT,
        scheduled_for=scheduled_for, created_by_id=ctx.actor.id if ctx.actor else None, notes=[],
        created_at=ctx.now, updated_at=ctx.now,
    )
    campaign.items = items
    ctx.session.add(campaign)
    ctx.session.flush()
    ctx.audit("campaign.create", "push_campaign", campaign.id,
              {"title": campaign.title, "items": [i.id for i in items], "kind": kind,
               "scheduled_for": scheduled_for})
    return campaign


def _subject(items: list[PolicyItem]) -> str:
    policy = items[0].policy
    if len(items) == 1:
        return f"《{policy.title}》{items[0].title}"
    return f"《{policy.title}》等 {len(items)} 项"


def _campaign_title(kind: str, items: list[PolicyItem]) -> str:
    prefix = {CampaignKind.DEADLINE_REMINDER: "截止提醒", CampaignKind.NEW_ITEM: "新政策推送"}.get(kind, "政策推送")
    return wording.shorten(f"{prefix}：{_subject(items)}", 200)


def preview_campaign(session: Session, campaign_or_items: PushCampaign | Iterable[Any], on: date, *,
                     sample_size: int = 20) -> list[tuple[PolicyItem, MatchPreview]]:
    """The match preview of each item (counts per zone and staff member, sample, already told)."""
    items = campaign_or_items.items if isinstance(campaign_or_items, PushCampaign) else [
        session.get(PolicyItem, i) for i in inputs.ids(campaign_or_items)]
    return [(item, preview(session, item.conditions, on, item_id=item.id, sample_size=sample_size))
            for item in items if item is not None]


def approve_campaign(ctx: PolicyContext, campaign_id: Any, *, scheduled_for: datetime | None = None) -> PushCampaign:
    """Owner department's chief helpers / leaders or a sysadmin; sends at ``scheduled_for`` (or at once)."""
    campaign = get_campaign(ctx.session, campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        raise InvalidTransition(f"推送任务当前为「{campaign.status_label}」，不能审批")
    actor = ctx.actor
    if actor is None or not (actor.role == Role.SYSADMIN or is_owner_person(ctx.session, actor,
                                                                             campaign.owner_department_id)):
        raise PermissionDenied("只有牵头部门的首席帮办、部门领导或系统管理员可以审批推送")
    for item in campaign.items:
        if item.policy.status != PolicyStatus.PUBLISHED or item.status != ItemStatus.PUBLISHED:
            raise Conflict(f"「{item.title}」已不是发布状态，不能推送")
    if scheduled_for is not None:
        campaign.scheduled_for = scheduled_for
    campaign.status = CampaignStatus.APPROVED
    campaign.approved_by_id = actor.id
    campaign.approved_at = ctx.now
    campaign.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit("campaign.approve", "push_campaign", campaign.id,
              {"title": campaign.title, "scheduled_for": campaign.scheduled_for})
    return campaign


def _set_status(ctx: PolicyContext, campaign_id: Any, allowed: tuple[str, ...], target: str, action: str,
                label: str) -> PushCampaign:
    campaign = get_campaign(ctx.session, campaign_id)
    actor = ctx.actor
    if actor is None or not (actor.role == Role.SYSADMIN or is_owner_person(ctx.session, actor,
                                                                             campaign.owner_department_id)):
        raise PermissionDenied("只有牵头部门的首席帮办、部门领导或系统管理员可以操作推送任务")
    if campaign.status not in allowed:
        raise InvalidTransition(f"推送任务当前为「{campaign.status_label}」，不能{label}")
    before = campaign.status
    campaign.status = target
    campaign.updated_at = ctx.now
    if target in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
        campaign.finished_at = ctx.now
    ctx.session.flush()
    ctx.audit(f"campaign.{action}", "push_campaign", campaign.id, {"from": before, "to": target})
    return campaign


def pause_campaign(ctx: PolicyContext, campaign_id: Any) -> PushCampaign:
    return _set_status(ctx, campaign_id, CampaignStatus.ACTIVE, CampaignStatus.PAUSED, "pause", "暂停")


def resume_campaign(ctx: PolicyContext, campaign_id: Any) -> PushCampaign:
    return _set_status(ctx, campaign_id, (CampaignStatus.PAUSED,), CampaignStatus.RUNNING, "resume", "恢复")


def cancel_campaign(ctx: PolicyContext, campaign_id: Any) -> PushCampaign:
    """Stop for good; enterprises selected but not yet named in any digest are released (never told)."""
    campaign = _set_status(ctx, campaign_id, (CampaignStatus.DRAFT, *CampaignStatus.ACTIVE, CampaignStatus.PAUSED),
                           CampaignStatus.CANCELLED, "cancel", "取消")
    ctx.session.execute(PolicyPush.__table__.delete().where(
        PolicyPush.campaign_id == campaign.id, PolicyPush.status == PushStatus.QUEUED, PolicyPush.digest_key.is_(None)))
    ctx.session.execute(update(PolicyPush).where(
        PolicyPush.reminder_campaign_id == campaign.id, PolicyPush.reminder_status == PushStatus.QUEUED,
        PolicyPush.reminder_digest_key.is_(None)).values(reminder_campaign_id=None, reminder_status=""))
    refresh_counters(ctx.session, campaign, ctx.now)
    return campaign


# --------------------------------------------------------------------------------------------------
# Lanes: a first push and a deadline reminder keep their delivery state in different columns
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lane:
    name: str
    campaign: Any
    status: Any
    digest: Any
    sent_at: Any


PUSH_LANE = Lane("push", PolicyPush.campaign_id, PolicyPush.status, PolicyPush.digest_key, PolicyPush.sent_at)
REMINDER_LANE = Lane("reminder", PolicyPush.reminder_campaign_id, PolicyPush.reminder_status,
                     PolicyPush.reminder_digest_key, PolicyPush.reminded_at)


def lane_of(campaign: PushCampaign) -> Lane:
    return REMINDER_LANE if campaign.kind == CampaignKind.DEADLINE_REMINDER else PUSH_LANE


def _token_expr(dialect: str):
    # 128 random bits from the database's own CSPRNG (SQLite randomblob, PostgreSQL pgcrypto-free
    # gen_random_uuid): tokens are made in the same set-based INSERT, no per-row Python.
    if dialect == "postgresql":
        return func.replace(cast(func.gen_random_uuid(), String), "-", "")
    return func.lower(func.hex(func.randomblob(16)))


def _insert(dialect: str):
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _cap_ok(now: datetime, cap: int):
    recent = (select(func.count()).select_from(PolicyPush)
              .where(PolicyPush.enterprise_id == Enterprise.id, PolicyPush.created_at > now - CAP_WINDOW)
              .correlate(Enterprise).scalar_subquery())
    return recent < cap


def _not_told(item_id: int):
    return ~exists().where(PolicyPush.enterprise_id == Enterprise.id, PolicyPush.item_id == item_id)


def select_targets(session: Session, campaign: PushCampaign, item: PolicyItem, now: datetime,
                   settings: PushSettings) -> int:
    """INSERT … SELECT the item's untold, operating, under-cap matches as queued pushes; returns rows."""
    dialect = session.get_bind().dialect.name
    conditions = parse_conditions(item.conditions)
    where = and_(
        match_clause(conditions, local_today(now), dialect),
        Enterprise.status.in_(RegistrationStatus.OPERATING),
        _not_told(item.id),
        _cap_ok(now, settings.weekly_cap),
    )
    source = select(
        Enterprise.id, literal(item.id), literal(campaign.id),
        case((Enterprise.service_staff_id.is_(None), PushChannel.PAGE), else_=PushChannel.STAFF_DIGEST),
        Enterprise.service_staff_id, Enterprise.zone_id, literal(PushStatus.QUEUED), _token_expr(dialect),
        literal(now, UTCDateTime()), literal(0), literal(""), literal(""), literal(""),
    ).where(where)
    columns = ["enterprise_id", "item_id", "campaign_id", "channel", "staff_id", "zone_id", "status", "open_token",
               "created_at", "open_count", "applied_by_label", "granted_note", "reminder_status"]
    stmt = _insert(dialect)(PolicyPush.__table__).from_select(columns, source).on_conflict_do_nothing()
    if dialect == "postgresql":
        # psycopg reports no rowcount for this statement: count what a data-modifying CTE returns.
        inserted = stmt.returning(PolicyPush.__table__.c.id).cte("inserted")
        return int(session.connection().execute(select(func.count()).select_from(inserted)).scalar_one())
    return max(session.connection().execute(stmt).rowcount or 0, 0)


def select_reminder_targets(session: Session, campaign: PushCampaign, item: PolicyItem, now: datetime) -> int:
    """Pushes of the item told before today, not applied or granted, to remind once."""
    today_start = datetime.combine(local_today(now), time(0), LOCAL_TZ).astimezone(UTC)
    operating = select(Enterprise.id).where(Enterprise.status.in_(RegistrationStatus.OPERATING))
    result = session.execute(update(PolicyPush).where(
        PolicyPush.item_id == item.id, PolicyPush.status == PushStatus.SENT, PolicyPush.sent_at < today_start,
        PolicyPush.applied_at.is_(None), PolicyPush.granted_at.is_(None), PolicyPush.reminder_campaign_id.is_(None),
        PolicyPush.enterprise_id.in_(operating),
    ).values(reminder_campaign_id=campaign.id, reminder_status=PushStatus.QUEUED).execution_options(
        synchronize_session=False))
    return result.rowcount or 0


def pending_matches(session: Session, item: PolicyItem, now: datetime, settings: PushSettings) -> tuple[int, int]:
    """(matched operating enterprises not yet told the item, of which held back by the weekly cap)."""
    dialect = session.get_bind().dialect.name
    base = and_(match_clause(parse_conditions(item.conditions), local_today(now), dialect),
                Enterprise.status.in_(RegistrationStatus.OPERATING), _not_told(item.id))
    pending, capped = session.execute(
        select(func.count(), func.coalesce(func.sum(case((not_(_cap_ok(now, settings.weekly_cap)), 1), else_=0)), 0))
        .select_from(Enterprise).where(base)).one()
    return int(pending or 0), int(capped or 0)


# --------------------------------------------------------------------------------------------------
# Digests
# --------------------------------------------------------------------------------------------------
def _reachable(person: Person, channels: Channels) -> bool:
    return bool(channels.sandbox or (channels.wecom and person.wecom_userid)
                or (channels.dingtalk and person.dingtalk_userid))


def zone_admins(session: Session, zone_id: int | None) -> list[Person]:
    if zone_id is None:
        return []
    return list(session.scalars(select(Person).where(
        Person.zone_id == zone_id, Person.role == Role.ZONE_ADMIN, Person.active.is_(True)).order_by(Person.id)))


def _digest_groups(session: Session, campaign: PushCampaign, lane: Lane) -> list[tuple[int | None, int | None]]:
    """(staff_id, zone_id) groups with undigested queued pushes: staff groups, then unassigned per zone."""
    base = and_(lane.campaign == campaign.id, lane.status == PushStatus.QUEUED, lane.digest.is_(None))
    staff = session.execute(select(PolicyPush.staff_id).where(base, PolicyPush.staff_id.is_not(None))
                            .group_by(PolicyPush.staff_id).order_by(PolicyPush.staff_id)).scalars().all()
    zones = session.execute(select(PolicyPush.zone_id).where(base, PolicyPush.staff_id.is_(None))
                            .group_by(PolicyPush.zone_id).order_by(PolicyPush.zone_id)).scalars().all()
    return [(s, None) for s in staff] + [(None, z) for z in zones]


def _group_filter(campaign: PushCampaign, lane: Lane, staff_id: int | None, zone_id: int | None):
    clauses = [lane.campaign == campaign.id, lane.status == PushStatus.QUEUED, lane.digest.is_(None)]
    if staff_id is not None:
        clauses.append(PolicyPush.staff_id == staff_id)
    else:
        clauses += [PolicyPush.staff_id.is_(None),
                    PolicyPush.zone_id == zone_id if zone_id is not None else PolicyPush.zone_id.is_(None)]
    return and_(*clauses)


def write_digest(session: Session, campaign: PushCampaign, staff_id: int | None, zone_id: int | None,
                 now: datetime, channels: Channels, base_url: str = "") -> str:
    """One digest for one recipient group, and its pushes tagged with the digest key (same transaction).

    Returns what happened: 'digest', 'page' (nobody to tell: shown on the enterprise page only),
    'unreachable' (the recipient has no channel: failed) or 'none' (taken by another worker)."""
    lane = lane_of(campaign)
    where = _group_filter(campaign, lane, staff_id, zone_id)
    first_id = session.scalar(select(func.min(PolicyPush.id)).where(where))
    if first_id is None:
        return "none"
    if staff_id is not None:
        person = session.get(Person, staff_id)
        recipients = [person] if person is not None and person.active else []
        if not recipients:  # the staff member left: their zone's administrators take over
            owner_zone = session.scalar(select(func.min(PolicyPush.zone_id)).where(where))
            recipients = zone_admins(session, owner_zone)
        key = f"policy:{campaign.id}:{lane.name}:s{staff_id}:{first_id}"
    else:
        recipients = zone_admins(session, zone_id)
        key = f"policy:{campaign.id}:{lane.name}:z{zone_id or 0}:{first_id}"
    recipients = [p for p in recipients if _reachable(p, channels)]
    ids_query = select(PolicyPush.id).where(where, PolicyPush.id >= first_id)
    if not recipients:
        outcome_status = PushStatus.SENT if staff_id is None else PushStatus.FAILED
        values = {lane.status.key: outcome_status, lane.digest.key: key}
        if outcome_status == PushStatus.SENT:
            values[lane.sent_at.key] = now
        session.execute(update(PolicyPush).where(PolicyPush.id.in_(ids_query)).values(**values)
                        .execution_options(synchronize_session=False))
        return "page" if staff_id is None else "unreachable"
    tagged = session.execute(update(PolicyPush).where(PolicyPush.id.in_(ids_query)).values(
        **{lane.digest.key: key}).execution_options(synchronize_session=False)).rowcount or 0
    if not tagged:
        return "none"
    payload = _digest_payload(session, campaign, lane, key, now, for_zone=staff_id is None)
    notifier = Notifier(session, channels, now)
    notifier.to_people(recipients, kind=DIGEST_KIND, payload=payload, key=key)
    if base_url and lane is PUSH_LANE:
        _text_enterprises(notifier, select(PolicyPush.id).where(lane.digest == key), base_url)
    return "digest"


def _text_enterprises(notifier: Notifier, ids_query, base_url: str) -> None:
    """Each enterprise of the digest also gets its item by text, at the registry's contact mobile
    (opt-outs, quiet hours and per-number caps as for every text: ``services.messaging.enterprise``)."""
    from services.messaging import enterprise as enterprise_messages

    pushes = notifier.session.scalars(select(PolicyPush).where(PolicyPush.id.in_(ids_query)).order_by(PolicyPush.id))
    for push in pushes:
        enterprise = notifier.session.get(Enterprise, push.enterprise_id)
        item = notifier.session.get(PolicyItem, push.item_id)
        if enterprise is None or item is None or not enterprise.contact_phone:
            continue
        enterprise_messages.tell_policy(notifier, enterprise, enterprise.contact_phone, item.title,
                                        public_link(base_url, open_link(push)), f"policy-sms:{push.id}")


def _digest_payload(session: Session, campaign: PushCampaign, lane: Lane, key: str, now: datetime, *,
                    for_zone: bool) -> dict[str, Any]:
    rows = session.execute(
        select(Enterprise.name, PolicyPush.item_id).join(Enterprise, Enterprise.id == PolicyPush.enterprise_id)
        .where(lane.digest == key).order_by(PolicyPush.id)).all()
    names = list(dict.fromkeys(name for name, _ in rows))
    item_ids = sorted({item_id for _, item_id in rows})
    items = [session.get(PolicyItem, i) for i in item_ids]
    policies = list(dict.fromkeys(item.policy.title for item in items))
    count = len(names)
    values = {
        "whose": "你所在片区尚未分配服务专员的" if for_zone else "你负责的", "count": count,
        "target": f"《{policies[0]}》" if len(policies) == 1 else f"《{policies[0]}》等 {len(policies)} 项政策",
        "items": "、".join(f"「{i.title}」" for i in items[:3]) + (f"等 {len(items)} 项" if len(items) > 3 else ""),
        "names": "、".join(names[:DIGEST_NAMES]) + (f" 等 {count} 家" if count > DIGEST_NAMES else ""),
        "deadlines": "；".join(sorted({deadline_text(i) for i in items})), "campaign_id": campaign.id,
        "stamp": local_time(now, "%Y-%m-%d %H:%M"), "deadline": deadline_text(items[0]) if items else "",
    }
    name = "policy_deadline_digest" if lane is REMINDER_LANE else "policy_digest"
    title, _, text = Notifier(session, Channels(), now).render(name, **values).partition("\n")
    return {"title": title.strip(), "text": text.strip(), "url": digest_link(campaign.id), "campaign_id": campaign.id,
            "count": count}


def sync_deliveries(session: Session, campaign: PushCampaign, now: datetime) -> tuple[int, int]:
    """Queued pushes whose digest was delivered → sent; whose every outbox row is dead → failed."""
    lane = lane_of(campaign)
    keys = session.scalars(select(lane.digest).where(
        lane.campaign == campaign.id, lane.status == PushStatus.QUEUED, lane.digest.is_not(None))
        .group_by(lane.digest)).all()
    sent = failed = 0
    for key in keys:
        rows = session.execute(select(OutboundMessage.status, OutboundMessage.sent_at).where(
            OutboundMessage.dedupe_key.startswith(f"{key}:", autoescape=True))).all()
        statuses = [r.status for r in rows]
        if OutboxStatus.SENT in statuses:
            when = min((r.sent_at for r in rows if r.status == OutboxStatus.SENT and r.sent_at), default=now)
            values = {lane.status.key: PushStatus.SENT, lane.sent_at.key: when}
        elif rows and all(s == OutboxStatus.DEAD for s in statuses):
            values = {lane.status.key: PushStatus.FAILED}
        elif not rows:
            values = {lane.status.key: PushStatus.FAILED}  # nothing was written: no channel reached them
        else:
            continue
        count = session.execute(update(PolicyPush).where(
            lane.digest == key, lane.status == PushStatus.QUEUED).values(**values)
            .execution_options(synchronize_session=False)).rowcount or 0
        if values[lane.status.key] == PushStatus.SENT:
            sent += count
        else:
            failed += count
    return sent, failed


# --------------------------------------------------------------------------------------------------
# Counters and completion
# --------------------------------------------------------------------------------------------------
def _open_items(campaign: PushCampaign, now: datetime) -> list[PolicyItem]:
    today = local_today(now)
    result = []
    for item in campaign.items:
        if item.status != ItemStatus.PUBLISHED or item.policy.status != PolicyStatus.PUBLISHED:
            continue
        if not item_open(item, today):
            continue
        if campaign.kind == CampaignKind.DEADLINE_REMINDER and (item.no_application or item.apply_until is None):
            continue
        result.append(item)
    return result


def refresh_counters(session: Session, campaign: PushCampaign, now: datetime,
                     settings: PushSettings | None = None) -> PushCampaign:
    """Recount sent / waiting / failed (and held by the cap) from the pushes, set-based."""
    lane = lane_of(campaign)
    counts = dict(session.execute(select(lane.status, func.count()).where(lane.campaign == campaign.id)
                                  .group_by(lane.status)).all())
    campaign.sent = int(counts.get(PushStatus.SENT, 0))
    campaign.failed = int(counts.get(PushStatus.FAILED, 0))
    queued = int(counts.get(PushStatus.QUEUED, 0))
    pending = capped = already = 0
    if lane is PUSH_LANE and campaign.status in (*CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        settings = settings or push_settings(session)
        for item in _open_items(campaign, now):
            p, c = pending_matches(session, item, now, settings)
            pending += p
            capped += c
    if lane is PUSH_LANE:
        dialect = session.get_bind().dialect.name
        for item in campaign.items:
            already += int(session.scalar(
                select(func.count()).select_from(PolicyPush).join(Enterprise, Enterprise.id == PolicyPush.enterprise_id)
                .where(PolicyPush.item_id == item.id,
                       or_(PolicyPush.campaign_id.is_(None), PolicyPush.campaign_id != campaign.id),
                       match_clause(parse_conditions(item.conditions), local_today(now), dialect))) or 0)
    campaign.waiting = queued + pending
    campaign.capped = capped
    campaign.already_pushed = already
    campaign.total = campaign.sent + campaign.failed + campaign.waiting
    campaign.digests = int(session.scalar(select(func.count(func.distinct(lane.digest))).where(
        lane.campaign == campaign.id, lane.digest.is_not(None))) or 0)
    return campaign


def _note(campaign: PushCampaign, text: str) -> None:
    notes = list(campaign.notes or [])
    if text not in notes:
        notes.append(text)
        campaign.notes = notes


def external_contact_targets(session: Session, campaign: PushCampaign) -> list[tuple[int, list[str]]]:
    """Hook for (b): ``[(staff person id, [WeCom external_userid …])]`` to send as
    ``externalcontact/add_msg_template`` tasks their staff member confirms. The registry keeps no
    external contacts yet, so there is nothing to send; once it does, write one outbox row per
    staff member (kind ``wecom_customer_task``) here and teach the WeCom adapter that kind."""
    return []


# --------------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------------
@dataclass
class RunReport:
    created: int = 0
    started: int = 0
    targets: int = 0
    digests: int = 0
    synced: int = 0
    finished: int = 0
    quiet: bool = False

    def describe(self) -> str:
        if self.quiet:
            return f"免打扰时段，暂停发送；新建推送任务 {self.created} 个"
        return (f"新建推送任务 {self.created} 个，启动 {self.started} 个，选定企业 {self.targets} 家次，"
                f"写入摘要 {self.digests} 条，确认送达 {self.synced} 家次，完成 {self.finished} 个")


def _push_moment(session: Session, now: datetime, settings: PushSettings) -> datetime | None:
    """Today's push time if today is a working day and it has come, else None."""
    from services.orders.deadlines import load_calendar

    local = now.astimezone(LOCAL_TZ)
    if not load_calendar(session).is_workday(local.date()):
        return None
    moment = datetime.combine(local.date(), settings.push_time, LOCAL_TZ)
    return moment.astimezone(UTC) if local >= moment else None


def create_scheduled_campaigns(session: Session, now: datetime, settings: PushSettings | None = None
                               ) -> list[PushCampaign]:
    """Working days after the push time: a ``new_item`` campaign per policy for items published
    before it and never put in a campaign, and a ``deadline_reminder`` per item whose window closes
    within ``reminder_days``. Idempotent: re-running the same day creates nothing new."""
    settings = settings or push_settings(session)
    moment = _push_moment(session, now, settings)
    if moment is None:
        return []
    today = local_today(now)
    created: list[PushCampaign] = []
    in_campaign = select(PushCampaignItem.item_id).join(PushCampaign, PushCampaign.id == PushCampaignItem.campaign_id)
    new_items = session.scalars(
        select(PolicyItem).join(Policy, Policy.id == PolicyItem.policy_id).where(
            PolicyItem.status == ItemStatus.PUBLISHED, Policy.status == PolicyStatus.PUBLISHED,
            PolicyItem.published_at <= moment,
            PolicyItem.id.not_in(in_campaign.where(PushCampaign.kind != CampaignKind.DEADLINE_REMINDER)),
        ).order_by(PolicyItem.policy_id, PolicyItem.id)).all()
    by_policy: dict[int, list[PolicyItem]] = {}
    for item in new_items:
        if item_open(item, today):
            by_policy.setdefault(item.policy_id, []).append(item)
    for items in by_policy.values():
        created.append(_system_campaign(session, CampaignKind.NEW_ITEM, items, now, moment))

    if settings.reminder_days > 0:
        today_start = datetime.combine(today, time(0), LOCAL_TZ).astimezone(UTC)
        closing = session.scalars(
            select(PolicyItem).join(Policy, Policy.id == PolicyItem.policy_id).where(
                PolicyItem.status == ItemStatus.PUBLISHED, Policy.status == PolicyStatus.PUBLISHED,
                PolicyItem.no_application.is_(False), PolicyItem.apply_until.is_not(None),
                PolicyItem.apply_until >= today, PolicyItem.apply_until <= today + timedelta(days=settings.reminder_days),
                PolicyItem.id.not_in(in_campaign.where(PushCampaign.kind == CampaignKind.DEADLINE_REMINDER)),
                exists().where(PolicyPush.item_id == PolicyItem.id, PolicyPush.status == PushStatus.SENT,
                               PolicyPush.sent_at < today_start, PolicyPush.applied_at.is_(None),
                               PolicyPush.granted_at.is_(None)),
            ).order_by(PolicyItem.id)).all()
        for item in closing:
            created.append(_system_campaign(session, CampaignKind.DEADLINE_REMINDER, [item], now, moment))
    return created


def _system_campaign(session: Session, kind: str, items: list[PolicyItem], now: datetime,
                     moment: datetime) -> PushCampaign:
    policy = items[0].policy
    campaign = PushCampaign(
        kind=kind, title=_campaign_title(kind, items), owner_department_id=policy.owner_department_id,
        status=CampaignStatus.APPROVED, scheduled_for=moment, created_by_id=None,
        approved_by_id=policy.published_by_id, approved_at=now, notes=["政策发布时已由牵头部门审核，系统按时自动推送"],
        created_at=now, updated_at=now,
    )
    campaign.items = items
    session.add(campaign)
    session.flush()
    from services import audit

    audit.record(session, None, "campaign.create", "push_campaign", campaign.id,
                 {"title": campaign.title, "items": [i.id for i in items], "kind": kind, "auto": True}, "", now)
    return campaign


def _department_line(session: Session, campaign: PushCampaign, now: datetime, channels: Channels, phase: str) -> None:
    department = session.get(Department, campaign.owner_department_id)
    subject = _subject(campaign.items) if campaign.items else campaign.title
    notifier = Notifier(session, channels, now)
    text = notifier.render("policy_campaign_started" if phase == "start" else "policy_campaign_done",
                           kind=campaign.kind_label, subject=subject, sent=campaign.sent, failed=campaign.failed,
                           already=campaign.already_pushed)
    notifier.to_group(department, kind="status", payload={"text": text}, key=f"policy:{campaign.id}:{phase}")


def step_campaign(session_factory: sessionmaker[Session], campaign_id: int, *, now_fn: Callable[[], datetime],
                  channels: Channels, deadline: float, report: RunReport, base_url: str = "") -> None:
    """One pass over one running campaign: targets, digests (until ``deadline``, monotonic), sync."""
    with session_scope(session_factory) as session:
        campaign = session.get(PushCampaign, campaign_id)
        if campaign is None or campaign.status != CampaignStatus.RUNNING:
            return
        now = now_fn()
        settings = push_settings(session)
        if in_quiet_hours(settings, now):
            return
        lane = lane_of(campaign)
        for item in _open_items(campaign, now):
            if lane is PUSH_LANE:
                report.targets += select_targets(session, campaign, item, now, settings)
            else:
                report.targets += select_reminder_targets(session, campaign, item, now)
        if lane is PUSH_LANE and not external_contact_targets(session, campaign):
            _note(campaign, EXTERNAL_SKIPPED_NOTE)
        campaign.last_run_at = now
        groups = _digest_groups(session, campaign, lane)

    outcomes: dict[str, int] = {}
    for staff_id, zone_id in groups:
        if _time.monotonic() > deadline:
            break
        with session_scope(session_factory) as session:
            campaign = session.get(PushCampaign, campaign_id)
            now = now_fn()
            if campaign is None or campaign.status != CampaignStatus.RUNNING or in_quiet_hours(
                    push_settings(session), now):
                break
            outcome = write_digest(session, campaign, staff_id, zone_id, now, channels, base_url)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "digest":
            report.digests += 1

    with session_scope(session_factory) as session:
        campaign = session.get(PushCampaign, campaign_id)
        if campaign is None:
            return
        now = now_fn()
        if outcomes.get("page"):
            _note(campaign, "部分企业未分配服务专员且所在片区没有片区管理员，仅在企业政策页展示")
        if outcomes.get("unreachable"):
            _note(campaign, "部分服务专员未绑定可用的消息渠道，相关企业推送失败")
        finish_if_done(session, campaign, now, channels, report)


def finish_if_done(session: Session, campaign: PushCampaign, now: datetime, channels: Channels,
                   report: RunReport | None = None) -> bool:
    sent, failed = sync_deliveries(session, campaign, now)
    if report is not None:
        report.synced += sent
    settings = push_settings(session)
    refresh_counters(session, campaign, now, settings)
    campaign.updated_at = now
    if campaign.status != CampaignStatus.RUNNING:
        return False
    lane = lane_of(campaign)
    queued = int(session.scalar(select(func.count()).select_from(PolicyPush).where(
        lane.campaign == campaign.id, lane.status == PushStatus.QUEUED)) or 0)
    open_items = _open_items(campaign, now)
    if queued:
        return False
    if lane is PUSH_LANE and open_items and campaign.waiting:
        if campaign.capped:
            _note(campaign, "部分企业本周推送已达上限，将在上限解除后继续推送")
        return False
    if lane is PUSH_LANE and campaign.waiting and not open_items:
        _note(campaign, f"申报已截止或事项已撤回，{campaign.waiting} 家企业未推送")
    if not open_items and not campaign.sent and not campaign.failed:
        _note(campaign, "没有可推送的事项（已撤回、已截止或政策已废止）")
    campaign.status = CampaignStatus.DONE
    campaign.finished_at = now
    campaign.waiting = 0 if not open_items else campaign.waiting
    _department_line(session, campaign, now, channels, "done")
    if report is not None:
        report.finished += 1
    return True


def run_campaigns(session_factory: sessionmaker[Session], *, now_fn: Callable[[], datetime], channels: Channels,
                  budget_seconds: float = 15.0, base_url: str = "") -> RunReport:
    """The ``policy_campaigns`` job: create scheduled campaigns, start due ones, step running ones."""
    report = RunReport()
    deadline = _time.monotonic() + budget_seconds
    with session_scope(session_factory) as session:
        now = now_fn()
        settings = push_settings(session)
        report.created = len(create_scheduled_campaigns(session, now, settings))
        report.quiet = in_quiet_hours(settings, now)
        if not report.quiet:
            due = session.scalars(select(PushCampaign).where(
                PushCampaign.status == CampaignStatus.APPROVED,
                or_(PushCampaign.scheduled_for.is_(None), PushCampaign.scheduled_for <= now),
            ).order_by(PushCampaign.id)).all()
            for campaign in due:
                campaign.status = CampaignStatus.RUNNING
                campaign.started_at = now
                campaign.updated_at = now
                _department_line(session, campaign, now, channels, "start")
                report.started += 1
        running = session.scalars(select(PushCampaign.id).where(PushCampaign.status == CampaignStatus.RUNNING)
                                  .order_by(PushCampaign.id)).all()
        paused = session.scalars(select(PushCampaign).where(PushCampaign.status == CampaignStatus.PAUSED)).all()
        for campaign in paused:  # deliveries already under way still land in the counters
            sync_deliveries(session, campaign, now)
            refresh_counters(session, campaign, now, settings)
    for campaign_id in running:
        if report.quiet:
            with session_scope(session_factory) as session:
                campaign = session.get(PushCampaign, campaign_id)
                if campaign is not None:
                    sync_deliveries(session, campaign, now_fn())
                    refresh_counters(session, campaign, now_fn())
            continue
        step_campaign(session_factory, campaign_id, now_fn=now_fn, channels=channels, deadline=deadline, base_url=base_url,
                      report=report)
    return report


# --------------------------------------------------------------------------------------------------
# Tracking
# --------------------------------------------------------------------------------------------------
def find_by_token(session: Session, token: str | None) -> PolicyPush | None:
    token = (token or "").strip().lower()
    if not TOKEN_PATTERN.match(token):
        return None
    return session.scalar(select(PolicyPush).where(PolicyPush.open_token == token))


def record_open(session: Session, token: str, now: datetime) -> PolicyPush:
    """The enterprise opened its link: first time stamps ``opened_at``; every time counts."""
    push = find_by_token(session, token)
    if push is None:
        raise NotFound("链接无效或已失效")
    if push.opened_at is None:
        push.opened_at = now
    push.open_count = (push.open_count or 0) + 1
    session.flush()
    return push


def can_mark(session: Session, person: Person | None, push: PolicyPush, what: str) -> bool:
    """applied: the staff member, their zone's administrators, the owner department, sysadmins;
    granted: the owner department and sysadmins."""
    if person is None or not person.active:
        return False
    if person.role == Role.SYSADMIN:
        return True
    if is_owner_person(session, person, push.item.policy.owner_department_id):
        return True
    if what != "applied":
        return False
    enterprise = push.enterprise
    if person.id in (push.staff_id, enterprise.service_staff_id):
        return True
    return person.role == Role.ZONE_ADMIN and person.zone_id is not None and person.zone_id == enterprise.zone_id


def _get_push(session: Session, push_id: Any) -> PolicyPush:
    return get_or_not_found(session, PolicyPush, push_id, "推送记录不存在")


def mark_applied(session: Session, push_id: Any, actor: Person | None, now: datetime, *, ip: str = "") -> PolicyPush:
    """The enterprise has applied (marked by its staff member or the department); idempotent."""
    push = _get_push(session, push_id)
    if not can_mark(session, actor, push, "applied"):
        raise PermissionDenied("只有该企业的服务专员、片区管理员或牵头部门可以标记申报")
    if push.item.no_application:
        raise InvalidTransition("免申即享事项无需申报，可直接标记兑现")
    if push.applied_at is None:
        from services.audit import actor_label, record

        push.applied_at = now
        push.applied_by_id = actor.id if actor else None
        push.applied_by_label = actor_label(actor)[:128]
        session.flush()
        record(session, actor, "policy.push.applied", "policy_push", push.id,
               {"enterprise_id": push.enterprise_id, "item_id": push.item_id}, ip, now)
    return push


def mark_applied_by_token(session: Session, token: str, now: datetime, *, ip: str = "") -> PolicyPush:
    """The enterprise says, on its own page, that it has applied."""
    push = find_by_token(session, token)
    if push is None:
        raise NotFound("链接无效或已失效")
    if push.item.no_application:
        raise InvalidTransition("该事项免申即享，无需申报")
    if push.applied_at is None:
        from services.audit import record

        push.applied_at = now
        push.applied_by_label = "企业自行标记"
        if push.opened_at is None:
            push.opened_at = now
        session.flush()
        record(session, None, "policy.push.applied", "policy_push", push.id,
               {"enterprise_id": push.enterprise_id, "item_id": push.item_id, "by": "enterprise"}, ip, now)
    return push


def mark_granted(session: Session, push_id: Any, actor: Person | None, now: datetime, *, note: str = "",
                 ip: str = "") -> PolicyPush:
    """The support was granted (兑现): the owner department or a sysadmin; idempotent."""
    push = _get_push(session, push_id)
    if not can_mark(session, actor, push, "granted"):
        raise PermissionDenied("只有牵头部门或系统管理员可以标记兑现")
    if push.granted_at is None:
        from services.audit import record

        push.granted_at = now
        push.granted_by_id = actor.id if actor else None
        push.granted_note = (note or "").strip()[:2000]
        session.flush()
        record(session, actor, "policy.push.granted", "policy_push", push.id,
               {"enterprise_id": push.enterprise_id, "item_id": push.item_id, "note": push.granted_note}, ip, now)
    return push


# --------------------------------------------------------------------------------------------------
# Reading for pages
# --------------------------------------------------------------------------------------------------
def staff_pushes(session: Session, campaign_id: int, person: Person) -> list[PolicyPush]:
    """What the digest link shows this person: their enterprises in the campaign (both lanes);
    zone administrators also see their zone's enterprises without a staff member."""
    mine = or_(PolicyPush.staff_id == person.id)
    if person.role == Role.ZONE_ADMIN and person.zone_id is not None:
        mine = or_(mine, and_(PolicyPush.staff_id.is_(None), PolicyPush.zone_id == person.zone_id))
    if person.role == Role.SYSADMIN:
        mine = true()
    return list(session.scalars(select(PolicyPush).where(
        or_(PolicyPush.campaign_id == campaign_id, PolicyPush.reminder_campaign_id == campaign_id), mine)
        .order_by(PolicyPush.id)))


def enterprise_pushes(session: Session, enterprise_id: int) -> list[PolicyPush]:
    """Everything pushed to one enterprise, newest first (its policy page)."""
    return list(session.scalars(select(PolicyPush).where(PolicyPush.enterprise_id == enterprise_id)
                                .order_by(PolicyPush.created_at.desc(), PolicyPush.id.desc())))


# The furthest funnel step a push reached, for the campaign page's filter.
PUSH_STAGES = {"opened": "已查看", "applied": "已申报", "granted": "已兑现", "unopened": "未查看"}
PUSHES_PER_PAGE = 50


@dataclass(frozen=True)
class PushFilter:
    status: str = ""  # PushStatus
    stage: str = ""  # PUSH_STAGES
    zone_id: int | None = None
    q: str = ""  # part of the enterprise's name or of the staff member's name
    page: int = 1

    @property
    def active(self) -> bool:
        return bool(self.status or self.stage or self.zone_id or self.q)


def campaign_pushes(session: Session, campaign_id: int, flt: PushFilter = PushFilter(), *,
                    per_page: int = PUSHES_PER_PAGE) -> Page[PolicyPush]:
    """A campaign's pushes, one page at a time, filtered like the order list."""
    query = select(PolicyPush).where(or_(PolicyPush.campaign_id == campaign_id,
                                         PolicyPush.reminder_campaign_id == campaign_id))
    if flt.status in PushStatus.LABELS:
        query = query.where(PolicyPush.status == flt.status)
    if flt.stage == "granted":
        query = query.where(PolicyPush.granted_at.is_not(None))
    elif flt.stage == "applied":
        query = query.where(PolicyPush.applied_at.is_not(None), PolicyPush.granted_at.is_(None))
    elif flt.stage == "opened":
        query = query.where(PolicyPush.opened_at.is_not(None), PolicyPush.applied_at.is_(None),
                            PolicyPush.granted_at.is_(None))
    elif flt.stage == "unopened":
        query = query.where(PolicyPush.opened_at.is_(None), PolicyPush.applied_at.is_(None),
                            PolicyPush.granted_at.is_(None))
    if flt.zone_id is not None:
        query = query.where(PolicyPush.zone_id == flt.zone_id)
    q = " ".join(flt.q.split())[:64]
    if q:
        staff = select(Person.id).where(Person.name.contains(q, autoescape=True))
        names = select(Enterprise.id).where(Enterprise.name.contains(q, autoescape=True))
        query = query.where(PolicyPush.enterprise_id.in_(names) | PolicyPush.staff_id.in_(staff))
    query = query.options(selectinload(PolicyPush.enterprise), selectinload(PolicyPush.item),
                          selectinload(PolicyPush.staff))
    count = select(func.count()).select_from(query.with_only_columns(PolicyPush.id).order_by(None).subquery())
    return paginate(session, query.order_by(PolicyPush.id), page=flt.page, per_page=per_page, count_query=count)


# --------------------------------------------------------------------------------------------------
# Weekly uptake digest to owner departments
# --------------------------------------------------------------------------------------------------
UPTAKE_WEEKDAY_TIME = (0, time(9, 0))  # Monday 09:00, Beijing


def uptake_due(now: datetime) -> bool:
    """This week's uptake digest may go out: it is Monday 09:00 (Beijing) or later in the week."""
    local = now.astimezone(LOCAL_TZ)
    weekday, at = UPTAKE_WEEKDAY_TIME
    return (local.weekday(), local.time()) >= (weekday, at)


def send_uptake_digests(session: Session, now: datetime, channels: Channels) -> int:
    """One message per owner department with pushes: pushed → opened → applied → granted per policy.
    From Monday 09:00 on; keyed by ISO week, so later runs in the same week send nothing more."""
    from services.messaging.notify import chief_helpers, department_leaders
    from services.policies.uptake import by_policy

    if not uptake_due(now):
        return 0
    year, week, _ = local_today(now).isocalendar()
    sent = 0
    department_ids = session.scalars(select(Policy.owner_department_id).where(
        Policy.status.in_((PolicyStatus.PUBLISHED, PolicyStatus.RETIRED))).group_by(Policy.owner_department_id)).all()
    for department_id in department_ids:
        rows = [r for r in by_policy(session, department_id=department_id) if r.funnel.pushed]
        if not rows:
            continue
        people = {p.id: p for p in [*department_leaders(session, department_id),
                                    *chief_helpers(session, department_id)]}
        if not people:
            continue
        lines = [f"《{r.title}》推送 {r.funnel.pushed} → 查看 {r.funnel.opened} → 申报 {r.funnel.applied} → "
                 f"兑现 {r.funnel.granted}" for r in rows[:15]]
        if len(rows) > 15:
            lines.append(f"……共 {len(rows)} 项政策")
        notifier = Notifier(session, channels, now)
        title, _, text = notifier.render("policy_uptake_weekly", year=year, week=week, lines="\n".join(lines),
                                         stamp=local_time(now, "%Y-%m-%d %H:%M")).partition("\n")
        payload = {"title": title.strip(), "text": text.strip(), "url": "/policies/uptake"}
        notifier.to_people(people.values(), kind=UPTAKE_KIND, payload=payload,
                                                   key=f"policy-uptake:{department_id}:{year}-W{week:02d}")
        sent += 1
    return sent
