"""Public knowledge pages, no sign-in: published typical cases (/cases, anonymised text only) and
the published handbook's questions and answers (/faq). Every hit counts against the per-address
page limit the other public pages use (``handlers.public.contact.over_limit``)."""

from __future__ import annotations

from flask import render_template

from handlers.boundary import arg_page
from handlers.context import db
from handlers.public import bp
from handlers.public.contact import over_limit
from models import CaseStudy
from services.grid import public_contact
from services.knowledge import cases, handbook

# (bucket, limit, window seconds) per client address.
VIEW_LIMIT = ("knowledge_view", 60, 60)


@bp.get("/cases")
def public_cases():
    refused = over_limit(VIEW_LIMIT)
    if refused:
        return refused
    page = arg_page()
    return render_template("public/cases.html", paged=cases.public_cases(db(), page=page),
                           hotline=public_contact.HOTLINE)


@bp.get("/cases/<int:case_id>")
def public_case(case_id: int):
    refused = over_limit(VIEW_LIMIT)
    if refused:
        return refused
    case_row = db().get(CaseStudy, case_id)
    if case_row is None or not case_row.is_public:
        return render_template("public/notice.html", heading="案例不存在",
                               message="该案例不存在或尚未公开。可返回典型案例列表查看其他案例。"), 404
    return render_template("public/case.html", case=case_row, hotline=public_contact.HOTLINE)


@bp.get("/faq")
def public_faq():
    refused = over_limit(VIEW_LIMIT)
    if refused:
        return refused
    return render_template("public/faq.html", sections=handbook.sections(db()), hotline=public_contact.HOTLINE)
