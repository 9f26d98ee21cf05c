"""Settings: the only module that reads ``os.environ``.

Every value is parsed and checked once at start-up; a bad value stops the process with a
message naming the variable, so a misconfigured deployment never half-starts.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlparse

PROJECT_ROOT = Path(__file__).resolve().parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
# Processed platform callbacks are kept at least this long, so a week-old complaint can be traced.
INBOUND_RETENTION_MIN_DAYS = 7


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a valid configuration."""


@dataclass(frozen=True)
class WeComSettings:
    corp_id: str = ""
    agent_id: str = ""
    secret: str = ""
    token: str = ""
    aes_key: str = ""
    api_base: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    # The intelligent robot (智能机器人, API mode) in department groups: its own callback keys.
    aibot_token: str = ""
    aibot_aes_key: str = ""
    # Long-connection mode (no public address): the robot's BotID and Secret, and the WebSocket URL.
    aibot_bot_id: str = ""
    aibot_secret: str = ""
    aibot_ws_url: str = "wss://openws.work.weixin.qq.com"
    # The JS-SDK the H5 pages load inside the WeCom client (location; wx.config + wx.agentConfig).
    jssdk_url: str = "https://res.wx.qq.com/open/js/jweixin-1.2.0.js"

    @property
    def enabled(self) -> bool:
        return bool(self.corp_id and self.secret)

    @property
    def aibot_enabled(self) -> bool:
        """The robot's HTTP callback (``/wecom/aibot``)."""
        return bool(self.enabled and self.aibot_token and self.aibot_aes_key)

    @property
    def aibot_ws_enabled(self) -> bool:
        """The robot over the long connection (``flask wecom-aibot-ws``)."""
        return bool(self.enabled and self.aibot_bot_id and self.aibot_secret)


@dataclass(frozen=True)
class DingTalkSettings:
    app_key: str = ""
    app_secret: str = ""
    agent_id: str = ""
    robot_code: str = ""
    api_base: str = "https://oapi.dingtalk.com/"
    openapi_base: str = "https://api.dingtalk.com/"
    mode: str = "http"
    # H5 micro-app 免登: the corp id for requestAuthCode and where the JSAPI script is loaded from
    # (an intranet mirror may replace Alibaba's CDN).
    corp_id: str = ""
    jsapi_url: str = "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js"
    # HTTP event subscription (事件与回调): the signing token and the 43-character aes key.
    event_token: str = ""
    event_aes_key: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.app_key and self.app_secret)

    @property
    def events_enabled(self) -> bool:
        return self.enabled and self.mode == "http" and bool(self.event_token and self.event_aes_key)


SMS_MESSAGES = ("accepted", "result", "survey", "policy")


@dataclass(frozen=True)
class SmsSettings:
    """Texts to enterprises. ``sandbox`` (default) keeps them in the sandbox transcript; ``tencent``
    sends through Tencent Cloud SMS with the registered signature and one template per message."""

    backend: str = "sandbox"  # sandbox | tencent
    secret_id: str = ""
    secret_key: str = ""
    sdk_app_id: str = ""
    sign_name: str = ""
    region: str = "ap-guangzhou"
    # Scheme and host of the SMS API (tests point it at a local emulator).
    endpoint: str = "https://sms.tencentcloudapi.com"
    # Registered template ids, per message: accepted / result / survey / policy.
    templates: tuple[tuple[str, str], ...] = ()
    # No texts in these Beijing hours (acceptance right after a call excepted); "" for none.
    quiet_hours: str = "21:00-08:00"
    daily_cap: int = 5  # texts per mobile number per day
    hourly_cap: int = 3  # … and per hour
    # Secret path segment of the reply callback (回复回调: 回复TD退订), "" disables it.
    callback_token: str = ""

    def template_id(self, message: str) -> str:
        return dict(self.templates).get(message, "")


@dataclass(frozen=True)
class HotlineSettings:
    """The 12345 / 86912345 interchange: one shared secret signs both directions."""

    secret: str = ""
    callback_url: str = ""
    max_body_bytes: int = 64 * 1024

    @property
    def enabled(self) -> bool:
        return bool(self.secret)


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5000"
    # Whether BASE_URL was set: if not, the development server puts the address it serves in its place.
    base_url_configured: bool = False
    redis_url: str = ""
    sandbox_enabled: bool = True
    # Scheduler thread inside the development server's process; never in a production web process.
    run_jobs_in_web: bool = True
    # Data files: the SQLite database, attachments and imports (``uploads/``), the development secret.
    instance_dir: Path = INSTANCE_DIR
    upload_max_bytes: int = 20 * 1024 * 1024
    # Spreadsheet imports (enterprise registry, rosters): the largest file accepted.
    import_max_bytes: int = 50 * 1024 * 1024
    # How long a claimed import job belongs to its jobs process without a renewal (renewed every
    # sixth of it); a job whose process died is taken over by another after this.
    import_lease_seconds: int = 30
    survey_delay_hours: float = 24.0
    survey_reminder_hours: float = 24.0
    outbox_batch_size: int = 50
    outbox_max_attempts: int = 8
    # How long a claimed outbox row belongs to its worker before another may take it over.
    outbox_claim_lease_seconds: int = 300
    # Processed platform callbacks are deleted after this many days, failed ones after three times as long.
    inbound_retention_days: int = 90
    # PostgreSQL (psycopg): run a query as a server-side prepared statement from its Nth execution on a
    # connection; None never prepares (each execution is planned for its own values — pooled workers
    # otherwise drift to generic plans that are 1.6–2× slower for the statistics and the order list).
    db_prepare_threshold: int | None = None
    # Scheduled 统计通报 to the district leaders and the 营商环境办: monthly and/or weekly, or none.
    statistics_bulletin: tuple[str, ...] = ("monthly",)
    # A signed-in browser (console or H5) that sends no request for this long must sign in again.
    session_idle_minutes: int = 120
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto / -Host are trusted (Nginx: 1).
    # Every per-client limit (sign-in, public pages, survey) counts the client address: behind a
    # proxy it must see the real one.
    trusted_proxies: int = 0
    log_level: str = "INFO"
    # ``json``: one JSON object per log line, with the request id; ``text``: the plain format.
    log_format: str = "text"
    sentry_dsn: str = ""
    # prometheus_client's multiprocess folder (gunicorn): every worker writes its metrics there.
    prometheus_multiproc_dir: Path | None = None
    # The jobs process beats every ``HEARTBEAT_SECONDS``; /readyz answers 503 once the newest beat
    # is older than this.
    jobs_heartbeat_max_age_seconds: int = 120
    # Files (attachments, import uploads, exports): ``local`` under ``storage_dir`` or ``s3``.
    storage_backend: str = "local"
    storage_dir: Path = INSTANCE_DIR / "uploads"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_prefix: str = ""
    # Sent outbox rows and sandbox messages are deleted after this many days (events and audit stay).
    outbox_retention_days: int = 180
    # SQLAlchemy connection pool (PostgreSQL): per process.
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout: int = 30
    db_pool_recycle: int = 1800
    db_statement_timeout_ms: int = 0
    testing: bool = False
    wecom: WeComSettings = field(default_factory=WeComSettings)
    dingtalk: DingTalkSettings = field(default_factory=DingTalkSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    hotline: HotlineSettings = field(default_factory=HotlineSettings)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def setting_defaults(self) -> dict[str, float]:
        """Defaults of the run-time system settings (``services.admin.settings``): a value an
        administrator saved on the settings page wins over these."""
        return {"survey_delay_hours": self.survey_delay_hours, "survey_reminder_hours": self.survey_reminder_hours}

    def with_overrides(self, overrides: Mapping[str, object] | None) -> Settings:
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"未知的配置项: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} 必须是 true/false，当前为 {raw!r}")


def _number(env: Mapping[str, str], name: str, default, kind=int, minimum=0):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} 必须是数字，当前为 {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} 不能小于 {minimum}，当前为 {raw!r}")
    return value


def _bulletin_cadences(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = (env.get("STATISTICS_BULLETIN") or "monthly").strip().lower()
    if raw in ("off", "none"):
        return ()
    values = tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
    unknown = [v for v in values if v not in ("monthly", "weekly")]
    if unknown or not values:
        raise ConfigError(f"STATISTICS_BULLETIN 可为 monthly、weekly、monthly,weekly 或 off，当前为 {raw!r}")
    return values


def _prepare_threshold(env: Mapping[str, str]) -> int | None:
    raw = (env.get("DB_PREPARE_THRESHOLD") or "").strip().lower()
    if raw in ("", "none", "off"):
        return None
    return _number(env, "DB_PREPARE_THRESHOLD", None, minimum=0)


def _session_idle_minutes(env: Mapping[str, str]) -> int:
    value = _number(env, "SESSION_IDLE_MINUTES", 120, minimum=5)
    if value > 12 * 60:  # the absolute lifetime of a session (services.admin.sessions)
        raise ConfigError(f"SESSION_IDLE_MINUTES 不能大于 720（登录最长有效 12 小时），当前为 {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} 只能是 {'/'.join(allowed)} 之一，当前为 {value!r}")
    return value


def _existing_dir(env: Mapping[str, str], name: str) -> Path | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{name} 必须是已存在的目录，当前为 {raw!r}")
    return path


def _trusted_proxies(env: Mapping[str, str]) -> int:
    """``TRUSTED_PROXIES`` (hops); ``TRUSTED_PROXY_COUNT`` is its deprecated former name."""
    if (env.get("TRUSTED_PROXIES") or "").strip():
        return _number(env, "TRUSTED_PROXIES", 0)
    return _number(env, "TRUSTED_PROXY_COUNT", 0)


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = (env.get(name) or default).strip()
    if not raw:
        return ""
    parsed = urlparse(raw)
    if parsed.scheme.split("+")[0] not in schemes:
        raise ConfigError(f"{name} 的协议必须是 {'/'.join(schemes)} 之一，当前为 {raw!r}")
    return raw


def _aes_key(env: Mapping[str, str], name: str, where: str) -> str:
    """A callback EncodingAESKey: 43 characters of base64 (32 bytes), or empty."""
    value = (env.get(name) or "").strip()
    if not value:
        return ""
    try:
        valid = len(value) == 43 and len(base64.b64decode(value + "=", validate=True)) == 32
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(f"{name} 必须是 43 位的 EncodingAESKey（{where}）")
    return value


def _quiet_hours(env: Mapping[str, str]) -> str:
    raw = (env.get("SMS_QUIET_HOURS") if env.get("SMS_QUIET_HOURS") is not None else "21:00-08:00").strip()
    if not raw:
        return ""
    parts = raw.split("-")
    ok = len(parts) == 2
    for part in parts if ok else ():
        hour, _, minute = part.strip().partition(":")
        ok = ok and hour.isdigit() and minute.isdigit() and 0 <= int(hour) < 24 and 0 <= int(minute) < 60
    if not ok:
        raise ConfigError(f"SMS_QUIET_HOURS 应为“21:00-08:00”的形式（北京时间，留空表示不设免打扰），当前为 {raw!r}")
    return raw


def _sms(env: Mapping[str, str]) -> SmsSettings:
    backend = (env.get("SMS_BACKEND") or "sandbox").strip()
    if backend not in {"sandbox", "tencent"}:
        raise ConfigError(f"SMS_BACKEND 只能是 sandbox 或 tencent，当前为 {backend!r}")
    templates = []
    for message in SMS_MESSAGES:
        name = f"SMS_TEMPLATE_{message.upper()}"
        value = (env.get(name) or "").strip()
        if value and not value.isdigit():
            raise ConfigError(f"{name} 必须是短信控制台审核通过的模板 ID（数字），当前为 {value!r}")
        templates.append((message, value))
    settings = SmsSettings(
        backend=backend,
        secret_id=(env.get("SMS_SECRET_ID") or "").strip(),
        secret_key=(env.get("SMS_SECRET_KEY") or "").strip(),
        sdk_app_id=(env.get("SMS_SDK_APP_ID") or "").strip(),
        sign_name=(env.get("SMS_SIGN_NAME") or "").strip(),
        region=(env.get("SMS_REGION") or "ap-guangzhou").strip(),
        endpoint=_url(env, "SMS_ENDPOINT", SmsSettings.endpoint, ("http", "https")).rstrip("/"),
        templates=tuple(templates),
        quiet_hours=_quiet_hours(env),
        daily_cap=_number(env, "SMS_DAILY_CAP", 5, minimum=1),
        hourly_cap=_number(env, "SMS_HOURLY_CAP", 3, minimum=1),
        callback_token=(env.get("SMS_CALLBACK_TOKEN") or "").strip(),
    )
    if backend == "tencent":
        missing = [name for name, value in (
            ("SMS_SECRET_ID", settings.secret_id), ("SMS_SECRET_KEY", settings.secret_key),
            ("SMS_SDK_APP_ID", settings.sdk_app_id), ("SMS_SIGN_NAME", settings.sign_name),
            *((f"SMS_TEMPLATE_{m.upper()}", settings.template_id(m)) for m in SMS_MESSAGES)) if not value]
        if missing:
            raise ConfigError(f"SMS_BACKEND=tencent 还须设置：{'、'.join(missing)}")
    if settings.callback_token and len(settings.callback_token) < 16:
        raise ConfigError("SMS_CALLBACK_TOKEN 至少 16 个字符（它是回复回调地址中的密钥）")
    return settings


def _hotline(env: Mapping[str, str]) -> HotlineSettings:
    secret = (env.get("HOTLINE_SECRET") or "").strip()
    if secret and len(secret) < 32:
        raise ConfigError("HOTLINE_SECRET 至少 32 个字符（与 12345 平台约定的签名密钥）")
    callback = _url(env, "HOTLINE_CALLBACK_URL", "", ("http", "https"))
    if callback and not secret:
        raise ConfigError("设置了 HOTLINE_CALLBACK_URL 时必须同时设置 HOTLINE_SECRET（回传需要签名）")
    return HotlineSettings(secret=secret, callback_url=callback,
                           max_body_bytes=_number(env, "HOTLINE_MAX_BODY_KB", 64, minimum=1) * 1024)


def _secret_key(env: Mapping[str, str], app_env: str, instance_dir: Path) -> str:
    key = (env.get("SECRET_KEY") or "").strip()
    if key:
        if app_env == "production" and len(key) < 32:
            raise ConfigError("生产环境的 SECRET_KEY 至少 32 个字符")
        return key
    if app_env == "production":
        raise ConfigError("生产环境必须设置 SECRET_KEY（至少 32 个字符）")
    # Development: one generated key kept in instance/ so sessions survive restarts.
    key_file = instance_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_settings(env: Mapping[str, str] | None = None, *, read_dotenv: bool = True) -> Settings:
    """Build the settings from the environment (and ``.env`` when present)."""
    if env is None:
        if read_dotenv:
            from dotenv import load_dotenv

            load_dotenv(PROJECT_ROOT / ".env", override=False)
        env = os.environ

    app_env = (env.get("APP_ENV") or "development").strip()
    if app_env not in {"development", "production"}:
        raise ConfigError(f"APP_ENV 只能是 development 或 production，当前为 {app_env!r}")
    # A relative INSTANCE_DIR is read from the project root, like the default, wherever the command runs.
    instance_dir = PROJECT_ROOT / Path(env.get("INSTANCE_DIR") or INSTANCE_DIR).expanduser()

    default_db = f"sqlite:///{instance_dir / 'youxubiying.db'}"
    database_url = _url(env, "DATABASE_URL", default_db, ("sqlite", "postgresql", "postgres"))
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        Path(database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)

    dingtalk_mode = (env.get("DINGTALK_MODE") or "http").strip()
    if dingtalk_mode not in {"http", "stream"}:
        raise ConfigError(f"DINGTALK_MODE 只能是 http 或 stream，当前为 {dingtalk_mode!r}")

    storage_backend = _choice(env, "STORAGE_BACKEND", "local", ("local", "s3"))
    s3_bucket = (env.get("S3_BUCKET") or "").strip()
    if storage_backend == "s3" and not s3_bucket:
        raise ConfigError("STORAGE_BACKEND=s3 时必须设置 S3_BUCKET")

    is_dev = app_env == "development"
    run_jobs_in_web = _bool(env, "RUN_JOBS_IN_WEB", is_dev)
    if run_jobs_in_web and not is_dev:
        raise ConfigError("RUN_JOBS_IN_WEB 只能在开发环境开启；生产环境的定时任务由独立的 `flask --app wsgi jobs run` 进程运行")
    return Settings(
        app_env=app_env,
        database_url=database_url,
        secret_key=_secret_key(env, app_env, instance_dir),
        base_url=_url(env, "BASE_URL", "http://127.0.0.1:5000", ("http", "https")).rstrip("/"),
        base_url_configured=bool((env.get("BASE_URL") or "").strip()),
        redis_url=_url(env, "REDIS_URL", "", ("redis", "rediss", "unix")),
        sandbox_enabled=_bool(env, "SANDBOX_ENABLED", is_dev),
        run_jobs_in_web=run_jobs_in_web,
        instance_dir=instance_dir,
        upload_max_bytes=_number(env, "UPLOAD_MAX_MB", 20, minimum=1) * 1024 * 1024,
        import_max_bytes=_number(env, "IMPORT_MAX_MB", 50, minimum=1) * 1024 * 1024,
        import_lease_seconds=_number(env, "IMPORT_LEASE_SECONDS", 30, minimum=3),
        survey_delay_hours=_number(env, "SURVEY_DELAY_HOURS", 24.0, float),
        survey_reminder_hours=_number(env, "SURVEY_REMINDER_HOURS", 24.0, float),
        outbox_batch_size=_number(env, "OUTBOX_BATCH_SIZE", 50, minimum=1),
        outbox_max_attempts=_number(env, "OUTBOX_MAX_ATTEMPTS", 8, minimum=1),
        outbox_claim_lease_seconds=_number(env, "OUTBOX_CLAIM_LEASE_SECONDS", 300, minimum=1),
        inbound_retention_days=_number(env, "INBOUND_RETENTION_DAYS", 90, minimum=INBOUND_RETENTION_MIN_DAYS),
        db_prepare_threshold=_prepare_threshold(env),
        statistics_bulletin=_bulletin_cadences(env),
        session_idle_minutes=_session_idle_minutes(env),
        trusted_proxies=_trusted_proxies(env),
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        log_format=_choice(env, "LOG_FORMAT", "text", ("text", "json")),
        sentry_dsn=_url(env, "SENTRY_DSN", "", ("http", "https")),
        prometheus_multiproc_dir=_existing_dir(env, "PROMETHEUS_MULTIPROC_DIR"),
        jobs_heartbeat_max_age_seconds=_number(env, "JOBS_HEARTBEAT_MAX_AGE_SECONDS", 120, minimum=1),
        storage_backend=storage_backend,
        storage_dir=PROJECT_ROOT / Path(env.get("STORAGE_DIR") or instance_dir / "uploads").expanduser(),
        s3_bucket=s3_bucket,
        s3_endpoint_url=_url(env, "S3_ENDPOINT_URL", "", ("http", "https")),
        s3_region=(env.get("S3_REGION") or "").strip(),
        s3_access_key=(env.get("S3_ACCESS_KEY") or "").strip(),
        s3_secret_key=(env.get("S3_SECRET_KEY") or "").strip(),
        s3_prefix=(env.get("S3_PREFIX") or "").strip().strip("/"),
        outbox_retention_days=_number(env, "OUTBOX_RETENTION_DAYS", 180, minimum=1),
        db_pool_size=_number(env, "DB_POOL_SIZE", 10, minimum=1),
        db_max_overflow=_number(env, "DB_MAX_OVERFLOW", 20),
        db_pool_timeout=_number(env, "DB_POOL_TIMEOUT", 30, minimum=1),
        db_pool_recycle=_number(env, "DB_POOL_RECYCLE", 1800, minimum=1),
        db_statement_timeout_ms=_number(env, "DB_STATEMENT_TIMEOUT_MS", 0),
        wecom=WeComSettings(
            corp_id=env.get("WECOM_CORP_ID", ""),
            agent_id=env.get("WECOM_AGENT_ID", ""),
            secret=env.get("WECOM_SECRET", ""),
            token=env.get("WECOM_TOKEN", ""),
            aes_key=_aes_key(env, "WECOM_AES_KEY", "在企业微信管理后台应用的“接收消息”设置中生成"),
            api_base=_url(env, "WECOM_API_BASE", WeComSettings.api_base, ("http", "https")),
            jssdk_url=_url(env, "WECOM_JSSDK_URL", WeComSettings.jssdk_url, ("http", "https")),
            aibot_token=env.get("WECOM_AIBOT_TOKEN", ""),
            aibot_bot_id=env.get("WECOM_AIBOT_BOT_ID", ""),
            aibot_secret=env.get("WECOM_AIBOT_SECRET", ""),
            aibot_ws_url=_url(env, "WECOM_AIBOT_WS_URL", WeComSettings.aibot_ws_url, ("ws", "wss")),
            aibot_aes_key=_aes_key(env, "WECOM_AIBOT_AES_KEY", "在企业微信管理后台智能机器人的“API 模式”设置中生成"),
        ),
        dingtalk=DingTalkSettings(
            app_key=env.get("DINGTALK_APP_KEY", ""),
            app_secret=env.get("DINGTALK_APP_SECRET", ""),
            agent_id=env.get("DINGTALK_AGENT_ID", ""),
            robot_code=env.get("DINGTALK_ROBOT_CODE", ""),
            api_base=_url(env, "DINGTALK_API_BASE", DingTalkSettings.api_base, ("http", "https")),
            openapi_base=_url(env, "DINGTALK_OPENAPI_BASE", DingTalkSettings.openapi_base, ("http", "https")),
            mode=dingtalk_mode,
            corp_id=env.get("DINGTALK_CORP_ID", ""),
            jsapi_url=_url(env, "DINGTALK_JSAPI_URL", DingTalkSettings.jsapi_url, ("http", "https")),
            event_token=env.get("DINGTALK_EVENT_TOKEN", ""),
            event_aes_key=_aes_key(env, "DINGTALK_EVENT_AES_KEY", "在钉钉开发者后台“事件与回调”中生成"),
        ),
        sms=_sms(env),
        hotline=_hotline(env),
    )
