"""Set-based matching over generated profiles: every condition kind, in SQL, agrees with the rule
written out per enterprise; the explanation names what matched and what did not."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import Enterprise
from services.errors import ValidationFailed
from services.policies.matching import (
    count_matches,
    describe,
    explain,
    load_labels,
    match_select,
    matches,
    parse_conditions,
    preview,
)
from tests.policies.conftest import generate_profiles

ON = date(2026, 3, 2)


def _sql_ids(session, conditions) -> set[int]:
    return set(session.scalars(match_select(parse_conditions(conditions), ON, session, Enterprise.id)))


def _expected_ids(session, conditions, ids) -> set[int]:
    parsed = parse_conditions(conditions)
    rows = session.scalars(select(Enterprise).where(Enterprise.id.in_(ids))).all()
    return {e.id for e in rows if _by_hand(parsed, e)}


def _by_hand(c, e: Enterprise) -> bool:
    """The conditions written out independently of the module under test."""
    def years_since(d):
        return ON.year - d.year - ((ON.month, ON.day) < (d.month, d.day))

    checks = [
        not c.active_only or e.status in ("存续", "在业", "开业", "在营", "迁入"),
        not c.industries or any((e.industry_code or "").startswith(p) for p in c.industries),
        not c.size_bands or e.size_band in c.size_bands,
        not c.stage_ids or e.stage_id in c.stage_ids,
        not c.chain_positions or e.chain_position in c.chain_positions,
        c.key_industry is None or e.is_key_industry == c.key_industry,
        not c.qualifications or bool(set(c.qualifications) & set(e.qualifications or [])),
        not c.zone_ids or e.zone_id in c.zone_ids,
        c.age_min_years is None or (e.established_on is not None and years_since(e.established_on) >= c.age_min_years),
        c.age_max_years is None or (e.established_on is not None and (
            years_since(e.established_on) < c.age_max_years
            or (years_since(e.established_on) == c.age_max_years
                and (e.established_on.month, e.established_on.day) == (ON.month, ON.day)))),
        not c.entity_types or e.entity_type in c.entity_types,
        not c.exclude_abnormal or "经营异常" not in (e.status_flags or []),
    ]
    return all(checks)


def _cases(desk):
    stage = desk.stages[2].id
    return {
        "industries_section": {"industries": ["I"]},
        "industries_division": {"industries": ["C33", "35"]},
        "industries_class": {"industries": ["C3411"]},
        "size_bands": {"size_bands": ["中", "小"]},
        "stage_ids": {"stage_ids": [stage]},
        "chain_positions": {"chain_positions": ["链主", "核心配套"]},
        "key_industry_yes": {"key_industry": True},
        "key_industry_no": {"key_industry": False},
        "qualifications_any": {"qualifications": ["专精特新", "瞪羚企业"]},
        "zone_ids": {"zone_ids": [desk.zones[0].id, desk.zones[2].id]},
        "age_min": {"age_min_years": 5},
        "age_max": {"age_max_years": 3},
        "age_between": {"age_min_years": 1, "age_max_years": 10},
        "entity_types": {"entity_types": ["individual", "cooperative"]},
        "all_statuses": {"active_only": False},
        "exclude_abnormal": {"exclude_abnormal": True},
        "everyone": {},
        "combined": {"industries": ["C"], "size_bands": ["小", "微"], "qualifications": ["高新技术企业", "专精特新"],
                     "key_industry": True, "age_min_years": 2, "exclude_abnormal": True},
    }


def test_every_condition_kind_matches_in_sql_as_by_hand(session, desk):
    ids = generate_profiles(session, desk, 1500, seed=11)
    for name, conditions in _cases(desk).items():
        got = _sql_ids(session, conditions)
        want = _expected_ids(session, conditions, ids)
        assert got == want, name
        assert 0 < len(got) < len(ids) or name in ("all_statuses", "everyone"), (name, len(got))
        assert count_matches(session, parse_conditions(conditions), ON) == len(got)


def test_python_rule_for_one_enterprise_agrees_with_sql(session, desk):
    ids = generate_profiles(session, desk, 400, seed=12)
    rows = session.scalars(select(Enterprise).where(Enterprise.id.in_(ids))).all()
    for name, conditions in _cases(desk).items():
        parsed = parse_conditions(conditions)
        assert {e.id for e in rows if matches(parsed, e, ON)} == _sql_ids(session, conditions), name


def test_anniversaries_are_inclusive_and_missing_dates_never_match(session, desk, factory):
    exactly_five = factory.enterprise(established_on=date(2021, 3, 2))
    a_day_short = factory.enterprise(established_on=date(2021, 3, 3))
    no_date = factory.enterprise(established_on=None)
    got = _sql_ids(session, {"age_min_years": 5})
    assert exactly_five.id in got and a_day_short.id not in got and no_date.id not in got
    got = _sql_ids(session, {"age_max_years": 5})
    assert exactly_five.id in got and a_day_short.id in got and no_date.id not in got


def test_explanation_names_each_condition_with_the_enterprise_value(session, desk, factory):
    stage = desk.stages[3]
    enterprise = factory.enterprise(
        zone=desk.zones[1], industry_code="C3311", industry_name="金属结构制造", size_band="小", stage_id=stage.id,
        chain_position="核心配套", key_industry=True, qualifications=["专精特新"], established_on=date(2019, 5, 1),
        entity_type="enterprise", status="存续", status_flags=[])
    conditions = parse_conditions({
        "industries": ["C33"], "size_bands": ["中", "小"], "stage_ids": [stage.id], "chain_positions": ["链主"],
        "key_industry": True, "qualifications": ["高新技术企业", "专精特新"], "zone_ids": [desk.zones[1].id],
        "age_min_years": 3, "age_max_years": 10, "entity_types": ["enterprise"], "exclude_abnormal": True,
    })
    reasons = {r.key: r for r in explain(conditions, enterprise, ON, load_labels(session))}
    assert set(reasons) == {"active_only", "industries", "size_bands", "stage_ids", "chain_positions", "key_industry",
                            "qualifications", "zone_ids", "age_min_years", "age_max_years", "entity_types",
                            "exclude_abnormal"}
    assert [k for k, r in reasons.items() if not r.matched] == ["chain_positions"]
    assert reasons["industries"].value == "C3311 金属结构制造" and reasons["industries"].required == "C33"
    assert reasons["size_bands"].value == "小型" and reasons["size_bands"].required == "中型、小型"
    assert reasons["stage_ids"].value == stage.name
    assert reasons["qualifications"].value == "专精特新"
    assert reasons["zone_ids"].value == desk.zones[1].name
    assert "满 6 年" in reasons["age_min_years"].value
    assert reasons["chain_positions"].text == "✗ 产业链位置：核心配套（要求：链主）"
    assert not matches(conditions, enterprise, ON)
    lines = describe(conditions, load_labels(session))
    assert "企业规模：中型、小型" in lines and "具备资质之一：高新技术企业、专精特新" in lines


def test_preview_counts_per_zone_and_staff_and_explains_the_sample(session, desk):
    ids = generate_profiles(session, desk, 600, seed=13)
    conditions = {"size_bands": ["小", "微"], "key_industry": True}
    result = preview(session, conditions, ON, sample_size=5)
    expected = _expected_ids(session, conditions, ids)
    assert result.total == len(expected)
    assert sum(z.count for z in result.by_zone) == result.total
    assert sum(s.count for s in result.by_staff) == result.total
    rows = session.scalars(select(Enterprise).where(Enterprise.id.in_(expected))).all()
    per_staff = {}
    for e in rows:
        per_staff[e.service_staff_id] = per_staff.get(e.service_staff_id, 0) + 1
    assert {s.staff_id: s.count for s in result.by_staff} == per_staff
    assert result.unassigned == per_staff.get(None, 0)
    assert len(result.sample) == 5
    for row in result.sample:
        assert row.enterprise.id in expected and all(r.matched for r in row.reasons)
        assert {r.key for r in row.reasons} == {"active_only", "size_bands", "key_industry"}


@pytest.mark.parametrize("raw, field", [
    ({"industries": ["X99"]}, "industries"),
    ({"size_bands": ["巨"]}, "size_bands"),
    ({"chain_positions": ["上游"]}, "chain_positions"),
    ({"age_min_years": 5, "age_max_years": 3}, "age_max_years"),
    ({"age_min_years": "五"}, "age_min_years"),
    ({"zone_ids": ["abc"]}, "zone_ids"),
    ({"key_industry": "也许"}, "key_industry"),
    ({"colour": "red"}, "conditions"),
])
def test_bad_conditions_are_refused_with_the_field(raw, field):
    with pytest.raises(ValidationFailed) as info:
        parse_conditions(raw)
    assert field in info.value.fields


def test_conditions_normalise_and_round_trip():
    parsed = parse_conditions({"industries": "33，c3411", "size_bands": "小、大", "key_industry": "是",
                               "qualifications": ["专精特新", "专精特新"], "zone_ids": ["3", 1]})
    assert parsed.industries == ("C33", "C3411")
    assert parsed.size_bands == ("大", "小")
    assert parsed.key_industry is True and parsed.zone_ids == (1, 3) and parsed.qualifications == ("专精特新",)
    assert parse_conditions(parsed.to_json()) == parsed
    assert parse_conditions({}).to_json() == {"active_only": True}
