"""The knowledge base (知识库): Q&A entries, their review and publication, and the search that the
case library, the handbook, the new-request form and the chat command share.

Operations take a ``KnowledgeContext`` (session, actor, now, ip), validate everything first,
change rows, write an audit row (``services.audit``; actions ``knowledge.*``), re-index the
entry's search terms and flush; they never commit. Errors are ``services.errors`` with Chinese
messages and ``fields``.

Lifecycle (``TRANSITIONS``)::

    draft --submit--> review --publish--> published --retire--> retired --restore--> draft
      |                 |
      |                 +--send_back--> draft
      +--publish--> published   (an editor's own draft needs no review)

Submitting tells the reviewers (营商环境办) through the outbox; sending back tells the author.

Who may do what (``can``):

* reading published entries: everyone signed in;
* ``create``: 营商环境办 and system administrators (any department), 区网格中心 dispatchers (who
  keep the knowledge base with the city hotline, per the work plan §三(一)), and chief helpers /
  department leaders — for their own department or a unit under it;
* ``edit``: editors (营商环境办, system administrators) until retired; the others only drafts
  they may create;
* ``submit``: those who may edit the draft and are not editors themselves (a chief helper's draft
  goes to review, an editor publishes);
* ``publish`` / ``send_back`` / ``retire`` / ``restore``: editors only.

Policies are never copied into entries: an entry links one (``policy_id``); the policy library's
own Q&A (``PolicyQuestion.published_to_kb``) is searched where it lives (``policy_hits``).

Search (no database extension; Chinese has no spaces): text is NFKC-normalised (full-width →
half-width), lower-cased, and cut at anything that is neither a CJK character nor a letter or
digit. A run of CJK characters gives its character bigrams (one character alone gives itself); a
run of letters or of digits gives the run ("ISO9001" → ``iso``, ``9001``). Each entry's terms sit in
``knowledge_gram`` with the weight of the field they came from (title and keywords 3, text 1). A
query is ranked in one grouped SQL statement over the index: score = Σ weight × idf, with
idf = ln(1 + (N − df + ½) / (df + ½)) over the N indexed items, so a term every entry shares
("企业") counts little. A one-character query falls back to a substring match.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, delete, func, insert, or_, select, true, update
from sqlalchemy.orm import Session, selectinload

from models import (
    CaseStudy,
    Department,
    KnowledgeEntry,
    KnowledgeGram,
    KnowledgeSource,
    KnowledgeStatus,
    MessageKind,
    Person,
    Policy,
    PolicyQuestion,
    PolicyStatus,
    RequestDomain,
    Role,
    ServiceStage,
)
from services import inputs, wording
from services.admin.operations import AdminContext
from services.audit import actor_label
from services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from services.lookup import get_or_not_found
from services.messaging.notify import Notifier, public_link
from services.paging import Page, paginate

EDITOR_ROLES = (Role.BIZENV_OFFICE, Role.SYSADMIN)
DEPARTMENT_DRAFTERS = (Role.CHIEF_HELPER, Role.DEPT_LEADER)
HUB_DRAFTERS = (Role.DISPATCHER,)

TITLE_MAX, ANSWER_MAX, ANSWER_MIN = 200, 5000, 5
KEYWORD_MAX, KEYWORDS_MAX = 20, 20
TITLE_WEIGHT, TEXT_WEIGHT = 3, 1
MAX_QUERY_TERMS = 48
GRAM_MAX = 16
SNIPPET = 60

TRANSITIONS: dict[tuple[str, str], str] = {
    (KnowledgeStatus.DRAFT, "submit"): KnowledgeStatus.REVIEW,
    (KnowledgeStatus.DRAFT, "publish"): KnowledgeStatus.PUBLISHED,
    (KnowledgeStatus.REVIEW, "publish"): KnowledgeStatus.PUBLISHED,
    (KnowledgeStatus.REVIEW, "send_back"): KnowledgeStatus.DRAFT,
    (KnowledgeStatus.PUBLISHED, "retire"): KnowledgeStatus.RETIRED,
    (KnowledgeStatus.RETIRED, "restore"): KnowledgeStatus.DRAFT,
}
ACTION_LABELS = {"submit": "提交审核", "send_back": "退回修改", "publish": "发布", "retire": "停用",
                 "restore": "恢复为草稿"}
REVIEWER_ROLES = (Role.BIZENV_OFFICE,)  # told when a draft waits (system administrators are not reviewers)
_KEYWORD_SPLIT = re.compile(r"[,，、;；\s]+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


# Who does it, when, from where, and the audit row (actor None: the system, e.g. the handbook job).
KnowledgeContext = AdminContext


# --------------------------------------------------------------------------------------------------
# Text: normalisation and search terms (pure)
# --------------------------------------------------------------------------------------------------
def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def normalise(text: str | None) -> str:
    """NFKC (full-width letters, digits and spaces → half-width), lower case, no whitespace."""
    folded = unicodedata.normalize("NFKC", text or "").translate(_ZERO_WIDTH).lower()
    return "".join(folded.split())


def _runs(text: str | None) -> list[tuple[str, str]]:
    """(kind, run): maximal runs of CJK characters, of letters and of digits, in order."""
    folded = unicodedata.normalize("NFKC", text or "").translate(_ZERO_WIDTH).lower()
    runs: list[tuple[str, str]] = []
    kind, current = "", []
    for char in folded:
        this = "cjk" if _is_cjk(char) else ("alpha" if char.isascii() and char.isalpha() else
                                               ("digit" if char.isascii() and char.isdigit() else ""))
        if this != kind and current:
            runs.append((kind, "".join(current)))
            current = []
        kind = this
        if this:
            current.append(char)
    if current and kind:
        runs.append((kind, "".join(current)))
    return runs


def terms(text: str | None) -> list[str]:
    """The search terms of a text, each once, in order of first appearance."""
    found: dict[str, None] = {}
    for kind, run in _runs(text):
        if kind == "cjk":
            if len(run) == 1:
                found.setdefault(run, None)
            for i in range(len(run) - 1):
                found.setdefault(run[i:i + 2], None)
        elif len(run) >= 2:
            found.setdefault(run[:GRAM_MAX], None)
    return list(found)


def weighted_terms(fields: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """Terms of several fields; a term found in more than one keeps its highest weight."""
    weights: dict[str, int] = {}
    for text, weight in fields:
        for term in terms(text):
            weights[term] = max(weight, weights.get(term, 0))
    return weights


def snippet(text: str | None, limit: int = SNIPPET) -> str:
    return wording.shorten(text, limit)


def split_keywords(value: Any) -> list[str]:
    """Keywords typed with any separator (、 ， ; spaces), normalised, each once."""
    items = value if isinstance(value, list | tuple) else _KEYWORD_SPLIT.split(str(value or ""))
    seen: dict[str, None] = {}
    for item in items:
        word = normalise(str(item)).strip(",")
        if word:
            seen.setdefault(word, None)
    return list(seen)


# --------------------------------------------------------------------------------------------------
# The index and ranking, shared by entries and cases
# --------------------------------------------------------------------------------------------------
KIND_MODELS = {"entry": KnowledgeEntry, "case": CaseStudy}


def reindex(session: Session, kind: str, item_id: int, fields: Iterable[tuple[str | None, int]]) -> None:
    """Replace an item's search terms (one delete, one multi-row insert)."""
    weights = weighted_terms(fields)
    session.execute(delete(KnowledgeGram).where(KnowledgeGram.kind == kind, KnowledgeGram.item_id == item_id))
    if weights:
        session.execute(insert(KnowledgeGram), [
            {"kind": kind, "item_id": item_id, "gram": gram, "weight": weight} for gram, weight in weights.items()
        ])


@dataclass(frozen=True)
class Ranked:
    item_id: int
    score: float
    hits: int


def _query_terms(session: Session, kind: str, query: str) -> dict[str, float]:
    """The query's terms that occur in the index, with their idf; the rarest when there are many."""
    wanted = terms(query)[:200]
    if not wanted:
        return {}
    df = dict(session.execute(
        select(KnowledgeGram.gram, func.count())
        .where(KnowledgeGram.kind == kind, KnowledgeGram.gram.in_(wanted)).group_by(KnowledgeGram.gram)
    ).all())
    if not df:
        return {}
    model = KIND_MODELS[kind]
    total = int(session.scalar(select(func.count()).select_from(model)) or 0)
    present = sorted(df, key=lambda g: (df[g], wanted.index(g)))[:MAX_QUERY_TERMS]
    return {g: math.log(1 + (max(total, df[g]) - df[g] + 0.5) / (df[g] + 0.5)) for g in present}


def rank(session: Session, kind: str, query: str, candidates: Select, *, min_hits: int | None = None,
         limit: int = 20, offset: int = 0) -> tuple[list[Ranked], int]:
    """Items among ``candidates`` (a select of ids) matching the query, best first, and how many match.

    ``min_hits``: how many distinct query terms an item must share (default: 1 for a query of up
    to four terms, else 2)."""
    idf = _query_terms(session, kind, query)
    if not idf:
        return [], 0
    if min_hits is None:
        min_hits = 1 if len(idf) <= 4 else 2
    # A short query cannot share more terms than it has; a long one sharing only a common word is no match.
    min_hits = max(1, min(min_hits, len(terms(query))))
    score = func.sum(KnowledgeGram.weight * case(idf, value=KnowledgeGram.gram, else_=0.0))
    hits = func.count(KnowledgeGram.gram)
    grouped = (
        select(KnowledgeGram.item_id.label("item_id"), score.label("score"), hits.label("hits"))
        .where(KnowledgeGram.kind == kind, KnowledgeGram.gram.in_(list(idf)),
               KnowledgeGram.item_id.in_(candidates.scalar_subquery()))
        .group_by(KnowledgeGram.item_id)
        .having(hits >= min_hits)
    )
    sub = grouped.subquery()
    total = int(session.scalar(select(func.count()).select_from(sub)) or 0)
    rows = session.execute(
        select(sub.c.item_id, sub.c.score, sub.c.hits)
        .order_by(sub.c.score.desc(), sub.c.hits.desc(), sub.c.item_id.desc()).limit(limit).offset(offset)
    ).all()
    return [Ranked(int(r.item_id), float(r.score), int(r.hits)) for r in rows], total


def one_character(query: str) -> str | None:
    """A query a bigram index cannot answer (one CJK character): the character, else None."""
    runs = _runs(query)
    if len(runs) == 1 and runs[0][0] == "cjk" and len(runs[0][1]) == 1:
        return runs[0][1]
    return None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --------------------------------------------------------------------------------------------------
# Permissions
# --------------------------------------------------------------------------------------------------
def department_ids(session: Session, person: Person | None) -> set[int]:
    """A department person's department and the units under it."""
    if person is None or person.department_id is None or person.role not in DEPARTMENT_DRAFTERS:
        return set()
    ids = {person.department_id}
    ids.update(session.scalars(select(Department.id).where(Department.parent_id == person.department_id)))
    return ids


def is_editor(person: Person | None) -> bool:
    return person is not None and person.active and person.role in EDITOR_ROLES


def can(session: Session, person: Person | None, action: str, entry: KnowledgeEntry | None = None) -> bool:
    """``action``: create | edit | publish | retire | restore | view."""
    if person is None or not person.active:
        return False
    if action == "view":
        if entry is None:
            return False
        return (entry.status == KnowledgeStatus.PUBLISHED or is_editor(person) or person.role in HUB_DRAFTERS
                or entry.department_id in department_ids(session, person))
    if action == "create":
        return is_editor(person) or person.role in HUB_DRAFTERS or bool(department_ids(session, person))
    if entry is None:
        return False
    if action == "edit":
        if is_editor(person):
            return entry.status != KnowledgeStatus.RETIRED
        if entry.status != KnowledgeStatus.DRAFT:
            return False
        return person.role in HUB_DRAFTERS or entry.department_id in department_ids(session, person)
    if action == "submit":
        return not is_editor(person) and entry.status == KnowledgeStatus.DRAFT and can(session, person, "edit", entry)
    if action in ("publish", "send_back", "retire", "restore"):
        return is_editor(person)
    return False


def allowed_actions(session: Session, person: Person | None, entry: KnowledgeEntry) -> list[str]:
    return [a for (state, a) in TRANSITIONS if state == entry.status and can(session, person, a, entry)]


def visible_clause(session: Session, person: Person | None):
    """Entries this person may read: published ones, plus the drafts and retired ones they look after."""
    if person is None:
        return KnowledgeEntry.status == KnowledgeStatus.PUBLISHED
    if is_editor(person) or person.role in HUB_DRAFTERS:
        return true()
    ids = department_ids(session, person)
    if ids:
        return or_(KnowledgeEntry.status == KnowledgeStatus.PUBLISHED, KnowledgeEntry.department_id.in_(ids))
    return KnowledgeEntry.status == KnowledgeStatus.PUBLISHED


# --------------------------------------------------------------------------------------------------
# Loading, listing, searching
# --------------------------------------------------------------------------------------------------
def get_row(session: Session, model, row_id: Any, message: str):
    """One entry, case or handbook topic by id (as typed); ``NotFound(message)`` otherwise."""
    return get_or_not_found(session, model, row_id, message)


def get_entry(session: Session, entry_id: Any) -> KnowledgeEntry:
    return get_row(session, KnowledgeEntry, entry_id, "知识条目不存在")


def viewable_entry(session: Session, person: Person | None, entry_id: Any) -> KnowledgeEntry:
    entry = get_entry(session, entry_id)
    if not can(session, person, "view", entry):
        raise PermissionDenied("该条目尚未发布，您无权查看")
    return entry


@dataclass(frozen=True)
class EntryFilter:
    q: str = ""
    status: str = ""  # "" = every status the person may see
    domain_id: int | None = None
    stage_id: int | None = None
    department_id: int | None = None
    source: str = ""


def _entry_candidates(session: Session, person: Person | None, flt: EntryFilter) -> Select:
    query = select(KnowledgeEntry.id).where(visible_clause(session, person))
    if flt.status in KnowledgeStatus.LABELS:
        query = query.where(KnowledgeEntry.status == flt.status)
    if flt.domain_id:
        query = query.where(KnowledgeEntry.domain_id == flt.domain_id)
    if flt.stage_id:
        query = query.where(KnowledgeEntry.stage_id == flt.stage_id)
    if flt.department_id:
        query = query.where(KnowledgeEntry.department_id == flt.department_id)
    if flt.source in KnowledgeSource.LABELS:
        query = query.where(KnowledgeEntry.source == flt.source)
    return query


def _load_entries(session: Session, ids: list[int]) -> list[KnowledgeEntry]:
    rows = {e.id: e for e in session.scalars(
        select(KnowledgeEntry).where(KnowledgeEntry.id.in_(ids))
        .options(selectinload(KnowledgeEntry.domain), selectinload(KnowledgeEntry.stage),
                 selectinload(KnowledgeEntry.department))
    )}
    return [rows[i] for i in ids if i in rows]


def search_entries(session: Session, person: Person | None, flt: EntryFilter = EntryFilter(), *,
                   page: int = 1, per_page: int = 30) -> Page[KnowledgeEntry]:
    """Entries the person may see: ranked by the query when there is one, else the latest first.
    ``Page.extra["scores"]`` maps entry id → score for a ranked page."""
    candidates = _entry_candidates(session, person, flt)
    query = flt.q.strip()
    page = max(1, page)
    single = one_character(query) if query else None
    if query and single is None:
        ranked, total = rank(session, "entry", query, candidates, limit=per_page, offset=(page - 1) * per_page)
        items = _load_entries(session, [r.item_id for r in ranked])
        result = Page(items, total, page, per_page)
        result.extra["scores"] = {r.item_id: round(r.score, 2) for r in ranked}
        return result
    statement = select(KnowledgeEntry).where(KnowledgeEntry.id.in_(candidates.scalar_subquery()))
    if single is not None:
        statement = statement.where(KnowledgeEntry.search_text.like(_like(single), escape="\\"))
    return paginate(session, statement.order_by(KnowledgeEntry.updated_at.desc(), KnowledgeEntry.id.desc()),
                    page=page, per_page=per_page)


def published_entries(session: Session, query: str, limit: int = 3, *, min_hits: int | None = None
                      ) -> list[KnowledgeEntry]:
    candidates = select(KnowledgeEntry.id).where(KnowledgeEntry.status == KnowledgeStatus.PUBLISHED)
    ranked, _ = rank(session, "entry", query, candidates, limit=limit, min_hits=min_hits)
    return _load_entries(session, [r.item_id for r in ranked])


def policy_hits(session: Session, query: str, limit: int = 5) -> tuple[list[Policy], list[PolicyQuestion]]:
    """Where the policy library answers the query: published policies (title, summary) and the
    policy Q&A kept for the knowledge base, by shared terms (a LIKE per term: both lists are small)."""
    wanted = terms(query)[:12]
    if not wanted:
        return [], []

    def score(*columns):
        return sum((case((func.lower(column).like(_like(t), escape="\\"), 1), else_=0)
                    for t in wanted for column in columns), start=0)

    need = 1 if len(wanted) <= 4 else 2
    policy_score = score(Policy.title, Policy.summary)
    policies = list(session.scalars(
        select(Policy).where(Policy.status == PolicyStatus.PUBLISHED, policy_score >= need)
        .order_by(policy_score.desc(), Policy.id.desc()).limit(limit)
    ))
    question_score = score(PolicyQuestion.question, PolicyQuestion.answer)
    questions = list(session.scalars(
        select(PolicyQuestion).where(PolicyQuestion.published_to_kb.is_(True), question_score >= need)
        .order_by(question_score.desc(), PolicyQuestion.id.desc()).limit(limit)
    ))
    return policies, questions


@dataclass(frozen=True)
class Suggestion:
    kind: str  # entry | case
    item_id: int
    title: str
    snippet: str
    score: float
    typical: bool = False


SIMILAR_MIN_HITS = 3


def similar(session: Session, text: str, limit: int = 3) -> list[Suggestion]:
    """Published entries and published cases most like a new request's text, best first."""
    if len(normalise(text)) < 4:
        return []
    entries = select(KnowledgeEntry.id).where(KnowledgeEntry.status == KnowledgeStatus.PUBLISHED)
    cases = select(CaseStudy.id).where(CaseStudy.status == KnowledgeStatus.PUBLISHED)
    found: list[Suggestion] = []
    ranked, _ = rank(session, "entry", text, entries, min_hits=SIMILAR_MIN_HITS, limit=limit)
    for entry in _load_entries(session, [r.item_id for r in ranked]):
        score = next(r.score for r in ranked if r.item_id == entry.id)
        found.append(Suggestion("entry", entry.id, entry.title, snippet(entry.answer), score))
    ranked, _ = rank(session, "case", text, cases, min_hits=SIMILAR_MIN_HITS, limit=limit)
    by_id = {c.id: c for c in session.scalars(select(CaseStudy).where(CaseStudy.id.in_([r.item_id for r in ranked])))}
    for r in ranked:
        case_row = by_id[r.item_id]
        found.append(Suggestion("case", case_row.id, case_row.title, snippet(case_row.result), r.score,
                                case_row.is_typical))
    found.sort(key=lambda s: (-s.score, s.kind, -s.item_id))
    return found[:limit]


def record_view(session: Session, entry: KnowledgeEntry, *, used: bool = False) -> None:
    """Count an opening (and a use when it came from a suggestion) without a read-modify-write race."""
    # updated_at kept as it is: being read is no edit (the column's onupdate would move it).
    values = {"view_count": KnowledgeEntry.view_count + 1, "updated_at": KnowledgeEntry.updated_at}
    if used:
        values["use_count"] = KnowledgeEntry.use_count + 1
    session.execute(update(KnowledgeEntry).where(KnowledgeEntry.id == entry.id).values(**values)
                    .execution_options(synchronize_session=False))


def record_use(session: Session, entry_ids: Iterable[int]) -> None:
    ids = list(entry_ids)
    if ids:
        session.execute(update(KnowledgeEntry).where(KnowledgeEntry.id.in_(ids))
                        .values(use_count=KnowledgeEntry.use_count + 1, updated_at=KnowledgeEntry.updated_at)
                        .execution_options(synchronize_session=False))


# --------------------------------------------------------------------------------------------------
# Forms
# --------------------------------------------------------------------------------------------------
def _reference(session: Session, model, value: Any, key: str, label: str, errors: dict[str, str]):
    if value in (None, ""):
        return None
    row_id = inputs.to_id(value)
    row = session.get(model, row_id) if row_id is not None else None
    if row is None or getattr(row, "active", True) is False:
        errors[key] = f"{label}无效"
        return None
    return row


def entry_fields(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validated entry fields from a form; ``ValidationFailed`` lists every problem at once."""
    errors: dict[str, str] = {}
    title = " ".join(str(data.get("title") or "").split())
    answer = str(data.get("answer") or "").strip()
    if len(title) < 4:
        errors["title"] = "请填写问题（至少 4 个字）"
    elif len(title) > TITLE_MAX:
        errors["title"] = f"问题不超过 {TITLE_MAX} 字"
    if len(answer) > ANSWER_MAX:
        errors["answer"] = f"答复不超过 {ANSWER_MAX} 字"
    keywords = split_keywords(data.get("keywords"))
    if len(keywords) > KEYWORDS_MAX:
        errors["keywords"] = f"关键词不超过 {KEYWORDS_MAX} 个"
    elif any(len(k) > KEYWORD_MAX for k in keywords):
        errors["keywords"] = f"每个关键词不超过 {KEYWORD_MAX} 个字"
    domain = _reference(session, RequestDomain, data.get("domain_id"), "domain_id", "诉求领域", errors)
    stage = _reference(session, ServiceStage, data.get("stage_id"), "stage_id", "服务阶段", errors)
    department = _reference(session, Department, data.get("department_id"), "department_id", "所属部门", errors)
    policy = _reference(session, Policy, data.get("policy_id"), "policy_id", "关联政策", errors)
    if errors:
        raise ValidationFailed("知识条目填写有误：" + "；".join(errors.values()), fields=errors)
    return {
        "title": title, "answer": answer, "keywords": ",".join(keywords),
        "domain_id": domain.id if domain else None, "stage_id": stage.id if stage else None,
        "department_id": department.id if department else None, "policy_id": policy.id if policy else None,
    }


def _index_entry(session: Session, entry: KnowledgeEntry) -> None:
    keywords = " ".join(entry.keyword_list)
    entry.search_text = normalise(f"{entry.title}|{keywords}|{entry.answer}")
    reindex(session, "entry", entry.id, ((entry.title, TITLE_WEIGHT), (keywords, TITLE_WEIGHT),
                                         (entry.answer, TEXT_WEIGHT)))


def _check_department(ctx: KnowledgeContext, department_id: int | None) -> None:
    actor = ctx.actor
    if is_editor(actor) or (actor is not None and actor.role in HUB_DRAFTERS):
        return
    if department_id is None or department_id not in department_ids(ctx.session, actor):
        raise PermissionDenied("只能为本部门（或下属单位）编写知识条目", fields={"department_id": "请选择本部门"})


# --------------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------------
def create_entry(ctx: KnowledgeContext, data: Mapping[str, Any], *, source: str = KnowledgeSource.MANUAL,
                 source_case_id: int | None = None) -> KnowledgeEntry:
    """A new draft. ``ctx.actor`` None is the handbook job, which drafts for 营商环境办 to review."""
    if ctx.actor is not None and not can(ctx.session, ctx.actor, "create"):
        raise PermissionDenied("只有区营商环境办、区网格中心、部门首席帮办或系统管理员可以编写知识条目")
    values = entry_fields(ctx.session, data)
    if ctx.actor is not None:
        _check_department(ctx, values["department_id"])
    actor_id = ctx.actor.id if ctx.actor else None
    entry = KnowledgeEntry(**values, source=source, source_case_id=source_case_id, status=KnowledgeStatus.DRAFT,
                           created_by_id=actor_id, updated_by_id=actor_id, created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(entry)
    ctx.session.flush()
    _index_entry(ctx.session, entry)
    ctx.audit("knowledge.create", "knowledge_entry", entry.id, {"source": source, **values})
    return entry


def update_entry(ctx: KnowledgeContext, entry_id: Any, data: Mapping[str, Any]) -> KnowledgeEntry:
    entry = get_entry(ctx.session, entry_id)
    if not can(ctx.session, ctx.actor, "edit", entry):
        raise PermissionDenied("已发布或已停用的条目只能由区营商环境办修改" if entry.status != KnowledgeStatus.DRAFT
                               else "您无权修改该条目")
    values = entry_fields(ctx.session, data)
    _check_department(ctx, values["department_id"])
    if entry.status == KnowledgeStatus.PUBLISHED and len(values["answer"]) < ANSWER_MIN:
        raise ValidationFailed("已发布的条目须有答复（至少 5 个字）", fields={"answer": "请填写答复"})
    changes = {k: [getattr(entry, k), v] for k, v in values.items() if getattr(entry, k) != v}
    if changes:
        for key, value in values.items():
            setattr(entry, key, value)
        record_edit(ctx, entry, "knowledge.update", "knowledge_entry", changes, _index_entry)
    return entry


def record_edit(ctx: KnowledgeContext, row, action: str, target_type: str, changes: Mapping[str, Any],
                index) -> None:
    """What every saved edit of an entry or a case does: a new version, who and when, the search
    terms again (``index(session, row)``) and the audit row with the changes."""
    row.version += 1
    row.updated_by_id = ctx.actor.id if ctx.actor else None
    row.updated_at = ctx.now
    ctx.session.flush()
    index(ctx.session, row)
    ctx.audit(action, target_type, row.id, {"title": row.title, "version": row.version, "changes": dict(changes)})


def transition(ctx: KnowledgeContext, entry_id: Any, action: str, note: str = "") -> KnowledgeEntry:
    """submit (needs an answer; tells the reviewers) | send_back (note = what to change; tells the
    author) | publish (needs an answer) | retire (note = reason) | restore."""
    entry = get_entry(ctx.session, entry_id)
    target = TRANSITIONS.get((entry.status, action))
    if target is None:
        raise InvalidTransition(f"条目当前为「{entry.status_label}」，不能{ACTION_LABELS.get(action, action)}")
    if not can(ctx.session, ctx.actor, action, entry):
        raise PermissionDenied("您无权提交该条目" if action == "submit"
                               else "只有区营商环境办或系统管理员可以审核、发布、停用知识条目")
    note = (note or "").strip()[:2000]
    if action == "send_back" and not note:
        raise ValidationFailed("退回时请说明需要修改的地方", fields={"note": "请填写退回原因"})
    if action in ("submit", "publish") and len(entry.answer.strip()) < ANSWER_MIN:
        verb = "提交审核" if action == "submit" else "发布"
        raise ValidationFailed(f"请先填写答复（至少 5 个字）再{verb}", fields={"answer": "请填写答复"})
    if action == "publish":
        entry.reviewed_by_id = ctx.actor.id if ctx.actor else None
        entry.reviewed_at = ctx.now
        entry.published_at = ctx.now
        entry.retire_reason = ""
    elif action == "retire":
        entry.retired_at = ctx.now
        entry.retire_reason = note
    before = entry.status
    entry.status = target
    entry.updated_at = ctx.now
    entry.updated_by_id = ctx.actor.id if ctx.actor else None
    ctx.session.flush()
    row = ctx.audit(f"knowledge.{action}", "knowledge_entry", entry.id,
                    {"title": entry.title, "from": before, "to": target, "note": note, "version": entry.version})
    if action in ("submit", "send_back"):
        tell_about_review(ctx, action, "知识条目", entry.title, entry_path(entry.id), entry.created_by_id, note,
                          key=f"audit:{row.id}")
    return entry


def tell_about_review(ctx: KnowledgeContext, action: str, what: str, title: str, path: str,
                      author_id: int | None, note: str, *, key: str) -> None:
    """A submitted draft → its reviewers (营商环境办); one sent back → its author, with the reason."""
    notifier = Notifier(ctx.session, ctx.channels, ctx.now)
    who = actor_label(ctx.actor)
    if action == "submit":
        reviewers = ctx.session.scalars(select(Person).where(Person.role.in_(REVIEWER_ROLES),
                                                             Person.active.is_(True)).order_by(Person.id))
        heading, _, text = notifier.render("knowledge_review_submitted", what=what, actor=who,
                                           title=title).partition("\n")
        notifier.to_people(reviewers, kind=MessageKind.NOTICE, key=key, payload={
            "title": heading.strip(), "text": text.strip(), "url": path,
        })
    elif author_id is not None:
        heading, _, text = notifier.render("knowledge_review_sent_back", what=what, actor=who, title=title,
                                           note=wording.sentence(note)).partition("\n")
        notifier.to_person(ctx.session.get(Person, author_id), kind=MessageKind.NOTICE, key=key, payload={
            "title": heading.strip(), "text": text.strip(), "url": path,
        })


def publish(ctx: KnowledgeContext, entry_id: Any) -> KnowledgeEntry:
    return transition(ctx, entry_id, "publish")


def retire(ctx: KnowledgeContext, entry_id: Any, reason: str = "") -> KnowledgeEntry:
    return transition(ctx, entry_id, "retire", reason)


# --------------------------------------------------------------------------------------------------
# Chat
# --------------------------------------------------------------------------------------------------
CHAT_RESULTS = 3


def entry_path(entry_id: int) -> str:
    return f"/knowledge/entries/{entry_id}"


def chat_answer(session: Session, query: str, *, base_url: str) -> str:
    """The bot's answer to 「查 关键词」: the three best published entries, each with a short answer
    and an absolute link (``base_url``: the site's address; a chat opens it outside the desk)."""
    query = " ".join((query or "").split())
    single = one_character(query)
    if single is not None:
        entries = list(session.scalars(
            select(KnowledgeEntry).where(KnowledgeEntry.status == KnowledgeStatus.PUBLISHED,
                                         KnowledgeEntry.search_text.like(_like(single), escape="\\"))
            .order_by(KnowledgeEntry.use_count.desc(), KnowledgeEntry.id.desc()).limit(CHAT_RESULTS)
        ))
    else:
        entries = published_entries(session, query, CHAT_RESULTS)
    if not entries:
        return (f"知识库中暂未找到与「{snippet(query, 20)}」相关的已发布问答。可换个说法或更短的关键词再试，"
                "也可在网页工作台「知识库」中浏览。")
    record_use(session, [e.id for e in entries])
    lines = [f"知识库中与「{snippet(query, 20)}」最相关的 {len(entries)} 条："]
    for number, entry in enumerate(entries, 1):
        lines.append(f"{number}. {entry.title}")
        lines.append(f"答：{snippet(entry.answer, 80)}")
        lines.append(f"详情：{public_link(base_url, entry_path(entry.id))}")
    return "\n".join(lines)


__all__ = [
    "ACTION_LABELS", "EDITOR_ROLES", "EntryFilter", "KnowledgeContext", "Ranked", "Suggestion", "TRANSITIONS",
    "allowed_actions", "can", "chat_answer", "create_entry", "department_ids", "entry_fields", "entry_path",
    "get_entry", "get_row", "is_editor", "normalise", "one_character", "policy_hits", "publish", "published_entries", "rank",
    "record_edit", "record_use", "record_view", "reindex", "retire", "search_entries", "similar", "snippet", "split_keywords",
    "terms", "transition", "update_entry", "viewable_entry", "visible_clause", "weighted_terms",
]
