"""Message bodies for WeCom, built from the desk's neutral payloads (pure functions, no I/O).

WeCom counts lengths in bytes (UTF-8) for text and in characters for card fields, and rejects
or cuts what is too long; everything is clipped here on a character boundary so a long order
text never turns into a failed delivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urljoin

from integrations.base import html_safe, markdown_safe, payload_label, plain_safe

TEXT_MAX_BYTES = 2048  # app message text.content and robot text.content
MARKDOWN_MAX_BYTES = 4096  # markdown.content (robot webhook, the intelligent robot's response_url)
TEXTCARD_TITLE_MAX_BYTES = 128
TEXTCARD_DESCRIPTION_MAX_BYTES = 512
CARD_TITLE_MAX_CHARS = 36
CARD_DESC_MAX_CHARS = 44
CARD_SUBTITLE_MAX_CHARS = 160
CARD_KEYNAME_MAX_CHARS = 5
CARD_VALUE_MAX_CHARS = 30
CARD_BUTTON_MAX_CHARS = 10
CARD_MAX_FIELDS = 6
CARD_MAX_BUTTONS = 6
SOURCE_LABEL = "有需必应"
DETAIL_BUTTON = "查看详情"
# Template-card button styles: 1 is the highlighted one, 2 the plain one, 3 the warning one.
BUTTON_STYLES = {"primary": 1, "default": 2, "danger": 3}
# How long WeCom suppresses an identical app message (our retries after a lost answer).
DUPLICATE_CHECK_SECONDS = 1800


def clip_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character, "…" marking a cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    cut = raw[: max(limit - 3, 0)].decode("utf-8", "ignore")
    return cut + "…"


def clip_chars(text: str, limit: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def absolute_url(base_url: str, url: str) -> str:
    """Links in messages open on the phone: a relative desk path becomes absolute."""
    url = str(url or "").strip()
    if not url:
        return ""
    if url.startswith(("http://", "https://")):
        return url
    return urljoin(base_url.rstrip("/") + "/", url.lstrip("/"))


def plain_text(payload: dict[str, Any], *, with_title: bool = True) -> str:
    text = str(payload.get("text") or "").strip()
    title = str(payload.get("title") or "").strip()
    if with_title and title:
        text = f"【{title}】\n{text}" if text else f"【{title}】"
    return text


# --- App messages (message/send) --------------------------------------------------------------


def _app_message(msgtype: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "msgtype": msgtype,
        msgtype: content,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
    }


def text_message(text: str) -> dict[str, Any]:
    return _app_message("text", {"content": clip_bytes(text, TEXT_MAX_BYTES)})


def textcard_message(title: str, description: str, url: str, button: str = "详情") -> dict[str, Any]:
    return _app_message(
        "textcard",
        {
            "title": clip_bytes(title or SOURCE_LABEL, TEXTCARD_TITLE_MAX_BYTES),
            "description": clip_bytes(description or title, TEXTCARD_DESCRIPTION_MAX_BYTES),
            "url": url,
            "btntxt": button,
        },
    )


def notice_message(payload: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A notice with a link becomes a textcard opening the order; without one, plain text."""
    url = absolute_url(base_url, str(payload.get("url") or ""))
    title = plain_safe(str(payload.get("title") or "").strip(), base_url)
    text = str(payload.get("text") or "").strip()
    if url and (title or text):
        # The description takes a little HTML (<div class="gray">…): people's text must not.
        # WeCom shows at most four characters on a textcard's button.
        return textcard_message(title or payload_label(payload, "sender", SOURCE_LABEL), html_safe(text, base_url), url,
                                button=payload_label(payload, "details", "详情")[:4])
    return text_message(plain_safe(plain_text(payload), base_url))


def _fields(raw: Iterable[Any]) -> list[dict[str, Any]]:
    result = []
    for item in raw or []:
        if isinstance(item, dict):
            name, value = item.get("name") or item.get("label") or "", item.get("value") or ""
        elif isinstance(item, list | tuple) and len(item) >= 2:
            name, value = item[0], item[1]
        else:
            continue
        result.append({
            "keyname": clip_chars(plain_safe(str(name)), CARD_KEYNAME_MAX_CHARS),
            "value": clip_chars(plain_safe(str(value)), CARD_VALUE_MAX_CHARS),
        })
    return result[:CARD_MAX_FIELDS]


def button_card_message(payload: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The whistle card: a ``button_interaction`` template card under the payload's ``task_id``.

    Callback buttons carry the payload's keys (``sign:<number>`` …); 查看详情 is a jump button to
    the order's H5 page, which is also where a tap on the card itself leads.
    """
    task_id = str(payload.get("task_id") or "")
    if not task_id:
        raise ValueError("template card needs a task_id")
    url = absolute_url(base_url, str(payload.get("url") or ""))
    buttons = []
    seen = set()
    for button in payload.get("buttons") or []:
        key = str(button.get("key") or "")
        if not key or key in seen:
            continue
        seen.add(key)
        buttons.append({
            "type": 0,
            "text": clip_chars(str(button.get("label") or key), CARD_BUTTON_MAX_CHARS),
            "style": BUTTON_STYLES.get(str(button.get("style") or "default"), 2),
            "key": key,
        })
    if url:
        buttons = buttons[: CARD_MAX_BUTTONS - 1]
        buttons.append({"type": 1, "text": clip_chars(payload_label(payload, "details", DETAIL_BUTTON), CARD_BUTTON_MAX_CHARS),
                        "style": BUTTON_STYLES["default"], "url": url})
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "source": {"desc": payload_label(payload, "sender", SOURCE_LABEL), "desc_color": 0},
        "main_title": {
            "title": clip_chars(plain_safe(str(payload.get("title") or payload_label(payload, "sender", SOURCE_LABEL)),
                                           base_url), CARD_TITLE_MAX_CHARS),
            "desc": clip_chars(str(payload.get("order_number") or ""), CARD_DESC_MAX_CHARS),
        },
        "sub_title_text": clip_chars(plain_safe(str(payload.get("text") or ""), base_url), CARD_SUBTITLE_MAX_CHARS),
        "horizontal_content_list": _fields(payload.get("fields") or []),
        "task_id": task_id,
        "button_list": buttons[:CARD_MAX_BUTTONS],
    }
    if url:
        card["card_action"] = {"type": 1, "url": url}
    return _app_message("template_card", card)


def group_text(kind: str, payload: dict[str, Any], base_url: str) -> str:
    """A group robot's text: the title goes in front except for @-texts, status lines and replies."""
    return plain_safe(plain_text(payload, with_title=kind not in ("whistle", "status", "reply")), base_url)


def person_body(kind: str, payload: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The app message a person receives (not the whistle card, see ``button_card_message``)."""
    if kind in ("reply", "status"):
        return text_message(plain_safe(plain_text(payload, with_title=False), base_url))
    return notice_message(payload, base_url)


def preview(kind: str, target_type: str, payload: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The body the adapter would send for a message, without sending (the studio's preview);
    @-mentions are platform user ids and left out."""
    if target_type == "group":
        return robot_text(group_text(kind, payload, base_url))
    if kind == "card":
        return button_card_message(payload, base_url)
    if target_type == "session":
        return response_markdown(str(payload.get("text") or ""), "", base_url)
    if kind == "card_update":  # the agent id and response code come from the platform at delivery
        return update_buttons_body(0, "", str(payload.get("label") or ""))
    return person_body(kind, payload, base_url)


def response_markdown(text: str, mention_userid: str, base_url: str) -> dict[str, Any]:
    """The intelligent robot's answer on a message's ``response_url``: markdown, the sender
    mentioned with ``<@userid>``, order text unable to become links or formatting."""
    body = markdown_safe(text, base_url).replace("\n", "\n\n")
    mention = f"<@{mention_userid}> " if mention_userid else ""
    return {"msgtype": "markdown", "markdown": {"content": clip_bytes(f"{mention}{body}", MARKDOWN_MAX_BYTES)}}


def update_buttons_body(agent_id: int, response_code: str, label: str,
                        userids: Sequence[str] = ()) -> dict[str, Any]:
    """Grey every recipient's buttons at once (``atall``) and write ``label`` on them."""
    body: dict[str, Any] = {
        "atall": 1,
        "agentid": agent_id,
        "response_code": response_code,
        "button": {"replace_name": clip_chars(label or "已处理", 16)},
    }
    if userids:
        body["userids"] = list(userids)
    return body


# --- Group robot (webhook/send) -----------------------------------------------------------------


def robot_text(text: str, mentioned_userids: Sequence[str] = ()) -> dict[str, Any]:
    content: dict[str, Any] = {"content": clip_bytes(text, TEXT_MAX_BYTES)}
    if mentioned_userids:
        content["mentioned_list"] = list(dict.fromkeys(mentioned_userids))
    return {"msgtype": "text", "text": content}
