"""Where the configuration lives: revisions, the configuration in force, import, export, restore.

Every change is a ``ConfigRevision`` holding the whole document, who made it, when, why and what
changed. Document sections (forms, dispatch rules, templates, command aliases) are read from the
newest revision; table sections (industries, stage leads, domain keywords) are written to their
tables in the same transaction, so an import applies atomically or not at all.

Each process keeps the configuration in force in memory and checks every ``REFRESH_SECONDS``
whether a newer revision exists (one indexed ``max(id)``), so a change takes effect in web workers,
the jobs process and the Stream worker within seconds, without a restart.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    ConfigRevision,
    Department,
    IndustryTag,
    Person,
    RequestDomain,
    ScreeningRule,
    ServiceStage,
    SlaPolicy,
    Zone,
)
from services import audit
from services.errors import NotFound, ValidationFailed
from services.studio import document as doc
from services.studio.forms import FieldDef, fields_for

REFRESH_SECONDS = 2.0
MAX_YAML_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Runtime:
    """The configuration in force, as the desk reads it."""

    revision_id: int | None
    document: Mapping[str, Any] = field(default_factory=doc.empty_document)

    @property
    def forms(self) -> Mapping[str, Any]:
        return self.document.get("forms") or {}

    @property
    def dispatch_rules(self) -> list[Mapping[str, Any]]:
        return list(self.document.get("dispatch_rules") or [])

    @property
    def templates(self) -> Mapping[str, str]:
        return self.document.get("templates") or {}

    @property
    def command_aliases(self) -> Mapping[str, str]:
        return self.document.get("command_aliases") or {}

    def form_fields(self, domain: str | None, stage: str | None = None, *, public_only: bool = False) -> list[FieldDef]:
        return fields_for(self.forms, domain, stage, public_only=public_only)


_lock = threading.Lock()
_cached: tuple[float, Runtime] | None = None


def invalidate() -> None:
    global _cached
    with _lock:
        _cached = None


def runtime(session: Session, *, clock=time.monotonic) -> Runtime:
    """The configuration in force (cached; a newer revision is noticed within ``REFRESH_SECONDS``)."""
    global _cached
    with _lock:
        cached = _cached
    if cached is not None and clock() - cached[0] < REFRESH_SECONDS:
        return cached[1]
    newest = session.scalar(select(func.max(ConfigRevision.id)))
    if cached is not None and cached[1].revision_id == newest:
        fresh = cached[1]
    elif newest is None:
        fresh = Runtime(None)
    else:
        fresh = Runtime(newest, session.get(ConfigRevision, newest).document)
    with _lock:
        _cached = (clock(), fresh)
    return fresh


# --------------------------------------------------------------------------------------------
# The document: known names, export
# --------------------------------------------------------------------------------------------
def known(session: Session) -> doc.Known:
    return doc.Known(
        departments=frozenset(session.scalars(select(Department.name))),
        domains=frozenset(session.scalars(select(RequestDomain.name))),
        stages=frozenset(session.scalars(select(ServiceStage.name))),
        zones=frozenset(session.scalars(select(Zone.name))),
        command_words=dict(doc.COMMAND_WORDS),
        industry_codes=frozenset(session.scalars(select(IndustryTag.code))),
    )


def export_document(session: Session) -> dict[str, Any]:
    """The whole run-time configuration as one document."""
    current = runtime_uncached(session)
    result = doc.empty_document()
    for section in doc.DOCUMENT_SECTIONS:
        result[section] = current.document.get(section) or result[section]
    result["industries"] = [
        {"code": tag.code, "name": tag.name, "key_industry": tag.is_key_industry,
         "codes": [c.strip() for c in tag.gbt_sections.split(",") if c.strip()]}
        for tag in session.scalars(select(IndustryTag).order_by(IndustryTag.sort_order, IndustryTag.id))
    ]
    result["stage_leads"] = {
        stage.name: stage.lead_department.name if stage.lead_department else None
        for stage in session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order, ServiceStage.id))
    }
    result["domain_keywords"] = {
        domain.name: _split(domain.keywords)
        for domain in session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order, RequestDomain.id))
    }
    result["sla_policies"] = [
        {"domain": p.domain.name if p.domain else None, "priority": p.priority, "level": p.level,
         "sign_minutes": p.sign_minutes, "sign_workdays": p.sign_workdays, "handle_workdays": p.handle_workdays,
         "remind_percents": list(p.remind_percents or []), "leader_after_workdays": p.leader_after_workdays,
         "bizenv_after_workdays": p.bizenv_after_workdays, "return_limit_workdays": p.return_limit_workdays,
         "return_limit_workdays_complex": p.return_limit_workdays_complex}
        for p in session.scalars(select(SlaPolicy).order_by(SlaPolicy.level, SlaPolicy.priority, SlaPolicy.id))
    ]
    result["screening_rules"] = [
        {"category": r.category, "keywords": _split(r.keywords), "reason": r.reason,
         "proper_channel": r.proper_channel, "active": r.active}
        for r in session.scalars(select(ScreeningRule).order_by(ScreeningRule.sort_order, ScreeningRule.id))
    ]
    return result


def runtime_uncached(session: Session) -> Runtime:
    newest = session.scalar(select(ConfigRevision).order_by(ConfigRevision.id.desc()).limit(1))
    return Runtime(newest.id, newest.document) if newest is not None else Runtime(None)


_SEPARATORS = re.compile(r"[\n\r,，、;；]+")


def _split(text: str) -> list[str]:
    """Keywords as the screening and classification rules read them (any of ，、；, or a new line)."""
    return list(dict.fromkeys(w.strip() for w in _SEPARATORS.split(text or "") if w.strip()))


def to_yaml(document: Mapping[str, Any]) -> str:
    ordered = {key: document.get(key) for key in ("version", *doc.SECTIONS)}
    header = "# 有需必应 运行配置（flask --app wsgi config export 导出；可编辑后 config import 导入）\n"
    return header + yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False, width=120)


def from_yaml(text: str | bytes) -> Any:
    """The document in a YAML text; ``ValidationFailed`` naming the line for a text that is not YAML."""
    if isinstance(text, bytes):
        if len(text) > MAX_YAML_BYTES:
            raise ValidationFailed(f"配置文件过大（超过 {MAX_YAML_BYTES // 1024 // 1024} MB）")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed("配置文件不是 UTF-8 编码的文本") from None
    try:
        return yaml.safe_load(text)
    except ValueError as error:  # a timestamp YAML reads but Python cannot hold (year 0, 2026-02-30)
        raise ValidationFailed(f"YAML 格式错误：{error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else "某处"
        raise ValidationFailed(f"YAML 格式错误（{where}）：{getattr(error, 'problem', '') or error}") from None


# --------------------------------------------------------------------------------------------
# Changing it
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    problems: list[str]
    changes: list[str]
    document: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.problems


def plan(session: Session, incoming: Any) -> Plan:
    """Validate ``incoming`` against the names in the database and diff it with the configuration in
    force. Sections the document leaves out stay as they are."""
    current = export_document(session)
    problems = doc.validate(incoming, known(session))
    if problems:
        return Plan(problems, [], current)
    merged = {**current, **{k: v for k, v in incoming.items() if k in ("version", *doc.SECTIONS)}}
    merged["version"] = doc.FORMAT_VERSION
    return Plan([], doc.diff(current, merged), merged)


def apply(session: Session, actor: Person | None, incoming: Any, *, reason: str, now: datetime,
          kind: str = "edit", actor_label: str = "", restored_from: int | None = None,
          ip: str = "") -> ConfigRevision | None:
    """Validate and apply as one revision; None when nothing changed. ``ValidationFailed`` (with
    every problem) changes nothing."""
    result = plan(session, incoming)
    if not result.ok:
        raise ValidationFailed("配置有误，未做任何修改：\n" + "\n".join(result.problems),
                               fields={"document": "\n".join(result.problems)})
    if not result.changes and session.scalar(select(func.count(ConfigRevision.id))):
        return None
    _write_tables(session, result.document, before=export_document(session))
    document = {k: result.document.get(k) for k in ("version", *doc.SECTIONS)}
    revision = ConfigRevision(
        kind=kind, actor_id=actor.id if actor is not None else None,
        actor_label=actor_label or (actor.name if actor is not None else "系统"), reason=(reason or "").strip()[:2000],
        document=document, digest=hashlib.sha256(doc.canonical(document).encode()).hexdigest(),
        changes=result.changes or ["初始配置"], restored_from_id=restored_from, created_at=now,
    )
    session.add(revision)
    session.flush()
    audit.record(session, actor, f"config.{kind}", "config_revision", revision.id,
                 {"reason": revision.reason, "changes": revision.changes[:50]}, ip, now)
    invalidate()
    return revision


def snapshot(session: Session, actor: Person | None, *, reason: str, now: datetime, ip: str = "") -> ConfigRevision | None:
    """A revision of what the tables now hold, after an edit made on another console page (时限策略,
    甄别规则): every change of the configuration is a version, wherever it was made."""
    document = export_document(session)
    previous = runtime_uncached(session)
    before = {**doc.empty_document(), **previous.document} if previous.revision_id else None
    changes = doc.diff(before, document) if before is not None else ["初始配置"]
    if before is not None and not changes:
        return None
    stored = {k: document.get(k) for k in ("version", *doc.SECTIONS)}
    revision = ConfigRevision(
        kind="edit", actor_id=actor.id if actor is not None else None,
        actor_label=actor.name if actor is not None else "系统", reason=reason[:2000], document=stored,
        digest=hashlib.sha256(doc.canonical(stored).encode()).hexdigest(), changes=changes, created_at=now,
    )
    session.add(revision)
    session.flush()
    invalidate()
    return revision


def restore(session: Session, actor: Person | None, revision_id: Any, *, reason: str, now: datetime,
            ip: str = "") -> ConfigRevision | None:
    try:
        old = session.get(ConfigRevision, int(revision_id))
    except (TypeError, ValueError):
        old = None
    if old is None:
        raise NotFound("没有这个配置版本")
    return apply(session, actor, old.document, reason=reason or f"恢复到版本 {old.id}", now=now, kind="restore",
                 restored_from=old.id, ip=ip)


def revisions(session: Session, limit: int = 50) -> list[ConfigRevision]:
    return list(session.scalars(select(ConfigRevision).order_by(ConfigRevision.id.desc()).limit(limit)))


def _write_tables(session: Session, document: Mapping[str, Any], *, before: Mapping[str, Any]) -> None:
    departments = {d.name: d for d in session.scalars(select(Department))}
    tags = {t.code: t for t in session.scalars(select(IndustryTag))}
    for index, row in enumerate(document.get("industries") or []):
        tag = tags.get(row["code"])
        if tag is None:
            tag = IndustryTag(code=row["code"])
            session.add(tag)
        tag.name = row["name"].strip()
        tag.is_key_industry = bool(row.get("key_industry"))
        tag.gbt_sections = ",".join(c.strip().upper() for c in row.get("codes") or [])
        tag.sort_order = index + 1
    for stage in session.scalars(select(ServiceStage)):
        if stage.name in (document.get("stage_leads") or {}):
            lead = document["stage_leads"][stage.name]
            stage.lead_department_id = departments[lead].id if lead else None
    domains = {d.name: d for d in session.scalars(select(RequestDomain))}
    for name, domain in domains.items():
        if name in (document.get("domain_keywords") or {}):
            domain.keywords = ",".join(document["domain_keywords"][name] or [])
    _replace_rows(session, SlaPolicy, document.get("sla_policies"), before.get("sla_policies"), lambda row, index: SlaPolicy(
        domain_id=domains[row["domain"]].id if row.get("domain") else None, priority=row["priority"],
        level=row["level"], sign_minutes=row.get("sign_minutes"), sign_workdays=row.get("sign_workdays"),
        handle_workdays=row.get("handle_workdays"), remind_percents=list(row.get("remind_percents", [50, 80])),
        leader_after_workdays=row.get("leader_after_workdays", 1), bizenv_after_workdays=row.get("bizenv_after_workdays", 2),
        return_limit_workdays=row.get("return_limit_workdays", 1),
        return_limit_workdays_complex=row.get("return_limit_workdays_complex", 2)))
    _replace_rows(session, ScreeningRule, document.get("screening_rules"), before.get("screening_rules"), lambda row, index: ScreeningRule(
        category=row["category"], keywords="\n".join(row["keywords"]), reason=row["reason"].strip(),
        proper_channel=row["proper_channel"].strip(), active=row.get("active", True), sort_order=index + 1))
    session.flush()


def _replace_rows(session: Session, model, rows, before, build) -> None:
    """A list section replaces its table's rows, unless it is unchanged (keeps ids stable)."""
    if rows is None or rows == before:
        return
    from sqlalchemy import delete

    session.execute(delete(model))
    session.flush()
    for index, row in enumerate(rows):
        session.add(build(row, index))
