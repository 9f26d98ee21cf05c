"""The app's shared platform clients, made once per app over one token store.

This is application glue (beside ``application.py`` and ``cli.py``): handlers, jobs and commands
ask for the app's WeCom or DingTalk facade here; the facades themselves (``integrations``) are
handed the token store and never reach for it. ``storage`` says where attachments and uploaded
spreadsheets live (a directory or S3).
"""

from __future__ import annotations

from flask import Flask, g, has_app_context
from sqlalchemy.orm import Session

from integrations.base import ChatAdapter
from integrations.dingtalk import DingTalkApi
from integrations.dingtalk_inbound import DingTalkInbound
from integrations.dingtalk_stream import StreamWorker
from integrations.registry import adapters_for
from integrations.storage import LocalStorage, S3Storage, Storage
from integrations.wecom import WeComApi
from integrations.wecom_aibot import WS_CHANNEL, WeComAibotInbound
from integrations.wecom_aibot_ws import AibotSocketAdapter, AibotSocketWorker
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


def wecom_aibot_ws_worker(app: Flask, **options) -> AibotSocketWorker:
    """The intelligent robot's long-connection worker: each message goes through the same flow as
    the HTTP callback's stored bodies (``services.messaging.inbound``) in a transaction of its own;
    then the worker delivers the answers waiting in the outbox on its channel (``wecom_ws``) over
    its own connection, with the shared rate limiter and the usual retries."""
    from datetime import timedelta

    from models import utcnow
    from services.messaging.delivery import deliver_due
    from services.ratelimit import make_limiter

    settings = app.extensions["settings"]
    factory = app.extensions["db_sessionmaker"]
    handle = direct_handler(WeComAibotInbound(), factory, InboundContext.from_settings(settings))
    limiter = make_limiter(settings, factory)

    def deliver(worker: AibotSocketWorker) -> None:
        deliver_due(factory, {WS_CHANNEL: AibotSocketAdapter(worker, settings.base_url)}, limiter,
                    worker_id="wecom-aibot-ws", now_fn=utcnow, batch_size=settings.outbox_batch_size,
                    max_attempts=settings.outbox_max_attempts,
                    lease=timedelta(seconds=settings.outbox_claim_lease_seconds))

    wecom = settings.wecom
    return AibotSocketWorker(wecom.aibot_ws_url, wecom.aibot_bot_id, wecom.aibot_secret,
                             on_message=lambda payload: handle(payload).status, after_message=deliver, **options)


def storage(app: Flask) -> Storage:
    """Where attachments, import uploads and exports live (``STORAGE_BACKEND``): web processes
    write, the jobs process reads, discards and sweeps, so all must see the same storage. Tests
    point ``UPLOAD_ROOT`` at a temporary folder."""
    uploads = app.config.get("UPLOAD_ROOT")
    if uploads:
        return LocalStorage(uploads)
    settings = app.extensions["settings"]
    if settings.storage_backend == "s3":
        existing = app.extensions.get("storage")
        if existing is None:
            existing = app.extensions.setdefault("storage", S3Storage.from_settings(
                bucket=settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                access_key=settings.s3_access_key, secret_key=settings.s3_secret_key, prefix=settings.s3_prefix))
        return existing
    return LocalStorage(settings.storage_dir)

