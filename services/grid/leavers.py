"""What happens to the orders of someone who leaves a platform's address book (WeCom or DingTalk).

The person and their history stay; only the platform binding goes (the roster service of that
platform clears it). Every order they still handle gets a timeline note whose data carries
``needs_reassignment`` and the person's id, and the grid-centre dispatchers get a notice. The
dispatch board lists such orders until they are no longer assigned to that person.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Person, Role, WorkOrder, WorkOrderEvent
from services.messaging.notify import Channels, Notifier, hub_people
from services.orders.lifecycle import Action, State

log = logging.getLogger(__name__)

# Orders someone is still working on, in the states where an assignee matters.
LIVE_STATES = (State.PENDING_DISPATCH, State.DISPATCHED, State.PROCESSING, State.SUSPENDED)
PLATFORM_LABELS = {"wecom": "企业微信", "dingtalk": "钉钉"}


def reassign_note(platform: str) -> str:
    return f"承办人已离开{PLATFORM_LABELS[platform]}通讯录，请重新指派"


def flag_orders_for_reassignment(
    session: Session, person: Person, *, platform: str, userid: str | None, reason: str, now: datetime,
    channels: Channels,
) -> list[WorkOrder]:
    """Note and announce every live order ``person`` handles; returns those orders."""
    label = PLATFORM_LABELS[platform]
    orders = list(session.scalars(
        select(WorkOrder)
        .where(WorkOrder.assigned_person_id == person.id, WorkOrder.state.in_(LIVE_STATES))
        .order_by(WorkOrder.id)
    ))
    if not orders:
        log.info("%s: binding of person %s (%s) cleared (%s); no orders to reassign", platform, person.id, userid,
                 reason)
        return orders
    dispatchers = hub_people(session, Role.DISPATCHER)
    notifier = Notifier(session, channels, now)
    unit = f"（{person.unit_label}）" if person.unit_label else ""
    for order in orders:
        event = WorkOrderEvent(
            work_order=order, action=Action.COMMENT, actor_id=None, actor_label=f"{label}通讯录", channel=platform,
            from_state=order.state, to_state=order.state, note=reassign_note(platform),
            data={"needs_reassignment": True, "person_id": person.id, "person": person.name,
                  f"{platform}_userid": userid, "reason": reason},
            created_at=now,
        )
        session.add(event)
        session.flush()
        notifier.notify(dispatchers, order, "order_handler_left", f"e{event.id}", platform=label, person=person.name,
                        unit=unit, reason=reason)
    log.warning("%s: person %s (%s) left (%s); %s open orders flagged for reassignment",
                platform, person.id, userid, reason, len(orders))
    return orders
