"""Status going back to the 12345 platform: level-4 escalations (市级提级 via 12345) and results,
as outbox rows of channel ``hotline`` that ``integrations.hotline.HotlineAdapter`` POSTs, signed,
to ``HOTLINE_CALLBACK_URL`` (retries with backoff, dead letters in the delivery log).

Written only when the deployment has a callback address (``Channels.hotline``). An order concerns
the platform when it came from it (``source`` 12345 / 86912345) or was escalated to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models import CityEscalation, WorkOrder
from services.messaging.notify import Channels
from services.messaging.outbox import Envelope, enqueue
from services.orders.lifecycle import State

DISTRICT = "北辰区"


def concerns_platform(order: WorkOrder) -> bool:
    return bool(order.source) or any(e.route == "12345" for e in order.city_escalations)


def _base(order: WorkOrder, now: datetime) -> dict:
    enterprise = order.enterprise
    return {
        "district": DISTRICT, "number": order.number, "source": order.source or "",
        "ticket_id": order.external_ticket_id or "",
        "enterprise_name": enterprise.name if enterprise is not None else "",
        "uscc": (enterprise.uscc or "") if enterprise is not None else "",
        "state": order.state, "state_label": State.LABELS.get(order.state, order.state),
        "updated_at": now.isoformat(timespec="seconds"),
    }


def _put(session: Session, channels: Channels, order: WorkOrder, body: dict, key: str, now: datetime) -> None:
    if not channels.hotline:
        return
    enqueue(session, Envelope(channel="hotline", kind="hotline", target_type="platform", target_ref="12345",
                              payload={"body": body, "text": f"{body['event']} {order.number}",
                                       "order_number": order.number},
                              dedupe_key=f"hotline:{key}", work_order_id=order.id), now=now)


def escalated(session: Session, channels: Channels, order: WorkOrder, escalation: CityEscalation, reason: str,
              key: str, now: datetime) -> None:
    """A level-4 escalation filed with the 12345 enterprise desk."""
    if escalation.route != "12345":
        return
    body = {**_base(order, now), "event": "escalation", "caller_name": order.contact_name,
            "caller_phone": order.contact_phone, "content": order.content, "reason": reason,
            "city_reference": escalation.city_reference or "",
            "deadline": escalation.city_deadline.isoformat() if escalation.city_deadline else ""}
    _put(session, channels, order, body, f"escalation:{key}", now)


def resolved(session: Session, channels: Channels, order: WorkOrder, key: str, now: datetime) -> None:
    """The result of an order that came from, or was escalated to, the platform."""
    if not concerns_platform(order):
        return
    _put(session, channels, order, {**_base(order, now), "event": "result", "result": order.result}, f"result:{key}",
         now)
