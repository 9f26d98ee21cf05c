"""《北辰区为企服务高频事项应答手册》, kept current from real tickets.

The work plan asks every department to sum up the requests enterprises raise most often and keep
the handbook up to date. A daily job (``handbook_refresh``, jobs/definitions.py) does the
counting; people write and approve the answers.

How a recurring kind of request is found (simple, explainable frequency clustering):

1. Take the work orders created in the last 90 days (``WINDOW_DAYS``), except those refused as
   out of scope, and group them by request domain × service stage (an order without one falls in
   「未分类」/「未指定阶段」).
2. A title's *terms* are the classification keywords it contains (the request domains' and the
   departments' keyword lists, and the keywords of published entries) plus the character
   bigrams of its normalised text, minus filler words (``STOP_TERMS``: 企业, 协调, 问题 …).
3. In each group, repeatedly take the term found in the most titles — at least ``MIN_ORDERS`` of
   them; on a tie a keyword before a bigram, a longer term before a shorter — and make the orders
   holding it one cluster, then set them aside and look again. A second term standing apart from
   the first in at least 60 % of the cluster's titles joins its label (「社保·补贴」; not 「间停」 of
   「车间停电」).
4. A topic is (domain, stage, term); its count 「近90天 N 件」 is the number of the group's orders
   in the window whose title contains the term, and per calendar month the same count for each
   month the window touches (``HandbookTopicCount``).

For a new cluster the job looks for a published entry answering it (same domain and stage, or
none given; the term in its question or keywords). If there is one, the topic goes into the
handbook linked to it; if not, the job proposes the topic with a draft entry (source 应答手册) for
营商环境办 to write the answer, publish, or dismiss. Existing topics, whatever their status, only
have their counts updated, so running the job again changes nothing but the numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Department,
    HandbookTopic,
    HandbookTopicCount,
    KnowledgeEntry,
    KnowledgeSource,
    KnowledgeStatus,
    RequestDomain,
    TopicStatus,
    WorkOrder,
)
from services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from services.knowledge import entries as knowledge
from services.knowledge.entries import KnowledgeContext, is_editor
from services.orders.lifecycle import State
from services.xlsx_export import Column, Sheet

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
WINDOW_DAYS = 90
MIN_ORDERS = 3
SECOND_TERM_SHARE = 0.6
SAMPLES = 5
# Words in almost every request title; they say nothing about what kind of request it is.
STOP_TERMS = frozenset((
    "企业", "公司", "有限", "限公", "我司", "我们", "贵司", "问题", "协调", "协助", "帮助", "解决", "申请", "请求",
    "需要", "希望", "咨询", "反映", "关于", "如何", "怎么", "怎样", "是否", "能否", "可以", "一下", "相关", "情况",
    "进行", "目前", "存在", "导致", "影响", "诉求", "事项", "办理", "处理", "尽快", "及时",
    # Where it happens rather than what it is about (厂区停水 and 厂区5G信号弱 are different matters).
    "厂区", "厂房", "车间", "园区", "门前", "门口", "附近", "周边", "周围",
))
NO_DOMAIN, NO_STAGE = "未分类", "未指定阶段"


# --------------------------------------------------------------------------------------------------
# Terms and clusters (pure)
# --------------------------------------------------------------------------------------------------
def title_terms(title: str, vocabulary: Iterable[str]) -> frozenset[str]:
    text = knowledge.normalise(title)
    found = {word for word in vocabulary if word and word in text}
    found.update(t for t in knowledge.terms(title) if len(t) >= 2)
    return frozenset(t for t in found if t not in STOP_TERMS)


@dataclass(frozen=True)
class OrderTerms:
    order_id: int
    domain_id: int | None
    stage_id: int | None
    created_at: datetime
    title: str  # normalised
    terms: frozenset[str]
    department_id: int | None = None


@dataclass
class Cluster:
    domain_id: int | None
    stage_id: int | None
    term: str
    second: str | None
    order_ids: list[int]

    @property
    def label(self) -> str:
        return f"{self.term}·{self.second}" if self.second else self.term


def _best(counts: Counter, vocabulary: frozenset[str], minimum: int, exclude: str = "") -> str | None:
    candidates = [t for t, n in counts.items() if n >= minimum and t != exclude
                  and not (exclude and (t in exclude or exclude in t))]
    if not candidates:
        return None
    return min(candidates, key=lambda t: (-counts[t], t not in vocabulary, -len(t), t))


def _spans(text: str, term: str) -> list[tuple[int, int]]:
    spans, start = [], text.find(term)
    while start >= 0:
        spans.append((start, start + len(term)))
        start = text.find(term, start + 1)
    return spans


def _apart(text: str, term: str, first: str) -> bool:
    """Whether ``term`` stands somewhere in ``text`` clear of ``first`` (「车间停电」: 间停 does not)."""
    taken = _spans(text, first)
    return any(all(end <= a or start >= b for a, b in taken) for start, end in _spans(text, term))


def cluster(orders: Iterable[OrderTerms], vocabulary: frozenset[str], min_orders: int = MIN_ORDERS) -> list[Cluster]:
    """Greedy frequency clustering within each (domain, stage) group; see the module docstring."""
    groups: dict[tuple[int | None, int | None], list[OrderTerms]] = {}
    for order in orders:
        groups.setdefault((order.domain_id, order.stage_id), []).append(order)
    clusters: list[Cluster] = []
    for (domain_id, stage_id), members in sorted(groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1] or 0)):
        pool = list(members)
        while pool:
            term = _best(Counter(t for o in pool for t in o.terms), vocabulary, min_orders)
            if term is None:
                break
            taken = [o for o in pool if term in o.terms]
            share = math.ceil(SECOND_TERM_SHARE * len(taken))
            apart = Counter(t for o in taken for t in o.terms if _apart(o.title, t, term))
            second = _best(apart, vocabulary, max(2, share), exclude=term)
            clusters.append(Cluster(domain_id, stage_id, term, second, [o.order_id for o in taken]))
            pool = [o for o in pool if term not in o.terms]
    return clusters


def signature(domain_id: int | None, stage_id: int | None, term: str) -> str:
    return f"{domain_id or '-'}|{stage_id or '-'}|{term}"


def _month(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m")


def _months_between(start: datetime, end: datetime) -> list[str]:
    first = start.astimezone(LOCAL_TZ).date().replace(day=1)
    last = end.astimezone(LOCAL_TZ).date()
    months = []
    while first <= last:
        months.append(first.strftime("%Y-%m"))
        first = (first + timedelta(days=32)).replace(day=1)
    return months


# --------------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------------
@dataclass
class RefreshReport:
    orders: int = 0
    clusters: int = 0
    proposed: int = 0
    linked: int = 0
    updated: int = 0
    topic_ids: list[int] = field(default_factory=list)

    def describe(self) -> str:
        return (f"近{WINDOW_DAYS}天工单 {self.orders} 件，高频事项 {self.clusters} 类：新提议 {self.proposed} 个、"
                f"按已发布条目收录 {self.linked} 个，更新计数 {self.updated} 个")


def vocabulary(session: Session) -> frozenset[str]:
    words: set[str] = set()
    for (text,) in session.execute(select(RequestDomain.keywords)):
        words.update(knowledge.split_keywords(text))
    for (text,) in session.execute(select(Department.keywords).where(Department.active.is_(True))):
        words.update(knowledge.split_keywords(text))
    for (text,) in session.execute(select(KnowledgeEntry.keywords)
                                   .where(KnowledgeEntry.status == KnowledgeStatus.PUBLISHED)):
        words.update(knowledge.split_keywords(text))
    return frozenset(w for w in words if 2 <= len(w) <= 16)


def _load_orders(session: Session, since: datetime, vocab: frozenset[str]) -> list[OrderTerms]:
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.domain_id, WorkOrder.stage_id, WorkOrder.created_at, WorkOrder.title,
               WorkOrder.assigned_department_id)
        .where(WorkOrder.created_at >= since, WorkOrder.state != State.REJECTED)
        .order_by(WorkOrder.id)
    ).all()
    return [OrderTerms(r.id, r.domain_id, r.stage_id, r.created_at, knowledge.normalise(r.title),
                       title_terms(r.title, vocab), r.assigned_department_id) for r in rows]


def _answering_entry(session: Session, item: Cluster) -> KnowledgeEntry | None:
    query = select(KnowledgeEntry).where(
        KnowledgeEntry.status == KnowledgeStatus.PUBLISHED,
        or_(KnowledgeEntry.domain_id.is_(None), KnowledgeEntry.domain_id == item.domain_id),
        or_(KnowledgeEntry.stage_id.is_(None), KnowledgeEntry.stage_id == item.stage_id),
        or_(KnowledgeEntry.title.contains(item.term, autoescape=True),
            KnowledgeEntry.keywords.contains(item.term, autoescape=True)),
    )
    return session.scalars(query.order_by(KnowledgeEntry.domain_id.is_(None), KnowledgeEntry.stage_id.is_(None),
                                          KnowledgeEntry.use_count.desc(), KnowledgeEntry.id)).first()


def _draft_entry(ctx: KnowledgeContext, item: Cluster, orders: dict[int, OrderTerms]) -> KnowledgeEntry:
    departments = Counter(orders[i].department_id for i in item.order_ids if orders[i].department_id)
    keywords = [item.term] + ([item.second] if item.second else [])
    return knowledge.create_entry(ctx, {
        "title": f"关于「{item.label}」的诉求如何答复？", "answer": "", "keywords": keywords,
        "domain_id": item.domain_id, "stage_id": item.stage_id,
        "department_id": departments.most_common(1)[0][0] if departments else None,
    }, source=KnowledgeSource.HANDBOOK)


def refresh(session: Session, now: datetime, *, window_days: int = WINDOW_DAYS, min_orders: int = MIN_ORDERS
            ) -> RefreshReport:
    """Count, cluster, propose; flushes, never commits. Safe to run again: see the module docstring."""
    ctx = KnowledgeContext(session, None, now)
    since = now - timedelta(days=window_days)
    months = _months_between(since, now)
    month_start = datetime.strptime(months[0] + "-01", "%Y-%m-%d").replace(tzinfo=LOCAL_TZ)
    vocab = vocabulary(session)
    loaded = _load_orders(session, min(since, month_start), vocab)
    in_window = [o for o in loaded if o.created_at >= since]
    report = RefreshReport(orders=len(in_window))
    clusters = cluster(in_window, vocab, min_orders)
    report.clusters = len(clusters)
    by_id = {o.order_id: o for o in in_window}
    topics = {t.signature: t for t in session.scalars(select(HandbookTopic).options(selectinload(HandbookTopic.counts)))}

    for item in clusters:
        key = signature(item.domain_id, item.stage_id, item.term)
        topic = topics.get(key)
        if topic is None:
            entry = _answering_entry(session, item)
            topic = HandbookTopic(signature=key, domain_id=item.domain_id, stage_id=item.stage_id, term=item.term,
                                  label=item.label[:64], created_at=now, updated_at=now)
            if entry is not None:
                topic.entry_id, topic.status, topic.auto_linked = entry.id, TopicStatus.PUBLISHED, True
                report.linked += 1
            else:
                topic.entry_id, topic.status = _draft_entry(ctx, item, by_id).id, TopicStatus.PROPOSED
                report.proposed += 1
            session.add(topic)
            session.flush()
            topics[key] = topic
            ctx.audit("handbook.link" if entry is not None else "handbook.propose", "handbook_topic", topic.id,
                      {"label": topic.label, "entry_id": topic.entry_id, "orders": len(item.order_ids)})
        else:
            topic.label = item.label[:64]

    for topic in topics.values():
        matching = [o for o in loaded if o.domain_id == topic.domain_id and o.stage_id == topic.stage_id
                    and topic.term in o.title]
        recent = [o for o in matching if o.created_at >= since]
        per_month = Counter(_month(o.created_at) for o in matching)
        counts = {c.period: c for c in topic.counts}
        changed = topic.count_90d != len(recent)
        for period in months:
            row = counts.get(period)
            if row is None:
                topic.counts.append(HandbookTopicCount(period=period, count=per_month.get(period, 0)))
                changed = True
            elif row.count != per_month.get(period, 0):
                row.count = per_month.get(period, 0)
                changed = True
        topic.count_90d = len(recent)
        topic.sample_order_ids = [o.order_id for o in sorted(recent, key=lambda o: (o.created_at, o.order_id),
                                                             reverse=True)[:SAMPLES]]
        topic.counted_at = now
        if changed:
            report.updated += 1
    session.flush()
    report.topic_ids = sorted(t.id for t in topics.values())
    return report


# --------------------------------------------------------------------------------------------------
# Review (营商环境办, system administrators)
# --------------------------------------------------------------------------------------------------
TOPIC_ACTIONS = {"publish": "收录入手册", "dismiss": "不收录", "restore": "恢复待审核", "link": "关联已有条目"}
_FROM = {"publish": (TopicStatus.PROPOSED,), "dismiss": (TopicStatus.PROPOSED, TopicStatus.PUBLISHED),
         "restore": (TopicStatus.DISMISSED,), "link": (TopicStatus.PROPOSED, TopicStatus.PUBLISHED)}


def get_topic(session: Session, topic_id: Any) -> HandbookTopic:
    return knowledge.get_row(session, HandbookTopic, topic_id, "高频事项不存在")


def review(ctx: KnowledgeContext, topic_id: Any, action: str, *, note: str = "", entry_id: Any = None
           ) -> HandbookTopic:
    """publish (publishes its draft entry too, which needs an answer) | dismiss | restore |
    link (``entry_id``: an entry that is not retired)."""
    topic = get_topic(ctx.session, topic_id)
    if not is_editor(ctx.actor):
        raise PermissionDenied("只有区营商环境办或系统管理员可以审核应答手册")
    if action not in _FROM:
        raise InvalidTransition("未知的操作")
    if topic.status not in _FROM[action]:
        raise InvalidTransition(f"该事项当前为「{topic.status_label}」，不能{TOPIC_ACTIONS[action]}")
    note = (note or "").strip()[:2000]
    before = topic.status
    if action == "link":
        entry = knowledge.get_entry(ctx.session, entry_id) if entry_id not in (None, "") else None
        if entry is None:
            raise ValidationFailed("请填写要关联的知识条目编号", fields={"entry_id": "请填写条目编号"})
        if entry.status == KnowledgeStatus.RETIRED:
            raise ValidationFailed("不能关联已停用的条目", fields={"entry_id": "该条目已停用"})
        topic.entry_id = entry.id
        topic.entry = entry
    elif action == "publish":
        entry = topic.entry
        if entry is None or entry.status == KnowledgeStatus.RETIRED:
            raise ValidationFailed("请先为该事项关联一个知识条目", fields={"entry_id": "未关联条目"})
        if entry.status in (KnowledgeStatus.DRAFT, KnowledgeStatus.REVIEW):
            knowledge.transition(ctx, entry.id, "publish")
        topic.status = TopicStatus.PUBLISHED
    elif action == "dismiss":
        if not note:
            raise ValidationFailed("请说明不收录的原因", fields={"note": "请填写原因"})
        topic.status = TopicStatus.DISMISSED
    else:
        topic.status = TopicStatus.PROPOSED
    topic.review_note = note
    topic.reviewed_by_id = ctx.actor.id if ctx.actor else None
    topic.reviewed_at = ctx.now
    topic.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit(f"handbook.{action}", "handbook_topic", topic.id,
              {"label": topic.label, "from": before, "to": topic.status, "entry_id": topic.entry_id, "note": note})
    return topic


# --------------------------------------------------------------------------------------------------
# Lists and the handbook itself
# --------------------------------------------------------------------------------------------------
def list_topics(session: Session, status: str = "") -> list[HandbookTopic]:
    query = select(HandbookTopic).options(selectinload(HandbookTopic.entry), selectinload(HandbookTopic.domain),
                                          selectinload(HandbookTopic.stage), selectinload(HandbookTopic.counts))
    if status in TopicStatus.LABELS:
        query = query.where(HandbookTopic.status == status)
    return list(session.scalars(query.order_by(HandbookTopic.count_90d.desc(), HandbookTopic.id)))


def sample_orders(session: Session, topic: HandbookTopic) -> list[WorkOrder]:
    ids = [int(i) for i in topic.sample_order_ids or []]
    rows = {o.id: o for o in session.scalars(select(WorkOrder).where(WorkOrder.id.in_(ids)))} if ids else {}
    return [rows[i] for i in ids if i in rows]


@dataclass
class Section:
    domain: str
    stages: list[tuple[str, list[HandbookTopic]]]


def sections(session: Session) -> list[Section]:
    """The published handbook: topics whose entry is published, by domain, then stage, most frequent first."""
    topics = [t for t in list_topics(session, TopicStatus.PUBLISHED)
              if t.entry is not None and t.entry.status == KnowledgeStatus.PUBLISHED]

    def domain_key(t):
        return (t.domain is None, t.domain.sort_order if t.domain else 0)

    def stage_key(t):
        return (t.stage is None, t.stage.sort_order if t.stage else 0)

    result: list[Section] = []
    for topic in sorted(topics, key=lambda t: (domain_key(t), stage_key(t), -t.count_90d, t.id)):
        domain = topic.domain.name if topic.domain else NO_DOMAIN
        stage = topic.stage.name if topic.stage else NO_STAGE
        if not result or result[-1].domain != domain:
            result.append(Section(domain, []))
        stages = result[-1].stages
        if not stages or stages[-1][0] != stage:
            stages.append((stage, []))
        stages[-1][1].append(topic)
    return result


def handbook_sheet(session: Session, today: date) -> Sheet:
    """The published handbook as one sheet for ``services.xlsx_export``."""
    def rows():
        for section in sections(session):
            for stage, topics in section.stages:
                for topic in topics:
                    entry = topic.entry
                    yield (section.domain, stage, topic.label, entry.title, entry.answer,
                           entry.department.display_name if entry.department else "",
                           entry.policy.title if entry.policy else "", topic.count_90d, entry.updated_at)

    return Sheet(
        title="高频事项应答手册",
        columns=(Column("诉求领域", 12), Column("服务阶段", 12), Column("高频事项", 16), Column("问题", 36),
                 Column("答复口径", 80), Column("牵头部门", 14), Column("相关政策", 30),
                 Column(f"近{WINDOW_DAYS}天件数", 12), Column("更新时间", 18)),
        rows=rows(),
        preamble=("北辰区为企服务高频事项应答手册", f"导出日期：{today.isoformat()}；件数为近 {WINDOW_DAYS} 天标题含该事项关键词的工单数"),
    )


__all__ = [
    "Cluster", "MIN_ORDERS", "OrderTerms", "RefreshReport", "STOP_TERMS", "Section", "TOPIC_ACTIONS", "WINDOW_DAYS",
    "cluster", "get_topic", "list_topics", "refresh", "review", "sample_orders", "sections", "signature",
    "title_terms", "vocabulary", "handbook_sheet",
]
