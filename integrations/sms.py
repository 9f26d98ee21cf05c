"""Texts to enterprises (channel ``sms``): one ``ChatAdapter`` with two backends.

An outbox row of channel ``sms`` has target_type ``phone`` and the mainland mobile number as
``target_ref``; its payload carries the rendered ``text`` (what the sandbox shows and what the
provider's registered template must read), the ``message`` (accepted / result / survey / policy:
which registered template) and the template's ``params`` in order. Both backends:

* refuse a number on the opt-out list (``SmsOptOut``: 回复TD退订 or an administrator's entry) —
  a permanent failure, recorded in the delivery log;
* hold texts during the quiet hours (``SMS_QUIET_HOURS``, Beijing time) — the row waits until the
  hours end, the delivery log says why; an acceptance sent right after a phone call
  (``payload["urgent"]``) is not held;
* count each number against the shared rate limiter (``SMS_HOURLY_CAP`` / ``SMS_DAILY_CAP``):
  a text over the cap waits for the next window, never dropped.

``TencentSmsAdapter`` sends through the real ``tencentcloud-sdk-python-sms`` client (SendSms,
API 2021-01-11) to ``SMS_ENDPOINT``; tests point that at a local emulator of the API.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import SmsSettings
from integrations.base import (
    BEIJING,
    ChannelPaused,
    ChatAdapter,
    DeliveryResult,
    OutboundView,
    PermanentError,
    RateLimited,
    RateRule,
    TransientError,
)
from models import SandboxMessage, SmsOptOut

log = logging.getLogger(__name__)

MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def normalise_mobile(raw: str) -> str:
    """A mainland mobile number as 11 digits, or "" when ``raw`` is not one (+86 / 0086 / spaces allowed)."""
    text = re.sub(r"[\s\-()（）]", "", str(raw or ""))
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and len(text) == len(prefix) + 11:
            text = text[len(prefix):]
            break
    return text if MOBILE.fullmatch(text) and text.isascii() else ""


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    if not text:
        return None
    start, end = (part.strip() for part in text.split("-"))
    return (time(*map(int, start.split(":"))), time(*map(int, end.split(":"))))


def quiet_until(quiet_hours: str, now: datetime) -> datetime | None:
    """When the quiet hours holding ``now`` end (UTC), or None outside them."""
    window = parse_quiet_hours(quiet_hours)
    if window is None:
        return None
    start, end = window
    local = now.astimezone(BEIJING)
    clock = local.time()
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=BEIJING).astimezone(now.tzinfo)


class SmsAdapter(ChatAdapter):
    """What both SMS backends share: opt-outs, quiet hours and the per-number caps."""

    name = "sms"

    def __init__(self, settings: SmsSettings):
        self.settings = settings

    def rate_rules(self, message: OutboundView) -> tuple[RateRule, ...]:
        phone = message.target_ref
        return (RateRule(f"sms:{phone}:hour", self.settings.hourly_cap, 3600),
                RateRule(f"sms:{phone}:day", self.settings.daily_cap, 86400))

    def deliver(self, message: OutboundView, session: Session, *, now: datetime) -> DeliveryResult:
        if message.target_type != "phone":
            raise PermanentError(f"短信不支持的接收方类型：{message.target_type}")
        phone = normalise_mobile(message.target_ref)
        if not phone:
            raise PermanentError(f"不是有效的手机号码：{message.target_ref}")
        opted_out = session.scalar(select(SmsOptOut).where(SmsOptOut.phone == phone))
        if opted_out is not None:
            raise PermanentError(f"该号码已退订短信（{'回复TD' if opted_out.method == 'reply' else '管理员登记'}），未发送")
        until = None if message.payload.get("urgent") else quiet_until(self.settings.quiet_hours, now)
        if until is not None:
            raise ChannelPaused(until, "sms:quiet",
                                f"短信免打扰时段（{self.settings.quiet_hours}），顺延至 {until.astimezone(BEIJING):%m-%d %H:%M}")
        text = str(message.payload.get("text") or "").strip()
        if not text:
            raise PermanentError("短信内容为空")
        return self.send(message, session, phone, text, now)

    def send(self, message: OutboundView, session: Session, phone: str, text: str, now: datetime) -> DeliveryResult:
        raise NotImplementedError


class SandboxSmsAdapter(SmsAdapter):
    """Texts shown in the sandbox transcript as conversation ``sms:<mobile>`` (nothing leaves)."""

    def send(self, message: OutboundView, session: Session, phone: str, text: str, now: datetime) -> DeliveryResult:
        already = session.scalar(select(SandboxMessage.id).where(SandboxMessage.outbound_id == message.id).limit(1))
        if already is not None:
            return DeliveryResult(detail="已在沙箱中显示（重复投递已忽略）")
        session.add(SandboxMessage(conversation=f"sms:{phone}", direction="out", text=text, outbound_id=message.id,
                                   created_at=now))
        session.flush()
        return DeliveryResult(detail="沙箱短信")


# Tencent Cloud SMS answers (SendStatusSet[].Code or the error of the call) and what they mean here.
_PER_NUMBER_LIMITS = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 60,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600,
    "LimitExceeded.PhoneNumberDailyLimit": 6 * 3600,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": 6 * 3600,
    "LimitExceeded.DeliveryFrequencyLimit": 600,
}
_APP_LIMITS = {"LimitExceeded.AppDailyLimit", "LimitExceeded.DailyLimit", "LimitExceeded.AppMainlandChinaDailyLimit",
               "LimitExceeded.GlobalSmsSendingRateLimit", "RequestLimitExceeded"}
_TRANSIENT_PREFIXES = ("InternalError", "ClientNetworkError", "ServerNetworkError", "ResourceUnavailable")


class TencentSmsAdapter(SmsAdapter):
    """Tencent Cloud SMS through the official SDK (``tencentcloud.sms.v20210111.SmsClient.SendSms``)."""

    def __init__(self, settings: SmsSettings, *, timeout: int = 10):
        super().__init__(settings)
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        endpoint = urlparse(settings.endpoint)
        http = HttpProfile(protocol=endpoint.scheme or "https", endpoint=endpoint.netloc, reqTimeout=timeout)
        self.client = sms_client.SmsClient(credential.Credential(settings.secret_id, settings.secret_key),
                                           settings.region, ClientProfile(httpProfile=http))

    def send(self, message: OutboundView, session: Session, phone: str, text: str, now: datetime) -> DeliveryResult:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models as sms_models

        kind = str(message.payload.get("message") or "")
        template_id = self.settings.template_id(kind)
        if not template_id:
            raise PermanentError(f"未配置短信模板：SMS_TEMPLATE_{kind.upper() or '?'}")
        request = sms_models.SendSmsRequest()
        request.PhoneNumberSet = [f"+86{phone}"]
        request.SmsSdkAppId = self.settings.sdk_app_id
        request.SignName = self.settings.sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = [str(p) for p in message.payload.get("params") or []]
        request.SessionContext = f"outbox:{message.id}"
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            raise self._outcome(error.get_code() or "", error.get_message() or "", phone, now) from error
        statuses = response.SendStatusSet or []
        if not statuses:
            raise TransientError("短信平台未返回发送状态")
        status = statuses[0]
        if status.Code != "Ok":
            raise self._outcome(status.Code or "", status.Message or "", phone, now)
        return DeliveryResult(platform_message_id=status.SerialNo or "", detail=f"腾讯云短信 {response.RequestId or ''}")

    def _outcome(self, code: str, text: str, phone: str, now: datetime) -> Exception:
        if code in _PER_NUMBER_LIMITS:
            return RateLimited(_PER_NUMBER_LIMITS[code], f"sms:{phone}:hour", f"短信平台按号码限频（{code}）")
        if code in _APP_LIMITS:
            return ChannelPaused(now + timedelta(hours=1), "sms:app", f"短信平台限额（{code}）：{text}")
        if code.startswith(_TRANSIENT_PREFIXES) or not code:
            return TransientError(f"短信平台暂时不可用（{code or '无错误码'}）：{text}")
        return PermanentError(f"短信平台拒绝（{code}）：{text}")
