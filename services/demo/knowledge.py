"""The demo's knowledge base: answers, one typical case, and the handbook built from them.

Part of ``flask --app wsgi seed --demo`` (``services.demo.seed`` calls :func:`seed_knowledge` after the
work orders and the policy desk), played through the operations the console uses, at office times
on the last working days before the demo's "now":

- ``services.knowledge.entries``: chief helpers (and a grid-center dispatcher) write answers for their
  department and submit them for review (提交审核, which tells 营商环境办 through the outbox);
  营商环境办 publishes them, sends one back with a reason first, and leaves one waiting; it also
  writes and publishes one answer itself (texts in ``services.demo.data.DEMO_ENTRIES``);
- ``services.knowledge.cases``: the chief helper who handled 「急需招聘技术工人」 writes it up as an
  anonymised case and submits it; 营商环境办 marks it typical and publishes it (/cases);
- ``services.knowledge.handbook.refresh``: the daily job's count over the demo's orders, which puts the
  recurring 「补贴」 requests into the handbook with the published answer (/faq).

So 「查 社保补贴」 in chat, /faq and /cases have something to show at first sight.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Department,
    KnowledgeEntry,
    Person,
    Policy,
    PolicyStatus,
    RequestDomain,
    ServiceStage,
    WorkOrder,
)
from services.demo import data
from services.knowledge import cases, handbook
from services.knowledge import entries as knowledge
from services.knowledge.entries import KnowledgeContext
from services.messaging.notify import Channels
from services.orders.lifecycle import State

if TYPE_CHECKING:
    from services.demo.seed import DemoClock


def seed_knowledge(session: Session, clock: DemoClock, people: dict[str, Person], channels: Channels) -> None:
    """Play the knowledge desk up to ``clock.anchor``; flushes, never commits.

    ``people``: "bizenv", "dispatcher" and "helper:<department code>" → the person acting.
    """

    def ctx(spec: str, when: datetime) -> KnowledgeContext:
        return KnowledgeContext(session, people[spec], when, channels=channels)

    departments = {d.code: d for d in session.scalars(select(Department))}
    domains = {d.code: d.id for d in session.scalars(select(RequestDomain))}
    stages = {s.code: s.id for s in session.scalars(select(ServiceStage))}
    for index, spec in enumerate(data.DEMO_ENTRIES):
        written = clock.day(3, 9, 10 + 7 * index)
        entry = knowledge.create_entry(ctx(spec.author, written), {
            "title": spec.title, "answer": spec.answer, "keywords": spec.keywords,
            "department_id": departments[spec.department].id if spec.department else None,
            "domain_id": domains.get(spec.domain or ""), "stage_id": stages.get(spec.stage or ""),
            "policy_id": _published_policy(session, departments.get(spec.policy_owner or "")),
        })
        if spec.author == "bizenv":  # an editor's own answer needs no review
            knowledge.publish(ctx("bizenv", clock.later(written, minutes=20)), entry.id)
            continue
        submitted = clock.later(written, minutes=15)
        knowledge.transition(ctx(spec.author, submitted), entry.id, "submit")
        if spec.review == "wait":
            continue
        reviewed = clock.later(submitted, workdays=1, minutes=30)
        if spec.review == "send_back":
            knowledge.transition(ctx("bizenv", reviewed), entry.id, "send_back", "请补充发放后如何查询到账情况。")
            revised = clock.later(reviewed, minutes=40)
            _revise(ctx(spec.author, revised), entry, spec)
            knowledge.transition(ctx(spec.author, revised), entry.id, "submit")
            reviewed = clock.later(revised, workdays=1)
        knowledge.publish(ctx("bizenv", reviewed), entry.id)

    _typical_case(session, clock, ctx, departments)
    handbook.refresh(session, clock.anchor)


def _published_policy(session: Session, department: Department | None) -> int | None:
    if department is None:
        return None
    return session.scalar(select(Policy.id).where(Policy.owner_department_id == department.id,
                                                  Policy.status == PolicyStatus.PUBLISHED).order_by(Policy.id))


def _revise(kctx: KnowledgeContext, entry: KnowledgeEntry, spec: data.DemoEntry) -> None:
    knowledge.update_entry(kctx, entry.id, {
        "title": entry.title, "answer": f"{spec.answer}{spec.revision}{data.DEMO_KB_NOTE}", "keywords": spec.keywords,
        "department_id": entry.department_id, "domain_id": entry.domain_id, "stage_id": entry.stage_id,
        "policy_id": entry.policy_id,
    })


def _typical_case(session: Session, clock: DemoClock, ctx, departments: dict[str, Department]) -> None:
    order = session.scalar(
        select(WorkOrder).where(WorkOrder.title == data.DEMO_CASE_ORDER_TITLE, WorkOrder.state == State.ARCHIVED,
                                WorkOrder.assigned_department_id == departments["rsj"].id)
        .order_by(WorkOrder.id))
    if order is None:  # the stories always close it; a changed story should not break the seed
        return
    written = clock.day(2, 10, 0)
    case_row = cases.create_from_order(ctx("helper:rsj", written), order.number,
                                       {"lessons": data.DEMO_CASE_LESSONS, "anonymised": "1"})
    cases.transition(ctx("helper:rsj", clock.later(written, minutes=30)), case_row.id, "submit")
    reviewed = clock.later(written, workdays=1)
    cases.transition(ctx("bizenv", reviewed), case_row.id, "typical")
    cases.transition(ctx("bizenv", clock.later(reviewed, minutes=5)), case_row.id, "publish")
