"""The 12345 ledger for offices that still exchange files: every order from or escalated to the
platform, in the ledger layout (xlsx), optionally for a date range (Beijing dates)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import request

from handlers.console import bp
from handlers.console.auth import roles_required
from handlers.context import db
from handlers.grid.common import xlsx_download
from models import Role
from services import inputs
from services.errors import ValidationFailed
from services.orders import hotline
from services.orders.operations import LOCAL_TZ


def _day(name: str) -> datetime | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return datetime.combine(inputs.parse_date(raw), time(0), tzinfo=LOCAL_TZ)
    except ValueError as error:
        raise ValidationFailed(f"日期有误：{error}", fields={name: str(error)}) from None


@bp.get("/hotline/ledger.xlsx")
@roles_required(Role.DISPATCHER, Role.BIZENV_OFFICE, Role.SYSADMIN)
def hotline_ledger():
    start, end = _day("from"), _day("to")
    sheet = hotline.ledger_sheet(db(), start, end + timedelta(days=1) if end else None)
    return xlsx_download([sheet], "12345工单交换台账")
