"""People ↔ WeCom members: bind by mobile number, follow members who leave.

Nobody is ever created from the WeCom address book: a member who matches no person is
reported for an administrator to look at, and a person who matches no member stays unbound.
When a member leaves (``change_contact`` event or a sync that no longer finds them) the
binding is cleared — the person and their history stay — and every order they were handling
gets a timeline note and a notice to the grid-centre dispatchers, who reassign it
(``services.grid.leavers``, shared with DingTalk).
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
from integrations.wecom_inbound import GONE_STATUSES
from models import Person, WorkOrder
from services import audit
from services.admin import sessions
from services.grid.leavers import flag_orders_for_reassignment, reassign_note
from services.messaging.notify import Channels

log = logging.getLogger(__name__)

REASSIGN_NOTE = reassign_note("wecom")
# Member status in user/get and user/list: 1 active, 2 disabled, 4 not yet activated, 5 left.
USER_NOT_FOUND = 60111


class RosterApi(Protocol):
    def list_users(self, department_id: int, *, fetch_child: bool = True) -> list[dict[str, Any]]: ...

    def get_user(self, userid: str) -> dict[str, Any]: ...


def normalise_mobile(raw: str | None) -> str:
    """Mainland mobile numbers as 11 digits; anything else (landlines, foreign numbers) as ""."""
    digits = re.sub(r"\D", "", raw or "")
    for prefix in ("0086", "86"):
        if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
            digits = digits[len(prefix):]
            break
    return digits if re.fullmatch(r"1\d{10}", digits) else ""


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) == 11 else ("****" if mobile else "")


def _status(member: dict[str, Any]) -> int:
    try:
        return int(member.get("status") or 1)
    except (TypeError, ValueError):
        return 1


# --------------------------------------------------------------------------------------------
# A member leaves
# --------------------------------------------------------------------------------------------
def deactivate_binding(
    session: Session, person: Person, *, now: datetime, channels: Channels, reason: str, source: str
) -> list[WorkOrder]:
    """Clear the person's WeCom binding and flag the orders they handle for reassignment."""
    userid = person.wecom_userid
    person.wecom_userid = None
    sessions.revoke_all(person)  # an H5 session signed in through that account ends with it
    session.flush()
    audit.record(session, None, "wecom.binding_deactivated", "person", person.id,
                 {"userid": userid, "name": person.name, "reason": reason, "source": source}, "", now)
    return flag_orders_for_reassignment(session, person, platform="wecom", userid=userid, reason=reason, now=now,
                                        channels=channels)


def member_left(session: Session, userid: str, *, now: datetime, channels: Channels, reason: str) -> list[WorkOrder]:
    """A ``change_contact`` event said the member is gone; unknown userids change nothing."""
    person = session.scalar(select(Person).where(Person.wecom_userid == userid))
    if person is None:
        log.info("wecom: member %s left, but is bound to nobody", userid)
        return []
    return deactivate_binding(session, person, now=now, channels=channels, reason=reason, source="change_contact")


def member_renamed(session: Session, old_userid: str, new_userid: str, *, now: datetime) -> bool:
    """WeCom lets an administrator change a member's userid once; follow it."""
    person = session.scalar(select(Person).where(Person.wecom_userid == old_userid))
    if person is None or not new_userid or new_userid == old_userid:
        return False
    holder = session.scalar(select(Person).where(Person.wecom_userid == new_userid))
    if holder is not None:
        log.warning("wecom: userid %s → %s, but %s is already bound to person %s", old_userid, new_userid,
                    new_userid, holder.id)
        return False
    person.wecom_userid = new_userid
    session.flush()
    audit.record(session, None, "wecom.binding_renamed", "person", person.id,
                 {"from": old_userid, "to": new_userid}, "", now)
    return True


def follow_contact_event(session: Session, event: ContactEvent, *, now: datetime, channels: Channels) -> str:
    """A ``change_contact`` event of WeCom: follow a renamed userid, unbind a member who is gone."""
    if event.change not in ("left", "updated") or not event.userids:
        return f"ignored {event.event_type or 'change_contact'}"
    userid = event.userids[0]
    if event.new_userid:
        member_renamed(session, userid, event.new_userid, now=now)
        userid = event.new_userid
    if event.change == "left":
        orders = member_left(session, userid, now=now, channels=channels, reason=event.reason)
        return f"member {userid} {'deleted' if event.event_type == 'delete_user' else 'left'}, {len(orders)} orders flagged"
    return f"member {userid} updated"


# --------------------------------------------------------------------------------------------
# Sync from the address book
# --------------------------------------------------------------------------------------------
@dataclass
class SyncReport:
    departments: list[int] = field(default_factory=list)
    members: int = 0
    bound: list[tuple[int, str, str]] = field(default_factory=list)  # (person id, name, userid)
    already_bound: int = 0
    unknown_members: list[tuple[str, str, str]] = field(default_factory=list)  # (userid, name, masked mobile)
    unmatched_people: list[tuple[int, str]] = field(default_factory=list)  # (person id, name)
    conflicts: list[str] = field(default_factory=list)
    deactivated: list[tuple[int, str, str]] = field(default_factory=list)  # (person id, name, old userid)
    flagged_orders: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"企业微信部门 {', '.join(map(str, self.departments))}：成员 {self.members} 人",
            f"新绑定 {len(self.bound)} 人，已绑定 {self.already_bound} 人，解除绑定 {len(self.deactivated)} 人"
            f"（待重新指派工单 {len(self.flagged_orders)} 件）",
        ]
        lines += [f"  绑定：{name}（人员 {pid}）→ {userid}" for pid, name, userid in self.bound]
        lines += [f"  解除：{name}（人员 {pid}）原账号 {userid}" for pid, name, userid in self.deactivated]
        if self.unknown_members:
            lines.append(f"通讯录中未匹配到人员的成员 {len(self.unknown_members)} 人（不会自动创建，请在人员管理中核对）：")
            lines += [f"  {userid} {name} {mobile or '（无手机号）'}" for userid, name, mobile in self.unknown_members]
        if self.unmatched_people:
            lines.append(f"尚未绑定企业微信的人员 {len(self.unmatched_people)} 人：")
            lines += [f"  {name}（人员 {pid}）" for pid, name in self.unmatched_people]
        if self.conflicts:
            lines.append("冲突（未处理）：")
            lines += [f"  {c}" for c in self.conflicts]
        if self.errors:
            lines.append("错误：")
            lines += [f"  {e}" for e in self.errors]
        return "\n".join(lines)


def sync_wecom_roster(
    session: Session, api: RosterApi, department_ids: Iterable[int], now: datetime, *,
    channels: Channels | None = None,
) -> SyncReport:
    """Pull the members of ``department_ids`` (with sub-departments) and reconcile the bindings."""
    channels = channels or Channels()
    report = SyncReport(departments=[int(d) for d in department_ids])
    members: dict[str, dict[str, Any]] = {}
    for department_id in report.departments:
        for member in api.list_users(department_id, fetch_child=True):
            userid = str(member.get("userid") or "").strip()
            if userid:
                members.setdefault(userid, member)
    report.members = len(members)

    people = list(session.scalars(select(Person).order_by(Person.id)))
    by_userid = {p.wecom_userid: p for p in people if p.wecom_userid}
    by_mobile: dict[str, list[Person]] = {}
    for person in people:
        mobile = normalise_mobile(person.phone)
        if mobile and person.active:
            by_mobile.setdefault(mobile, []).append(person)

    for userid, member in sorted(members.items()):
        if _status(member) in GONE_STATUSES:
            continue  # handled with the bindings below
        if userid in by_userid:
            report.already_bound += 1
            continue
        mobile = normalise_mobile(str(member.get("mobile") or ""))
        candidates = by_mobile.get(mobile, []) if mobile else []
        name = str(member.get("name") or "")
        if not candidates:
            report.unknown_members.append((userid, name, mask_mobile(mobile)))
            continue
        if len(candidates) > 1:
            report.conflicts.append(
                f"{userid} {name}：手机号 {mask_mobile(mobile)} 对应多名人员（{'、'.join(p.name for p in candidates)}）"
            )
            continue
        person = candidates[0]
        if person.wecom_userid:
            report.conflicts.append(f"{userid} {name}：人员 {person.name} 已绑定 {person.wecom_userid}")
            continue
        person.wecom_userid = userid
        session.flush()
        by_userid[userid] = person
        audit.record(session, None, "wecom.binding_created", "person", person.id,
                     {"userid": userid, "matched_by": "mobile", "mobile": mask_mobile(mobile)}, "", now)
        report.bound.append((person.id, person.name, userid))

    for userid, person in sorted(by_userid.items()):
        gone, reason = _gone(api, userid, members.get(userid), report)
        if not gone:
            continue
        orders = deactivate_binding(session, person, now=now, channels=channels, reason=reason, source="sync")
        report.deactivated.append((person.id, person.name, userid))
        report.flagged_orders.extend(o.number for o in orders)

    report.unmatched_people = [(p.id, p.name) for p in people if p.active and not p.wecom_userid]
    log.info("wecom roster sync: %s", report.describe().splitlines()[1])
    return report


def _gone(api: RosterApi, userid: str, member: dict[str, Any] | None, report: SyncReport) -> tuple[bool, str]:
    """Whether a bound member has left; one not in the synced departments is asked about directly."""
    if member is not None:
        status = _status(member)
        return status in GONE_STATUSES, ("已停用" if status == 2 else "已退出企业")
    try:
        detail = api.get_user(userid)
    except Exception as error:
        if getattr(error, "errcode", None) == USER_NOT_FOUND:
            return True, "通讯录中已无此成员"
        report.errors.append(f"查询成员 {userid} 失败：{error}")
        return False, ""
    status = _status(detail)
    return status in GONE_STATUSES, ("已停用" if status == 2 else "已退出企业")
