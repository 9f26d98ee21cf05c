"""Property tests of the platform callback parsers: whatever a platform (or someone posing as one)
sends, the parser gives an event, ``None``, or its documented refusal — never another exception.

* ``wecom_inbound.parse_xml``: any bytes → the ``<xml>`` fields or ``CallbackRejected``;
* ``WeComInbound.parse`` / ``message_key`` / ``summarise``: any stored payload → event, None, text;
* ``dingtalk_inbound.robot_event``: any JSON value → ``ChatEvent`` or ``InvalidRobotMessage``;
* ``DingTalkInbound.parse`` / ``summarise``: any JSON value → event, None, ``InvalidRobotMessage``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import example, given, settings
from hypothesis import strategies as st

from integrations.base import ChatEvent, ContactEvent
from integrations.dingtalk_inbound import DingTalkInbound, InvalidRobotMessage, robot_event
from integrations.dingtalk_inbound import summarise as dingtalk_summary
from integrations.wecom_inbound import CallbackRejected, WeComInbound, message_key, parse_xml
from integrations.wecom_inbound import summarise as wecom_summary

# Text as platforms send it and as attackers do: digits that are not ASCII, NUL, surrogates, huge numbers.
TRICKY_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "²", "①", "١٢", "２", "5", "2", "0", "-1", "99999999999999999999", "1e309", "NaN",
                     "text", "event", "change_contact", "update_user", "delete_user", "template_card_event",
                     "click", "user_leave_org", "1", "\x00", "\ud800", "@有需必应 报到 0001"]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), TRICKY_TEXT,
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TRICKY_TEXT, inner, max_size=4)), max_leaves=12)

WECOM_FIELDS = ["MsgType", "Event", "Content", "FromUserName", "ToUserName", "CreateTime", "MsgId", "EventKey",
                "TaskId", "ResponseCode", "ChangeType", "UserID", "NewUserID", "Status", "AgentID"]
NUMBERISH = st.sampled_from(["²", "①", "١٢", "1", "2", "5", "２", "-1", "99999999999999999999", "1e309", "NaN", ""])
# The values each field takes on the platform, so that hypothesis reaches the deep branches (a contact
# change of a member whose status is "²"), mixed with any text and any JSON (a nested XML element).
WECOM_VALUES = {
    "MsgType": st.sampled_from(["event", "text", "image", "EVENT", ""]),
    "Event": st.sampled_from(["change_contact", "template_card_event", "click", "enter_agent", ""]),
    "ChangeType": st.sampled_from(["update_user", "delete_user", "create_user", ""]),
    "Status": NUMBERISH, "CreateTime": NUMBERISH, "MsgId": NUMBERISH, "AgentID": NUMBERISH,
}
WECOM_MESSAGE = st.one_of(
    st.fixed_dictionaries({}, optional={name: st.one_of(TRICKY_TEXT, JSON) for name in WECOM_FIELDS}),
    # Shaped like the platform's messages: the type fields always there, the rest usually plausible.
    st.fixed_dictionaries(
        {"MsgType": WECOM_VALUES["MsgType"], "Event": WECOM_VALUES["Event"], "UserID": TRICKY_TEXT},
        optional={name: st.one_of(WECOM_VALUES.get(name, TRICKY_TEXT), JSON)
                  for name in WECOM_FIELDS if name not in ("MsgType", "Event", "UserID")}),
)

ROBOT_FIELDS = ["msgId", "msgtype", "text", "robotCode", "senderStaffId", "senderNick", "sessionWebhook",
                "sessionWebhookExpiredTime", "conversationId", "conversationType", "conversationTitle", "event",
                "EventType", "userId", "UserId"]
NESTED = st.fixed_dictionaries({}, optional={name: st.one_of(TRICKY_TEXT, JSON)
                                             for name in ("content", "EventType", "userId", "UserId")})
ROBOT_VALUES = {
    "msgId": st.sampled_from(["msg1", "", "²"]), "msgtype": st.sampled_from(["text", "picture", "richText", ""]),
    "conversationType": st.sampled_from(["1", "2", 2, ""]),
    "sessionWebhookExpiredTime": st.one_of(NUMBERISH, SCALARS),
    "text": NESTED,
}
ROBOT_PAYLOAD = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={name: st.one_of(TRICKY_TEXT, SCALARS, NESTED) for name in ROBOT_FIELDS}),
    # Shaped like a robot callback: an id and a type always there, the rest usually plausible.
    st.fixed_dictionaries(
        {"msgId": ROBOT_VALUES["msgId"], "msgtype": ROBOT_VALUES["msgtype"],
         "sessionWebhookExpiredTime": ROBOT_VALUES["sessionWebhookExpiredTime"]},
        optional={name: st.one_of(ROBOT_VALUES.get(name, TRICKY_TEXT), SCALARS)
                  for name in ROBOT_FIELDS if name not in ("msgId", "msgtype", "sessionWebhookExpiredTime")}),
)


def _xml(fields: dict[str, str]) -> bytes:
    body = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return f"<xml>{body}</xml>".encode("utf-8", "surrogatepass")


XMLISH = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.dictionaries(st.sampled_from(WECOM_FIELDS), TRICKY_TEXT, max_size=8).map(_xml),
    st.sampled_from([b"<xml>", b"<xml><a><b>1</b></a></xml>", b"<!DOCTYPE x><xml/>", b"<xml>\x00</xml>",
                     b"<?xml version='1.0' encoding='gbk'?><xml><a>\xb2\xe2</a></xml>", b"<root/>", b"",
                     b"<xml><MsgType>text</MsgType><MsgType>event</MsgType></xml>"]),
)


@settings(max_examples=400, deadline=None)
@given(XMLISH)
def test_parse_xml_gives_fields_or_a_rejection(data):
    try:
        fields = parse_xml(data)
    except CallbackRejected as rejected:
        assert rejected.status == 400 and rejected.message
        return
    assert isinstance(fields, dict)
    WeComInbound().parse({"message": fields, "ip": "127.0.0.1"})


@settings(max_examples=400, deadline=None)
@given(payload=st.one_of(JSON, st.fixed_dictionaries({"message": WECOM_MESSAGE, "ip": JSON})))
# Found by this test: "²".isdigit() is true, int("²") raises.
@example({"message": {"MsgType": "event", "Event": "change_contact", "ChangeType": "update_user", "UserID": "u",
                      "Status": "²"}})
def test_wecom_parse_gives_an_event_or_none(payload):
    event = WeComInbound().parse(payload)
    assert event is None or isinstance(event, ChatEvent | ContactEvent)
    assert isinstance(wecom_summary(payload), str)
    if isinstance(payload, dict) and isinstance(payload.get("message"), dict):
        assert isinstance(message_key(payload["message"]), str)


@settings(max_examples=400, deadline=None)
@given(payload=ROBOT_PAYLOAD, robot_code=st.sampled_from(["", "ding123"]))
# Found by this test: int(float("inf")) raises OverflowError, not ValueError.
@example({"msgId": "m", "msgtype": "picture", "sessionWebhookExpiredTime": float("inf")}, "")
@example({"msgId": "m", "msgtype": "picture", "sessionWebhookExpiredTime": "²"}, "")
def test_dingtalk_robot_event_or_refusal(payload, robot_code):
    try:
        event = robot_event(payload, robot_code=robot_code)
    except InvalidRobotMessage as refused:
        assert str(refused)
        return
    assert isinstance(event, ChatEvent)
    assert isinstance(event.text, str) and isinstance(event.dedupe_key, str)


@settings(max_examples=400, deadline=None)
@given(payload=ROBOT_PAYLOAD)
def test_dingtalk_parse_gives_an_event_none_or_refusal(payload):
    try:
        event = DingTalkInbound().parse(payload)
    except InvalidRobotMessage:
        event = None
    assert event is None or isinstance(event, ChatEvent | ContactEvent)
    assert isinstance(dingtalk_summary(payload), str)
