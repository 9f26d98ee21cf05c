"""A believable demo of Beichen District for a development desk: people, enterprises and work orders.

``flask --app wsgi seed --demo`` calls :func:`seed_demo` after the reference data is loaded. The demo
is for development and demonstrations only: it creates console logins with one shared, printed
password, so the caller must only run it when ``APP_ENV`` is ``development``.

What it creates:
- people: two service staff and a zone admin in every zone; one or two chief helpers (with their
  service stages) and a leader in every department and utility unit; two grid-center dispatchers;
  one 营商环境办 officer; a district leader (read-only); a system administrator; console logins
  for six personas (see ``PERSONAS``).
- about 200 market entities spread over the zones (enterprises, 个体工商户, 农民专业合作社) with
  valid 统一社会信用代码, an address in the zone and exactly one service staff member of that zone;
  the "2+3" ones carry a key industry tag. Each has the registry's profile: a GB/T 4754-2017 industry
  class, 市场主体类型, 注册资本, 从业人员, 营业收入 and 资产总额 that put it in its size band
  (``services.registry.size_band.classify`` agrees with the stored band), a service stage, and for "2+3"
  firms qualifications (高新技术企业, 专精特新 …), so policy matching has something to match.
- work orders in every state and on every level of the ladder. They are not written as rows: each
  one is *played* through the real operations of ``services.orders.operations`` (create, dispatch, sign,
  return, escalate, joint meeting, extension, suspend, resolve, feedback, visit …) at times spread
  over the past three weeks of Beijing working hours, in chronological order across all orders.
  Events, deadlines, numbers and outbox rows are therefore exactly what the live desk would have.
- policies, pushes and training events, played the same way through the policy operations and the
  ``policy_campaigns`` job (see ``services.demo.policies``).

Idempotent: a ``demo_seeded`` system setting marks a seeded database and a second run changes
nothing. Deterministic: a fixed random seed, so every fresh demo looks the same for the same ``now``.
The session is flushed, never committed.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    CaseStudy,
    ConsoleLogin,
    Department,
    DepartmentKind,
    Enterprise,
    EntityType,
    HandbookTopic,
    IndustryTag,
    KnowledgeEntry,
    KnowledgeStatus,
    Person,
    Policy,
    PolicyPush,
    PolicyStatus,
    PushCampaign,
    Role,
    ServiceStage,
    SystemSetting,
    TopicStatus,
    TrainingEvent,
    WorkOrder,
    Zone,
)
from services.demo import data
from services.demo.knowledge import seed_knowledge
from services.demo.policies import PolicyCast, seed_policies
from services.messaging.notify import Channels, chief_helpers, department_leaders
from services.orders import operations as wo
from services.orders.deadlines import load_calendar
from services.orders.lifecycle import State
from services.orders.sla import WorkCalendar
from services.registry import size_band

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MARKER_KEY = "demo_seeded"
RANDOM_SEED = 20260302

# (username, which person gets it) — the personas a demonstration walks through.
PERSONAS: tuple[tuple[str, str], ...] = (
    ("admin", "sysadmin"),
    ("dispatcher", "dispatcher"),
    ("bizenv", "bizenv"),
    ("staff", "staff:tianmu"),
    ("helper", "helper:rsj"),
    ("leader", "district_leader"),
    ("desk", "desk"),
)


# ==================================================================================================
# Summary
# ==================================================================================================
@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    role_label: str
    unit: str


@dataclass
class DemoSummary:
    already_seeded: bool
    seeded_at: str
    people: int
    enterprises: int
    key_enterprises: int
    orders: int
    by_state: dict[str, int]
    logins: list[DemoLogin]
    skipped_logins: list[str] = field(default_factory=list)
    password: str = data.DEMO_PASSWORD
    policies: int = 0
    published_policies: int = 0
    campaigns: int = 0
    pushes: int = 0
    trainings: int = 0
    published_entries: int = 0
    typical_cases: int = 0
    handbook_topics: int = 0

    def describe(self) -> str:
        if self.already_seeded:
            lines = [f"演示数据此前已载入（{self.seeded_at}），本次未做任何改动。"]
        else:
            lines = [f"演示数据已载入（模拟业务时间截至 {self.seeded_at}）。"]
        lines.append(
            f"人员 {self.people} 名；经营主体 {self.enterprises} 家（其中“2+3”重点产业 {self.key_enterprises} 家）；"
            f"工单 {self.orders} 件。"
        )
        if self.by_state:
            states = " · ".join(f"{State.LABELS.get(s, s)} {self.by_state[s]}" for s in State.ALL if s in self.by_state)
            lines.append(f"工单状态：{states}")
        if self.policies:
            lines.append(
                f"政策 {self.policies} 项（已发布 {self.published_policies} 项）；推送任务 {self.campaigns} 个，"
                f"推送 {self.pushes} 家次；培训咨询活动 {self.trainings} 场。"
            )
        if self.published_entries:
            lines.append(f"知识库已发布问答 {self.published_entries} 条；公开典型案例 {self.typical_cases} 个；"
                         f"应答手册收录高频事项 {self.handbook_topics} 项。")
        lines.append(f"演示登录（仅限开发环境，密码均为 {self.password}）：")
        width = max((len(login.username) for login in self.logins), default=8)
        for login in self.logins:
            role = login.role_label
            if login.unit and login.unit not in role:
                role = f"{role}（{login.unit}）"
            # Full-width padding keeps two- and three-character names aligned in a terminal.
            lines.append(f"  {login.username.ljust(width)}  {login.name.ljust(3, chr(0x3000))}  {role}")
        for username in self.skipped_logins:
            lines.append(f"  {username.ljust(width)}  用户名已被占用，未创建也未修改其密码")
        return "\n".join(lines)


# ==================================================================================================
# Entry point
# ==================================================================================================
def seed_demo(session: Session, *, channels: Channels, now: datetime | None = None) -> DemoSummary:
    """Create the demo once; on a seeded database return the summary and change nothing.

    Development only: the caller checks ``APP_ENV`` (the logins share a printed password).
    """
    marker = session.get(SystemSetting, MARKER_KEY)
    if marker is not None:
        return _summary(session, already_seeded=True, seeded_at=str((marker.value or {}).get("seeded_at", "")))
    if session.scalar(select(func.count()).select_from(Zone)) == 0:
        raise RuntimeError("尚未载入区级基础数据，请先执行 flask --app wsgi seed")
    # The CLI is the clock boundary here: it passes no time, so the demo ends "now".
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    rng = random.Random(RANDOM_SEED)
    refs = _References.load(session)
    names = _NameMaker(rng)
    cast = _create_people(session, refs, names)
    pool = _create_enterprises(session, refs, cast, names, rng)
    created, skipped = _create_logins(session, cast)
    clock = DemoClock(now, load_calendar(session))
    _Player(session, refs, cast, pool, channels).play(build_stories(clock))
    seed_policies(session, clock, PolicyCast(
        departments=refs.departments, stages=refs.stages, zones={z.code: z for z in refs.zones},
        helpers=cast.helpers, leaders=cast.leaders,
    ), channels, seed=RANDOM_SEED)
    seed_knowledge(session, clock, {
        "bizenv": cast.bizenv, "dispatcher": cast.dispatchers[0],
        **{f"helper:{code}": helpers[0] for code, helpers in cast.helpers.items() if helpers},
    }, channels)

    seeded_at = clock.anchor.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    session.add(SystemSetting(key=MARKER_KEY, value={
        "seeded_at": seeded_at, "logins": created, "password_hint": "demo",
    }))
    session.flush()
    summary = _summary(session, already_seeded=False, seeded_at=seeded_at)
    summary.skipped_logins = skipped
    return summary


def _summary(session: Session, *, already_seeded: bool, seeded_at: str) -> DemoSummary:
    by_state = dict(session.execute(select(WorkOrder.state, func.count()).group_by(WorkOrder.state)).all())
    marker = session.get(SystemSetting, MARKER_KEY)
    usernames = list((marker.value or {}).get("logins", [])) if marker is not None else []
    rows = {
        login.username: login
        for login in session.scalars(select(ConsoleLogin).where(ConsoleLogin.username.in_(usernames)))
    }
    logins = [
        DemoLogin(u, rows[u].person.name, rows[u].person.role_label, rows[u].person.unit_label)
        for u in usernames if u in rows
    ]

    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where))

    return DemoSummary(
        already_seeded=already_seeded,
        seeded_at=seeded_at,
        people=count(Person),
        enterprises=count(Enterprise),
        key_enterprises=count(Enterprise, Enterprise.is_key_industry.is_(True)),
        orders=sum(by_state.values()),
        by_state=by_state,
        logins=logins,
        policies=count(Policy),
        published_policies=count(Policy, Policy.status == PolicyStatus.PUBLISHED),
        campaigns=count(PushCampaign),
        pushes=count(PolicyPush),
        trainings=count(TrainingEvent),
        published_entries=count(KnowledgeEntry, KnowledgeEntry.status == KnowledgeStatus.PUBLISHED),
        typical_cases=count(CaseStudy, CaseStudy.is_typical.is_(True), CaseStudy.status == KnowledgeStatus.PUBLISHED),
        handbook_topics=count(HandbookTopic, HandbookTopic.status == TopicStatus.PUBLISHED),
    )


# ==================================================================================================
# 统一社会信用代码 (GB 32100-2015) with an organisation code (GB 11714) in positions 9-17
# ==================================================================================================
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
BEICHEN_DIVISION = "120113"
USCC_KIND = {EntityType.ENTERPRISE: "1", EntityType.INDIVIDUAL: "2", EntityType.COOPERATIVE: "3"}


def uscc_check_char(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    # GB 11714: digits keep their value, letters count from A = 10.
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def make_uscc(kind: str, org_body8: str) -> str:
    """Registration authority 9 (market regulation), ``kind`` 1/2/3, Beichen's division code."""
    body = f"9{kind}{BEICHEN_DIVISION}{org_body8}{org_check_char(org_body8)}"
    return body + uscc_check_char(body)


def is_valid_uscc(code: str) -> bool:
    return (
        len(code) == 18 and all(c in USCC_ALPHABET for c in code) and uscc_check_char(code[:17]) == code[17]
    )


# ==================================================================================================
# Reference rows, names, people
# ==================================================================================================
@dataclass
class _References:
    zones: list[Zone]
    departments: dict[str, Department]
    stages: dict[str, ServiceStage]
    tags: dict[str, IndustryTag]

    @classmethod
    def load(cls, session: Session) -> _References:
        return cls(
            zones=list(session.scalars(select(Zone).where(Zone.active.is_(True)).order_by(Zone.sort_order, Zone.id))),
            departments={d.code: d for d in session.scalars(select(Department))},
            stages={s.code: s for s in session.scalars(select(ServiceStage))},
            tags={t.code: t for t in session.scalars(select(IndustryTag))},
        )

    def zone(self, code: str) -> Zone:
        return next(z for z in self.zones if z.code == code)


class _NameMaker:
    """Unique, ordinary-looking Chinese names and mobile numbers, from a seeded generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._names: set[str] = set()
        self._phones: set[str] = set()

    def person(self) -> str:
        while True:
            given = (
                self.rng.choice(data.GIVEN_DOUBLE) if self.rng.random() < 0.6 else self.rng.choice(data.GIVEN_SINGLE)
            )
            name = self.rng.choice(data.SURNAMES) + given
            if name not in self._names:
                self._names.add(name)
                return name

    def phone(self) -> str:
        while True:
            phone = self.rng.choice(data.PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone


@dataclass
class _Cast:
    staff: dict[str, list[Person]] = field(default_factory=dict)  # zone code -> service staff
    zone_admins: dict[str, Person] = field(default_factory=dict)
    helpers: dict[str, list[Person]] = field(default_factory=dict)  # department code -> chief helpers
    leaders: dict[str, Person] = field(default_factory=dict)
    dispatchers: list[Person] = field(default_factory=list)
    bizenv: Person | None = None
    district_leader: Person | None = None
    sysadmin: Person | None = None
    desk: Person | None = None

    def persona(self, spec: str) -> Person | None:
        kind, _, code = spec.partition(":")
        if kind == "staff":
            return self.staff[code][0]
        if kind == "helper":
            return self.helpers[code][0]
        if kind == "dispatcher":
            return self.dispatchers[0]
        return {"bizenv": self.bizenv, "district_leader": self.district_leader, "sysadmin": self.sysadmin,
                "desk": self.desk}[kind]


def _create_people(session: Session, refs: _References, names: _NameMaker) -> _Cast:
    cast = _Cast()

    def person(role: str, title: str, *, zone: Zone | None = None, department: Department | None = None,
               stages: list[ServiceStage] | None = None) -> Person:
        row = Person(name=names.person(), role=role, title=title, phone=names.phone(), zone=zone,
                     department=department, stages=stages or [])
        session.add(row)
        return row

    for zone in refs.zones:
        cast.staff[zone.code] = [person(Role.SERVICE_STAFF, "为企服务专员", zone=zone) for _ in range(2)]
        cast.zone_admins[zone.code] = person(
            Role.ZONE_ADMIN, "经济发展办主任" if zone.kind != "devzone" else "企业服务局局长", zone=zone
        )
    for department in sorted(refs.departments.values(), key=lambda d: (d.sort_order, d.id or 0)):
        if department.kind == DepartmentKind.HUB or not department.active:
            continue
        codes = data.DEPARTMENT_STAGES.get(department.code, ("operation",))
        # The first helper covers every stage of the department; a second takes the later half.
        shares = [codes] if len(codes) < 2 else [codes, codes[len(codes) // 2:]]
        cast.helpers[department.code] = [
            person(Role.CHIEF_HELPER, data.helper_title(department.name, department.kind, i), department=department,
                   stages=[refs.stages[c] for c in share if c in refs.stages])
            for i, share in enumerate(shares)
        ]
        cast.leaders[department.code] = person(
            Role.DEPT_LEADER, data.leader_title(department.name, department.kind), department=department
        )
    grid = refs.departments["grid_center"]
    cast.dispatchers = [person(Role.DISPATCHER, title, department=grid) for title in ("调度科科长", "调度员")]
    cast.bizenv = person(Role.BIZENV_OFFICE, "综合协调科科长", department=refs.departments["bizenv_office"])
    cast.district_leader = person(Role.DISTRICT_LEADER, "副区长")
    cast.sysadmin = person(Role.SYSADMIN, "区大数据中心工程师")
    # The 86912345 desk's operator: a fixed name, so the random draws of the rest of the demo stay as they were.
    cast.desk = Person(name="郑晓岚", role=Role.DESK_OPERATOR, title="一号响应坐席", phone="022-86912345",
                       department=refs.departments["one_number_desk"])
    session.add(cast.desk)
    session.flush()
    return cast


def _create_logins(session: Session, cast: _Cast) -> tuple[list[str], list[str]]:
    from werkzeug.security import generate_password_hash

    taken = set(session.scalars(select(ConsoleLogin.username)))
    # One hash for all: the password is shared and printed anyway, and hashing is deliberately slow.
    password_hash = generate_password_hash(data.DEMO_PASSWORD)
    created, skipped = [], []
    for username, spec in PERSONAS:
        if username in taken:
            skipped.append(username)
            continue
        person = cast.persona(spec)
        session.add(ConsoleLogin(person_id=person.id, username=username, password_hash=password_hash))
        created.append(username)
    session.flush()
    return created, skipped


# ==================================================================================================
# Enterprises
# ==================================================================================================
@dataclass
class _Pool:
    """The demo's market entities by zone, handed out to stories in order (fresh ones first)."""

    by_zone: dict[str, list[Enterprise]]
    used: set[int] = field(default_factory=set)

    def take(self, pick: Pick) -> Enterprise:
        candidates = [
            e for e in self.by_zone.get(pick.zone, [])
            if e.entity_type == pick.entity and (pick.key is None or e.is_key_industry == pick.key)
        ]
        if not candidates:
            raise RuntimeError(f"demo: no {pick.entity} enterprise in zone {pick.zone} (key={pick.key})")
        chosen = next((e for e in candidates if e.id not in self.used), candidates[0])
        self.used.add(chosen.id)
        return chosen


def _create_enterprises(session: Session, refs: _References, cast: _Cast, names: _NameMaker,
                        rng: random.Random) -> _Pool:
    codes: set[str] = set(session.scalars(select(Enterprise.uscc).where(Enterprise.uscc.is_not(None))))
    titles: set[str] = set(session.scalars(select(Enterprise.name)))
    key_industries = [i for i in data.COMPANY_INDUSTRIES if i[1] in data.KEY_INDUSTRY_TAGS]
    plain_industries = [i for i in data.COMPANY_INDUSTRIES if i[1] not in data.KEY_INDUSTRY_TAGS]
    pool = _Pool({})

    def unique_name(make: Callable[[], str]) -> str:
        while True:
            name = make()
            if name not in titles:
                titles.add(name)
                return name

    def uscc(entity_type: str, established: date) -> str:
        while True:
            if established < date(2015, 10, 1):  # old organisation codes are plain digits
                body = str(rng.randint(1, 7)) + "".join(rng.choice("0123456789") for _ in range(7))
            else:  # Tianjin's newer codes: MA0 + area letter digit + four characters
                body = "MA0" + rng.choice("5678") + "".join(rng.choice(USCC_ALPHABET[:26]) for _ in range(4))
            code = make_uscc(USCC_KIND[entity_type], body)
            if code not in codes:
                codes.add(code)
                return code

    def address(zone: Zone, entity_type: str) -> str:
        if entity_type == EntityType.COOPERATIVE:  # cooperatives sit in the town's villages
            return f"天津市北辰区{zone.name}{zone.name.removesuffix('镇')}村{rng.randint(1, 300)}号"
        if zone.kind == "devzone":
            return f"天津市北辰区北辰经济技术开发区{rng.choice(data.DEVZONE_PLACES)}{rng.randint(1, 60)}号"
        places = data.TOWN_PLACES if zone.kind == "town" else data.STREET_PLACES
        return f"天津市北辰区{zone.name}{rng.choice(places)}{rng.randint(1, 120)}号"

    for zone in refs.zones:
        companies, shops, coops = data.FIRMS_PER_ZONE.get(zone.kind, (6, 2, 0))
        n_key = 16 if zone.kind == "devzone" else 2 if zone.kind == "town" else 0
        plan: list[tuple[str, Any]] = (
            [("key", rng.choice(key_industries)) for _ in range(n_key)]
            + [("plain", rng.choice(plain_industries)) for _ in range(companies - n_key)]
            + [("shop", rng.choice(data.SHOPS)) for _ in range(shops)]
            + [("coop", rng.choice(data.COOP_PRODUCTS)) for _ in range(coops)]
        )
        staff = cast.staff[zone.code]
        firms = []
        for index, (kind, what) in enumerate(plan):
            owner = names.person()
            row = Enterprise(zone=zone, service_staff=staff[index % len(staff)], legal_representative=owner,
                             status="存续")
            if kind in ("key", "plain"):
                words, tag, sizes, code, code_name = what
                row.entity_type = EntityType.ENTERPRISE
                row.size_band = rng.choice(sizes)
                suffix = "股份有限公司" if row.size_band == "大" else "有限公司"
                row.name = unique_name(
                    lambda w=words, s=suffix: f"{rng.choice(('天津', '天津', '天津市'))}{rng.choice(data.BRANDS)}{w}{s}"
                )
                row.industry_tag = refs.tags.get(tag)
                row.is_key_industry = kind == "key"
                if kind == "key":
                    row.chain_position = "链主" if row.size_band in ("大", "中") and rng.random() < 0.4 else rng.choice(
                        ("核心配套", "一般配套"))
                elif zone.kind == "devzone" and index < n_key + 2:
                    # Supporting firms (配套企业) of the key chains share their green channel.
                    row.is_key_industry = True
                    row.chain_position = "一般配套"
                row.established_on = date(rng.randint(1998, 2024), rng.randint(1, 12), rng.randint(1, 28))
                row.contact_name = names.person()
            elif kind == "shop":
                trade, tag, code, code_name = what
                row.entity_type = EntityType.INDIVIDUAL
                row.size_band = "微"
                row.name = unique_name(lambda t=trade: f"天津市北辰区{rng.choice(data.BRANDS)}{t}")
                row.industry_tag = refs.tags.get(tag)
                row.established_on = date(rng.randint(2016, 2024), rng.randint(1, 12), rng.randint(1, 28))
                row.contact_name = owner
            else:
                product, code, code_name = what
                row.entity_type = EntityType.COOPERATIVE
                row.size_band = rng.choice(("小", "微"))
                row.name = unique_name(lambda p=product: f"天津市北辰区{rng.choice(data.BRANDS)}{p}农民专业合作社")
                row.industry_tag = refs.tags.get("agriculture")
                row.established_on = date(rng.randint(2008, 2022), rng.randint(1, 12), rng.randint(1, 28))
                row.contact_name = owner
            row.uscc = uscc(row.entity_type, row.established_on)
            row.address = address(zone, row.entity_type)
            row.contact_phone = names.phone()
            _registry_profile(row, code, code_name, refs.stages, key=kind == "key")
            session.add(row)
            firms.append(row)
        pool.by_zone[zone.code] = firms
    session.flush()
    return pool


def _registry_profile(row: Enterprise, code: str, code_name: str, stages: dict[str, ServiceStage], *,
                      key: bool) -> None:
    """What the registry would hold for this entity: industry, 市场主体类型, capital, figures that put it
    in the size band the demo drew for it, a service stage and (for "2+3" firms) qualifications.

    Drawn from a generator of its own, seeded by the entity's name: the demo's main sequence (and so
    every name, code and order of the demo) stays what it was before these fields existed.
    """
    rnd = random.Random(f"{RANDOM_SEED}:{row.name}")
    drawn = row.size_band
    row.industry_code, row.industry_name = code, code_name
    figures = band_figures(code, drawn, rnd, entity_type=row.entity_type)
    row.employees, row.revenue, row.assets = figures[size_band.X], figures[size_band.Y], figures[size_band.Z]
    row.size_band = size_band.classify(code, row.employees, row.revenue, row.assets) or ""
    if row.size_band != drawn:  # band_figures is wrong for this industry: fail loudly, never seed a lie
        raise RuntimeError(f"演示企业 {row.name} 的规模数据与规模 {drawn} 不符（{code}）")
    capital_key = row.entity_type if row.entity_type != EntityType.ENTERPRISE else drawn
    row.registered_capital = Decimal(rnd.choice(data.REGISTERED_CAPITAL[capital_key]))
    if row.entity_type == EntityType.INDIVIDUAL:
        row.market_type = "个体工商户"
    elif row.entity_type == EntityType.COOPERATIVE:
        row.market_type = "农民专业合作社"
    elif drawn == size_band.LARGE:
        row.market_type = data.JOINT_STOCK_MARKET_TYPE
    else:
        names, weights = zip(*data.COMPANY_MARKET_TYPES, strict=True)
        row.market_type = rnd.choices(names, weights)[0]
    row.stage = stages.get(_stage_of(row, rnd, key=key))
    row.qualifications = _qualifications(row, rnd) if key else []


def _stage_of(row: Enterprise, rnd: random.Random, *, key: bool) -> str:
    if row.entity_type != EntityType.ENTERPRISE:
        return "operation" if row.entity_type == EntityType.INDIVIDUAL or rnd.random() < 0.7 else "growth"
    if row.established_on is not None and row.established_on.year >= 2023:
        return rnd.choice(("startup", "construction"))
    roll = rnd.random()
    if roll < 0.1:
        return "construction"
    return "growth" if roll < (0.5 if key else 0.25) else "operation"


def _qualifications(row: Enterprise, rnd: random.Random) -> list[str]:
    held = []
    sme = row.size_band in (size_band.MEDIUM, size_band.SMALL, size_band.MICRO)
    if row.established_on is not None and row.established_on.year <= 2021 and rnd.random() < 0.5:
        held.append("高新技术企业")
    if sme and rnd.random() < 0.45:
        held.append("科技型中小企业")
    if row.size_band in (size_band.MEDIUM, size_band.SMALL) and rnd.random() < 0.25:
        held.append("专精特新中小企业")
    if row.size_band in (size_band.MEDIUM, size_band.SMALL) and rnd.random() < 0.1:
        held.append("瞪羚企业")
    elif sme and row.established_on is not None and row.established_on.year >= 2019 and rnd.random() < 0.15:
        held.append("雏鹰企业")
    return held


# Typical figures by band, for an indicator the industry's size rule does not use (e.g. employees of a
# construction firm): (low, high) with high exclusive.
_TYPICAL = {
    size_band.X: {size_band.LARGE: (1000, 3000), size_band.MEDIUM: (300, 1000), size_band.SMALL: (50, 300),
                  size_band.MICRO: (3, 20)},
    size_band.Y: {size_band.LARGE: (40000, 100000), size_band.MEDIUM: (5000, 40000), size_band.SMALL: (500, 5000),
                  size_band.MICRO: (30, 300)},
}


def band_figures(code: str, band: str, rnd: random.Random, *, entity_type: str = EntityType.ENTERPRISE
                 ) -> dict[str, Any]:
    """从业人员, 营业收入 and 资产总额 (万元) for an entity of industry ``code`` that are in ``band`` by
    国统字〔2017〕213号: every indicator of the industry's rule inside the band's range (micro: all
    below the small bound), the others typical of the band. Assets only for companies."""
    rule = size_band.RULES[size_band.industry_of(code)]
    index = size_band.BANDS.index(band)
    values: dict[str, Any] = {size_band.X: None, size_band.Y: None, size_band.Z: None}
    for name in (size_band.X, size_band.Y, size_band.Z):
        if name not in rule.bounds:
            continue
        large, medium, small = rule.bounds[name]
        low, high = {0: (large, large * 2), 1: (medium, large), 2: (small, medium)}.get(
            index, (max(1, small // 5) if name == size_band.X else small / 6, small))
        values[name] = _between(rnd, low, high, whole=name == size_band.X)
    if values[size_band.X] is None:
        low, high = (3, 13) if entity_type == EntityType.COOPERATIVE else _TYPICAL[size_band.X][band]
        values[size_band.X] = _between(rnd, low, high, whole=True)
    if values[size_band.Y] is None:
        low, high = (8, 60) if entity_type == EntityType.INDIVIDUAL else _TYPICAL[size_band.Y][band]
        values[size_band.Y] = _between(rnd, low, high, whole=False)
    if values[size_band.Z] is None and entity_type == EntityType.ENTERPRISE:
        values[size_band.Z] = (values[size_band.Y] * Decimal(str(round(rnd.uniform(0.6, 1.5), 2)))).quantize(
            Decimal("0.01"), ROUND_DOWN)
    return values


def _between(rnd: random.Random, low: float, high: float, *, whole: bool) -> Any:
    """Log-uniform in [low, high): small firms are more common than big ones within a band."""
    value = math.exp(rnd.uniform(math.log(low), math.log(high)))
    if whole:
        return min(max(int(value), math.ceil(low)), math.ceil(high) - 1)
    amount = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_DOWN)
    return min(max(amount, Decimal(str(low)).quantize(Decimal("0.01"), ROUND_UP)), Decimal(high) - Decimal("0.01"))


# ==================================================================================================
# Time: Beijing working hours over the past weeks
# ==================================================================================================
OPEN = time(8, 30)
CLOSE = time(17, 30)
EARLIEST_ANCHOR = time(11, 0)


class DemoClock:
    """Places demo events on working days between 08:30 and 17:30 (Beijing), never after ``now``.

    The *anchor* is the latest moment the demo uses: ``now`` itself during a working day after
    11:00 (capped at 17:30), otherwise 17:30 of the previous working day. ``day(n, …)`` is a time on
    the n-th working day before the anchor's day; ``ago(m)`` is m minutes before the anchor.
    """

    def __init__(self, now: datetime, calendar: WorkCalendar):
        self.now = now
        self.calendar = calendar
        local = now.astimezone(LOCAL_TZ).replace(second=0, microsecond=0)
        if calendar.is_workday(local.date()) and local.time() >= EARLIEST_ANCHOR:
            self.anchor_day = local.date()
            anchor = min(local, datetime.combine(local.date(), CLOSE, LOCAL_TZ))
        else:
            self.anchor_day = self._step(local.date(), -1)
            anchor = datetime.combine(self.anchor_day, CLOSE, LOCAL_TZ)
        self.anchor = anchor.astimezone(UTC)

    def _step(self, day: date, direction: int, count: int = 1) -> date:
        for _ in range(count):
            day += timedelta(days=direction)
            while not self.calendar.is_workday(day):
                day += timedelta(days=direction)
        return day

    def day(self, n: int, hour: int, minute: int = 0) -> datetime:
        if n < 1:
            raise ValueError("use ago() for times on the anchor's own day")
        local = datetime.combine(self._step(self.anchor_day, -1, n), time(hour, minute), LOCAL_TZ)
        return local.astimezone(UTC)

    def ago(self, minutes: int) -> datetime:
        return self.anchor - timedelta(minutes=minutes)

    def later(self, moment: datetime, *, minutes: int = 0, workdays: int = 0) -> datetime:
        """``workdays`` working days later at the same clock time, then ``minutes`` of office time."""
        local = moment.astimezone(LOCAL_TZ)
        local = datetime.combine(self._step(local.date(), 1, workdays), local.time(), LOCAL_TZ)
        remaining = timedelta(minutes=minutes)
        while True:
            if not self.calendar.is_workday(local.date()) or local.time() >= CLOSE:
                local = datetime.combine(self._step(local.date(), 1), OPEN, LOCAL_TZ)
                continue
            if local.time() < OPEN:
                local = datetime.combine(local.date(), OPEN, LOCAL_TZ)
            room = datetime.combine(local.date(), CLOSE, LOCAL_TZ) - local
            if remaining <= room:
                return (local + remaining).astimezone(UTC)
            remaining -= room
            local = datetime.combine(self._step(local.date(), 1), OPEN, LOCAL_TZ)

    def date_after(self, moment: datetime, workdays: int) -> date:
        return self._step(moment.astimezone(LOCAL_TZ).date(), 1, workdays)


# ==================================================================================================
# Stories: one work order each, as a list of timed steps
# ==================================================================================================
@dataclass(frozen=True)
class Pick:
    zone: str
    entity: str = EntityType.ENTERPRISE
    key: bool | None = None


@dataclass(frozen=True)
class Step:
    at: datetime
    op: str
    actor: str | None
    kwargs: dict[str, Any]


class Story:
    def __init__(self, key: str, request: data.Request, pick: Pick, expect: str, clock: DemoClock,
                 same_as: str | None = None):
        self.key = key
        self.request = request
        self.pick = pick
        self.expect = expect
        self.clock = clock
        # Another story's key: this one is about that story's enterprise (a repeated request).
        self.same_as = same_as
        self.steps: list[Step] = []

    @property
    def last(self) -> datetime:
        return self.steps[-1].at

    def step(self, op: str, *, at: datetime | None = None, after: int = 0, workdays: int = 0,
             actor: str | None = None, **kwargs: Any) -> Story:
        if at is None:
            at = self.clock.later(self.last, minutes=after, workdays=workdays)
        self.steps.append(Step(at, op, actor, kwargs))
        return self

    def closed(self, satisfaction: str, *, feedback_after: int = 30, **visit: Any) -> Story:
        """The staff member tells the enterprise the result, then visits it the next working day."""
        return self.step("feedback", after=feedback_after).step("visit", workdays=1, satisfaction=satisfaction,
                                                                **visit)


A = State
VERY, GOOD, BASIC, BAD = "非常满意", "满意", "基本满意", "不满意"


def build_stories(c: DemoClock) -> list[Story]:
    """The demo's orders. Pure: only the clock decides the times, so a test can check every ``now``."""
    stories: list[Story] = []

    def story(key: str, zone: str, expect: str, *, entity: str = EntityType.ENTERPRISE, key_industry=None,
              request: data.Request | None = None, same_as: str | None = None) -> Story:
        s = Story(key, request or data.REQUESTS[key], Pick(zone, entity, key_industry), expect, c, same_as)
        stories.append(s)
        return s

    # -- the whole loop, satisfied --------------------------------------------------------------
    (story("water_outage", "beicang", A.ARCHIVED)  # urgent: sign within 30 natural minutes
     .step("create", at=c.day(12, 8, 40), level=2, priority="urgent")
     .step("sign", after=12).step("reply", after=25).step("resolve", after=150)
     .closed(VERY, feedback_after=20))
    (story("power_install", "kaifaqu", A.ARCHIVED, key_industry=True)
     .step("create", at=c.day(14, 9, 30), level=2)
     .step("sign", after=95).step("reply", after=200).step("resolve", workdays=3)
     .closed(GOOD))
    (story("recruit", "tianmu", A.ARCHIVED)
     .step("create", at=c.day(13, 10, 5), level=2)
     .step("sign", after=40).step("reply", after=120).step("resolve", workdays=3)
     .closed(GOOD, feedback_after=60, method="visit"))
    (story("road_damage", "shuangjie", A.ARCHIVED)  # level 1: the zone fixes it itself
     .step("create", at=c.day(11, 9, 20), level=1)
     .step("reply", after=60, actor="handler", text="已联系镇城管办，明日上午安排施工队修补。")
     .step("resolve", workdays=1).closed(VERY))
    (story("export_rebate", "kaifaqu", A.ARCHIVED)
     .step("create", at=c.day(11, 14, 10), level=2)
     .step("sign", after=70).step("resolve", workdays=2)
     .closed(VERY, feedback_after=45))
    (story("eia", "xiaodian", A.ARCHIVED)
     .step("create", at=c.day(10, 9, 45), level=2)
     .step("sign", after=180).step("resolve", workdays=4)
     .closed(GOOD))
    (story("food_license", "jixianli", A.ARCHIVED, entity=EntityType.INDIVIDUAL)
     .step("create", at=c.day(9, 15, 0), level=2)
     .step("sign", after=30).step("resolve", workdays=2).closed(BASIC, feedback_after=20, comment="希望窗口排队时间再短一些"))
    (story("high_tech", "kaifaqu", A.ARCHIVED, key_industry=True)
     .step("create", at=c.day(15, 10, 0), level=2)
     .step("sign", after=60).step("resolve", workdays=4)
     .closed(VERY, feedback_after=60))
    (story("broadband", "qingguang", A.ARCHIVED)  # signed late: counts against the response rate
     .step("create", at=c.day(14, 11, 0), level=2)
     .step("sign", workdays=1, after=30).step("resolve", workdays=2)
     .closed(GOOD))
    (story("gas_install", "yixingbu", A.ARCHIVED)  # an approved extension
     .step("create", at=c.day(15, 9, 10), level=2)
     .step("sign", after=50)
     .step("request_extension", workdays=2, days=3, reason="燃气管线需穿越市政道路，须先办理道路挖掘许可")
     .step("decide_extension", after=60, approve=True, note="同意延期3个工作日")
     .step("resolve", workdays=4).closed(GOOD))
    (story("coop_subsidy", "shuangkou", A.ARCHIVED, entity=EntityType.COOPERATIVE)
     .step("create", at=c.day(12, 10, 30), level=2)
     .step("sign", after=120).step("resolve", workdays=3)
     .closed(VERY))
    (story("stable_jobs", "tianmu", A.ARCHIVED)
     .step("create", at=c.day(8, 9, 15), level=1)
     .step("resolve", after=90).closed(GOOD, feedback_after=10))
    (story("talent_apartment", "kaifaqu", A.ARCHIVED, key_industry=True)
     .step("create", at=c.day(13, 14, 20), level=2)
     .step("sign", after=45).step("reply", after=60, text="已受理申请，正在核对房源。")
     .step("resolve", workdays=4).closed(VERY))
    (story("drain", "guoyuanxincun", A.ARCHIVED)  # transferred to the right department
     .step("create", at=c.day(10, 10, 40), level=2)
     .step("transfer", after=90, department="water", reason="雨水管网由水务局负责养护，转水务局办理")
     .step("sign", after=40).step("resolve", workdays=1)
     .closed(GOOD))
    (story("cross_border", "kaifaqu", A.ARCHIVED)
     .step("create", at=c.day(9, 10, 0), level=2)
     .step("sign", after=30).step("resolve", workdays=3)
     .closed(GOOD))
    (story("disabled_staff", "ruijing", A.ARCHIVED)  # archived without a visit: nobody answered
     .step("create", at=c.day(11, 11, 0), level=1)
     .step("resolve", after=60).step("feedback", after=15)
     .step("archive", workdays=3, note="三次电话回访均无人接听，按规定归档"))
    (story("safety_training", "dazhangzhuang", A.ARCHIVED)
     .step("create", at=c.day(14, 9, 0), level=2)
     .step("sign", after=30).step("reply", workdays=1, text="已联系应急管理局专家，拟定下周二到企业开展培训。")
     .step("resolve", workdays=3).closed(VERY))
    (story("law_lecture", "pudong", A.ARCHIVED)  # screening flagged 仲裁; the staff overrode it
     .step("create", at=c.day(7, 10, 20), level=1)
     .step("confirm_screening", after=30, decision="override",
           reason="属于普法宣讲活动报名咨询，不涉及具体争议案件")
     .step("resolve", after=60).closed(GOOD, feedback_after=10))
    (story("gmp_upgrade", "kaifaqu", A.ARCHIVED, key_industry=True)  # green channel → joint meeting
     .step("create", at=c.day(15, 9, 0), level=2, is_complex=True)
     .step("joint_meeting", after=180, departments=["sthjj", "zjw", "power_chengdong"], lead="gxj",
           decisions="工信局牵头，生态环境局、住建委、城东供电并联办理，5个工作日内各自出具意见")
     .step("sign", after=40)
     .step("reply", workdays=2, text="环评变更已批复，消防验收已预约，增容方案已答复。")
     .step("resolve", workdays=3).closed(VERY))
    (story("deregistration", "jixianli", A.ARCHIVED)  # level 3: lead department by service stage
     .step("create", at=c.day(12, 10, 0), level=3)
     .step("dispatch", after=90, department="scjgj", note="按服务阶段由市场监管局牵头，税务局、人社局配合")
     .step("sign", after=30).step("resolve", workdays=4)
     .closed(GOOD))
    (story("hotline_upload", "pudong", A.ARCHIVED)  # taken by the grid center from the hotline
     .step("create", at=c.day(9, 14, 0), level=2, actor="dispatcher")
     .step("sign", after=30).step("resolve", workdays=1)
     .closed(GOOD, feedback_after=20))

    # -- refused or waiting for a decision -------------------------------------------------------
    (story("payment_lawsuit", "beicang", A.REJECTED)
     .step("create", at=c.day(6, 14, 30), level=2)
     .step("confirm_screening", after=45, actor="dispatcher", decision="reject"))
    (story("demolition_petition", "xiditou", A.REJECTED)
     .step("create", at=c.day(4, 9, 40), level=1)
     .step("confirm_screening", after=20, decision="reject"))
    story("competitor_bid", "kaifaqu", A.RECEIVED).step("create", at=c.ago(100), level=1)

    # -- waiting in a hub's queue ------------------------------------------------------------------
    (story("biomed_base", "kaifaqu", A.PENDING_DISPATCH, key_industry=True)  # green channel
     .step("create", at=c.ago(75), level=2, is_complex=True))
    (story("sewage", "kaifaqu", A.PENDING_DISPATCH, key_industry=False)  # returned twice
     .step("create", at=c.day(2, 9, 30), level=2)
     .step("dispatch", after=40, department="cgw", note="园区排水设施问题，请城管委核实处置")
     .step("return", after=120, reason="污水管网不属于市容环卫管理范围，建议由水务部门办理")
     .step("dispatch", at=c.day(1, 9, 10), department="water", note="请水务局核实管网权属并处置")
     .step("return", after=150, reason="经核实该管网为园区自建内部管网，产权属园区运营方，不属于市政排水设施"))
    (story("bus_stop", "shuanghuancun", A.PENDING_DISPATCH)
     .step("create", at=c.day(1, 14, 0), level=2, actor="zone_admin"))
    (story("expansion", "shuangjie", A.PENDING_DISPATCH)  # escalated to a level-3 consultation
     .step("create", at=c.day(5, 10, 0), level=2)
     .step("sign", after=60).step("reply", after=120)
     .step("escalate", workdays=1, level=3, reason="涉及规划、土地、消防等多个部门，需提请区级会商"))

    # -- dispatched, waiting for a chief helper to report -----------------------------------------
    (story("property_cert", "qingguang", A.DISPATCHED)  # nobody reported in time
     .step("create", at=c.day(3, 10, 20), level=2)
     .step("supervise", at=c.day(1, 9, 30), actor="leader", note="请首席帮办尽快报到并联系企业"))
    story("graduate_subsidy", "tianmu", A.DISPATCHED).step("create", at=c.ago(40), level=2)
    (story("financing", "dazhangzhuang", A.DISPATCHED)
     .step("create", at=c.ago(110), level=2, department=None)
     .step("dispatch", after=25, department="czj", note="涉及政府性融资担保和贴息政策"))

    # -- being handled -----------------------------------------------------------------------------
    (story("injury_insurance", "tianmu", A.PROCESSING)  # overdue, supervised
     .step("create", at=c.day(9, 9, 50), level=2)
     .step("sign", after=100).step("reply", workdays=1)
     .step("supervise", at=c.day(2, 10, 0), actor="dispatcher", note="该工单已超过办理时限，请人社局说明进展并尽快办结"))
    # The same enterprise asks again about the same matter: its staff member links it to the order
    # being handled and the grid center merges it (重复诉求).
    (story("injury_insurance_again", "tianmu", A.MERGED, same_as="injury_insurance")
     .step("create", at=c.day(4, 14, 30), level=2, link_to="injury_insurance")
     .step("merge", after=40, into="injury_insurance", reason="同一工伤保险待遇审核事项，并入原工单跟进"))
    (story("discharge_permit", "xiaodian", A.PROCESSING)  # extension requested, not yet decided
     .step("create", at=c.day(2, 10, 30), level=2)
     .step("sign", after=45)
     .step("request_extension", at=c.day(1, 15, 0), days=5,
           reason="需组织技术人员现场核查排放口，并与市级排污许可系统核对数据"))
    (story("joint_acceptance", "beicang", A.PROCESSING)  # level 3 with a joint meeting
     .step("create", at=c.day(6, 9, 30), level=3)
     .step("joint_meeting", at=c.day(4, 14, 0), departments=["zjw", "ghzy", "cgw"], lead="zjw",
           decisions="由住建委牵头，规划资源分局、城管委配合，5个工作日内完成现场联合复核，消防与人防问题一并整改验收")
     .step("sign", after=50).step("reply", workdays=1))
    truck = (story("truck_pass", "tianmu", A.PROCESSING)  # level 4 through 12345, tracked by the zone
             .step("create", at=c.day(8, 10, 0), level=1)
             .step("escalate", workdays=1, actor="handler", level=4, route="12345",
                   reason="货车通行证由市公安交管部门审批，超出区级权限，已协助企业向市12345企业服务专席反映"))
    filed = c.later(truck.last, workdays=1)
    truck.step("record_city_reference", at=filed, actor="handler",
               reference=f"QY{filed.astimezone(LOCAL_TZ):%Y%m%d}0173",
               city_deadline=c.date_after(filed, 15), note="市12345已受理，转市公安交管局办理")
    barrier = (story("trade_barrier", "kaifaqu", A.PROCESSING, key_industry=True)  # level 4 to a city department
               .step("create", at=c.day(7, 10, 30), level=2)
               .step("sign", after=40).step("reply", after=120))
    barrier.step("escalate", workdays=1, level=4, route="city_department", city_department="市商务局",
                 city_deadline=c.date_after(barrier.last, 20),
                 reason="涉及出口认证和原产地证市级事权，提级市商务局协调")
    story("tax_relief", "jiarongli", A.PROCESSING).step("create", at=c.day(1, 15, 10), level=1)
    (story("night_noise", "yixingbu", A.PROCESSING)  # reopened after a dissatisfied visit
     .step("create", at=c.day(7, 9, 0), level=2)
     .step("sign", after=60).step("resolve", workdays=2).closed(BAD, comment="夜间仍有施工噪声，问题没有解决")
     .step("reply", after=60, text="已联合综合执法队开展夜间巡查，督促施工单位整改。"))
    (story("scope_change", "kaifaqu", A.SUSPENDED)
     .step("create", at=c.day(3, 14, 0), level=2)
     .step("sign", after=30).step("reply", after=60)
     .step("suspend", after=10, reason="等待企业补充股东会决议原件和新章程"))

    # -- resolved, told, visited ---------------------------------------------------------------
    (story("skills_subsidy", "tianmu", A.RESOLVED)
     .step("create", at=c.day(4, 10, 0), level=2).step("sign", after=80).step("resolve", workdays=3))
    (story("street_light", "shuangkou", A.RESOLVED)
     .step("create", at=c.day(2, 9, 0), level=1).step("resolve", workdays=1))
    (story("tech_sme", "kaifaqu", A.FED_BACK)
     .step("create", at=c.day(6, 11, 0), level=2)
     .step("sign", after=60).step("resolve", workdays=3).step("feedback", after=40))
    (story("signal_5g", "kaifaqu", A.FED_BACK, key_industry=True)
     .step("create", at=c.day(5, 9, 30), level=2)
     .step("sign", after=30).step("resolve", workdays=3).step("feedback", workdays=1))
    (story("dust", "xiditou", A.VISITED)  # dissatisfied, reopened, dissatisfied again
     .step("create", at=c.day(14, 9, 20), level=2)
     .step("sign", after=45).step("resolve", workdays=2).closed(BAD, comment="扬尘问题依旧，白天仍有渣土车未苫盖")
     .step("reply", workdays=1, text="已联合执法队设卡检查，督促运输企业苫盖。")
     .step("resolve", workdays=2, result="已在厂区周边路段增设洒水作业，并开展渣土车专项执法。")
     .closed(BAD, comment="早晚高峰仍有扬尘，问题只解决了一部分"))

    stories.extend(_routine_stories(c))
    return stories


_ZONE_CODES = ("tianmu", "beicang", "shuangjie", "shuangkou", "qingguang", "yixingbu", "xiaodian", "dazhangzhuang",
               "xiditou", "guoyuanxincun", "jixianli", "pudong", "ruijing", "jiarongli", "qingyuan",
               "shuanghuancun", "kaifaqu")
_TOWNS = _ZONE_CODES[:9]
_WITH_SHOPS = _ZONE_CODES[:16]
_SATISFACTION_CYCLE = (VERY, GOOD, VERY, GOOD, BASIC, VERY, GOOD)


def _routine_stories(c: DemoClock) -> list[Story]:
    """Everyday orders that went round the loop, spread over the zones and the past three weeks."""
    stories = []
    for i, (department, stage, entity, title, content, result) in enumerate(data.ROUTINE):
        zones = {EntityType.COOPERATIVE: _TOWNS, EntityType.INDIVIDUAL: _WITH_SHOPS}.get(entity, _ZONE_CODES)
        zone = zones[(i * 7) % len(zones)]
        request = data.Request(title, content, department, stage, result)
        s = Story(f"routine-{i + 1:02d}", request, Pick(zone, entity), State.ARCHIVED, c)
        start = c.day(9 + (i * 5) % 7, 9 + (i * 3) % 7, (i * 17) % 60)
        if department is None:
            s.step("create", at=start, level=1)
            s.step("resolve", after=60 + (i % 5) * 40, workdays=1 if i % 3 == 0 else 0)
        else:
            via_grid = i % 4 == 1
            s.step("create", at=start, level=2, department=None if via_grid else department)
            if via_grid:
                s.step("dispatch", after=25 + (i % 4) * 10, department=department)
            if i % 7 == 3:
                s.step("sign", workdays=1, after=45)  # late
            else:
                s.step("sign", after=20 + (i * 13) % 120)
            if i % 3 == 0:
                s.step("reply", after=90, text="已与企业联系，正在办理。")
            s.step("resolve", workdays=6 if i % 9 == 4 else 1 + i % 4)  # i % 9 == 4: finished late
        s.closed(_SATISFACTION_CYCLE[i % len(_SATISFACTION_CYCLE)], feedback_after=30 + (i % 3) * 20,
                 method="visit" if i % 5 == 2 else "phone")
        stories.append(s)
    return stories


# ==================================================================================================
# Playing the stories through the real operations
# ==================================================================================================
_DEFAULT_ACTOR = {
    "create": "staff", "confirm_screening": "staff", "dispatch": "dispatcher", "sign": "helper", "reply": "helper",
    "return": "helper", "transfer": "helper", "suspend": "helper", "resume": "helper", "request_extension": "helper",
    "decide_extension": "dispatcher", "resolve": "handler", "feedback": "staff", "visit": "staff",
    "escalate": "handler", "joint_meeting": "bizenv", "supervise": "dispatcher", "archive": "dispatcher",
    "record_city_reference": "handler", "merge": "dispatcher",
}
# Chief helpers answer from the group chat (the sandbox in development); the rest use the console.
_CHAT_OPS = {"sign", "reply", "return", "transfer", "resolve"}


class _Player:
    def __init__(self, session: Session, refs: _References, cast: _Cast, pool: _Pool, channels: Channels):
        self.session = session
        self.refs = refs
        self.cast = cast
        self.pool = pool
        self.channels = channels
        self.orders: dict[str, WorkOrder] = {}
        self.enterprises: dict[str, Enterprise] = {}

    def play(self, stories: list[Story]) -> None:
        for story in stories:
            self.enterprises[story.key] = (self.enterprises[story.same_as] if story.same_as
                                           else self.pool.take(story.pick))
        # All steps of all stories in time order, so numbers, events and outbox rows are chronological.
        queue = [(step.at, si, pi) for si, story in enumerate(stories) for pi, step in enumerate(story.steps)]
        heapq.heapify(queue)
        while queue:
            _, si, pi = heapq.heappop(queue)
            story = stories[si]
            step = story.steps[pi]
            try:
                self._apply(story, step)
            except Exception as exc:
                raise RuntimeError(f"演示工单 {story.key} 第 {pi + 1} 步（{step.op}）失败：{exc}") from exc
        for story in stories:
            order = self.orders[story.key]
            if order.state != story.expect:
                raise RuntimeError(f"演示工单 {story.key} 最终状态为 {order.state}，应为 {story.expect}")

    # -- actors ----------------------------------------------------------------------------------
    def _actor(self, who: str, story: Story, order: WorkOrder | None) -> Person:
        enterprise = self.enterprises[story.key]
        if who == "staff":
            return enterprise.service_staff
        if who == "zone_admin":
            return self.cast.zone_admins[enterprise.zone.code]
        if who == "dispatcher":
            return self.cast.dispatchers[len(story.key) % len(self.cast.dispatchers)]
        if who == "bizenv":
            return self.cast.bizenv
        if order is None:
            raise RuntimeError(f"{who} needs an order")
        # The operations set assigned_person_id (not always the relationship): go by the id.
        assigned = self.session.get(Person, order.assigned_person_id) if order.assigned_person_id else None
        if who == "handler" and order.assigned_department_id is None:
            return assigned
        if who in ("helper", "handler"):
            if assigned is not None and assigned.role == Role.CHIEF_HELPER:
                return assigned
            return chief_helpers(self.session, order.assigned_department_id, order.stage_id)[0]
        if who == "leader":
            return department_leaders(self.session, order.assigned_department_id)[0]
        raise RuntimeError(f"unknown demo actor {who}")

    def _department_id(self, code: str | None) -> int | None:
        return self.refs.departments[code].id if code else None

    # -- one step --------------------------------------------------------------------------------
    def _apply(self, story: Story, step: Step) -> None:
        order = self.orders.get(story.key)
        actor = self._actor(step.actor or _DEFAULT_ACTOR[step.op], story, order)
        if actor is None:  # None would mean "the system" to the operations, which skips permissions
            raise RuntimeError(f"no person for {step.op}")
        channel = "sandbox" if step.op in _CHAT_OPS and actor.role == Role.CHIEF_HELPER else "console"
        ctx = wo.OpContext(self.session, actor, step.at, channel, self.channels)
        request, kw = story.request, dict(step.kwargs)
        op = step.op
        if op == "create":
            enterprise = self.enterprises[story.key]
            level = kw.get("level", 1)
            department = kw.get("department", request.department if level == 2 else None)
            self.orders[story.key] = wo.create_order(ctx, wo.NewOrder(
                enterprise_id=enterprise.id, content=request.content, title=request.title,
                stage_id=self.refs.stages[request.stage].id, priority=kw.get("priority", "normal"),
                is_complex=kw.get("is_complex", False), level=level, department_id=self._department_id(department),
                contact_name=enterprise.contact_name, contact_phone=enterprise.contact_phone,
                link_to=self.orders[kw["link_to"]].number if kw.get("link_to") else "",
            ))
        elif op == "merge":
            wo.merge(ctx, order, into=self.orders[kw["into"]].number, reason=kw.get("reason", ""))
        elif op == "confirm_screening":
            wo.confirm_screening(ctx, order, decision=kw["decision"], reason=kw.get("reason", ""))
        elif op == "dispatch":
            wo.dispatch(ctx, order, department_id=self._department_id(kw.get("department", request.department)),
                        note=kw.get("note", ""))
        elif op == "sign":
            wo.sign(ctx, order)
        elif op == "reply":
            wo.reply(ctx, order, text=kw.get("text") or request.reply)
        elif op == "return":
            wo.return_order(ctx, order, reason=kw["reason"])
        elif op == "transfer":
            wo.transfer(ctx, order, department_id=self._department_id(kw["department"]), reason=kw["reason"])
        elif op == "suspend":
            wo.suspend(ctx, order, reason=kw["reason"])
        elif op == "resume":
            wo.resume(ctx, order, note=kw.get("note", ""))
        elif op == "request_extension":
            wo.request_extension(ctx, order, days=kw["days"], reason=kw["reason"])
        elif op == "decide_extension":
            wo.decide_extension(ctx, order, approve=kw["approve"], note=kw.get("note", ""))
        elif op == "resolve":
            wo.resolve(ctx, order, result=kw.get("result") or request.result)
        elif op == "feedback":
            wo.feedback(ctx, order, note=kw.get("note", "已电话告知企业办理结果"))
        elif op == "visit":
            wo.visit(ctx, order, satisfaction=kw["satisfaction"], comment=kw.get("comment", ""),
                     method=kw.get("method", "phone"))
        elif op == "archive":
            wo.archive(ctx, order, note=kw.get("note", ""))
        elif op == "escalate":
            city = None
            if kw.get("route"):
                city = wo.CityInfo(route=kw["route"], city_department=kw.get("city_department", ""),
                                   city_deadline=kw.get("city_deadline"))
            wo.escalate(ctx, order, reason=kw["reason"], level=kw.get("level"),
                        department_id=self._department_id(kw.get("department")), city=city)
        elif op == "record_city_reference":
            wo.record_city_reference(ctx, order, city_reference=kw["reference"],
                                     city_deadline=kw.get("city_deadline"), note=kw.get("note", ""))
        elif op == "joint_meeting":
            wo.joint_meeting(
                ctx, order, held_on=step.at.astimezone(LOCAL_TZ).date(),
                department_ids=[self._department_id(code) for code in kw["departments"]],
                decisions=kw["decisions"], lead_department_id=self._department_id(kw["lead"]),
            )
        elif op == "supervise":
            wo.supervise(ctx, order, note=kw["note"])
        else:
            raise RuntimeError(f"unknown demo step {op}")
