from __future__ import annotations

from flask import render_template

from handlers.admin import bp
from handlers.admin.common import VIEWERS, can_edit
from handlers.console.auth import roles_required
from handlers.context import db, now
from services.admin import operations as admin


@bp.get("/")
@roles_required(*VIEWERS)
def index():
    return render_template("admin/index.html", counts=admin.overview_counts(db(), now()), can_edit=can_edit(),
                           calendar_warning=admin.calendar_warning(db(), now().astimezone(admin.LOCAL_TZ).date()))
