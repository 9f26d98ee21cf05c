"""Idempotent upsert of the district's reference data (``services.demo.reference_data``) into the models.

Rules:
- Rows are matched by ``code`` (SLA policies by (domain, priority, level), settings by key,
  screening rules by (category, sort_order)). Nothing is ever deleted.
- Structural fields that come from the district's document are kept in sync with the data:
  zone kind; department name/kind/parent; stage name; domain name; industry tag name/gbt_sections.
- Values an administrator edits at run time are only set on insert, so edits survive a reseed:
  zone name, department duty/keywords, domain keywords, sort_order, active, is_key_industry,
  a stage's lead department (filled only while empty), SLA policies, system settings, screening rules.
- The session is flushed, never committed: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Department,
    IndustryTag,
    RequestDomain,
    ScreeningRule,
    ServiceStage,
    SlaPolicy,
    SystemSetting,
    Zone,
)
from services.demo import reference_data as ref

Bump = Callable[[str, str], None]  # (table, "inserted" | "updated")

TABLES = ("zone", "department", "service_stage", "request_domain", "industry_tag", "sla_policy",
          "system_setting", "screening_rule")


def default_screening_rules() -> list[Mapping[str, Any]]:
    """The default out-of-scope screening rules, imported lazily from ``services.orders.screening``."""
    from services.orders.screening import DEFAULT_RULES

    return list(DEFAULT_RULES)


def seed_reference(session: Session) -> dict[str, int]:
    """Upsert all reference data; returns ``{"<table>.inserted": n, "<table>.updated": n, ...}``."""
    counts = {f"{table}.{what}": 0 for table in TABLES for what in ("inserted", "updated")}

    def bump(table: str, what: str) -> None:
        counts[f"{table}.{what}"] += 1

    _seed_zones(session, bump)
    departments = _seed_departments(session, bump)
    _seed_stages(session, departments, bump)
    _seed_domains(session, bump)
    _seed_industry_tags(session, bump)
    _seed_sla_policies(session, bump)
    _seed_settings(session, bump)
    _seed_screening_rules(session, default_screening_rules(), bump)
    session.flush()
    return counts


def _sync(row: Any, values: Mapping[str, Any]) -> bool:
    """Set each attribute that differs; True when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(session: Session, model: type, existing: dict[str, Any], code: str, synced: Mapping[str, Any],
            insert_only: Mapping[str, Any], table: str, bump: Bump) -> Any:
    row = existing.get(code)
    if row is None:
        row = model(code=code, **synced, **insert_only)
        session.add(row)
        existing[code] = row
        bump(table, "inserted")
    elif _sync(row, synced):
        bump(table, "updated")
    return row


def _by_code(session: Session, model: type) -> dict[str, Any]:
    return {row.code: row for row in session.scalars(select(model))}


def _seed_zones(session: Session, bump: Bump) -> None:
    existing = _by_code(session, Zone)
    for z in ref.ZONES:
        _upsert(session, Zone, existing, z.code, {"kind": z.kind},
                {"name": z.name, "sort_order": z.sort_order}, "zone", bump)


def _seed_departments(session: Session, bump: Bump) -> dict[str, Department]:
    existing: dict[str, Department] = _by_code(session, Department)
    # Parents first, so a unit can point at a department that is new in this same run.
    ordered = sorted(ref.DEPARTMENTS, key=lambda d: d.parent_code is not None)
    for d in ordered:
        parent = existing[d.parent_code] if d.parent_code else None
        synced = {"name": d.name, "kind": d.kind, "parent": parent}
        insert_only = {"duty": d.duty, "keywords": d.keywords_csv, "sort_order": d.sort_order}
        _upsert(session, Department, existing, d.code, synced, insert_only, "department", bump)
    return existing


def _seed_stages(session: Session, departments: dict[str, Department], bump: Bump) -> None:
    existing = _by_code(session, ServiceStage)
    for s in ref.SERVICE_STAGES:
        lead = departments[s.lead_department_code]
        row = existing.get(s.code)
        if row is None:
            session.add(ServiceStage(code=s.code, name=s.name, lead_department=lead, sort_order=s.sort_order))
            bump("service_stage", "inserted")
            continue
        changed = _sync(row, {"name": s.name})
        if row.lead_department is None:
            row.lead_department = lead
            changed = True
        if changed:
            bump("service_stage", "updated")


def _seed_domains(session: Session, bump: Bump) -> None:
    existing = _by_code(session, RequestDomain)
    for d in ref.REQUEST_DOMAINS:
        _upsert(session, RequestDomain, existing, d.code, {"name": d.name},
                {"keywords": d.keywords_csv, "sort_order": d.sort_order}, "request_domain", bump)


def _seed_industry_tags(session: Session, bump: Bump) -> None:
    existing = _by_code(session, IndustryTag)
    for t in ref.INDUSTRY_TAGS:
        _upsert(session, IndustryTag, existing, t.code, {"name": t.name, "gbt_sections": t.gbt_sections},
                {"is_key_industry": t.is_key_industry, "sort_order": t.sort_order}, "industry_tag", bump)


def _seed_sla_policies(session: Session, bump: Bump) -> None:
    domains = _by_code(session, RequestDomain)
    session.flush()  # domain ids are needed for the match key
    existing = {(p.domain_id, p.priority, p.level) for p in session.scalars(select(SlaPolicy))}
    for p in ref.DEFAULT_SLA_POLICIES:
        domain = domains[p.domain_code] if p.domain_code else None
        key = (domain.id if domain else None, p.priority, p.level)
        if key in existing:
            continue
        session.add(SlaPolicy(
            domain=domain,
            priority=p.priority,
            level=p.level,
            sign_minutes=p.sign_minutes,
            sign_workdays=p.sign_workdays,
            handle_workdays=p.handle_workdays,
            remind_percents=list(p.remind_percents),
            leader_after_workdays=p.leader_after_workdays,
            bizenv_after_workdays=p.bizenv_after_workdays,
            return_limit_workdays=p.return_limit_workdays,
            return_limit_workdays_complex=p.return_limit_workdays_complex,
        ))
        existing.add(key)
        bump("sla_policy", "inserted")


def _seed_settings(session: Session, bump: Bump) -> None:
    existing = set(session.scalars(select(SystemSetting.key)))
    for key, value in ref.DEFAULT_SETTINGS.items():
        if key not in existing:
            session.add(SystemSetting(key=key, value=value))
            bump("system_setting", "inserted")


def _keywords_text(keywords: str | Iterable[str]) -> str:
    if isinstance(keywords, str):
        return keywords
    return ",".join(k.strip() for k in keywords if k and k.strip())


def _seed_screening_rules(session: Session, rules: Iterable[Mapping[str, Any]], bump: Bump) -> None:
    existing = {(r.category, r.sort_order) for r in session.scalars(select(ScreeningRule))}
    for rule in rules:
        key = (rule["category"], int(rule.get("sort_order", 0)))
        if key in existing:
            continue
        session.add(ScreeningRule(
            category=rule["category"],
            keywords=_keywords_text(rule["keywords"]),
            reason=rule["reason"],
            proper_channel=rule["proper_channel"],
            active=bool(rule.get("active", True)),
            sort_order=key[1],
        ))
        existing.add(key)
        bump("screening_rule", "inserted")
