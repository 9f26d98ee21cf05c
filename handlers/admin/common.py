"""Helpers the admin pages share: who may enter, the operation context, form re-display on errors."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from handlers.context import current_person, db, now
from models import Role
from services.admin.operations import AdminContext
from services.errors import ValidationFailed

EDITORS = (Role.SYSADMIN,)
# The dispatcher runs the clock every day, so may read the policies and the calendar behind it.
VIEWERS = (Role.SYSADMIN, Role.DISPATCHER)


def admin_ctx() -> AdminContext:
    return AdminContext(session=db(), actor=current_person(), now=now(), ip=request.remote_addr or "")


def form_data() -> dict[str, Any]:
    """The submitted fields (multi-valued ones as lists), without the CSRF token."""
    data: dict[str, Any] = {}
    for key in request.form:
        if key == "csrf_token":
            continue
        values = request.form.getlist(key)
        data[key] = values if key.endswith("_ids") else values[-1]
    return data


def can_edit() -> bool:
    person = current_person()
    return person is not None and person.role in EDITORS


def render_invalid(template: str, error: ValidationFailed, **context: Any):
    """Show the form again with the user's input and each field's problem (nothing was saved)."""
    db().rollback()
    return render_template(template, errors=error.fields, error_message=error.message, form=form_data(),
                           **context), 422
