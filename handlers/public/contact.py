"""Public contact pages: "who serves my enterprise?" (/contact) and the self-service request form.

No sign-in. Every hit counts against a per-address limit shared by all processes
(``services.ratelimit``: Redis when configured, the database otherwise); lookups and request
submissions have tighter limits of their own. Over a limit the answer is 429 in Chinese with
Retry-After, and nothing else is read or written.
"""

from __future__ import annotations

import math

from flask import current_app, render_template, request, url_for

from handlers import custom_fields
from handlers.context import db, delivery_channels, now, settings
from handlers.public import bp
from services.errors import ValidationFailed
from services.grid import public_contact
from services.orders import operations as wo
from services.orders.operations import OpContext
from services.ratelimit import RateLimiter, make_limiter

# (bucket, limit, window seconds): page views, lookups, submitted requests per client address.
PAGE_LIMIT = ("view", 60, 60)
LOOKUP_LIMIT = ("lookup", 10, 60)
REQUEST_LIMIT = ("request", 5, 600)
REQUEST_FIELDS = ("code", "name", "contact_name", "contact_phone", "content")


def limiter() -> RateLimiter:
    extensions = current_app.extensions
    if "rate_limiter" not in extensions:
        extensions["rate_limiter"] = make_limiter(extensions["settings"], extensions["db_sessionmaker"])
    return extensions["rate_limiter"]


def client_address() -> str:
    return request.remote_addr or "unknown"


def over_limit(*limits: tuple[str, int, int]):
    """The 429 page when any limit is reached, else None. Checked before the request touches the database."""
    for bucket, limit, window in limits:
        wait = limiter().acquire(f"public:{bucket}:{client_address()}", limit, window, now())
        if wait:
            seconds = max(1, math.ceil(wait))
            body = render_template("public/notice.html", heading="访问过于频繁",
                                   message=f"您的操作过于频繁，请 {seconds} 秒后再试。"
                                           f"如有急事请拨打企业服务热线 {public_contact.HOTLINE}。")
            return body, 429, {"Retry-After": str(seconds)}
    return None


def public_url(endpoint: str) -> str:
    """The address printed on posters: the configured public base URL, not whatever host asked."""
    return settings().base_url.rstrip("/") + url_for(endpoint)


@bp.get("/contact")
def contact():
    refused = over_limit(PAGE_LIMIT)
    if refused:
        return refused
    return render_template("public/contact.html", query="", result=None, hotline=public_contact.HOTLINE)


@bp.post("/contact")
def contact_lookup():
    refused = over_limit(PAGE_LIMIT, LOOKUP_LIMIT)
    if refused:
        return refused
    query = (request.form.get("q") or "").strip()[:200]
    result = public_contact.lookup_staff(db(), query) if query else None
    return render_template("public/contact.html", query=query, result=result, hotline=public_contact.HOTLINE,
                           empty=not query)


@bp.get("/contact/request")
def contact_request():
    refused = over_limit(PAGE_LIMIT)
    if refused:
        return refused
    return render_template("public/contact_request.html", form={}, errors={}, error_message="",
                           hotline=public_contact.HOTLINE)


@bp.post("/contact/request")
def contact_request_submit():
    refused = over_limit(PAGE_LIMIT, REQUEST_LIMIT)
    if refused:
        return refused
    form = {key: (request.form.get(key) or "").strip() for key in REQUEST_FIELDS}
    # No domain select here: the content is classified, and the fields marked public of that
    # domain's form are read (and, when a required one is missing, asked for on the form again).
    values = custom_fields.posted_values(db(), request.form, domain_id=None, stage_id=None, content=form["content"],
                                         public_only=True)
    # actor None: the enterprise itself, whoever may be signed in to the console in this browser.
    ctx = OpContext(session=db(), actor=None, now=now(), channel="public", channels=delivery_channels())
    try:
        order, staff, repeats = public_contact.submit_request(ctx, public_contact.PublicRequest(**form, fields=values))
    except ValidationFailed as error:
        db().rollback()
        active = custom_fields.active_domain_id(db(), request.form, classify=True)
        groups = [g for g in custom_fields.groups(db(), {}, public_only=True) if g.domain.id == active]
        return render_template("public/contact_request.html", form=form, errors=error.fields,
                               error_message=error.message, hotline=public_contact.HOTLINE,
                               field_groups=groups, active_domain_id=active, posted=request.form), 422
    return render_template("public/contact_request_done.html", order=order, staff=staff, repeats=repeats,
                           window_days=wo.duplicate_rule(db()).window_days, hotline=public_contact.HOTLINE)
