"""Policy training and consultation: plan an event, invite its audience, sign up, attendance, Q&A.

Operations take a :class:`TrainingContext` (session, actor, now, ip, channels), validate
everything first, change rows, write one audit row and flush; nothing commits and nothing
imports Flask. Invalid input raises ``ValidationFailed`` with a Chinese message per form field.

Invitations are pushed like a campaign, but through the staff: the audience (the same condition
JSON as a policy item, matched set-based by ``services.policies.matching``) is written as
``TrainingInvitation`` rows in one INSERT … SELECT — an enterprise is never invited twice to one
event — and each service staff member gets one digest in the outbox naming how many of their
enterprises are invited, with a link to the H5 list (``/m/trainings/<id>``) holding a forward
text per enterprise. Enterprises without a staff member see the event on their policy page
(``/p/<token>``), where they may also sign up and ask questions themselves.

Questions and their answers are kept; ``published_to_kb`` marks the ones fit for the knowledge base.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, insert, literal, or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Department,
    Enterprise,
    Person,
    Policy,
    PolicyItem,
    PolicyPush,
    PolicyQuestion,
    Role,
    TrainingEvent,
    TrainingInvitation,
    TrainingKind,
    TrainingRegistration,
    TrainingStatus,
)
from services import audit, wording
from services.errors import Conflict, PermissionDenied, ValidationFailed
from services.inputs import EARLIEST_DATE, LATEST_DATE, parse_int, to_id
from services.lookup import get_or_not_found
from services.messaging.notify import Channels, Notifier
from services.policies import matching as policy_matching
from services.policies import push as policy_push

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# Anyone who runs events for the whole district; everyone else runs their own department's.
DISTRICT_ORGANISERS = (Role.SYSADMIN, Role.BIZENV_OFFICE)
ORGANISER_ROLES = (Role.CHIEF_HELPER, Role.DEPT_LEADER)
# Staff members sign their own enterprises up; zone admins any in their zone.
SIGN_UP_ROLES = (Role.SERVICE_STAFF, Role.ZONE_ADMIN)
_PHONE = re.compile(r"^[0-9０-９+\-－ ()（）]{7,20}$")
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
QUESTION_MIN, QUESTION_MAX = 5, 1000
ANSWER_MAX = 4000


@dataclass(frozen=True)
class TrainingContext:
    session: Session
    actor: Person | None  # None: the enterprise itself, on its policy page
    now: datetime
    ip: str = ""
    channels: Channels = field(default_factory=Channels)

    def audit(self, action: str, target_type: str, target_id: Any, detail: Mapping[str, Any]) -> None:
        audit.record(self.session, self.actor, action, target_type, target_id, detail, self.ip, self.now)


# --------------------------------------------------------------------------------------------
# Who may do what
# --------------------------------------------------------------------------------------------
def can_organise(person: Person | None, department_id: int | None = None) -> bool:
    """Create events (``department_id`` None) or manage one department's events."""
    if person is None or not person.active:
        return False
    if person.role in DISTRICT_ORGANISERS:
        return True
    if person.role not in ORGANISER_ROLES or person.department_id is None:
        return False
    if department_id is None:
        return True
    if person.department_id == department_id:
        return True
    department = person.department
    # A department runs its units' events too (the parent sees its units' work).
    return any(unit.id == department_id for unit in (department.units if department else []))


def ensure_organiser(person: Person | None, event: TrainingEvent) -> None:
    if not can_organise(person, event.department_id):
        raise PermissionDenied("只有主办部门（或区营商环境办、系统管理员）可以管理该活动")


def can_sign_up_for(person: Person | None, enterprise: Enterprise, event: TrainingEvent) -> bool:
    """A staff member for their own enterprises, a zone admin for the zone's, the event's own
    organisers for any enterprise (never another department's helper)."""
    if person is None or not person.active:
        return False
    if person.role == Role.SERVICE_STAFF:
        return enterprise.service_staff_id == person.id
    if person.role == Role.ZONE_ADMIN:
        return enterprise.zone_id is not None and enterprise.zone_id == person.zone_id
    return can_organise(person, event.department_id)


def can_ask(person: Person | None) -> bool:
    """Questions are typed in by whoever works the event (staff, organisers); the enterprise itself
    (``None``) asks on its page; the read-only leader does not write."""
    if person is None:
        return True
    return person.active and (person.role in SIGN_UP_ROLES or person.role in ORGANISER_ROLES
                              or person.role in DISTRICT_ORGANISERS)


def can_answer(person: Person | None, question: PolicyQuestion, session: Session) -> bool:
    """The event's organiser or the policy's owner department answers; district organisers any."""
    if person is None or not person.active:
        return False
    if person.role in DISTRICT_ORGANISERS:
        return True
    departments = set()
    if question.event is not None:
        departments.add(question.event.department_id)
    if question.policy_id is not None:
        policy = session.get(Policy, question.policy_id)
        if policy is not None:
            departments.add(policy.owner_department_id)
    return any(can_organise(person, d) for d in departments)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------
def _raw(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return "" if value is None else str(value).strip()


def parse_local_datetime(raw: str) -> datetime | None:
    """A Beijing wall-clock time as typed (``datetime-local`` input) → aware UTC; None if invalid."""
    text = (raw or "").strip()
    if not text.isascii():
        return None
    for fmt in _LOCAL_FORMATS:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        # Years the date parser accepts everywhere; year 1 or 9999 would overflow in a time zone shift.
        if not EARLIEST_DATE.year <= moment.year <= LATEST_DATE.year:
            return None
        return moment.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    return None


def local_input(value: datetime | None) -> str:
    """The value a ``datetime-local`` input shows for a stored time."""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M") if value else ""


def _check(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed("请修正以下问题：" + "；".join(errors.values()), fields=dict(errors))


def _phone_ok(phone: str) -> bool:
    return bool(_PHONE.match(phone)) and sum(c.isdigit() for c in phone) >= 7


def _get(session: Session, model: type, row_id: Any, label: str) -> Any:
    return get_or_not_found(session, model, row_id, f"未找到该{label}")


def get_event(session: Session, event_id: Any) -> TrainingEvent:
    return _get(session, TrainingEvent, event_id, "活动")


def get_question(session: Session, question_id: Any) -> PolicyQuestion:
    return _get(session, PolicyQuestion, question_id, "咨询问题")


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------
EVENT_FIELDS = ("title", "kind", "description", "starts_at", "ends_at", "place", "online_url", "capacity",
                "department_id", "policy_id")


def save_event(ctx: TrainingContext, event_id: Any, data: Mapping[str, Any],
               audience: Mapping[str, Any] | None = None) -> TrainingEvent:
    """Create (``event_id`` None) or edit an event; ``audience`` is raw condition values (as
    ``policy_matching.parse_conditions`` takes them), None to leave the audience unchanged."""
    session = ctx.session
    event = get_event(session, event_id) if event_id is not None else None
    if event is not None:
        ensure_organiser(ctx.actor, event)
        if event.status in (TrainingStatus.DONE, TrainingStatus.CANCELLED):
            raise Conflict(f"活动{event.status_label}，不能再修改")
    elif not can_organise(ctx.actor):
        raise PermissionDenied("只有部门首席帮办、部门领导、区营商环境办或系统管理员可以新建活动")

    errors: dict[str, str] = {}
    title = _raw(data, "title")
    if len(title) < 4:
        errors["title"] = "请填写活动名称（至少 4 个字）"
    elif len(title) > 200:
        errors["title"] = "活动名称不能超过 200 个字"
    kind = _raw(data, "kind") or TrainingKind.TRAINING
    if kind not in TrainingKind.ALL:
        errors["kind"] = "请选择活动类型（培训、咨询会或政策宣讲）"
    description = _raw(data, "description")
    if len(description) > 4000:
        errors["description"] = "活动说明不能超过 4000 个字"
    starts_at = parse_local_datetime(_raw(data, "starts_at"))
    ends_at = parse_local_datetime(_raw(data, "ends_at"))
    if starts_at is None:
        errors["starts_at"] = "请填写开始时间（年-月-日 时:分）"
    if ends_at is None:
        errors["ends_at"] = "请填写结束时间（年-月-日 时:分）"
    elif starts_at is not None and ends_at <= starts_at:
        errors["ends_at"] = "结束时间必须晚于开始时间"
    place = _raw(data, "place")
    online_url = _raw(data, "online_url")
    if not place and not online_url:
        errors["place"] = "请填写活动地点或线上会议链接（至少一项）"
    if len(place) > 200:
        errors["place"] = "活动地点不能超过 200 个字"
    if online_url:
        parts = urlsplit(online_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(online_url) > 500:
            errors["online_url"] = "线上会议链接应以 http:// 或 https:// 开头"
    capacity: int | None = None
    raw_capacity = _raw(data, "capacity")
    if raw_capacity:
        try:
            capacity = parse_int(raw_capacity, minimum=1, maximum=100_000)
        except ValueError:
            errors["capacity"] = "名额应为不超过 100000 的正整数（不限名额请留空）"
    department_id = _raw(data, "department_id") or (str(ctx.actor.department_id) if ctx.actor and
                                                     ctx.actor.department_id else "")
    department = session.get(Department, to_id(department_id)) if to_id(department_id) else None
    if department is None:
        errors["department_id"] = "请选择主办部门"
    elif not can_organise(ctx.actor, department.id):
        errors["department_id"] = "只能以本部门（或下属单位）名义主办活动"
    policy_id: int | None = None
    raw_policy = _raw(data, "policy_id")
    if raw_policy:
        policy = session.get(Policy, to_id(raw_policy)) if to_id(raw_policy) else None
        if policy is None:
            errors["policy_id"] = "所选政策不存在"
        else:
            policy_id = policy.id
    parsed_audience = None
    if audience is not None:
        try:
            parsed_audience = policy_matching.parse_conditions(audience).to_json()
        except ValidationFailed as error:
            errors.update({key: message for key, message in error.fields.items()})
    if event is not None and capacity is not None and capacity < registered_count(session, event.id):
        errors["capacity"] = f"名额不能少于已报名的 {registered_count(session, event.id)} 家"
    _check(errors)

    values = {
        "title": title, "kind": kind, "description": description, "starts_at": starts_at, "ends_at": ends_at,
        "place": place, "online_url": online_url, "capacity": capacity, "department_id": department.id,
        "policy_id": policy_id,
    }
    if parsed_audience is not None:
        values["audience"] = parsed_audience
    if event is None:
        values.setdefault("audience", {})
        event = TrainingEvent(status=TrainingStatus.PLANNED, created_by_id=ctx.actor.id if ctx.actor else None,
                              created_at=ctx.now, updated_at=ctx.now, **values)
        session.add(event)
        session.flush()
        ctx.audit("training.create", "training_event", event.id, {"title": title, "kind": kind})
        return event
    changes = {}
    for name, value in values.items():
        old = getattr(event, name)
        if old != value:
            setattr(event, name, value)
            changes[name] = [old, value]
    if changes:
        event.updated_at = ctx.now
        session.flush()
        ctx.audit("training.update", "training_event", event.id, {"changes": changes})
    return event


# Which status may follow which; DONE only once the event has started.
_NEXT_STATUS = {
    TrainingStatus.PLANNED: (TrainingStatus.OPEN, TrainingStatus.CANCELLED),
    TrainingStatus.OPEN: (TrainingStatus.CLOSED, TrainingStatus.DONE, TrainingStatus.CANCELLED),
    TrainingStatus.CLOSED: (TrainingStatus.OPEN, TrainingStatus.DONE, TrainingStatus.CANCELLED),
    TrainingStatus.DONE: (),
    TrainingStatus.CANCELLED: (),
}
STATUS_ACTIONS = {
    TrainingStatus.OPEN: "开放报名", TrainingStatus.CLOSED: "截止报名", TrainingStatus.DONE: "标记已举办",
    TrainingStatus.CANCELLED: "取消活动",
}


def next_statuses(event: TrainingEvent) -> tuple[str, ...]:
    return _NEXT_STATUS.get(event.status, ())


def set_status(ctx: TrainingContext, event: TrainingEvent, status: str) -> TrainingEvent:
    ensure_organiser(ctx.actor, event)
    if status not in next_statuses(event):
        raise Conflict(f"活动当前为「{event.status_label}」，不能{STATUS_ACTIONS.get(status, '变更为该状态')}")
    if status == TrainingStatus.DONE and event.starts_at > ctx.now:
        raise Conflict("活动尚未开始，不能标记为已举办")
    old = event.status
    event.status = status
    event.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit("training.status", "training_event", event.id, {"from": old, "to": status})
    return event


# --------------------------------------------------------------------------------------------
# Invitations
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InviteResult:
    invited: int  # newly invited this time
    already: int  # matched, but invited before
    digests: int  # staff members told
    without_staff: int  # newly invited enterprises with no staff member (policy page only)


def audience_conditions(event: TrainingEvent):
    return policy_matching.parse_conditions(event.audience or {})


def local_date(moment: datetime):
    return moment.astimezone(LOCAL_TZ).date()


def audience_query(session: Session, event: TrainingEvent, now: datetime):
    """``SELECT enterprise.id`` for the audience, set-based (the policy item matcher)."""
    return policy_matching.match_select(audience_conditions(event), local_date(now), session, Enterprise.id)


def audience_preview(session: Session, event: TrainingEvent, now: datetime, sample_size: int = 10):
    """Counts per zone and staff member and a sample with reasons, before invitations go out."""
    return policy_matching.preview(session, audience_conditions(event), local_date(now), sample_size=sample_size)


def invite(ctx: TrainingContext, event: TrainingEvent) -> InviteResult:
    """Invite every enterprise the audience matches that is not invited yet, and tell their staff."""
    ensure_organiser(ctx.actor, event)
    if event.status != TrainingStatus.OPEN:
        raise Conflict("请先开放报名，再发送邀请")
    if event.starts_at <= ctx.now:
        raise Conflict("活动已开始，不能再发送邀请")
    session = ctx.session
    settings = policy_push.push_settings(session)
    if policy_push.in_quiet_hours(settings, ctx.now):
        # Same quiet hours as policy pushes: the staff would forward the invitation at night.
        raise Conflict(f"当前处于免打扰时段（{settings.quiet_hours_text}），请在时段结束后再发送邀请")
    matched = audience_query(session, event, ctx.now).subquery()
    fresh = (
        select(literal(event.id), Enterprise.id, Enterprise.service_staff_id,
               literal(ctx.now, TrainingInvitation.__table__.c.invited_at.type))
        .where(Enterprise.id.in_(select(matched.c[0])))
        .where(~exists().where(and_(TrainingInvitation.event_id == event.id,
                                    TrainingInvitation.enterprise_id == Enterprise.id)))
    )
    total_matched = int(session.scalar(select(func.count()).select_from(matched)) or 0)
    session.execute(
        insert(TrainingInvitation).from_select(["event_id", "enterprise_id", "staff_id", "invited_at"], fresh)
    )
    session.flush()
    per_staff = session.execute(
        select(TrainingInvitation.staff_id, func.count())
        .where(TrainingInvitation.event_id == event.id, TrainingInvitation.invited_at == ctx.now)
        .group_by(TrainingInvitation.staff_id)
    ).all()
    invited = sum(n for _staff, n in per_staff)
    without_staff = sum(n for staff, n in per_staff if staff is None)
    staff_ids = [staff for staff, _n in per_staff if staff is not None]
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(staff_ids)))} if staff_ids else {}
    notifier = Notifier(session, ctx.channels, ctx.now)
    digests = 0
    when = f"{event.starts_at.astimezone(LOCAL_TZ):%m月%d日 %H:%M}"
    where = event.place or "线上"
    for staff_id, count in per_staff:
        person = people.get(staff_id)
        if person is None or not person.active:
            continue
        title, _, text = notifier.render("training_invite", kind=event.kind, title=event.title, count=count, when=when,
                                         place=wording.sentence(where)).partition("\n")
        notifier.to_person(person, kind="notice", payload={
            "title": title.strip(), "text": text.strip(), "url": f"/m/trainings/{event.id}",
        }, key=f"training:{event.id}:invite:{ctx.now.isoformat()}")
        digests += 1
    event.invited_at = ctx.now
    session.flush()
    result = InviteResult(invited=invited, already=max(0, total_matched - invited), digests=digests,
                          without_staff=without_staff)
    ctx.audit("training.invite", "training_event", event.id, {
        "invited": result.invited, "already": result.already, "digests": digests, "without_staff": without_staff,
    })
    return result


def invitations_for_staff(session: Session, event: TrainingEvent, staff: Person) -> list[TrainingInvitation]:
    return list(session.scalars(
        select(TrainingInvitation).options(selectinload(TrainingInvitation.enterprise))
        .where(TrainingInvitation.event_id == event.id, TrainingInvitation.staff_id == staff.id)
        .order_by(TrainingInvitation.id)
    ))


def forward_text(event: TrainingEvent, enterprise: Enterprise, link: str = "") -> str:
    """What a staff member pastes into the chat with the enterprise's contact."""
    when = f"{event.starts_at.astimezone(LOCAL_TZ):%Y年%m月%d日 %H:%M}—{event.ends_at.astimezone(LOCAL_TZ):%H:%M}"
    where = "；".join(x for x in (event.place, f"线上：{event.online_url}" if event.online_url else "") if x)
    text = (f"{enterprise.name}：您好！北辰区{event.department.name}将举办{event.kind}《{event.title}》，时间 {when}，"
            f"地点 {wording.sentence(where)}")
    if event.capacity:
        text += f"名额 {event.capacity} 个，"
    text += "如需参加请回复联系人姓名和电话，我帮您报名。"
    if link:
        text += f"也可通过贵企业的政策服务页自行报名：{link}"
    return text


# --------------------------------------------------------------------------------------------
# Sign-up and attendance
# --------------------------------------------------------------------------------------------
def registered_count(session: Session, event_id: int) -> int:
    return int(session.scalar(select(func.count(TrainingRegistration.id))
                              .where(TrainingRegistration.event_id == event_id)) or 0)


def is_invited(session: Session, event: TrainingEvent, enterprise: Enterprise) -> bool:
    return session.scalar(select(TrainingInvitation.id).where(
        TrainingInvitation.event_id == event.id, TrainingInvitation.enterprise_id == enterprise.id)) is not None


def register(ctx: TrainingContext, event: TrainingEvent, enterprise: Enterprise, data: Mapping[str, Any], *,
             channel: str = "console") -> TrainingRegistration:
    """Sign ``enterprise`` up; ``ctx.actor`` None means the enterprise itself (its policy page)."""
    session = ctx.session
    if ctx.actor is not None and not can_sign_up_for(ctx.actor, enterprise, event):
        raise PermissionDenied("只能为本人负责（或本片区）的企业报名")
    if ctx.actor is None and not is_invited(session, event, enterprise) and not _event_of_pushed_policy(
            session, event, enterprise):
        raise PermissionDenied("该活动未邀请贵企业，如需参加请联系为您服务的工作人员")
    errors: dict[str, str] = {}
    contact_name = _raw(data, "contact_name")
    contact_phone = _raw(data, "contact_phone")
    if not contact_name:
        errors["contact_name"] = "请填写参会联系人"
    elif len(contact_name) > 64:
        errors["contact_name"] = "联系人姓名不能超过 64 个字"
    if not contact_phone:
        errors["contact_phone"] = "请填写联系电话"
    elif not _phone_ok(contact_phone):
        errors["contact_phone"] = "联系电话格式不正确"
    _check(errors)
    if event.status != TrainingStatus.OPEN:
        raise Conflict(f"该活动{event.status_label}，暂不能报名")
    if event.starts_at <= ctx.now:
        raise Conflict("活动已开始，报名已截止")
    existing = session.scalar(select(TrainingRegistration).where(
        TrainingRegistration.event_id == event.id, TrainingRegistration.enterprise_id == enterprise.id))
    if existing is not None:
        raise Conflict(f"{enterprise.name}已报名该活动（联系人 {existing.contact_name}），无需重复报名")
    if event.capacity is not None and registered_count(session, event.id) >= event.capacity:
        raise Conflict(f"该活动名额（{event.capacity} 个）已满")
    registration = TrainingRegistration(
        event_id=event.id, enterprise_id=enterprise.id, contact_name=contact_name, contact_phone=contact_phone,
        registered_at=ctx.now, registered_by_id=ctx.actor.id if ctx.actor else None, channel=channel,
    )
    session.add(registration)
    session.flush()
    ctx.audit("training.register", "training_event", event.id, {
        "enterprise_id": enterprise.id, "enterprise": enterprise.name, "channel": channel,
    })
    return registration


def cancel_registration(ctx: TrainingContext, registration: TrainingRegistration) -> None:
    event = registration.event
    if not can_sign_up_for(ctx.actor, registration.enterprise, event):
        raise PermissionDenied("无权取消该报名")
    if registration.attended is not None:
        raise Conflict("已登记签到，不能取消报名")
    ctx.audit("training.cancel_registration", "training_event", event.id, {
        "enterprise_id": registration.enterprise_id, "contact": registration.contact_name,
    })
    ctx.session.delete(registration)
    ctx.session.flush()


def record_attendance(ctx: TrainingContext, event: TrainingEvent, attended_ids: set[int]) -> int:
    """Mark every registration present (in ``attended_ids``) or absent; returns how many changed."""
    ensure_organiser(ctx.actor, event)
    if event.status in (TrainingStatus.PLANNED, TrainingStatus.CANCELLED):
        raise Conflict(f"活动{event.status_label}，不能登记签到")
    if event.starts_at > ctx.now:
        raise Conflict("活动尚未开始，不能登记签到")
    changed = 0
    for registration in registrations(ctx.session, event):
        value = registration.id in attended_ids
        if registration.attended != value:
            registration.attended = value
            registration.attendance_recorded_by_id = ctx.actor.id if ctx.actor else None
            registration.attendance_recorded_at = ctx.now
            changed += 1
    ctx.session.flush()
    if changed:
        ctx.audit("training.attendance", "training_event", event.id, {
            "attended": sorted(attended_ids), "changed": changed,
        })
    return changed


def registrations(session: Session, event: TrainingEvent) -> list[TrainingRegistration]:
    return list(session.scalars(
        select(TrainingRegistration)
        .options(selectinload(TrainingRegistration.enterprise), selectinload(TrainingRegistration.registered_by))
        .where(TrainingRegistration.event_id == event.id)
        .order_by(TrainingRegistration.registered_at, TrainingRegistration.id)
    ))


# --------------------------------------------------------------------------------------------
# Questions
# --------------------------------------------------------------------------------------------
def ask(ctx: TrainingContext, data: Mapping[str, Any], *, policy_id: int | None = None, event_id: int | None = None,
        enterprise: Enterprise | None = None, channel: str = "console") -> PolicyQuestion:
    """Collect a question (typed in by staff at an event, or by the enterprise on its page)."""
    if not can_ask(ctx.actor):
        raise PermissionDenied("您的账号只能查看，不能登记问题")
    errors: dict[str, str] = {}
    question = _raw(data, "question")
    if len(question) < QUESTION_MIN:
        errors["question"] = f"请填写问题（至少 {QUESTION_MIN} 个字）"
    elif len(question) > QUESTION_MAX:
        errors["question"] = f"问题不能超过 {QUESTION_MAX} 个字"
    asked_by = _raw(data, "asked_by")
    if len(asked_by) > 128:
        errors["asked_by"] = "提问人不能超过 128 个字"
    phone = _raw(data, "contact_phone")
    if phone and not _phone_ok(phone):
        errors["contact_phone"] = "联系电话格式不正确"
    if policy_id is None and event_id is None:
        errors["question"] = errors.get("question") or "请说明是关于哪项政策或哪场活动的问题"
    _check(errors)
    row = PolicyQuestion(
        policy_id=policy_id, event_id=event_id, enterprise_id=enterprise.id if enterprise else None,
        asked_by=asked_by or (enterprise.name if enterprise else ""), contact_phone=phone, question=question,
        asked_at=ctx.now, channel=channel,
    )
    ctx.session.add(row)
    ctx.session.flush()
    return row


def answer(ctx: TrainingContext, question: PolicyQuestion, data: Mapping[str, Any]) -> PolicyQuestion:
    if not can_answer(ctx.actor, question, ctx.session):
        raise PermissionDenied("只有活动主办部门或政策牵头部门可以答复")
    text = _raw(data, "answer")
    if len(text) < 2:
        raise ValidationFailed("请填写答复内容", fields={"answer": "请填写答复内容"})
    if len(text) > ANSWER_MAX:
        raise ValidationFailed(f"答复不能超过 {ANSWER_MAX} 个字", fields={"answer": f"不能超过 {ANSWER_MAX} 个字"})
    publish = str(data.get("published_to_kb") or "").lower() in ("1", "on", "true", "yes")
    old = question.answer
    question.answer = text
    question.answered_by_id = ctx.actor.id if ctx.actor else None
    question.answered_at = ctx.now
    question.published_to_kb = publish
    ctx.session.flush()
    ctx.audit("question.answer", "policy_question", question.id, {
        "edited": bool(old), "published_to_kb": publish,
    })
    return question


def set_published(ctx: TrainingContext, question: PolicyQuestion, published: bool) -> PolicyQuestion:
    if not can_answer(ctx.actor, question, ctx.session):
        raise PermissionDenied("只有活动主办部门或政策牵头部门可以调整")
    if published and not question.answer:
        raise Conflict("尚未答复的问题不能纳入知识库")
    if question.published_to_kb != published:
        question.published_to_kb = published
        ctx.session.flush()
        ctx.audit("question.publish", "policy_question", question.id, {"published_to_kb": published})
    return question


def questions(session: Session, *, event_id: int | None = None, policy_id: int | None = None,
              enterprise_id: int | None = None, unanswered: bool = False, published: bool | None = None,
              limit: int = 200) -> list[PolicyQuestion]:
    query = select(PolicyQuestion).options(selectinload(PolicyQuestion.enterprise),
                                           selectinload(PolicyQuestion.answered_by))
    if event_id is not None:
        query = query.where(PolicyQuestion.event_id == event_id)
    if policy_id is not None:
        query = query.where(PolicyQuestion.policy_id == policy_id)
    if enterprise_id is not None:
        query = query.where(PolicyQuestion.enterprise_id == enterprise_id)
    if unanswered:
        query = query.where(PolicyQuestion.answered_at.is_(None))
    if published is not None:
        query = query.where(PolicyQuestion.published_to_kb.is_(published))
    return list(session.scalars(query.order_by(PolicyQuestion.asked_at.desc(), PolicyQuestion.id.desc()).limit(limit)))


def knowledge_base(session: Session, policy_id: int | None = None) -> list[PolicyQuestion]:
    """Answered questions published for the knowledge base (newest first)."""
    return questions(session, policy_id=policy_id, published=True)


# --------------------------------------------------------------------------------------------
# Lists and the enterprise's view
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventCounts:
    invited: int
    registered: int
    attended: int
    questions: int
    unanswered: int


def event_counts(session: Session, event: TrainingEvent) -> EventCounts:
    invited = session.scalar(select(func.count(TrainingInvitation.id)).where(TrainingInvitation.event_id == event.id))
    registered, attended = session.execute(
        select(func.count(TrainingRegistration.id),
               func.count(TrainingRegistration.id).filter(TrainingRegistration.attended.is_(True)))
        .where(TrainingRegistration.event_id == event.id)
    ).one()
    asked, unanswered = session.execute(
        select(func.count(PolicyQuestion.id), func.count(PolicyQuestion.id).filter(PolicyQuestion.answered_at.is_(None)))
        .where(PolicyQuestion.event_id == event.id)
    ).one()
    return EventCounts(int(invited or 0), int(registered or 0), int(attended or 0), int(asked or 0),
                       int(unanswered or 0))


def list_events(session: Session, *, status: str | None = None, policy_id: int | None = None,
                department_id: int | None = None, upcoming_from: datetime | None = None,
                limit: int = 200) -> list[TrainingEvent]:
    query = select(TrainingEvent).options(selectinload(TrainingEvent.department))
    if status:
        query = query.where(TrainingEvent.status == status)
    if policy_id is not None:
        query = query.where(TrainingEvent.policy_id == policy_id)
    if department_id is not None:
        query = query.where(TrainingEvent.department_id == department_id)
    if upcoming_from is not None:
        query = query.where(TrainingEvent.ends_at >= upcoming_from)
    return list(session.scalars(query.order_by(TrainingEvent.starts_at.desc(), TrainingEvent.id.desc()).limit(limit)))


def _pushed_policy_ids(session: Session, enterprise: Enterprise):
    return (select(PolicyItem.policy_id).join(PolicyPush, PolicyPush.item_id == PolicyItem.id)
            .where(PolicyPush.enterprise_id == enterprise.id))


def _event_of_pushed_policy(session: Session, event: TrainingEvent, enterprise: Enterprise) -> bool:
    """An event about a policy this enterprise was told about is open to it, invited or not."""
    if event.policy_id is None:
        return False
    return event.policy_id in set(session.scalars(_pushed_policy_ids(session, enterprise)))


def events_for_enterprise(session: Session, enterprise: Enterprise, now: datetime) -> list[TrainingEvent]:
    """Upcoming open events the enterprise may sign up for on its page: invited, or about its policies."""
    invited = select(TrainingInvitation.event_id).where(TrainingInvitation.enterprise_id == enterprise.id)
    return list(session.scalars(
        select(TrainingEvent).options(selectinload(TrainingEvent.department))
        .where(TrainingEvent.status.in_((TrainingStatus.OPEN, TrainingStatus.CLOSED)),
               TrainingEvent.starts_at > now,
               or_(TrainingEvent.id.in_(invited), TrainingEvent.policy_id.in_(_pushed_policy_ids(session, enterprise))))
        .order_by(TrainingEvent.starts_at)
    ))


def registrations_of(session: Session, enterprise: Enterprise) -> dict[int, TrainingRegistration]:
    rows = session.scalars(select(TrainingRegistration).where(TrainingRegistration.enterprise_id == enterprise.id))
    return {r.event_id: r for r in rows}
