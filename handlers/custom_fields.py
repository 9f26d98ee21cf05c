"""The request form's custom fields (配置中心 → 表单字段) on the HTML forms: which to show, and the
values a plain form posted.

Every domain with a form gets its own group of inputs named ``f.<domain id>.<key>``; the page shows
the group of the chosen domain (``static/form-fields.js`` switches groups when the select changes;
without JavaScript every group is listed under its domain's name). The server reads only the group
of the order's final domain, the one chosen or, when left to the system, the one classified from the
content, and the service validates it; a missing required value re-renders the form with that
domain selected and its fields marked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import RequestDomain, ServiceStage
from services import inputs
from services.orders import operations as wo
from services.studio import store
from services.studio.forms import FieldDef


@dataclass(frozen=True)
class FieldGroup:
    domain: RequestDomain
    fields: list[FieldDef]

    def name(self, definition: FieldDef) -> str:
        return f"f.{self.domain.id}.{definition.key}"


def _int(raw: str | None) -> int | None:
    return inputs.to_id(raw)  # ASCII digits only (a superscript two counts as a digit to str's check)


def groups(session: Session, form: Mapping, *, public_only: bool = False) -> list[FieldGroup]:
    """One group per domain whose form has fields (for the form's stage)."""
    stage = session.get(ServiceStage, _int(form.get("stage_id"))) if _int(form.get("stage_id")) else None
    config = store.runtime(session)
    result = []
    for domain in session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order, RequestDomain.id)):
        fields = config.form_fields(domain.name, stage.name if stage else None, public_only=public_only)
        if fields:
            result.append(FieldGroup(domain, fields))
    return result


def active_domain_id(session: Session, form: Mapping, *, classify: bool) -> int | None:
    """The domain whose group the page shows: the one chosen, or after a refused submission the one
    the system classified the content into (so the person sees which fields it asks)."""
    chosen = _int(form.get("domain_id"))
    if chosen is not None or not classify:
        return chosen
    domain, _fields = wo.order_form(session, None, content=str(form.get("content") or ""))
    return domain.id if domain is not None else None


def posted_values(session: Session, form, *, domain_id: int | None, stage_id: int | None, content: str,
                  public_only: bool = False) -> dict:
    """The posted values of the final domain's group (multiple choices as lists)."""
    domain, fields = wo.order_form(session, domain_id, stage_id, content=content, public_only=public_only)
    if domain is None:
        return {}
    values = {}
    for definition in fields:
        name = f"f.{domain.id}.{definition.key}"
        if definition.type == "multi_choice":
            chosen = [v for v in form.getlist(name) if v.strip()]
            if chosen:
                values[definition.key] = chosen
        else:
            value = form.get(name)
            if value is not None and value.strip():
                values[definition.key] = value
    return values
