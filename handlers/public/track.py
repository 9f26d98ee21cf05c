"""The enterprise's progress page: ``GET /track?number=…&code=…`` (the form submits the same way,
so a link in a text carries both). Rate-limited per client before anything is read; a wrong number
or code shows the same "not found" as an unknown one."""

from __future__ import annotations

from flask import render_template, request

from handlers.context import db
from handlers.public import bp
from handlers.public.contact import PAGE_LIMIT, over_limit
from services.grid import public_contact
from services.orders import tracking

# Lookups with a number and code per client address: a few families of orders an hour, not a guessing run.
TRACK_LIMIT = ("track", 20, 600)


@bp.get("/track")
def track():
    number = (request.args.get("number") or "").strip()[:20]
    code = (request.args.get("code") or "").strip()[:8]
    if not number and not code:
        refused = over_limit(PAGE_LIMIT)
        if refused:
            return refused
        return render_template("public/track.html", number="", code="", result=None, asked=False,
                               hotline=public_contact.HOTLINE)
    refused = over_limit(PAGE_LIMIT, TRACK_LIMIT)
    if refused:
        return refused
    result = tracking.find(db(), number, code)
    return render_template("public/track.html", number=number, code="", result=result, asked=True,
                           hotline=public_contact.HOTLINE), 200 if result is not None else 404
