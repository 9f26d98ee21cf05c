"""Filters and globals the templates share."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_wtf.csrf import generate_csrf

from models import OutboxStatus, Role
from services.orders.ladder import LEVELS
from services.orders.lifecycle import Action, State

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def _order_field_values(order) -> list[tuple[str, str, str]]:
    """(key, label, value) of an order's custom fields, labels from the form in force."""
    from handlers.context import db
    from services.orders.operations import field_values

    return field_values(db(), order)


def register(app) -> None:
    app.jinja_env.filters["local_dt"] = local_dt
    app.jinja_env.filters["state_label"] = lambda s: State.LABELS.get(s, s)
    app.jinja_env.filters["action_label"] = lambda a: Action.LABELS.get(a, a)
    app.jinja_env.filters["level_label"] = lambda n: LEVELS.get(n, n)
    app.jinja_env.filters["role_label"] = lambda r: Role.LABELS.get(r, r)
    app.jinja_env.filters["outbox_label"] = lambda s: OutboxStatus.LABELS.get(s, s)
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.jinja_env.globals["order_field_values"] = _order_field_values

    @app.context_processor
    def _inject():
        from handlers.context import current_person, settings

        return {"me": current_person(), "app_settings": settings(), "State": State, "Role": Role}
