"""Builders for the policy tests: generated enterprise profiles and published policy items."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from models import Enterprise, Person, Role, ServiceStage, Zone
from models.policy import Policy, PolicyItem
from services.policies.library import PolicyContext, add_item, create_policy, publish, submit
from tests.factories import make_uscc

INDUSTRY_CODES = ("C3311", "C3312", "C3411", "C3511", "C2710", "I6510", "I6520", "M7320", "F5123", "A0111", "")
SIZE_BANDS = ("大", "中", "小", "微", "")
CHAINS = ("链主", "核心配套", "一般配套", "")
QUALIFICATIONS = ("高新技术企业", "专精特新", "科技型中小企业", "瞪羚企业", "雏鹰企业")
STATUSES = ("存续", "存续", "存续", "在业", "开业", "迁入", "吊销", "注销", "歇业")
ENTITY_TYPES = ("enterprise", "enterprise", "enterprise", "individual", "cooperative")


@pytest.fixture
def session(session_factory):
    """The test's own session, not expiring on commit: these tests commit their set-up and then run
    the jobs in sessions of their own (on SQLite every transaction takes the write lock, so a test
    must not hold one while a job runs — ``release`` commits it)."""
    s = session_factory(expire_on_commit=False)
    RELEASE.append(s)
    yield s
    RELEASE.remove(s)
    s.rollback()
    s.close()


RELEASE: list = []


def release() -> None:
    """End the test session's transaction so a job (or another session) can write."""
    for s in RELEASE:
        s.commit()


@dataclass
class Desk:
    """An owner department with its leader, and staff members across zones."""

    department_id: int
    leader: Person
    helper: Person
    staff: list[Person]
    zones: list[Zone]
    stages: list[ServiceStage]


@pytest.fixture
def desk(session, factory) -> Desk:
    gxj = factory.department("gxj")
    leader = factory.person(Role.DEPT_LEADER, department=gxj, name="工信局领导")
    helper = factory.person(Role.CHIEF_HELPER, department=gxj, name="工信局帮办")
    zones = list(session.scalars(select(Zone).order_by(Zone.sort_order).limit(4)))
    staff = [factory.person(Role.SERVICE_STAFF, zone=zones[i % len(zones)], name=f"服务专员{i}") for i in range(6)]
    stages = list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order)))
    return Desk(gxj.id, leader, helper, staff, zones, stages)


def generate_profiles(session, desk: Desk, count: int, *, seed: int = 7, on: date = date(2026, 3, 2),
                      unassigned_share: float = 0.1) -> list[int]:
    """``count`` enterprises with every profile attribute drawn at random (bulk insert)."""
    rng = random.Random(seed)
    rows = []
    base = rng.randrange(10_000_000, 90_000_000)
    for n in range(count):
        staff = None if rng.random() < unassigned_share else rng.choice(desk.staff)
        zone = staff.zone_id if staff is not None else rng.choice(desk.zones).id
        established = None if rng.random() < 0.08 else on - timedelta(days=rng.randrange(0, 365 * 25))
        if rng.random() < 0.05:  # exactly on an anniversary: the bounds are inclusive
            established = on.replace(year=on.year - rng.choice((1, 3, 5, 10)))
        quals = rng.sample(QUALIFICATIONS, rng.choice((0, 0, 1, 1, 2, 3)))
        rows.append({
            "uscc": make_uscc(base + n), "name": f"生成企业{seed}-{n}有限公司",
            "entity_type": rng.choice(ENTITY_TYPES), "status": rng.choice(STATUSES),
            "zone_id": zone, "service_staff_id": staff.id if staff is not None else None,
            "is_key_industry": rng.random() < 0.3, "chain_position": rng.choice(CHAINS),
            "size_band": rng.choice(SIZE_BANDS), "industry_code": rng.choice(INDUSTRY_CODES),
            "stage_id": rng.choice([*(s.id for s in desk.stages), None]), "qualifications": quals,
            "status_flags": ["经营异常"] if rng.random() < 0.1 else [], "established_on": established,
            "legal_representative": "", "address": "", "contact_name": "", "contact_phone": "",
            "market_type": "", "capital_currency": "", "industry_name": "", "missing_from_full_export": False,
        })
    session.execute(insert(Enterprise), rows)
    session.flush()
    return list(session.scalars(select(Enterprise.id).where(Enterprise.name.like(f"生成企业{seed}-%"))))


def published_item(session, desk: Desk, now, conditions: dict[str, Any] | None = None, *, title: str = "测试政策",
                   item_title: str = "测试事项", **item_fields) -> PolicyItem:
    """A policy with one item, created, submitted and published by the owner department."""
    ctx = PolicyContext(session, desk.leader, now)
    policy = create_policy(ctx, {"title": title, "owner_department_id": desk.department_id, "level": "北辰区",
                                 "issuing_body": "北辰区人民政府办公室", "summary": "支持企业发展"})
    item = add_item(ctx, policy.id, {"title": item_title, "conditions": conditions or {}, **item_fields})
    submit(ctx, policy.id)
    publish(PolicyContext(session, desk.helper, now), policy.id)
    session.refresh(item)
    return item


def policy_of(item: PolicyItem) -> Policy:
    return item.policy
