"""What an enterprise sees behind its link ``/p/<token>``: the policy items it matches and why, the
deadlines, what it has marked applied, the training events open to it, and its questions.

The token is one push's (``PolicyPush.open_token``); the page is about the enterprise of that push,
so every link an enterprise ever received shows the same, current page. Items come from two
sources: what was pushed to it (still open, even if its profile has changed since) and what it
matches today (``policy_matching.items_for_enterprise``), newest deadline first. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import Enterprise, ItemStatus, Person, Policy, PolicyItem, PolicyPush, PolicyStatus, Role
from services.errors import NotFound, PermissionDenied
from services.inputs import to_id
from services.policies import matching as policy_matching
from services.policies import push as policy_push
from services.policies import training

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CLOSING_SOON_DAYS = 14


@dataclass
class PageItem:
    item: PolicyItem
    reasons: list[policy_matching.Reason]
    push: PolicyPush | None  # None: matched today, not pushed (yet)
    today: date

    @property
    def policy(self) -> Policy:
        return self.item.policy

    @property
    def deadline(self) -> str:
        return policy_push.deadline_text(self.item)

    @property
    def days_left(self) -> int | None:
        if self.item.no_application or self.item.apply_until is None:
            return None
        return (self.item.apply_until - self.today).days

    @property
    def closing_soon(self) -> bool:
        left = self.days_left
        return left is not None and 0 <= left <= CLOSING_SOON_DAYS

    @property
    def not_started(self) -> bool:
        return self.item.apply_from is not None and self.item.apply_from > self.today

    @property
    def applied(self) -> bool:
        return self.push is not None and self.push.applied_at is not None

    @property
    def can_mark_applied(self) -> bool:
        return self.push is not None and not self.item.no_application and self.push.applied_at is None

    @property
    def matched_reasons(self) -> list[policy_matching.Reason]:
        # "operating" holds for every enterprise shown; the profile reasons are what explain the match.
        return [r for r in self.reasons if r.matched and r.key != "active_only"]


@dataclass
class EnterprisePage:
    enterprise: Enterprise
    push: PolicyPush  # the push whose link was opened
    items: list[PageItem]
    events: list = field(default_factory=list)
    registrations: dict = field(default_factory=dict)
    questions: list = field(default_factory=list)
    staff: Person | None = None

    @property
    def policies(self) -> list[Policy]:
        return list({i.policy.id: i.policy for i in self.items}.values())


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def _still_offered(item: PolicyItem, today: date) -> bool:
    return (item.status == ItemStatus.PUBLISHED and item.policy.status == PolicyStatus.PUBLISHED
            and policy_matching.item_open(item, today))


def build(session: Session, push: PolicyPush, now: datetime) -> EnterprisePage:
    enterprise = push.enterprise
    today = local_today(now)
    labels = policy_matching.load_labels(session)
    pushes = {p.item_id: p for p in policy_push.enterprise_pushes(session, enterprise.id)}
    rows: dict[int, PageItem] = {}
    for item, reasons in policy_matching.items_for_enterprise(session, enterprise, today):
        rows[item.id] = PageItem(item, reasons, pushes.get(item.id), today)
    for item_id, told in pushes.items():
        if item_id in rows or not _still_offered(told.item, today):
            continue
        conditions = policy_matching.parse_conditions(told.item.conditions)
        rows[item_id] = PageItem(told.item, policy_matching.explain(conditions, enterprise, today, labels), told,
                                 today)
    # The item of the opened link first, then by deadline (none last), then newest.
    ordered = sorted(rows.values(), key=lambda r: (
        r.item.id != push.item_id, r.item.apply_until or date.max, -r.item.id))
    staff = enterprise.service_staff
    if staff is not None and (not staff.active or staff.role != Role.SERVICE_STAFF):
        staff = None
    return EnterprisePage(
        enterprise=enterprise, push=push, items=ordered,
        events=training.events_for_enterprise(session, enterprise, now),
        registrations=training.registrations_of(session, enterprise),
        questions=training.questions(session, enterprise_id=enterprise.id, limit=20),
        staff=staff,
    )


def sibling_push(session: Session, push: PolicyPush, push_id: object) -> PolicyPush:
    """Another push of the same enterprise (the page marks any of its items applied)."""
    key = to_id(push_id)
    target = session.get(PolicyPush, key) if key is not None else None
    if target is None:
        raise NotFound("该事项不存在")
    if target.enterprise_id != push.enterprise_id:
        raise PermissionDenied("只能标记本企业的申报事项")
    return target


def question_target(page: EnterprisePage, policy_id: object, event_id: object) -> tuple[int | None, int | None]:
    """The policy or event a question from the page is about: only ones shown on the page."""
    pid, eid = to_id(policy_id), to_id(event_id)
    if pid is not None and pid not in {p.id for p in page.policies}:
        pid = None
    if eid is not None:
        event = next((e for e in page.events if e.id == eid), None)
        if event is None:
            eid = None
        elif pid is None:
            pid = event.policy_id
    if pid is None and eid is None:
        pid = page.push.item.policy_id
    return pid, eid
