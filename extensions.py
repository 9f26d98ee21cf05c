"""The app's shared platform clients, made once per app over one token store.

This is application glue (beside ``application.py`` and ``cli.py``): handlers, jobs and commands
ask for the app's WeCom or DingTalk facade here; the facades themselves (``integrations``) are
handed the token store and never reach for it. ``import_dir`` says where uploaded spreadsheets
wait for the jobs process.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_app_context
from sqlalchemy.orm import Session

from integrations.base import ChatAdapter
from integrations.dingtalk import DingTalkApi
from integrations.dingtalk_inbound import DingTalkInbound
from integrations.dingtalk_stream import StreamWorker
from integrations.registry import adapters_for
from integrations.wecom import WeComApi
from services.kvstore import TokenStore
from services.messaging.inbound import InboundContext, direct_handler


def token_store(app: Flask) -> TokenStore:
    """The app's one ``TokenStore``, shared by every platform facade and adapter.

    Inside a request that already opened its database session, tokens go through that session
    (on SQLite a second connection would wait for the request's write lock).
    """
    store = app.extensions.get("token_store")
    if store is None:
        def request_session() -> Session | None:
            return g.get("db_session") if has_app_context() else None

        store = app.extensions.setdefault("token_store", TokenStore.from_settings(
            app.extensions["settings"], app.extensions["db_sessionmaker"], session_provider=request_session))
    return store


def wecom_api(app: Flask) -> WeComApi:
    api = app.extensions.get("wecom_api")
    if api is None:
        api = app.extensions.setdefault("wecom_api", WeComApi(app.extensions["settings"].wecom, token_store(app)))
    return api


def dingtalk_api(app: Flask) -> DingTalkApi:
    api = app.extensions.get("dingtalk_api")
    if api is None:
        api = app.extensions.setdefault(
            "dingtalk_api", DingTalkApi(app.extensions["settings"].dingtalk, tokens=token_store(app)))
    return api


def chat_adapters(app: Flask) -> dict[str, ChatAdapter]:
    """The delivery adapters this deployment has switched on. Their tokens are shared through Redis
    when configured, else through the session a delivery binds (never a second SQLite connection
    while the delivery's transaction holds the write lock), else kept in this process."""
    adapters = app.extensions.get("chat_adapters")
    if adapters is None:
        settings = app.extensions["settings"]
        adapters = app.extensions.setdefault("chat_adapters",
                                             adapters_for(settings, tokens=TokenStore.from_settings(settings)))
    return adapters


def dingtalk_stream_worker(app: Flask, **options) -> StreamWorker:
    """The DingTalk Stream worker, handing robot messages and organisation events to the same flow
    as the HTTP callbacks (``services.messaging.inbound``), each in a transaction of its own."""
    settings = app.extensions["settings"]
    handle = direct_handler(DingTalkInbound(robot_code=settings.dingtalk.robot_code),
                            app.extensions["db_sessionmaker"], InboundContext.from_settings(settings))
    return StreamWorker(
        settings.dingtalk,
        on_robot_message=lambda payload: handle(payload).status,
        on_event=lambda event_type, data: handle({"event": {**data, "EventType": event_type}}).status,
        **options,
    )


def import_dir(app: Flask) -> Path:
    """Where uploaded spreadsheets wait for the jobs process (``IMPORT_ROOT``, else the uploads
    folder's ``imports``): the web writes there, the jobs process reads, discards and sweeps it,
    so both must see the same folder."""
    configured = app.config.get("IMPORT_ROOT")
    if configured:
        return Path(configured)
    uploads = app.config.get("UPLOAD_ROOT")
    return (Path(uploads) if uploads else Path(app.instance_path) / "uploads") / "imports"


def bulletin_dir(app: Flask) -> Path:
    """Where the jobs process keeps the 统计通报 it built (xlsx and chart), served to the district roles
    (``BULLETIN_ROOT`` in the app config, else the instance folder's ``bulletins``)."""
    configured = app.config.get("BULLETIN_ROOT")
    return Path(configured) if configured else Path(app.instance_path) / "bulletins"
