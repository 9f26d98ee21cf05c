"""The dispatch catalogue (派单目录) applied to orders: the facts a rule sees, hit counts per day.

The rules themselves are pure (``services.studio.dispatch``); this module reads an order (or a
request about to become one) as the names a rule is written in, and counts which rule decided
where requests went, per Beijing day, so the editor can show which rules earn their place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import Department, DispatchRuleHit, Enterprise, RequestDomain, ServiceStage, WorkOrder, Zone
from services.studio import store
from services.studio.dispatch import Decision, Facts, decide

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def facts(session: Session, *, title: str, content: str, domain_id: int | None, stage_id: int | None,
          zone_id: int | None, enterprise: Enterprise | None, channel: str) -> Facts:
    def name(model, ident):
        row = session.get(model, ident) if ident is not None else None
        return row.name if row is not None else ""

    return Facts(
        text=f"{title or ''}\n{content or ''}",
        domain=name(RequestDomain, domain_id),
        stage=name(ServiceStage, stage_id),
        zone=name(Zone, zone_id),
        industry_code=(enterprise.industry_code or "") if enterprise is not None else "",
        key_industry=bool(enterprise is not None and enterprise.is_key_industry),
        size=enterprise.size_band_label if enterprise is not None else "",
        channel=channel or "",
    )


def order_facts(session: Session, order: WorkOrder) -> Facts:
    return facts(session, title=order.title, content=order.content, domain_id=order.domain_id,
                 stage_id=order.stage_id, zone_id=order.zone_id, enterprise=order.enterprise, channel=order.channel)


def rules(session: Session) -> list[Mapping[str, Any]]:
    return store.runtime(session).dispatch_rules


def decide_for(session: Session, value: Facts) -> Decision | None:
    return decide(rules(session), value)


def suggestion(session: Session, order: WorkOrder) -> Decision | None:
    """What the catalogue says about an order now (the dispatcher's hint on the 派单 form)."""
    return decide_for(session, order_facts(session, order))


def department_named(session: Session, name: str) -> Department | None:
    if not name:
        return None
    return session.scalar(select(Department).where(Department.name == name))


def local_day(now: datetime) -> date:
    return (now if now.tzinfo else now.replace(tzinfo=ZoneInfo("UTC"))).astimezone(LOCAL_TZ).date()


def count_hit(session: Session, rule_name: str, now: datetime) -> None:
    """One more hit for ``rule_name`` today (Beijing): an upsert, safe under concurrent intake."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DispatchRuleHit)
        .values(day=local_day(now), rule_name=rule_name[:60], hits=1)
        .on_conflict_do_update(index_elements=["day", "rule_name"], set_={"hits": DispatchRuleHit.hits + 1})
    )
    session.execute(stmt)


def hit_counts(session: Session, now: datetime, days: Sequence[int] = (7, 30)) -> dict[str, dict[int, int]]:
    """Per rule name, the hits of the last ``n`` days (today included) for each ``n`` in ``days``."""
    today = local_day(now)
    result: dict[str, dict[int, int]] = {}
    for n in days:
        since = today - timedelta(days=n - 1)
        rows = session.execute(
            select(DispatchRuleHit.rule_name, func.sum(DispatchRuleHit.hits))
            .where(DispatchRuleHit.day >= since).group_by(DispatchRuleHit.rule_name)
        )
        for rule_name, total in rows:
            result.setdefault(rule_name, {})[n] = int(total or 0)
    return result
