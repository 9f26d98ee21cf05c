"""The case library (案例库): closed work orders written up, some marked 典型案例 and published.

A case is created from one order (``create_from_order``), only once the loop is closed — the
result was fed back to the enterprise (``CLOSED_STATES``) and a result recorded — and is prefilled
from it: the request, the handling steps from its events, the result and the enterprise's rating.
People then edit it as a draft. Operations take a ``services.knowledge.entries.KnowledgeContext``, audit
(``case.*``) and flush, never commit.

Anonymisation (on request, ``anonymised``): the public texts ``public_*`` are the internal texts
with the enterprise's name (and its shorter forms: without 天津/北辰区 and without 有限公司 …),
its credit code and address, the names of every person on the order (contact, legal
representative, service staff, handlers, anyone in its timeline) and phone numbers (digits
become *) replaced —
people by 「姓 + 某」, the enterprise by 「某企业」 — and 「张经理」-style mentions by 「某经理」.
The replacement runs again over any public text an editor writes, so a name typed back in is
removed too. Only anonymised, published, typical cases appear on the public page (/cases).

Who may do what: creating needs the right to see the order and one of 营商环境办, system
administrator, 区网格中心 dispatcher, or chief helper / department leader; editing a draft, its
creator or those roles' editors; publishing, retiring and marking typical, 营商环境办 and system
administrators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select, true
from sqlalchemy.orm import Session, selectinload

from models import CaseStudy, Department, KnowledgeStatus, Person, Role, WorkOrder
from services.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from services.knowledge import entries as knowledge
from services.knowledge.entries import TEXT_WEIGHT, TITLE_WEIGHT, KnowledgeContext, is_editor
from services.messaging.notify import local_time
from services.orders.ladder import level_label
from services.orders.lifecycle import Action, State
from services.orders.operations import get_order
from services.paging import Page, paginate
from services.permissions import can_view

CLOSED_STATES = (State.FED_BACK, State.VISITED, State.ARCHIVED)
CREATOR_ROLES = (*knowledge.EDITOR_ROLES, Role.DISPATCHER, Role.CHIEF_HELPER, Role.DEPT_LEADER)
# As the knowledge base's entries: an author submits a draft for review, an editor publishes it.
TRANSITIONS: dict[tuple[str, str], str] = dict(knowledge.TRANSITIONS)
ACTION_LABELS = {**knowledge.ACTION_LABELS, "typical": "设为典型案例", "untypical": "取消典型案例"}
TEXT_FIELDS = ("title", "situation", "handling", "result", "lessons")
FIELD_LABELS = {"title": "标题", "situation": "诉求情况", "handling": "办理过程", "result": "办理结果",
                "lessons": "经验启示"}
TEXT_MAX = 5000
# Steps of the timeline worth telling in a case (not comments, alerts or extension requests).
STORY_ACTIONS = (
    Action.ACCEPT, Action.DISPATCH, Action.SIGN, Action.RETURN, Action.TRANSFER, Action.ESCALATE,
    Action.JOINT_MEETING, Action.REPLY, Action.SUSPEND, Action.RESUME, Action.DECIDE_EXTENSION, Action.SUPERVISE,
    Action.RESOLVE, Action.FEEDBACK, Action.VISIT, Action.REOPEN,
)


# --------------------------------------------------------------------------------------------------
# Anonymisation (pure)
# --------------------------------------------------------------------------------------------------
ENTERPRISE_PLACEHOLDER = "某企业"
_PLACE_PREFIXES = ("天津市北辰区", "天津市", "天津", "北辰区", "北辰")
_COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "集团", "公司", "合作社", "厂", "店")
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文")
# The most common single-character surnames, for 「张经理」-style mentions of people not on the order.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
             "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤")
# A bare 「总」 is left out: 「提高总体」 would read as 「高总」.
_TITLED = re.compile(rf"[{_SURNAMES}](?=总经理|副总|董事长|经理|总监|主任|会计|厂长|老板|先生|女士|师傅)")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
_USCC = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")


def enterprise_variants(name: str) -> list[str]:
    """The ways a text may name an enterprise: the full name and its shorter forms (≥ 3 characters)."""
    name = (name or "").strip()
    if not name:
        return []
    found = {name}
    frontier = [name]
    while frontier:
        current = frontier.pop()
        shorter = [current[len(p):] for p in _PLACE_PREFIXES if current.startswith(p)]
        shorter += [current[: -len(s)] for s in _COMPANY_SUFFIXES if current.endswith(s)]
        for item in shorter:
            if len(item) >= 3 and item not in found:
                found.add(item)
                frontier.append(item)
    # People say 「甲科技公司」 for 天津北辰甲科技有限公司.
    found.update(f"{v}公司" for v in list(found) if not v.endswith(_COMPANY_SUFFIXES))
    return sorted(found, key=lambda v: (-len(v), v))


def _masked(match: re.Match) -> str:
    """A phone number keeps its shape (a reader sees a number was there), not its digits."""
    return re.sub(r"\d", "*", match.group(0))


def person_placeholder(name: str) -> str:
    surname = next((s for s in _COMPOUND_SURNAMES if name.startswith(s)), name[:1])
    return f"{surname}某"


@dataclass(frozen=True)
class Anonymiser:
    enterprise_names: tuple[str, ...]
    people: tuple[str, ...]
    secrets: tuple[str, ...] = ()  # codes and addresses: removed outright

    def __call__(self, text: str) -> str:
        result = text or ""
        for secret in sorted(self.secrets, key=len, reverse=True):
            result = result.replace(secret, "（已隐去）")
        for variant in self.enterprise_names:
            result = result.replace(variant, ENTERPRISE_PLACEHOLDER)
        for name in sorted(self.people, key=len, reverse=True):
            result = result.replace(name, person_placeholder(name))
        result = _USCC.sub("（已隐去）", result)
        result = _MOBILE.sub(_masked, result)
        result = _LANDLINE.sub(_masked, result)
        return _TITLED.sub("某", result)


def anonymiser_for(order: WorkOrder, extra_people: Iterable[Person | None] = ()) -> Anonymiser:
    """Everything on this order that names the enterprise or a person."""
    enterprise = order.enterprise
    names: list[str] = []
    secrets: list[str] = []
    people = [order.contact_name]
    if enterprise is not None:
        names = enterprise_variants(enterprise.name)
        secrets = [s for s in (enterprise.uscc, enterprise.reg_no, enterprise.address) if s and len(s) >= 4]
        people += [enterprise.contact_name, enterprise.legal_representative]
        if enterprise.service_staff is not None:
            people.append(enterprise.service_staff.name)
    for person in (order.submitter, order.assigned_person, *(e.actor for e in order.events), *extra_people):
        if person is not None:
            people.append(person.name)
    people = sorted({p.strip() for p in people if p and len(p.strip()) >= 2})
    return Anonymiser(tuple(names), tuple(people), tuple(secrets))


# --------------------------------------------------------------------------------------------------
# Permissions
# --------------------------------------------------------------------------------------------------
def _involved(session: Session, person: Person, case_row: CaseStudy) -> bool:
    ids = knowledge.department_ids(session, person)
    return bool(ids) and any(d.id in ids for d in case_row.departments)


def can(session: Session, person: Person | None, action: str, case_row: CaseStudy | None = None) -> bool:
    """``action``: create | view | edit | publish | retire | restore | typical."""
    if person is None or not person.active:
        return False
    if action == "create":
        return person.role in CREATOR_ROLES
    if case_row is None:
        return False
    if action == "view":
        return (case_row.status == KnowledgeStatus.PUBLISHED or is_editor(person) or person.role == Role.DISPATCHER
                or case_row.created_by_id == person.id or _involved(session, person, case_row))
    if action == "edit":
        if is_editor(person):
            return case_row.status != KnowledgeStatus.RETIRED
        return case_row.status == KnowledgeStatus.DRAFT and (
            case_row.created_by_id == person.id or person.role == Role.DISPATCHER or _involved(session, person, case_row))
    if action == "submit":
        return (not is_editor(person) and case_row.status == KnowledgeStatus.DRAFT
                and can(session, person, "edit", case_row))
    if action in ("publish", "send_back", "retire", "restore", "typical"):
        return is_editor(person)
    return False


def allowed_actions(session: Session, person: Person | None, case_row: CaseStudy) -> list[str]:
    actions = [a for (state, a) in TRANSITIONS if state == case_row.status and can(session, person, a, case_row)]
    if case_row.status != KnowledgeStatus.RETIRED and can(session, person, "typical", case_row):
        actions.append("untypical" if case_row.is_typical else "typical")
    return actions


def ensure_can_create(session: Session, person: Person | None, order: WorkOrder) -> None:
    """Why this order cannot become a case (now, by this person), as a ``DomainError``."""
    if not can(session, person, "create") or not can_view(person, order):
        raise PermissionDenied("只有区营商环境办、区网格中心、承办部门或系统管理员可以把工单整理为案例")
    if order.state not in CLOSED_STATES or not order.result:
        raise InvalidTransition(
            f"工单 {order.number} 当前为「{State.LABELS.get(order.state, order.state)}」：只有已办结并反馈企业的工单"
            "才能整理为案例", code="order_not_closed")
    existing = case_for_order(session, order.id)
    if existing is not None:
        raise Conflict(f"工单 {order.number} 已整理为案例「{existing.title}」", code="case_exists",
                       fields={"case_id": str(existing.id)})


def can_create_from(session: Session, person: Person | None, order: WorkOrder) -> bool:
    """Whether the order page offers 「转为案例」: a closed order, a person who may write cases."""
    return (order.state in CLOSED_STATES and bool(order.result) and can(session, person, "create")
            and can_view(person, order))


# --------------------------------------------------------------------------------------------------
# Loading and listing
# --------------------------------------------------------------------------------------------------
def get_case(session: Session, case_id: Any) -> CaseStudy:
    return knowledge.get_row(session, CaseStudy, case_id, "案例不存在")


def viewable_case(session: Session, person: Person | None, case_id: Any) -> CaseStudy:
    row = get_case(session, case_id)
    if not can(session, person, "view", row):
        raise PermissionDenied("该案例尚未发布，您无权查看")
    return row


def case_for_order(session: Session, order_id: int) -> CaseStudy | None:
    return session.scalar(select(CaseStudy).where(CaseStudy.work_order_id == order_id))


@dataclass(frozen=True)
class CaseFilter:
    q: str = ""
    status: str = ""
    typical: bool = False
    domain_id: int | None = None
    stage_id: int | None = None


def _visible(session: Session, person: Person | None):
    published = CaseStudy.status == KnowledgeStatus.PUBLISHED
    if person is None:
        return published
    if is_editor(person) or person.role == Role.DISPATCHER:
        return true()
    clauses = [published, CaseStudy.created_by_id == person.id]
    ids = knowledge.department_ids(session, person)
    if ids:
        clauses.append(CaseStudy.departments.any(Department.id.in_(ids)))
    return or_(*clauses)


def _candidates(session: Session, person: Person | None, flt: CaseFilter) -> Select:
    query = select(CaseStudy.id).where(_visible(session, person))
    if flt.status in KnowledgeStatus.LABELS:
        query = query.where(CaseStudy.status == flt.status)
    if flt.typical:
        query = query.where(CaseStudy.is_typical.is_(True))
    if flt.domain_id:
        query = query.where(CaseStudy.domain_id == flt.domain_id)
    if flt.stage_id:
        query = query.where(CaseStudy.stage_id == flt.stage_id)
    return query


def _options():
    return (selectinload(CaseStudy.departments), selectinload(CaseStudy.domain), selectinload(CaseStudy.stage),
            selectinload(CaseStudy.work_order))


def search_cases(session: Session, person: Person | None, flt: CaseFilter = CaseFilter(), *, page: int = 1,
                 per_page: int = 30) -> Page[CaseStudy]:
    candidates = _candidates(session, person, flt)
    query = flt.q.strip()
    if query and knowledge.one_character(query) is None:
        page = max(1, page)
        ranked, total = knowledge.rank(session, "case", query, candidates, limit=per_page,
                                       offset=(page - 1) * per_page)
        rows = {c.id: c for c in session.scalars(
            select(CaseStudy).where(CaseStudy.id.in_([r.item_id for r in ranked])).options(*_options()))}
        return Page([rows[r.item_id] for r in ranked if r.item_id in rows], total, page, per_page)
    statement = select(CaseStudy).where(CaseStudy.id.in_(candidates.scalar_subquery())).options(*_options())
    if query:
        statement = statement.where(CaseStudy.search_text.contains(knowledge.normalise(query), autoescape=True))
    return paginate(session, statement.order_by(CaseStudy.updated_at.desc(), CaseStudy.id.desc()), page=page,
                    per_page=per_page)


def public_cases(session: Session, *, page: int = 1, per_page: int = 20) -> Page[CaseStudy]:
    """Published, anonymised typical cases, newest first: what /cases shows (``public_*`` only)."""
    statement = (
        select(CaseStudy)
        .where(CaseStudy.status == KnowledgeStatus.PUBLISHED, CaseStudy.is_typical.is_(True),
               CaseStudy.anonymised.is_(True))
        .options(selectinload(CaseStudy.domain), selectinload(CaseStudy.stage), selectinload(CaseStudy.departments))
        .order_by(CaseStudy.published_at.desc(), CaseStudy.id.desc())
    )
    return paginate(session, statement, page=page, per_page=per_page)


# --------------------------------------------------------------------------------------------------
# Prefill from the order
# --------------------------------------------------------------------------------------------------
def _departments_of(order: WorkOrder, session: Session) -> list[Department]:
    ids: set[int] = set()
    if order.assigned_department_id:
        ids.add(order.assigned_department_id)
    for event in order.events:
        for key in ("department_id", "from_department_id"):
            value = (event.data or {}).get(key)
            if isinstance(value, int):
                ids.add(value)
    for meeting in order.joint_meetings:
        ids.update(d.id for d in meeting.departments)
    if not ids:
        return []
    return list(session.scalars(select(Department).where(Department.id.in_(ids))
                                .order_by(Department.sort_order, Department.id)))


def prefill(order: WorkOrder) -> dict[str, str]:
    """The case's first draft, in the order's own words."""
    enterprise = order.enterprise
    about = []
    if enterprise is not None:
        about.append(enterprise.name)
        if order.zone is not None:
            about.append(f"位于{order.zone.name}")
        if enterprise.industry_name:
            about.append(f"从事{enterprise.industry_name}")
    head = "，".join(about)
    situation = f"{head}。{order.content}" if head else order.content
    steps = []
    for event in order.events:
        if event.action not in STORY_ACTIONS:
            continue
        line = f"{local_time(event.created_at, '%Y-%m-%d')} {event.actor_label} {Action.LABELS.get(event.action, event.action)}"
        if event.note:
            line += f"：{event.note}"
        steps.append(line)
    for meeting in order.joint_meetings:
        names = "、".join(d.display_name for d in meeting.departments)
        steps.append(f"{meeting.held_on.isoformat()} 召开营商环境联席会议（{names}）：{meeting.decisions}")
    result = order.result
    if order.visits:
        last = order.visits[-1]
        result += f"\n企业评价：{last.satisfaction}，{'问题已解决' if last.resolved else '问题未解决'}"
        if last.comment:
            result += f"（{last.comment}）"
    return {
        "title": order.title,
        "situation": situation,
        "handling": "\n".join(steps),
        "result": result.strip(),
        "lessons": "",
    }


# --------------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------------
def _text_fields(data: Mapping[str, Any], *, prefix: str = "", required: bool = True) -> dict[str, str]:
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name in TEXT_FIELDS:
        key = prefix + name
        raw = str(data.get(key) or "")
        value = " ".join(raw.split()) if name == "title" else raw.strip()
        limit = 200 if name == "title" else TEXT_MAX
        if len(value) > limit:
            errors[key] = f"{FIELD_LABELS[name]}不超过 {limit} 字"
        values[name] = value[:limit]
    if required:
        for name in ("title", "situation", "result"):
            if len(values[name]) < 4:
                errors[prefix + name] = f"请填写{FIELD_LABELS[name]}（至少 4 个字）"
    if errors:
        raise ValidationFailed("案例填写有误：" + "；".join(errors.values()), fields=errors)
    return values


def _wants(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "on", "true", "yes", "是")


def _apply_public(case_row: CaseStudy, anonymise: Anonymiser, supplied: Mapping[str, str] | None) -> None:
    """The public texts: those supplied (when given), else the internal ones — anonymised either way."""
    for name in TEXT_FIELDS:
        source = (supplied or {}).get(name) or getattr(case_row, name)
        value = anonymise(source)
        setattr(case_row, f"public_{name}", value[:200] if name == "title" else value)


def _clear_public(case_row: CaseStudy) -> None:
    for name in TEXT_FIELDS:
        setattr(case_row, f"public_{name}", "")


def _index(session: Session, case_row: CaseStudy) -> None:
    case_row.search_text = knowledge.normalise("|".join(getattr(case_row, n) for n in TEXT_FIELDS))
    knowledge.reindex(session, "case", case_row.id, [(case_row.title, TITLE_WEIGHT)] + [
        (getattr(case_row, n), TEXT_WEIGHT) for n in TEXT_FIELDS[1:]])


def create_from_order(ctx: KnowledgeContext, order_ref: Any, data: Mapping[str, Any] | None = None) -> CaseStudy:
    """A draft case from a closed order: ``data`` overrides the prefilled texts; ``anonymise``
    (default yes) writes the public texts."""
    order = get_order(ctx.session, order_ref)
    ensure_can_create(ctx.session, ctx.actor, order)
    data = dict(data or {})
    texts = _text_fields({**prefill(order), **{k: v for k, v in data.items() if k in TEXT_FIELDS}})
    anonymise = _wants(data.get("anonymised", "1"))
    case_row = CaseStudy(
        work_order_id=order.id, **texts, anonymised=anonymise, level_reached=order.level,
        domain_id=order.domain_id, stage_id=order.stage_id, status=KnowledgeStatus.DRAFT,
        created_by_id=ctx.actor.id if ctx.actor else None, updated_by_id=ctx.actor.id if ctx.actor else None,
        created_at=ctx.now, updated_at=ctx.now,
    )
    case_row.departments = _departments_of(order, ctx.session)
    if anonymise:
        _apply_public(case_row, anonymiser_for(order, (ctx.actor,)), None)
    ctx.session.add(case_row)
    ctx.session.flush()
    _index(ctx.session, case_row)
    ctx.audit("case.create", "case_study", case_row.id,
              {"order": order.number, "title": case_row.title, "anonymised": anonymise})
    return case_row


def update_case(ctx: KnowledgeContext, case_id: Any, data: Mapping[str, Any]) -> CaseStudy:
    """Internal texts; ``anonymised``; public texts as ``public_<field>`` (empty: generated again)."""
    case_row = get_case(ctx.session, case_id)
    if not can(ctx.session, ctx.actor, "edit", case_row):
        raise PermissionDenied("您无权修改该案例（已发布的案例只能由区营商环境办修改）")
    texts = _text_fields(data)
    supplied = _text_fields(data, prefix="public_", required=False)
    anonymise = _wants(data.get("anonymised"))
    if not anonymise and case_row.is_typical:
        raise ValidationFailed("典型案例对外公开，必须脱敏；如不需脱敏，请先取消典型案例",
                               fields={"anonymised": "请勾选脱敏"})
    before = {n: getattr(case_row, n) for n in (*TEXT_FIELDS, "anonymised")}
    for name, value in texts.items():
        setattr(case_row, name, value)
    case_row.anonymised = anonymise
    if anonymise:
        _apply_public(case_row, anonymiser_for(case_row.work_order, (ctx.actor,)), supplied)
    else:
        _clear_public(case_row)
    changes = {k: [v, getattr(case_row, k)] for k, v in before.items() if getattr(case_row, k) != v}
    knowledge.record_edit(ctx, case_row, "case.update", "case_study", changes, _index)
    return case_row


def transition(ctx: KnowledgeContext, case_id: Any, action: str, note: str = "") -> CaseStudy:
    """submit (tells the reviewers) | send_back (note = what to change; tells the author) | publish |
    retire | restore | typical | untypical (a typical case must be anonymised)."""
    case_row = get_case(ctx.session, case_id)
    if action in ("typical", "untypical"):
        return _set_typical(ctx, case_row, action == "typical")
    target = TRANSITIONS.get((case_row.status, action))
    if target is None:
        raise InvalidTransition(f"案例当前为「{case_row.status_label}」，不能{ACTION_LABELS.get(action, action)}")
    if not can(ctx.session, ctx.actor, action, case_row):
        raise PermissionDenied("您无权提交该案例" if action == "submit"
                               else "只有区营商环境办或系统管理员可以审核、发布、停用案例")
    if action == "send_back" and not (note or "").strip():
        raise ValidationFailed("退回时请说明需要修改的地方", fields={"note": "请填写退回原因"})
    if action == "publish":
        if case_row.is_typical and not case_row.anonymised:
            raise ValidationFailed("典型案例对外公开，发布前须先脱敏", fields={"anonymised": "请勾选脱敏"})
        case_row.reviewed_by_id = ctx.actor.id if ctx.actor else None
        case_row.reviewed_at = ctx.now
        case_row.published_at = ctx.now
    elif action == "retire":
        case_row.retired_at = ctx.now
    before = case_row.status
    case_row.status = target
    case_row.updated_at = ctx.now
    ctx.session.flush()
    note = (note or "").strip()[:2000]
    row = ctx.audit(f"case.{action}", "case_study", case_row.id,
                    {"title": case_row.title, "from": before, "to": target, "note": note})
    if action in ("submit", "send_back"):
        knowledge.tell_about_review(ctx, action, "案例", case_row.title, f"/knowledge/cases/{case_row.id}",
                                    case_row.created_by_id, note, key=f"audit:{row.id}")
    return case_row


def _set_typical(ctx: KnowledgeContext, case_row: CaseStudy, typical: bool) -> CaseStudy:
    if not can(ctx.session, ctx.actor, "typical", case_row):
        raise PermissionDenied("只有区营商环境办或系统管理员可以设定典型案例")
    if case_row.status == KnowledgeStatus.RETIRED:
        raise InvalidTransition("已停用的案例不能设为典型案例")
    if typical and not case_row.anonymised:
        raise ValidationFailed("典型案例将对外公开，请先勾选脱敏并保存", fields={"anonymised": "请勾选脱敏"})
    if case_row.is_typical != typical:
        case_row.is_typical = typical
        case_row.updated_at = ctx.now
        ctx.session.flush()
        ctx.audit("case.typical", "case_study", case_row.id, {"title": case_row.title, "typical": typical})
    return case_row


def describe_level(case_row: CaseStudy) -> str:
    return level_label(case_row.level_reached)


__all__ = [
    "ACTION_LABELS", "Anonymiser", "CLOSED_STATES", "CaseFilter", "TRANSITIONS", "allowed_actions", "anonymiser_for",
    "can", "can_create_from", "case_for_order", "create_from_order", "describe_level", "ensure_can_create",
    "enterprise_variants",
    "get_case", "person_placeholder", "prefill", "public_cases", "search_cases", "transition", "update_case",
    "viewable_case",
]
