"""Which adapters this deployment delivers through: the single place a backend is switched on."""

from __future__ import annotations

from config import Settings
from integrations.base import ChatAdapter
from integrations.sandbox import SandboxAdapter


def adapters_for(settings: Settings) -> dict[str, ChatAdapter]:
    """Channel name (as written in ``OutboundMessage.channel``) → adapter.

    Messages of a channel without an adapter here stay pending (never claimed, never lost)
    until a process that has it runs.
    """
    adapters: dict[str, ChatAdapter] = {}
    if settings.sandbox_enabled:
        adapters["sandbox"] = SandboxAdapter()
    # Real platforms register here, e.g.:
    #   if settings.wecom.enabled: adapters["wecom"] = WeComAdapter(settings.wecom)
    #   if settings.dingtalk.enabled: adapters["dingtalk"] = DingTalkAdapter(settings.dingtalk)
    if settings.wecom.enabled:
        from integrations.wecom import WeComAdapter

        adapters["wecom"] = WeComAdapter(settings)
    if settings.dingtalk.enabled:
        from integrations.dingtalk import DingTalkAdapter

        adapters["dingtalk"] = DingTalkAdapter(settings)
    return adapters
