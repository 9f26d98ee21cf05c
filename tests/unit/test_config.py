"""Configuration is read once, checked, and refuses to start on bad values."""

from __future__ import annotations

import pytest

from config import ConfigError, load_settings


def settings(tmp_path, **env):
    base = {"INSTANCE_DIR": str(tmp_path)}
    base.update(env)
    return load_settings(base, read_dotenv=False)


def test_development_defaults_generate_a_persistent_secret(tmp_path):
    first = settings(tmp_path)
    assert first.database_url == f"sqlite:///{tmp_path / 'youxubiying.db'}"
    assert len(first.secret_key) == 64
    assert settings(tmp_path).secret_key == first.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.sandbox_enabled is True and first.is_production is False


def test_production_refuses_to_start_without_a_strong_secret(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings(tmp_path, APP_ENV="production")
    with pytest.raises(ConfigError, match="32"):
        settings(tmp_path, APP_ENV="production", SECRET_KEY="short")
    prod = settings(tmp_path, APP_ENV="production", SECRET_KEY="s" * 40)
    assert prod.sandbox_enabled is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"BASE_URL": "ftp://x"}, "BASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"UPLOAD_MAX_MB": "twenty"}, "UPLOAD_MAX_MB"),
        ({"UPLOAD_MAX_MB": "0"}, "UPLOAD_MAX_MB"),
        ({"SANDBOX_ENABLED": "maybe"}, "SANDBOX_ENABLED"),
        ({"DINGTALK_MODE": "socket"}, "DINGTALK_MODE"),
        ({"INBOUND_RETENTION_DAYS": "ninety"}, "INBOUND_RETENTION_DAYS"),
        ({"INBOUND_RETENTION_DAYS": "6"}, "INBOUND_RETENTION_DAYS 不能小于 7"),
        ({"DINGTALK_EVENT_AES_KEY": "too-short"}, "DINGTALK_EVENT_AES_KEY 必须是 43 位"),
        ({"DINGTALK_EVENT_AES_KEY": "!" * 43}, "DINGTALK_EVENT_AES_KEY"),
        ({"WECOM_AES_KEY": "x" * 44}, "WECOM_AES_KEY 必须是 43 位"),
        ({"SESSION_IDLE_MINUTES": "2h"}, "SESSION_IDLE_MINUTES 必须是数字"),
        ({"SESSION_IDLE_MINUTES": "4"}, "SESSION_IDLE_MINUTES 不能小于 5"),
        ({"SESSION_IDLE_MINUTES": "721"}, "SESSION_IDLE_MINUTES 不能大于 720"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT 不能小于 0"),
        ({"SMS_BACKEND": "aliyun"}, "SMS_BACKEND"),
        ({"SMS_BACKEND": "tencent", "SMS_SECRET_ID": "id"}, "SMS_SECRET_KEY、SMS_SDK_APP_ID、SMS_SIGN_NAME"),
        ({"SMS_TEMPLATE_ACCEPTED": "SMS_0001"}, "SMS_TEMPLATE_ACCEPTED 必须是"),
        ({"SMS_QUIET_HOURS": "21-8"}, "SMS_QUIET_HOURS"),
        ({"SMS_QUIET_HOURS": "25:00-08:00"}, "SMS_QUIET_HOURS"),
        ({"SMS_DAILY_CAP": "0"}, "SMS_DAILY_CAP 不能小于 1"),
        ({"SMS_ENDPOINT": "ftp://x"}, "SMS_ENDPOINT"),
        ({"SMS_CALLBACK_TOKEN": "short"}, "SMS_CALLBACK_TOKEN 至少 16"),
        ({"HOTLINE_SECRET": "short"}, "HOTLINE_SECRET 至少 32"),
        ({"HOTLINE_CALLBACK_URL": "https://12345.example/cb"}, "HOTLINE_SECRET"),
        ({"HOTLINE_CALLBACK_URL": "ftp://x", "HOTLINE_SECRET": "s" * 32}, "HOTLINE_CALLBACK_URL"),
        ({"HOTLINE_MAX_BODY_KB": "0"}, "HOTLINE_MAX_BODY_KB 不能小于 1"),
    ],
)
def test_invalid_values_name_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, **env)


def test_postgres_urls_use_psycopg3(tmp_path):
    s = settings(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test")
    assert s.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_platforms_enable_themselves_when_configured(tmp_path):
    s = settings(tmp_path, WECOM_CORP_ID="ww1", WECOM_SECRET="sec", DINGTALK_APP_KEY="k", DINGTALK_APP_SECRET="s")
    assert s.wecom.enabled and s.dingtalk.enabled
    assert not settings(tmp_path).wecom.enabled


def test_inbound_retention_defaults_to_ninety_days(tmp_path):
    assert settings(tmp_path).inbound_retention_days == 90
    assert settings(tmp_path, INBOUND_RETENTION_DAYS="7").inbound_retention_days == 7
    assert settings(tmp_path, INBOUND_RETENTION_DAYS="").inbound_retention_days == 90


def test_dingtalk_event_callback_needs_token_key_and_http_mode(tmp_path):
    key = "a" * 43
    base = {"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s", "DINGTALK_EVENT_TOKEN": "t", "DINGTALK_EVENT_AES_KEY": key}
    assert settings(tmp_path, **base).dingtalk.events_enabled
    assert not settings(tmp_path, **base, DINGTALK_MODE="stream").dingtalk.events_enabled
    assert not settings(tmp_path, **{**base, "DINGTALK_EVENT_TOKEN": ""}).dingtalk.events_enabled


def test_run_jobs_in_web_is_for_the_development_server_only(tmp_path):
    assert settings(tmp_path).run_jobs_in_web is True
    assert settings(tmp_path, RUN_JOBS_IN_WEB="false").run_jobs_in_web is False
    prod = {"APP_ENV": "production", "SECRET_KEY": "s" * 40}
    assert settings(tmp_path, **prod).run_jobs_in_web is False
    with pytest.raises(ConfigError, match="RUN_JOBS_IN_WEB 只能在开发环境开启"):
        settings(tmp_path, RUN_JOBS_IN_WEB="true", **prod)


def test_base_url_remembers_whether_it_was_set(tmp_path):
    assert settings(tmp_path).base_url_configured is False
    configured = settings(tmp_path, BASE_URL="https://qy.tjbc.gov.cn/")
    assert configured.base_url == "https://qy.tjbc.gov.cn" and configured.base_url_configured is True


def test_relative_instance_dir_is_read_from_the_project_root(tmp_path, monkeypatch):
    from config import PROJECT_ROOT

    monkeypatch.chdir(tmp_path)
    relative = load_settings({"INSTANCE_DIR": "instance", "SECRET_KEY": "k" * 40,
                              "DATABASE_URL": "sqlite:///:memory:"}, read_dotenv=False)
    assert relative.instance_dir == PROJECT_ROOT / "instance"


def test_sessions_idle_out_after_two_hours_unless_configured(tmp_path):
    assert settings(tmp_path).session_idle_minutes == 120
    assert settings(tmp_path, SESSION_IDLE_MINUTES="30").session_idle_minutes == 30
    assert settings(tmp_path).trusted_proxies == 0
    assert settings(tmp_path, TRUSTED_PROXIES="1").trusted_proxies == 1
    # The former name still works; the new one wins when both are set.
    assert settings(tmp_path, TRUSTED_PROXY_COUNT="2").trusted_proxies == 2
    assert settings(tmp_path, TRUSTED_PROXY_COUNT="2", TRUSTED_PROXIES="1").trusted_proxies == 1


def test_sms_and_hotline_defaults_and_a_complete_tencent_configuration(tmp_path):
    default = settings(tmp_path)
    assert (default.sms.backend, default.sms.quiet_hours, default.hotline.enabled) == ("sandbox", "21:00-08:00", False)
    tencent = settings(tmp_path, SMS_BACKEND="tencent", SMS_SECRET_ID="id", SMS_SECRET_KEY="key", SMS_SDK_APP_ID="1400",
                       SMS_SIGN_NAME="北辰有需必应", SMS_TEMPLATE_ACCEPTED="1", SMS_TEMPLATE_RESULT="2",
                       SMS_TEMPLATE_SURVEY="3", SMS_TEMPLATE_POLICY="4", SMS_QUIET_HOURS="")
    assert tencent.sms.template_id("survey") == "3" and tencent.sms.quiet_hours == ""
