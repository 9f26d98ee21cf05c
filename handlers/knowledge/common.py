"""What the knowledge pages share: the operation context, form values, choices, the area's tabs,
and two helpers other pages use (the order page's 「转为案例」 link, the new-request suggestions)."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from sqlalchemy import select

from handlers.boundary import arg_id, arg_page
from handlers.context import current_person, db, delivery_channels, now
from handlers.knowledge import bp
from models import Department, RequestDomain, ServiceStage, WorkOrder
from services.knowledge import cases
from services.knowledge import entries as knowledge
from services.knowledge.entries import KnowledgeContext

MAX_QUERY = 100


def knowledge_ctx() -> KnowledgeContext:
    return KnowledgeContext(session=db(), actor=current_person(), now=now(), ip=request.remote_addr or "",
                            channels=delivery_channels())


def form_data() -> dict[str, Any]:
    return {key: request.form.get(key) for key in request.form if key != "csrf_token"}


def int_arg(name: str) -> int | None:
    return arg_id(name)


def page_arg() -> int:
    return arg_page()


def query_arg() -> str:
    return (request.args.get("q") or "").strip()[:MAX_QUERY]


def choices() -> dict[str, Any]:
    session = db()
    return {
        "domains": list(session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order))),
        "stages": list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order))),
        "all_departments": list(session.scalars(select(Department).where(Department.active.is_(True))
                                                .order_by(Department.sort_order, Department.id))),
    }


def own_departments() -> list[Department]:
    """The departments the signed-in person may file an entry under."""
    person = current_person()
    query = select(Department).where(Department.active.is_(True))
    if not (knowledge.is_editor(person) or person.role in knowledge.HUB_DRAFTERS):
        query = query.where(Department.id.in_(knowledge.department_ids(db(), person) or {-1}))
    return list(db().scalars(query.order_by(Department.sort_order, Department.id)))


def tab_items() -> list[tuple[str, str, str, bool]]:
    """(endpoint, path prefix, label, shown) for the area tabs (templates/_macros.html ``tabs``)."""
    return [
        ("knowledge.index", "/knowledge/", "知识库", True),
        ("knowledge.case_list", "/knowledge/cases", "案例库", True),
        ("knowledge.handbook", "/knowledge/handbook", "应答手册", True),
    ]


@bp.context_processor
def _area():
    return {"knowledge_tabs": tab_items, "is_knowledge_editor": knowledge.is_editor(current_person())}


def suggestion_items(text: str) -> list[dict[str, Any]]:
    """Published entries and cases like the typed request, as the page and the JSON show them."""
    items = []
    for s in knowledge.similar(db(), text[:2000]):
        endpoint = "knowledge.entry" if s.kind == "entry" else "knowledge.case"
        key = "entry_id" if s.kind == "entry" else "case_id"
        items.append({"kind": s.kind, "label": "典型案例" if s.typical else ("案例" if s.kind == "case" else "问答"),
                      "title": s.title, "snippet": s.snippet,
                      "url": url_for(endpoint, **{key: s.item_id}, **({"from": "suggest"} if s.kind == "entry" else {}))})
    return items


def case_link_for(order: WorkOrder) -> dict[str, str] | None:
    """The order page's case link: the case already written, or 「转为案例」 for a closed order."""
    person = current_person()
    if person is None:
        return None
    existing = cases.case_for_order(db(), order.id)
    if existing is not None:
        if cases.can(db(), person, "view", existing):
            return {"url": url_for("knowledge.case", case_id=existing.id), "label": "查看案例"}
        return None
    if cases.can_create_from(db(), person, order):
        return {"url": url_for("knowledge.case_new", order=order.number), "label": "转为案例"}
    return None


@bp.app_context_processor
def _helpers_for_other_pages():
    return {"case_link_for": case_link_for, "knowledge_suggestions": suggestion_items}
