"""The department contact roster (部门联系人、重点事项联络员) for staff: a printable page and xlsx."""

from __future__ import annotations

from itertools import groupby

from flask import render_template

from handlers.console.auth import login_required
from handlers.context import db, now
from handlers.grid import bp
from handlers.grid.common import xlsx_download
from services import xlsx_export


@bp.get("/contacts")
@login_required
def contacts():
    lines = xlsx_export.contact_roster(db())
    groups = [(department, list(items)) for department, items in groupby(lines, key=lambda c: c.department)]
    return render_template("grid/contacts.html", groups=groups, count=len(lines), generated=now())


@bp.get("/contacts.xlsx")
@login_required
def contacts_xlsx():
    return xlsx_download([xlsx_export.contact_sheet(db(), now())], "部门联系人名册")
