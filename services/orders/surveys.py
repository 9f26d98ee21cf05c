"""Satisfaction surveys (回访): invite the enterprise a while after feedback, remind once.

An order fed back to the enterprise (``FED_BACK``) waits ``delay_hours``; then its service staff
member (and the submitter, when someone else) gets the survey link ``/s/<token>`` to pass to the
enterprise, with the 好差评 five levels. A rating below 基本满意 reopens the order once; the link
then says the rating was received and the order is handled again, and takes the next rating
when the order is fed back again (``link_state``). If no rating has come ``reminder_hours`` later, one
reminder goes out, never a second. Orders are selected by state and stamps, so running this
again is harmless; rows are locked (skipped when busy) so two runs never send twice.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Person, Satisfaction, WorkOrder, WorkOrderEvent
from services.messaging import enterprise as enterprise_messages
from services.messaging.notify import Channels, Notifier, local_time, public_link
from services.orders.lifecycle import Action, State

log = logging.getLogger(__name__)


def survey_path(order: WorkOrder) -> str:
    return f"/s/{order.survey_token}"


class LinkState:
    """What the enterprise's survey link shows."""

    UNKNOWN = "unknown"  # no such link
    OPEN = "open"  # waiting for the rating: the form
    REOPENED = "reopened"  # rated below 基本满意, being handled again: the rating was received
    RATED = "rated"  # rated, nothing more to do


def link_state(order: WorkOrder | None) -> str:
    if order is None:
        return LinkState.UNKNOWN
    if order.state == State.FED_BACK:
        return LinkState.OPEN
    last = order.visits[-1] if order.visits else None
    if last is not None and last.satisfaction not in Satisfaction.POSITIVE and order.state in State.OPEN:
        return LinkState.REOPENED
    return LinkState.RATED


def _recipients(order: WorkOrder) -> list[Person]:
    people: list[Person] = []
    if order.enterprise is not None and order.enterprise.service_staff is not None:
        people.append(order.enterprise.service_staff)
    if order.submitter is not None:
        people.append(order.submitter)
    return people


def _due(session: Session, *conditions) -> list[WorkOrder]:
    query = (
        select(WorkOrder)
        .where(WorkOrder.state == State.FED_BACK, *conditions)
        .order_by(WorkOrder.id)
        .with_for_update(skip_locked=True, of=WorkOrder)
    )
    return list(session.scalars(query))


def _send(session: Session, notifier: Notifier, order: WorkOrder, *, reminder: bool, now: datetime,
          base_url: str) -> None:
    rendered = notifier.render(
        "survey_reminder" if reminder else "survey_invite", order, title=order.title,
        enterprise_or_default=order.enterprise.name if order.enterprise else "企业",
        survey_link=public_link(base_url, survey_path(order)), levels=" / ".join(Satisfaction.ALL),
        stamp=local_time(now, "%Y-%m-%d %H:%M"),
    )
    title, _, text = rendered.partition("\n")
    payload = {
        "title": title.strip(),
        "text": text.strip(),
        "url": survey_path(order),
        "options": list(Satisfaction.ALL),
        "order_number": order.number,
    }
    step = "reminder" if reminder else "invite"
    if not reminder:  # the enterprise itself, by text: once, with the absolute link
        enterprise_messages.tell(notifier, order, "survey", f"survey:{order.id}:{order.reopen_count}:invite",
                                 base_url=base_url, survey_link=public_link(base_url, survey_path(order)))
    notifier.to_people(
        _recipients(order), kind="survey", payload=payload, key=f"survey:{order.id}:{order.reopen_count}:{step}",
        order=order,
    )
    session.add(
        WorkOrderEvent(
            work_order_id=order.id, action=Action.COMMENT, actor_id=None, actor_label="系统", channel="system",
            from_state=order.state, to_state=order.state,
            note="再次提醒企业填写满意度回访" if reminder else "已发送满意度回访邀请",
            data={"survey": step}, created_at=now,
        )
    )


def send_due_surveys(
    session: Session, now: datetime, channels: Channels, delay_hours: float, reminder_hours: float, *,
    base_url: str,
) -> int:
    """Send the invitations and reminders due at ``now``; returns how many orders got one.
    ``base_url``: the site's address — the staff member forwards the link to the enterprise."""
    notifier = Notifier(session, channels, now)
    count = 0
    invited: set[int] = set()
    for order in _due(
        session,
        WorkOrder.survey_sent_at.is_(None),
        WorkOrder.feedback_at.is_not(None),
        WorkOrder.feedback_at <= now - timedelta(hours=delay_hours),
    ):
        if not order.survey_token:
            order.survey_token = secrets.token_urlsafe(24)
        order.survey_sent_at = now
        _send(session, notifier, order, reminder=False, now=now, base_url=base_url)
        invited.add(order.id)
        log.info("survey invitation sent for %s", order.number)
    for order in _due(
        session,
        WorkOrder.survey_sent_at.is_not(None),
        WorkOrder.survey_reminded_at.is_(None),
        WorkOrder.survey_sent_at <= now - timedelta(hours=reminder_hours),
    ):
        if order.id in invited:
            continue  # never invite and remind in the same run
        order.survey_reminded_at = now
        _send(session, notifier, order, reminder=True, now=now, base_url=base_url)
        count += 1
        log.info("survey reminder sent for %s", order.number)
    session.flush()
    return count + len(invited)
