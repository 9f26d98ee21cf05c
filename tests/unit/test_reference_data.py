"""Reference data and its idempotent seed, against an in-memory SQLite database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from models import (
    Base,
    Department,
    IndustryTag,
    RequestDomain,
    ScreeningRule,
    ServiceStage,
    SlaPolicy,
    SystemSetting,
    Zone,
)
from services.demo import reference as seed_module
from services.demo import reference_data as ref
from services.demo.reference import seed_reference

TEST_RULES = [
    {"category": "涉法涉诉", "keywords": "起诉,诉讼,判决", "reason": "涉法涉诉事项不在服务范围",
     "proper_channel": "通过人民法院诉讼服务中心或司法途径依法解决", "sort_order": 1},
    {"category": "信访事项", "keywords": ["信访", "上访"], "reason": "信访事项不在服务范围",
     "proper_channel": "通过信访渠道反映", "sort_order": 2},
]


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setattr(seed_module, "default_screening_rules", lambda: list(TEST_RULES))
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _inserted(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if key.endswith(".inserted"))


def _updated(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if key.endswith(".updated"))


def _dept(session: Session, code: str) -> Department:
    return session.scalars(select(Department).where(Department.code == code)).one()


# ----- pure data -----------------------------------------------------------------------------------


def test_reference_codes_are_unique_and_ascii() -> None:
    for rows in (ref.ZONES, ref.DEPARTMENTS, ref.SERVICE_STAGES, ref.REQUEST_DOMAINS, ref.INDUSTRY_TAGS):
        codes = [r.code for r in rows]
        names = [r.name for r in rows]
        assert len(codes) == len(set(codes))
        assert len(names) == len(set(names))
        assert all(c.isascii() and c == c.lower() and len(c) <= 32 for c in codes)
    for d in ref.DEPARTMENTS:
        assert d.duty
        assert all("," not in k and k.strip() == k and k for k in d.keywords)
    assert all(z.name in z.address_keywords for z in ref.ZONES)


def test_parents_and_stage_leads_refer_to_departments() -> None:
    codes = {d.code: d for d in ref.DEPARTMENTS}
    for d in ref.DEPARTMENTS:
        if d.parent_code:
            assert codes[d.parent_code].kind == "department"
    for s in ref.SERVICE_STAGES:
        assert codes[s.lead_department_code].kind == "department"
    assert ref.department_ref("scjgj").name == "市场监管局"
    with pytest.raises(KeyError):
        ref.department_ref("nope")


# ----- seeded rows ---------------------------------------------------------------------------------


def test_zones_in_document_order_with_kinds(session: Session) -> None:
    seed_reference(session)
    zones = session.scalars(select(Zone).order_by(Zone.sort_order)).all()
    assert [z.name for z in zones] == [
        "天穆镇", "北仓镇", "双街镇", "双口镇", "青光镇", "宜兴埠镇", "小淀镇", "大张庄镇", "西堤头镇",
        "果园新村街", "集贤里街", "普东街", "瑞景街", "佳荣里街", "青源街", "双环邨街", "开发区",
    ]
    kinds = [z.kind for z in zones]
    assert kinds.count("town") == 9 and kinds.count("street") == 7 and kinds.count("devzone") == 1
    assert zones[0].code == "tianmu" and zones[1].code == "beicang" and zones[-1].code == "kaifaqu"


def test_departments_units_and_hubs(session: Session) -> None:
    seed_reference(session)
    departments = session.scalars(
        select(Department).where(Department.kind == "department").order_by(Department.sort_order)
    ).all()
    assert [d.name for d in departments] == [
        "发改委", "财政局", "司法局", "教育局", "民政局", "科技局", "工信局", "人社局", "住建委", "城管委",
        "生态环境局", "水务局", "运管局", "农业农村委", "商务局", "文旅局", "卫健委", "政务服务办", "投促局",
        "国资委", "医保局", "应急管理局", "市场监管局", "法院", "税务局", "规划资源分局",
    ]
    assert all(d.parent is None and d.keywords for d in departments)

    units = session.scalars(select(Department).where(Department.kind == "unit")).all()
    assert {u.name: u.parent.name for u in units} == {
        "通信公司": "工信局", "城东供电": "工信局", "燃气公司": "城管委", "水务公司": "水务局",
    }
    assert {u.name for u in _dept(session, "gxj").units} == {"通信公司", "城东供电"}
    assert _dept(session, "power_chengdong").display_name == "工信局·城东供电"
    assert "停电" in _dept(session, "power_chengdong").keywords.split(",")

    hubs = session.scalars(select(Department).where(Department.kind == "hub")).all()
    assert {h.code for h in hubs} == {"grid_center", "bizenv_office", "one_number_desk"}
    assert "86912345" in _dept(session, "one_number_desk").duty
    assert _count(session, Department) == 26 + 4 + 3

    rsj = _dept(session, "rsj").keywords.split(",")
    assert {"招聘", "用工", "社保", "稳岗补贴"} <= set(rsj)


def test_stages_domains_industries(session: Session) -> None:
    seed_reference(session)
    stages = session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order)).all()
    assert [s.name for s in stages] == ["企业开办", "项目建设", "生产经营", "发展壮大", "市场退出"]
    assert all(s.lead_department is not None for s in stages)
    assert {s.code: s.lead_department.name for s in stages} == {
        "startup": "政务服务办", "construction": "住建委", "operation": "工信局", "growth": "发改委",
        "exit": "市场监管局",
    }

    domains = session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order)).all()
    assert [d.name for d in domains] == ["经济调节", "市场监管", "社会管理", "公共服务", "生态环境保护"]
    assert all(d.keywords for d in domains)

    key = session.scalars(select(IndustryTag).where(IndustryTag.is_key_industry.is_(True))).all()
    assert {t.name for t in key} == {"高端装备制造", "生物医药与中医药", "新能源新材料", "信息技术应用创新", "现代服务业"}
    assert all(t.gbt_sections for t in key)
    assert _count(session, IndustryTag) > 5


def test_sla_policies_and_settings(session: Session) -> None:
    seed_reference(session)
    policies = session.scalars(select(SlaPolicy)).all()
    assert len(policies) == 12
    by_key = {(p.priority, p.level): p for p in policies}
    assert all(p.domain_id is None for p in policies)
    assert by_key[("normal", 1)].sign_workdays == 1 and by_key[("normal", 1)].sign_minutes is None
    assert by_key[("urgent", 2)].sign_minutes == 30 and by_key[("urgent", 2)].sign_workdays is None
    assert by_key[("emergency", 3)].sign_minutes == 15
    assert [by_key[("normal", level)].handle_workdays for level in (1, 2, 3, 4)] == [3, 5, 10, None]
    p = by_key[("normal", 2)]
    assert p.remind_percents == [50, 80]
    assert (p.leader_after_workdays, p.bizenv_after_workdays) == (1, 2)
    assert (p.return_limit_workdays, p.return_limit_workdays_complex) == (1, 2)

    settings = {s.key: s.value for s in session.scalars(select(SystemSetting))}
    assert settings == ref.DEFAULT_SETTINGS

    rules = session.scalars(select(ScreeningRule).order_by(ScreeningRule.sort_order)).all()
    assert [r.category for r in rules] == ["涉法涉诉", "信访事项"]
    assert rules[1].keywords == "信访,上访"


# ----- idempotence and updates ---------------------------------------------------------------------


def test_first_seed_counts(session: Session) -> None:
    counts = seed_reference(session)
    assert counts["zone.inserted"] == 17
    assert counts["department.inserted"] == 33
    assert counts["service_stage.inserted"] == 5
    assert counts["request_domain.inserted"] == 5
    assert counts["sla_policy.inserted"] == 12
    assert counts["system_setting.inserted"] == len(ref.DEFAULT_SETTINGS)
    assert counts["screening_rule.inserted"] == 2
    assert _updated(counts) == 0


def test_reseed_inserts_nothing(session: Session) -> None:
    seed_reference(session)
    session.commit()
    before = {m: _count(session, m) for m in (Zone, Department, ServiceStage, RequestDomain, IndustryTag,
                                              SlaPolicy, SystemSetting, ScreeningRule)}
    counts = seed_reference(session)
    assert _inserted(counts) == 0
    assert _updated(counts) == 0
    assert {m: _count(session, m) for m in before} == before


def test_admin_edits_survive_reseed(session: Session) -> None:
    seed_reference(session)
    session.get(SystemSetting, "max_returns").value = 5
    policy = session.scalars(
        select(SlaPolicy).where(SlaPolicy.priority == "normal", SlaPolicy.level == 2)
    ).one()
    policy.handle_workdays = 7
    stage = session.scalars(select(ServiceStage).where(ServiceStage.code == "growth")).one()
    stage.lead_department = _dept(session, "kjj")
    rule = session.scalars(select(ScreeningRule).where(ScreeningRule.sort_order == 1)).one()
    rule.keywords = "起诉,仲裁"
    session.commit()

    counts = seed_reference(session)
    session.commit()
    assert _inserted(counts) == 0 and _updated(counts) == 0
    assert session.get(SystemSetting, "max_returns").value == 5
    assert policy.handle_workdays == 7
    assert stage.lead_department.code == "kjj"
    assert rule.keywords == "起诉,仲裁"


def test_missing_setting_is_restored(session: Session) -> None:
    seed_reference(session)
    session.delete(session.get(SystemSetting, "attachment_max_mb"))
    session.flush()
    counts = seed_reference(session)
    assert counts["system_setting.inserted"] == 1
    assert session.get(SystemSetting, "attachment_max_mb").value == 20


def test_admin_edited_department_keywords_survive_a_reseed(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_reference(session)
    session.commit()
    _dept(session, "rsj").keywords = "招聘,灵活用工"
    _dept(session, "rsj").duty = "区人社局：就业、社保、人才"
    session.commit()
    changed = tuple(
        dataclasses.replace(d, keywords=(*d.keywords, "新关键词")) if d.code == "rsj" else d for d in ref.DEPARTMENTS
    )
    monkeypatch.setattr(ref, "DEPARTMENTS", changed)

    counts = seed_reference(session)
    assert counts["department.updated"] == 0
    assert _inserted(counts) == 0
    assert _dept(session, "rsj").keywords == "招聘,灵活用工"
    assert _dept(session, "rsj").duty == "区人社局：就业、社保、人才"


def test_new_data_rows_and_parent_moves_are_applied(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_reference(session)
    session.commit()
    extra = ref.DepartmentRef("heating", "供热公司", "unit", "供热报装与停暖抢修", ("供热", "停暖"), 99, "cgw")
    moved = tuple(dataclasses.replace(d, parent_code="water") if d.code == "gas" else d for d in ref.DEPARTMENTS)
    monkeypatch.setattr(ref, "DEPARTMENTS", (*moved, extra))

    counts = seed_reference(session)
    assert counts["department.inserted"] == 1
    assert counts["department.updated"] == 1
    assert _dept(session, "heating").parent.code == "cgw"
    assert _dept(session, "gas").parent.code == "water"


def test_real_default_screening_rules_seed_when_available() -> None:
    screening = pytest.importorskip("services.orders.screening")
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        counts = seed_reference(s)
        assert counts["screening_rule.inserted"] == len(
            {(r["category"], int(r.get("sort_order", 0))) for r in screening.DEFAULT_RULES}
        )
        assert _inserted(seed_reference(s)) == 0
    engine.dispose()
