"""Bind people to their DingTalk accounts from the organisation's roster, by mobile number.

``sync_dingtalk_roster`` pulls the members of the given DingTalk departments (through any object
with ``list_users(dept_id)``, normally ``integrations.dingtalk.DingTalkApi``), and binds each
member whose mobile number matches exactly one active person who has no DingTalk account yet.
Nothing is overwritten: a person already bound to another userid, a number shared by several
people, or a userid bound elsewhere is reported for an administrator to settle in 人员管理.
Every binding is audited. ``apply_contact_event`` handles the contact events the Stream worker
receives: a member leaving the organisation loses the binding (the person stays) and the orders
they still handle are flagged for the dispatchers to reassign.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.base import ContactEvent
from integrations.dingtalk_inbound import LEFT_REASON, leaver_event
from models import Person
from services import audit
from services.admin import sessions
from services.grid.leavers import flag_orders_for_reassignment
from services.messaging.notify import Channels

log = logging.getLogger(__name__)



class RosterSource(Protocol):
    def list_users(self, dept_id: int | str) -> list[dict[str, Any]]: ...


@dataclass
class RosterReport:
    seen: int = 0
    bound: list[tuple[str, str]] = field(default_factory=list)  # (person name, userid)
    already: int = 0
    unmatched: list[tuple[str, str, str]] = field(default_factory=list)  # (userid, name, reason)

    def describe(self) -> str:
        lines = [f"钉钉成员 {self.seen} 人：新绑定 {len(self.bound)}，已绑定 {self.already}，未匹配 {len(self.unmatched)}"]
        lines += [f"  未匹配：{name}（{userid}）— {reason}" for userid, name, reason in self.unmatched]
        return "\n".join(lines)


def normalize_mobile(value: str | None) -> str:
    """Digits only, without the +86 country code ("+86-139 0000 0000" → "13900000000")."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def _masked(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) >= 7 else "****"


def sync_dingtalk_roster(session: Session, api: RosterSource, dept_ids: Iterable[int | str], now: datetime,
                         ) -> RosterReport:
    report = RosterReport()
    people = list(session.scalars(select(Person).where(Person.active.is_(True))))
    by_mobile: dict[str, list[Person]] = {}
    for person in people:
        mobile = normalize_mobile(person.phone)
        if len(mobile) >= 7:
            by_mobile.setdefault(mobile, []).append(person)
    bound_userids = {p.dingtalk_userid: p for p in session.scalars(select(Person).where(Person.dingtalk_userid.is_not(None)))}

    members: dict[str, dict[str, Any]] = {}
    for dept_id in dept_ids:
        for user in api.list_users(dept_id):
            userid = str(user.get("userid") or "")
            if userid:
                members.setdefault(userid, user)  # a member of several departments counts once
    for userid, user in members.items():
        report.seen += 1
        name = str(user.get("name") or "")
        if userid in bound_userids:
            report.already += 1
            continue
        mobile = normalize_mobile(str(user.get("mobile") or ""))
        if not mobile:
            report.unmatched.append((userid, name, "钉钉未返回手机号（需开通通讯录手机号权限）"))
            continue
        candidates = by_mobile.get(mobile, [])
        if not candidates:
            report.unmatched.append((userid, name, f"系统中没有手机号为 {_masked(mobile)} 的在岗人员"))
            continue
        if len(candidates) > 1:
            report.unmatched.append((userid, name, f"手机号 {_masked(mobile)} 对应多名人员，请手工绑定"))
            continue
        person = candidates[0]
        if person.dingtalk_userid:
            report.unmatched.append((userid, name, f"{person.name} 已绑定其他钉钉账号"))
            continue
        person.dingtalk_userid = userid
        bound_userids[userid] = person
        session.flush()
        audit.record(session, None, "person.dingtalk_bound", "person", person.id,
                     {"userid": userid, "dingtalk_name": name, "by": "通讯录同步（手机号匹配）"}, "", now)
        report.bound.append((person.name, userid))
    log.info("dingtalk roster sync: %s", report.describe().splitlines()[0])
    return report


def apply_contact_event(session: Session, event_type: str, data: dict[str, Any], now: datetime, *,
                        channels: Channels | None = None) -> int:
    """A DingTalk contact event; returns how many bindings changed (``user_leave_org`` only).

    The orders a leaver still handles are flagged for reassignment as WeCom's are
    (``services.grid.leavers``). The event came over DingTalk, so without ``channels`` the dispatchers
    are told there.
    """
    event = leaver_event(event_type, data)
    return follow_contact_event(session, event, now=now, channels=channels) if event is not None else 0


def follow_contact_event(session: Session, event: ContactEvent, *, now: datetime,
                         channels: Channels | None = None) -> int:
    """A member who left (``ContactEvent`` of DingTalk); returns how many bindings were removed."""
    if event.change != "left":
        return 0
    channels = channels or Channels(sandbox=False, dingtalk=True)
    changed = 0
    for userid in event.userids:
        person = session.scalar(select(Person).where(Person.dingtalk_userid == userid))
        if person is None:
            continue
        person.dingtalk_userid = None
        sessions.revoke_all(person)  # an H5 session signed in through that account ends with it
        session.flush()
        audit.record(session, None, "person.dingtalk_unbound", "person", person.id,
                     {"userid": userid, "reason": LEFT_REASON}, "", now)
        log.info("dingtalk: %s left the organisation, binding of person %s removed", userid, person.id)
        flag_orders_for_reassignment(session, person, platform="dingtalk", userid=userid, reason="成员离职", now=now,
                                     channels=channels)
        changed += 1
    return changed
