"""Which adapters this deployment delivers through: the single place a backend is switched on."""

from __future__ import annotations

from config import Settings
from integrations.base import ChatAdapter, TokenStorage
from integrations.sandbox import SandboxAdapter


def adapters_for(settings: Settings, *, tokens: TokenStorage | None = None) -> dict[str, ChatAdapter]:
    """Channel name (as written in ``OutboundMessage.channel``) → adapter.

    ``tokens`` is where the platform adapters keep their access tokens (the app hands its shared
    store in); without it, this process's memory.

    Messages of a channel without an adapter here stay pending (never claimed, never lost)
    until a process that has it runs.
    """
    adapters: dict[str, ChatAdapter] = {}
    if settings.sandbox_enabled:
        adapters["sandbox"] = SandboxAdapter()
    if settings.wecom.enabled:
        from integrations.wecom import WeComAdapter

        adapters["wecom"] = WeComAdapter(settings, tokens=tokens)
    if settings.dingtalk.enabled:
        from integrations.dingtalk import DingTalkAdapter

        adapters["dingtalk"] = DingTalkAdapter(settings, tokens=tokens)
    if settings.sms.backend == "tencent":
        from integrations.sms import TencentSmsAdapter

        adapters["sms"] = TencentSmsAdapter(settings.sms)
    else:
        from integrations.sms import SandboxSmsAdapter

        adapters["sms"] = SandboxSmsAdapter(settings.sms)
    if settings.hotline.callback_url:
        from integrations.hotline import HotlineAdapter

        adapters["hotline"] = HotlineAdapter(settings.hotline)
    return adapters
