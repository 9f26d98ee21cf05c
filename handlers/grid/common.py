"""Helpers the grid pages share: who may enter, the operation context, paging, xlsx downloads."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, abort, current_app, request, stream_with_context

from handlers.boundary import arg_page
from handlers.context import current_person, db, now
from models import Role, Zone
from services import paging, xlsx_export
from services.admin.operations import AdminContext
from services.paging import Page

MANAGERS = (Role.SYSADMIN, Role.ZONE_ADMIN)
PLACERS = (Role.SYSADMIN, Role.ZONE_ADMIN, Role.DISPATCHER)
POSTER_ROLES = (Role.SYSADMIN, Role.ZONE_ADMIN, Role.SERVICE_STAFF, Role.DISPATCHER)
PER_PAGE = 50


def grid_ctx() -> AdminContext:
    return AdminContext(session=db(), actor=current_person(), now=now(), ip=request.remote_addr or "")


def form_data() -> dict[str, Any]:
    return {key: request.form.get(key) for key in request.form if key != "csrf_token"}


def zone_or_404(zone_id: int) -> Zone:
    zone = db().get(Zone, zone_id)
    if zone is None:
        abort(404)
    return zone


def page_number() -> int:
    return arg_page()


def paginate(query, count_query, page: int, per_page: int = PER_PAGE) -> Page:
    return paging.paginate(db(), query, page=page, per_page=per_page, count_query=count_query)


def xlsx_download(sheets, stem: str) -> Response:
    """Write the workbook (write-only, row by row) to a temporary file and stream it out."""
    path = xlsx_export.write_to_temp(sheets, current_app.config.get("EXPORT_TMP_DIR"))
    filename = xlsx_export.download_name(stem, now())
    response = Response(stream_with_context(xlsx_export.stream_file(path)), mimetype=xlsx_export.XLSX_MIME)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"export.xlsx\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Content-Length"] = str(path.stat().st_size)
    response.headers["Cache-Control"] = "no-store"
    return response
