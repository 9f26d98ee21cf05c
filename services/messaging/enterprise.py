"""Messages to the enterprise itself: SMS to the order's contact mobile, and WeCom customer contact
(客户联系) where the contact is an external contact of the enterprise's service staff member.

Four messages, each an editable template (``message_templates``: ``sms_accepted``, ``sms_result``,
``sms_survey``, ``sms_policy``): the acceptance with the order number and the progress link, the
result once it was fed back, the survey invitation (absolute link) and policy pushes that match the
enterprise. They go through the outbox like every other message (channel ``sms``, target
``phone:<mobile>``; channel ``wecom``, target ``external:<external userid>``). Opt-outs (回复TD退订)
are checked here — nothing is queued and the order's timeline says so — and again by the adapter at
delivery; quiet hours and the per-number caps are the adapter's (``integrations.sms``).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integrations.sms import normalise_mobile
from models import Enterprise, Person, SmsOptOut, WorkOrder, WorkOrderEvent
from services import audit, wording
from services.errors import ValidationFailed
from services.messaging.notify import Notifier, public_link
from services.messaging.outbox import Envelope, enqueue

OPT_OUT_WORDS = {"TD", "T", "N", "退订", "退定", "取消", "UNSUBSCRIBE", "STOP"}


def track_code(phone: str) -> str:
    """The progress page's code: the last four digits of the contact mobile."""
    digits = normalise_mobile(phone) or "".join(c for c in str(phone or "") if c.isascii() and c.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def track_path(order: WorkOrder) -> str:
    query = {"number": order.number}
    code = track_code(order.contact_phone)
    if code:
        query["code"] = code
    return "/track?" + urlencode(query)


def is_opted_out(session: Session, phone: str) -> bool:
    mobile = normalise_mobile(phone)
    return bool(mobile) and session.get(SmsOptOut, mobile) is not None


def _timeline(session: Session, order: WorkOrder, note: str, now: datetime, **data) -> None:
    session.add(WorkOrderEvent(work_order_id=order.id, action="comment", actor_id=None, actor_label="系统",
                               channel="system", from_state=order.state, to_state=order.state, note=note,
                               data=data, created_at=now))


def tell(notifier: Notifier, order: WorkOrder, message: str, key: str, *, base_url: str, urgent: bool = False,
         **context) -> list[str]:
    """Queue message ``message`` (accepted | result | survey) about ``order`` to its enterprise contact;
    returns the channels it was queued on (none when the contact has no mobile or opted out)."""
    session = notifier.session
    values = {**notifier.order_placeholders(order), **context}
    values.setdefault("track_link", public_link(base_url, track_path(order)) if base_url else track_path(order))
    values.setdefault("result", wording.shorten(order.result or "", 200))
    text = notifier.render(f"sms_{message}", **values)
    second = values.get("survey_link") if message == "survey" else values["track_link"]
    params = [order.number, second]
    queued: list[str] = []
    mobile = normalise_mobile(order.contact_phone)
    if mobile and notifier.channels.sms:
        if is_opted_out(session, mobile):
            _timeline(session, order, f"企业联系电话已退订短信（回复TD），未发送「{_label(message)}」短信", notifier.now,
                      sms_skipped=message)
        else:
            enqueue(session, Envelope(
                channel="sms", kind="enterprise", target_type="phone", target_ref=mobile,
                payload={"text": text, "message": message, "params": params, "urgent": urgent,
                         "order_number": order.number},
                dedupe_key=f"{key}:enterprise:sms:{mobile}", work_order_id=order.id), now=notifier.now)
            queued.append("sms")
    external = (order.contact_external_userid or "").strip()
    staff = _staff(order)
    if external and notifier.channels.wecom and staff is not None and staff.wecom_userid:
        enqueue(session, Envelope(
            channel="wecom", kind="enterprise", target_type="external", target_ref=external,
            payload={"text": text, "sender_person_id": staff.id, "order_number": order.number},
            dedupe_key=f"{key}:enterprise:wecom:{external}", work_order_id=order.id), now=notifier.now)
        queued.append("wecom")
    return queued


def tell_policy(notifier: Notifier, enterprise: Enterprise, phone: str, item_title: str, link: str, key: str) -> bool:
    """One policy push to an enterprise's contact mobile (the registry's), when it has one and did
    not opt out."""
    mobile = normalise_mobile(phone)
    if not mobile or not notifier.channels.sms or is_opted_out(notifier.session, mobile):
        return False
    item = wording.shorten(item_title, 20)
    text = notifier.render("sms_policy", enterprise=enterprise.name, item=item, policy_link=link)
    enqueue(notifier.session, Envelope(
        channel="sms", kind="enterprise", target_type="phone", target_ref=mobile,
        payload={"text": text, "message": "policy", "params": [item, link]},
        dedupe_key=f"{key}:enterprise:sms:{mobile}"), now=notifier.now)
    return True


def _staff(order: WorkOrder) -> Person | None:
    staff = order.enterprise.service_staff if order.enterprise is not None else None
    return staff if staff is not None and staff.active else None


def _label(message: str) -> str:
    return {"accepted": "已受理", "result": "办理结果", "survey": "满意度评价", "policy": "政策推送"}.get(message, message)


# --- Opt-out (回复TD退订) --------------------------------------------------------------------------
def is_opt_out_reply(text: str) -> bool:
    return (text or "").strip().strip("。.!！").upper() in OPT_OUT_WORDS


def record_reply(session: Session, phone: str, text: str, now: datetime) -> bool:
    """An SMS reply from ``phone`` (the provider's reply callback): "TD" and its kin record the
    opt-out. Returns whether it did."""
    mobile = normalise_mobile(phone)
    if not mobile or not is_opt_out_reply(text):
        return False
    if session.get(SmsOptOut, mobile) is None:
        session.add(SmsOptOut(phone=mobile, method="reply", note=f"短信回复「{wording.shorten(text, 20)}」",
                              created_at=now))
        audit.record(session, None, "sms.opt_out", "sms_opt_out", mobile, {"method": "reply"}, "", now)
        session.flush()
    return True


def opt_out(session: Session, actor: Person, phone: str, note: str, now: datetime) -> SmsOptOut:
    """An administrator records an opt-out on the enterprise's behalf (it asked by phone, in person)."""
    mobile = normalise_mobile(phone)
    if not mobile:
        raise ValidationFailed("请填写 11 位手机号码", fields={"phone": "手机号码格式不正确"})
    row = session.get(SmsOptOut, mobile)
    if row is None:
        row = SmsOptOut(phone=mobile, method="admin", note=wording.shorten(note or "", 200),
                        recorded_by_id=actor.id, created_at=now)
        session.add(row)
        audit.record(session, actor, "sms.opt_out", "sms_opt_out", mobile, {"method": "admin", "note": note}, "", now)
        session.flush()
    return row


def opt_in(session: Session, actor: Person, phone: str, now: datetime) -> bool:
    """The enterprise asked to receive texts again."""
    mobile = normalise_mobile(phone)
    removed = session.execute(delete(SmsOptOut).where(SmsOptOut.phone == mobile)).rowcount if mobile else 0
    if removed:
        audit.record(session, actor, "sms.opt_in", "sms_opt_out", mobile, {}, "", now)
    return bool(removed)


def opt_outs(session: Session, limit: int = 500) -> list[SmsOptOut]:
    return list(session.scalars(select(SmsOptOut).order_by(SmsOptOut.created_at.desc()).limit(limit)))
