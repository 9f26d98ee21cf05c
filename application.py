"""The application factory. It wires configuration, the database, blueprints and commands,
and does nothing else: no scheduler, no migration, no platform call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from config import PROJECT_ROOT, Settings, load_settings
from database import make_engine, make_session_factory
from services.errors import DomainError

csrf = CSRFProtect()

_CONTROL = re.compile("[\x00-\x1f\x7f]")


class App(Flask):
    def redirect(self, location: str, code: int = 302):
        # A target taken from a form (``next``) with a line break would split the Location header:
        # Werkzeug refuses such a header with an exception, so say no before that, as a 400.
        if _CONTROL.search(location):
            raise DomainError("跳转地址无效（含有换行等控制字符）", code="invalid_redirect")
        return super().redirect(location, code)


def create_app(overrides: Mapping[str, object] | None = None, *, settings: Settings | None = None) -> Flask:
    settings = (settings or load_settings()).with_overrides(overrides)
    from services.observability import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    if settings.sentry_dsn:
        import sentry_sdk

        sentry_sdk.init(dsn=settings.sentry_dsn, environment=settings.app_env)

    app = App(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(settings.instance_dir),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        # Attachments are capped per file by the service; the request cap leaves room for a few files.
        MAX_CONTENT_LENGTH=settings.upload_max_bytes * 3 + 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production and settings.base_url.startswith("https"),
        # The signature outlives no session (services.admin.sessions checks idle time and the same
        # 12 hours from sign-in); Flask's default would accept a copied cookie for 31 days.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        JSON_AS_ASCII=False,
    )
    from handlers.boundary import IdConverter, PositionConverter, StrictJSONProvider, check_request

    app.json = StrictJSONProvider(app)
    app.json.ensure_ascii = False
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    # Before any blueprint adds a rule: every <int:…> in the url_map is a bounded ASCII id.
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["position"] = PositionConverter

    engine = make_engine(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout, pool_recycle=settings.db_pool_recycle,
        statement_timeout_ms=settings.db_statement_timeout_ms, prepare_threshold=settings.db_prepare_threshold,
    )
    app.extensions["settings"] = settings
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = make_session_factory(engine)

    from handlers import observe

    # The request id first, so even a refused request has one in the log.
    observe.register(app)
    # Hostile input is refused before anything reads it, the CSRF check included.
    app.before_request(check_request)
    csrf.init_app(app)
    from handlers import security_headers

    # Registered first so it runs last: a response the request boundary replaces gets the headers too.
    security_headers.register(app)
    _register_request_boundary(app)
    from handlers import redirects

    redirects.install(app)

    from handlers.errors import register_error_handlers

    register_error_handlers(app)
    _register_blueprints(app)
    _register_template_helpers(app)

    from cli import register_commands

    register_commands(app)
    return app


def _register_request_boundary(app: Flask) -> None:
    """One commit per request: a successful response commits, anything else rolls back."""

    @app.after_request
    def _commit(response):
        db_session = g.pop("db_session", None)
        if db_session is None:
            return response
        try:
            if response.status_code < 400:
                db_session.commit()
            else:
                db_session.rollback()
        except (StaleDataError, OperationalError):
            db_session.rollback()
            from handlers.errors import render_error

            response = app.make_response(render_error(409, "conflict", "数据刚被他人修改或数据库繁忙，请刷新后重试"))
        finally:
            db_session.close()
        return response

    @app.teardown_appcontext
    def _close(_exc):
        db_session = g.pop("db_session", None)
        if db_session is not None:
            db_session.rollback()
            db_session.close()


def _register_blueprints(app: Flask) -> None:
    from handlers import blueprints

    for blueprint in blueprints.all_blueprints():
        app.register_blueprint(blueprint)


def _register_template_helpers(app: Flask) -> None:
    from handlers import template_helpers

    template_helpers.register(app)
