from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from handlers.context import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db().execute(text("SELECT 1"))
    except Exception as error:  # any driver error means "not reachable"
        return jsonify({"ok": False, "database": "unreachable", "error": type(error).__name__}), 503
    return jsonify({"ok": True, "database": "ok"})
