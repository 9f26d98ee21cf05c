"""Helpers the policy pages share: the operation context, the conditions form, choices."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from sqlalchemy import select

from handlers.context import current_person, db, delivery_channels, now
from models import EntityType, ServiceStage, Zone
from services.policies import matching as policy_matching
from services.policies.library import PolicyContext
from services.policies.training import TrainingContext

# Suggestions only: the registry holds whatever names the imports brought.
QUALIFICATION_SUGGESTIONS = (
    "高新技术企业", "科技型中小企业", "专精特新中小企业", "专精特新“小巨人”企业", "创新型中小企业", "瞪羚企业",
    "雏鹰企业", "制造业单项冠军", "市级企业技术中心", "规上工业企业",
)
_LIST_SPLIT = re.compile(r"[,，、;；\s]+")
KEY_INDUSTRY_CHOICES = (("any", "不限"), ("yes", "是（“2+3”产业体系企业）"), ("no", "否"))


def training_ctx() -> TrainingContext:
    return TrainingContext(session=db(), actor=current_person(), now=now(), ip=request.remote_addr or "",
                           channels=delivery_channels())


def policy_ctx() -> PolicyContext:
    return PolicyContext(session=db(), actor=current_person(), now=now(), ip=request.remote_addr or "")


def form_data() -> dict[str, Any]:
    return {key: request.form.get(key) for key in request.form if key != "csrf_token"}


def conditions_from_form(form=None, prefix: str = "c_") -> dict[str, Any]:
    """The friendly conditions form → the raw mapping ``policy_matching.parse_conditions`` takes."""
    form = request.form if form is None else form

    def text(name: str) -> str:
        return (form.get(prefix + name) or "").strip()

    key_industry = {"yes": True, "no": False}.get(text("key_industry"))
    raw: dict[str, Any] = {
        "industries": text("industries"),
        "size_bands": form.getlist(prefix + "size_bands"),
        "stage_ids": form.getlist(prefix + "stage_ids"),
        "chain_positions": form.getlist(prefix + "chain_positions"),
        "key_industry": key_industry,
        "qualifications": text("qualifications"),
        "zone_ids": form.getlist(prefix + "zone_ids"),
        "age_min_years": text("age_min_years"),
        "age_max_years": text("age_max_years"),
        "entity_types": form.getlist(prefix + "entity_types"),
        # A form without the box ticked says "also enterprises not operating"; the hidden marker
        # tells a submitted form from a missing one.
        "active_only": bool(form.get(prefix + "active_only")) if form.get(prefix + "submitted") else True,
        "exclude_abnormal": bool(form.get(prefix + "exclude_abnormal")),
    }
    return {k: v for k, v in raw.items() if v not in ("", [], None)}


def conditions_form_values(conditions: dict[str, Any] | None) -> dict[str, Any]:
    """Stored (or just submitted) conditions → what the form shows."""
    data = dict(conditions or {})

    def as_list(value) -> list[str]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [v for v in _LIST_SPLIT.split(value) if v]
        return [str(v) for v in value]

    key_industry = data.get("key_industry")
    return {
        "industries": "、".join(as_list(data.get("industries"))),
        "size_bands": as_list(data.get("size_bands")),
        "stage_ids": as_list(data.get("stage_ids")),
        "chain_positions": as_list(data.get("chain_positions")),
        "key_industry": "any" if key_industry is None else ("yes" if key_industry else "no"),
        "qualifications": "、".join(as_list(data.get("qualifications"))),
        "zone_ids": as_list(data.get("zone_ids")),
        "age_min_years": "" if data.get("age_min_years") in (None, "") else str(data["age_min_years"]),
        "age_max_years": "" if data.get("age_max_years") in (None, "") else str(data["age_max_years"]),
        "entity_types": as_list(data.get("entity_types")),
        "active_only": data.get("active_only", True) not in (False, "0", "false"),
        "exclude_abnormal": bool(data.get("exclude_abnormal")),
    }


def condition_choices() -> dict[str, Any]:
    session = db()
    return {
        "zones": list(session.scalars(select(Zone).where(Zone.active.is_(True)).order_by(Zone.sort_order, Zone.id))),
        "stages": list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order, ServiceStage.id))),
        "size_bands": [(b, policy_matching.SIZE_LABELS[b]) for b in policy_matching.SIZE_BANDS],
        "chain_positions": policy_matching.CHAIN_POSITIONS,
        "entity_types": list(EntityType.LABELS.items()),
        "key_industry_choices": KEY_INDUSTRY_CHOICES,
        "qualification_suggestions": QUALIFICATION_SUGGESTIONS,
    }


def describe_conditions(conditions: dict[str, Any] | None) -> list[str]:
    parsed = policy_matching.parse_conditions(conditions or {})
    return policy_matching.describe(parsed, policy_matching.load_labels(db()))


# (endpoint, path prefix, label): the tabs across the policy pages, shown when the page exists.
TABS = (
    ("policies.index", "/policies/", "政策库"),
    ("policies.campaigns", "/policies/campaigns", "推送任务"),
    ("policies.uptake", "/policies/uptake", "落实情况"),
    ("policies.trainings", "/policies/trainings", "培训与咨询"),
    ("policies.questions", "/policies/questions", "咨询问答"),
)


def tabs() -> list[dict[str, Any]]:
    from flask import current_app, url_for

    items = []
    for endpoint, prefix, label in TABS:
        if endpoint not in current_app.view_functions:
            continue
        items.append({"url": url_for(endpoint), "label": label, "prefix": prefix})
    # The longest matching prefix is current ("/policies/" is every page's prefix).
    matches = [i for i in items if request.path.startswith(i["prefix"])]
    if matches:
        max(matches, key=lambda i: len(i["prefix"]))["current"] = True
    return items
