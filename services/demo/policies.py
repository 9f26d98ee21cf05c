"""The demo's policy desk: policies and their items, review, publication, pushes, uptake and events.

Part of ``flask --app wsgi seed --demo``: ``services.demo.seed`` calls :func:`seed_policies` after the
work orders. As with the orders, nothing is written as rows. Every step goes through the operations
the console and the jobs use, at Beijing office times over the past three weeks, in time order:

- ``services.policies.library``: a chief helper drafts a policy with its items and submits it, the
  department leader publishes it;
- ``services.policies.push``: a manual campaign created by the helper and approved by the leader; the
  ``policy_campaigns`` job itself (``run_campaigns``), run every working day at the push time and
  20 seconds after an approval, which starts campaigns, creates the daily "新政策推送", selects
  the matched enterprises under the weekly cap and writes one digest per service staff member;
  then enterprises opening their links, 已申报 (by the staff member or the enterprise itself)
  and 兑现 by the owner department;
- ``services.policies.training``: an event held last week (invitations, sign-ups, attendance, a question
  answered into the knowledge base) and one coming up, open for sign-up.

What the demo shows: 《北辰区支持先进制造业高质量发展的若干措施》 (工信局) pushed by a manual campaign
with uptake; the 人社局 稳岗扩岗 rules pushed by the daily job (one item 免申即享); the 专精特新
plan waiting for review; the 个体工商户 measures published with a campaign waiting for approval;
a draft of the 农业农村委. Texts are in ``services.demo.data``.

The job commits its own short transactions. Here its sessions are bound to the seed's connection
with savepoints, so those commits stay inside the caller's unit of work. The digests stay in the
outbox until the delivery job sends them (pushes are 待推送 until then), just as on a desk whose
jobs process has not run yet.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import (
    Department,
    Enterprise,
    Person,
    Policy,
    PolicyItem,
    PolicyPush,
    ServiceStage,
    TrainingEvent,
    TrainingInvitation,
    TrainingStatus,
    Zone,
)
from services.demo import data
from services.messaging.notify import Channels
from services.policies import library as policies
from services.policies import push as policy_push
from services.policies import training

if TYPE_CHECKING:
    from services.demo.seed import DemoClock

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
JOB_LAG = timedelta(seconds=20)  # the policy_campaigns job runs every 20 seconds
Action = Callable[[datetime], None]


@dataclass(frozen=True)
class PolicyCast:
    """The seeded units and people the desk works with (department and zone codes as keys)."""

    departments: dict[str, Department]
    stages: dict[str, ServiceStage]
    zones: dict[str, Zone]
    helpers: dict[str, list[Person]]
    leaders: dict[str, Person]


def seed_policies(session: Session, clock: DemoClock, cast: PolicyCast, channels: Channels, *, seed: int) -> None:
    """Play the demo's policy desk up to ``clock.anchor``; flushes, never commits."""
    _Desk(session, clock, cast, channels, random.Random(f"{seed}:policies")).play()


class _Desk:
    def __init__(self, session: Session, clock: DemoClock, cast: PolicyCast, channels: Channels,
                 rnd: random.Random):
        self.session = session
        self.clock = clock
        self.cast = cast
        self.channels = channels
        self.rnd = rnd
        self.queue: list[tuple[datetime, int, Action]] = []
        self.order = itertools.count()
        self.policies: dict[str, Policy] = {}
        self.campaigns: dict[str, int] = {}
        self.events: dict[str, TrainingEvent] = {}
        self.item_specs: dict[int, data.DemoItem] = {}
        self.last_push_id = 0
        self.job_sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                                         expire_on_commit=False)

    # -- the timeline ----------------------------------------------------------------------------
    def at(self, when: datetime, action: Action) -> None:
        if when > self.clock.anchor:
            raise RuntimeError(f"演示政策步骤晚于当前时间：{when.isoformat()}")
        heapq.heappush(self.queue, (when, next(self.order), action))

    def maybe_at(self, when: datetime | None, action: Action) -> bool:
        """Follow-ups drawn at random happen only if they fall before the demo's "now"."""
        if when is None or when > self.clock.anchor:
            return False
        self.at(when, action)
        return True

    def later(self, moment: datetime, *, workdays: int, minutes: int) -> datetime | None:
        at = self.clock.later(moment, workdays=workdays, minutes=minutes)
        return at if at <= self.clock.anchor else None

    def play(self) -> None:
        self._plan()
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            try:
                action(when)
            except Exception as exc:
                raise RuntimeError(f"演示政策步骤（{when.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}）失败：{exc}") from exc
        self.session.flush()

    def _plan(self) -> None:
        c = self.clock
        self.at(c.day(16, 9, 40), lambda t: self._draft("manufacturing", t, opens=c.day(15, 10, 10)))
        self.at(c.day(16, 15, 20), lambda t: self._submit("manufacturing", t))
        self.at(c.day(15, 10, 10), lambda t: self._publish("manufacturing", t))
        self.at(c.day(15, 10, 40), lambda t: self._campaign("manufacturing", t))
        self.at(c.day(15, 11, 0), lambda t: self._approve("manufacturing", t))

        self.at(c.day(12, 10, 0), lambda t: self._draft("jobs", t, opens=c.day(11, 16, 30)))
        self.at(c.day(12, 14, 30), lambda t: self._submit("jobs", t))
        self.at(c.day(11, 16, 30), lambda t: self._publish("jobs", t))  # the next day's job pushes it

        self.at(c.day(9, 10, 0), lambda t: self._event_create("jobs_briefing", t, starts=c.day(5, 14, 0)))
        self.at(c.day(9, 10, 20), lambda t: self._event_status("jobs_briefing", t, TrainingStatus.OPEN))
        self.at(c.day(8, 9, 45), lambda t: self._event_invite("jobs_briefing", t))
        self.at(c.day(5, 15, 10), lambda t: self._event_question("jobs_briefing", t))
        self.at(c.day(5, 16, 30), lambda t: self._event_held("jobs_briefing", t))

        self.at(c.day(6, 10, 0), lambda t: self._draft("zjtx", t, opens=None))
        self.at(c.day(5, 16, 0), lambda t: self._submit("zjtx", t))  # waits for the leader's review

        upcoming = datetime.combine(c.date_after(c.anchor, 3), time(14, 30), LOCAL_TZ)
        self.at(c.day(4, 10, 0), lambda t: self._event_create("manufacturing_briefing", t, starts=upcoming))
        self.at(c.day(4, 10, 30), lambda t: self._event_status("manufacturing_briefing", t, TrainingStatus.OPEN))
        self.at(c.day(3, 10, 0), lambda t: self._event_invite("manufacturing_briefing", t))
        self.at(c.day(2, 16, 0), lambda t: self._page_question("manufacturing", t))

        # Published in the afternoon, after the day's push time, and put into a campaign at once: the
        # daily job leaves it alone while the campaign waits for the leader's approval.
        self.at(c.day(4, 9, 50), lambda t: self._draft("individual", t, opens=c.day(3, 14, 10)))
        self.at(c.day(4, 11, 0), lambda t: self._submit("individual", t))
        self.at(c.day(3, 14, 10), lambda t: self._publish("individual", t))
        self.at(c.day(3, 15, 0), lambda t: self._campaign("individual", t))

        self.at(c.day(2, 15, 0), lambda t: self._draft("agriculture", t, opens=None))

        # The policy_campaigns job at the push time of every working day in the period.
        push_time = policy_push.push_settings(self.session).push_time
        for n in range(16, 0, -1):
            self.at(c.day(n, push_time.hour, push_time.minute) + JOB_LAG, self._run_job)
        today = datetime.combine(c.anchor_day, push_time, LOCAL_TZ) + JOB_LAG
        self.maybe_at(today, self._run_job)

    # -- policies ------------------------------------------------------------------------------
    def _ctx(self, person: Person, when: datetime) -> policies.PolicyContext:
        return policies.PolicyContext(self.session, person, when)

    def _helper(self, key: str) -> Person:
        return self.cast.helpers[data.DEMO_POLICIES[key].owner][0]

    def _leader(self, key: str) -> Person:
        return self.cast.leaders[data.DEMO_POLICIES[key].owner]

    def _draft(self, key: str, when: datetime, *, opens: datetime | None) -> None:
        """The helper enters the policy and its items; applications open on the day it is to be
        published (``opens``; None: not decided yet) and close ``open_days`` after the demo's now."""
        spec = data.DEMO_POLICIES[key]
        department = self.cast.departments[spec.owner]
        ctx = self._ctx(self._helper(key), when)
        drafted = when.astimezone(LOCAL_TZ).date()
        issued = drafted - timedelta(days=7)  # the document is issued before the desk enters it
        policy = policies.create_policy(ctx, {
            "title": spec.title, "issuing_body": spec.issuing_body, "level": spec.level,
            "doc_number": spec.doc_number.format(year=issued.year), "published_on": issued, "valid_from": issued,
            "valid_until": date(issued.year + 2, 12, 31), "owner_department_id": department.id,
            "summary": spec.summary + data.DEMO_POLICY_NOTE,
        })
        closes_from = self.clock.anchor.astimezone(LOCAL_TZ).date()
        for index, item in enumerate(spec.items):
            row = policies.add_item(ctx, policy.id, {
                "title": item.title, "summary": item.summary,
                "how_to_apply": f"{item.materials}受理部门：北辰区{department.name}。",
                "contact": f"北辰区{department.name}（工作日 9:00—17:00），或拨打企业服务热线 86912345",
                "apply_from": None if item.no_application or opens is None else opens.astimezone(LOCAL_TZ).date(),
                "apply_until": None if item.open_days is None else closes_from + timedelta(days=item.open_days),
                "no_application": item.no_application, "sort_order": index,
                "conditions": self._conditions(item.conditions),
            })
            self.item_specs[row.id] = item
        self.policies[key] = policy

    def _conditions(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        conditions = {k: v for k, v in raw.items() if k not in ("stages", "zones")}
        if raw.get("stages"):
            conditions["stage_ids"] = [self.cast.stages[code].id for code in raw["stages"]]
        if raw.get("zones"):
            conditions["zone_ids"] = [self.cast.zones[code].id for code in raw["zones"]]
        return conditions

    def _submit(self, key: str, when: datetime) -> None:
        policies.submit(self._ctx(self._helper(key), when), self.policies[key].id)

    def _publish(self, key: str, when: datetime) -> None:
        policies.publish(self._ctx(self._leader(key), when), self.policies[key].id)

    def _campaign(self, key: str, when: datetime) -> None:
        items = [item.id for item in self.policies[key].items]
        campaign = policy_push.create_campaign(self._ctx(self._helper(key), when), items)
        self.campaigns[key] = campaign.id

    def _approve(self, key: str, when: datetime) -> None:
        policy_push.approve_campaign(self._ctx(self._leader(key), when), self.campaigns[key])
        self.at(when + JOB_LAG, self._run_job)

    # -- the job and what enterprises did with their links -------------------------------------
    def _run_job(self, when: datetime) -> None:
        self.session.flush()
        policy_push.run_campaigns(self.job_sessions, now_fn=lambda: when, channels=self.channels)
        self.session.expire_all()  # the job changed campaigns and pushes behind this session's back
        fresh = self.session.scalars(select(PolicyPush).where(PolicyPush.id > self.last_push_id)
                                     .order_by(PolicyPush.item_id, PolicyPush.enterprise_id)).all()
        for push in fresh:
            self.last_push_id = max(self.last_push_id, push.id)
            self._uptake(push, when)

    def _uptake(self, push: PolicyPush, pushed: datetime) -> None:
        """Most enterprises open their link within a few days and some apply; the department grants
        a few applications, and a 免申即享 item to some of the enterprises in its first batches."""
        spec = self.item_specs.get(push.item_id)
        if spec is None:
            return
        rnd = self.rnd
        token, push_id, staff_id = push.open_token, push.id, push.staff_id
        opened = None
        if rnd.random() < 0.65:
            opened = self.later(pushed, workdays=rnd.randint(0, 3), minutes=rnd.randint(20, 300))
            if not self.maybe_at(opened, lambda t: policy_push.record_open(self.session, token, t)):
                opened = None
            elif rnd.random() < 0.2:  # came back to read it again
                self.maybe_at(self.later(opened, workdays=rnd.randint(1, 3), minutes=rnd.randint(10, 200)),
                              lambda t: policy_push.record_open(self.session, token, t))
        if spec.no_application:
            settled = self.later(pushed, workdays=rnd.randint(3, 8), minutes=rnd.randint(30, 300))
            if rnd.random() >= 0.4:
                return
        else:
            if opened is None or rnd.random() >= 0.45:
                return
            settled = self.later(opened, workdays=rnd.randint(1, 4), minutes=rnd.randint(30, 300))
            if rnd.random() < 0.7:  # the staff member marks it; otherwise the enterprise, on its page
                applied = self.maybe_at(settled, lambda t: policy_push.mark_applied(
                    self.session, push_id, self.session.get(Person, staff_id), t))
            else:
                applied = self.maybe_at(settled, lambda t: policy_push.mark_applied_by_token(self.session, token, t))
            if not applied or rnd.random() >= 0.35:
                return
            settled = self.later(settled, workdays=rnd.randint(2, 5), minutes=rnd.randint(30, 240))
        if spec.grant is None or settled is None:
            return
        note = spec.grant.note.format(self._amount(spec.grant, push.enterprise))
        leader = self.cast.leaders[data.DEMO_POLICIES[self._policy_key(push.item_id)].owner]
        self.at(settled, lambda t: policy_push.mark_granted(self.session, push_id, leader, t, note=note))

    def _amount(self, grant: data.DemoGrant, enterprise: Enterprise) -> Decimal:
        if grant.per_employee:
            amount = Decimal(str(self.rnd.uniform(grant.low, grant.high))) * (enterprise.employees or 1)
        else:
            amount = Decimal(str(grant.step)) * self.rnd.randint(math.ceil(grant.low / grant.step),
                                                                 math.floor(grant.high / grant.step))
        return max(amount, Decimal("0.01")).quantize(Decimal("0.01"))

    def _policy_key(self, item_id: int) -> str:
        item = self.session.get(PolicyItem, item_id)
        return next(key for key, policy in self.policies.items() if policy.id == item.policy_id)

    # -- training and questions ----------------------------------------------------------------
    def _tctx(self, person: Person | None, when: datetime) -> training.TrainingContext:
        return training.TrainingContext(self.session, person, when, channels=self.channels)

    def _organiser(self, key: str) -> Person:
        return self.cast.helpers[data.DEMO_TRAININGS[key]["department"]][0]

    def _event_create(self, key: str, when: datetime, *, starts: datetime) -> None:
        spec = data.DEMO_TRAININGS[key]
        audience = dict(spec["audience"])
        if spec["zones"]:
            audience["zones"] = list(spec["zones"])
        self.events[key] = training.save_event(self._tctx(self._organiser(key), when), None, {
            "title": spec["title"], "kind": spec["kind"], "description": spec["description"],
            "starts_at": training.local_input(starts), "ends_at": training.local_input(starts + timedelta(hours=2)),
            "place": spec["place"], "capacity": str(spec["capacity"]),
            "department_id": str(self.cast.departments[spec["department"]].id),
            "policy_id": str(self.policies[spec["policy"]].id),
        }, audience=self._conditions(audience))

    def _event_status(self, key: str, when: datetime, status: str) -> None:
        training.set_status(self._tctx(self._organiser(key), when), self.events[key], status)

    def _event_invite(self, key: str, when: datetime) -> None:
        """Invite the audience; over the next days staff members sign up about a quarter of them."""
        event = self.events[key]
        training.invite(self._tctx(self._organiser(key), when), event)
        invited = self.session.scalars(select(TrainingInvitation).where(TrainingInvitation.event_id == event.id)
                                       .order_by(TrainingInvitation.enterprise_id)).all()
        wanted = [inv.enterprise_id for inv in invited if self.rnd.random() < 0.25][: (event.capacity or 40) // 2]
        for enterprise_id in wanted:
            signed = self.later(when, workdays=self.rnd.randint(0, 2), minutes=self.rnd.randint(30, 420))
            if signed is not None and signed < event.starts_at:
                self.at(signed, lambda t, e=enterprise_id: self._sign_up(key, e, t))

    def _sign_up(self, key: str, enterprise_id: int, when: datetime) -> None:
        enterprise = self.session.get(Enterprise, enterprise_id)
        training.register(self._tctx(enterprise.service_staff, when), self.events[key], enterprise, {
            "contact_name": enterprise.contact_name, "contact_phone": enterprise.contact_phone,
        })

    def _event_question(self, key: str, when: datetime) -> None:
        """A question from the floor, typed in by the organiser and answered after the event."""
        event = self.events[key]
        registered = training.registrations(self.session, event)
        enterprise = registered[0].enterprise if registered else None
        asked_by = f"{enterprise.name} {enterprise.contact_name}" if enterprise else ""
        question_text, answer_text = data.DEMO_QUESTIONS[key]
        question = training.ask(self._tctx(self._organiser(key), when), {"question": question_text,
                                                                          "asked_by": asked_by},
                                event_id=event.id, enterprise=enterprise, channel="event")
        self.at(when + timedelta(minutes=100), lambda t: training.answer(
            self._tctx(self._organiser(key), t), question, {"answer": answer_text, "published_to_kb": "on"}))

    def _event_held(self, key: str, when: datetime) -> None:
        event = self.events[key]
        ctx = self._tctx(self._organiser(key), when)
        training.set_status(ctx, event, TrainingStatus.DONE)
        came = {r.id for r in training.registrations(self.session, event) if self.rnd.random() < 0.85}
        training.record_attendance(ctx, event, came)

    def _page_question(self, key: str, when: datetime) -> None:
        """An enterprise told about the policy asks on its own policy page; the department answers."""
        policy = self.policies[key]
        push = self.session.scalars(select(PolicyPush).join(PolicyItem, PolicyItem.id == PolicyPush.item_id)
                                    .where(PolicyItem.policy_id == policy.id, PolicyPush.opened_at.is_not(None))
                                    .order_by(PolicyPush.enterprise_id)).first()
        if push is None:
            return
        enterprise = push.enterprise
        question_text, answer_text = data.DEMO_QUESTIONS[key]
        question = training.ask(self._tctx(None, when), {
            "question": question_text, "asked_by": enterprise.contact_name, "contact_phone": enterprise.contact_phone,
        }, policy_id=policy.id, enterprise=enterprise, channel="policy_page")
        helper = self._helper(key)
        self.maybe_at(self.later(when, workdays=1, minutes=60), lambda t: training.answer(
            self._tctx(helper, t), question, {"answer": answer_text, "published_to_kb": "on"}))

