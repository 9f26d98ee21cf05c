"""Files a browser asks for at fixed addresses on every site, whatever page it is on."""

from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("site", __name__)


@bp.get("/favicon.ico")
def favicon():
    # Pages link the icon too (templates/_favicon.html); this serves the address browsers try by default.
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=7 * 24 * 3600)
