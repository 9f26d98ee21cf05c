"""DingTalk's HTTP event subscription (事件与回调), played for real: bodies encrypted and signed with
the SDK's own ``DingTalkCrypto`` are posted to ``/dingtalk/events``; the answer must decrypt to
``success``; an organisation event is stored, then acted on by the ``process_inbound`` job."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import replace

import pytest
from dingtalk.crypto import DingTalkCrypto
from sqlalchemy import func, select

from models import AuditLog, InboundMessage, InboxStatus, Person
from services.messaging.inbound import summary
from tests.emulators.dingtalk import make_desk
from tests.emulators.dingtalk_fixtures import dingtalk_settings_for

EVENT_TOKEN = "beichen-event-token"
EVENT_AES_KEY = base64.b64encode(hashlib.sha256(b"beichen-event-aes").digest()).decode().rstrip("=")


@pytest.fixture
def events_app(app, dingtalk_emulator):
    from application import create_app

    dingtalk = replace(dingtalk_settings_for(dingtalk_emulator), event_token=EVENT_TOKEN, event_aes_key=EVENT_AES_KEY)
    flask_app = create_app(settings=app.extensions["settings"].with_overrides({"dingtalk": dingtalk}))
    yield flask_app
    flask_app.extensions["db_engine"].dispose()


@pytest.fixture
def client(events_app, session_factory):
    return events_app.test_client()


@pytest.fixture
def crypto(dingtalk_emulator):
    """DingTalk's side: the same token, key and AppKey the developer console holds."""
    return DingTalkCrypto(EVENT_TOKEN, EVENT_AES_KEY, dingtalk_emulator.app_key)


def post_event(client, crypto, event, *, timestamp_ms=None, signature=None, body=None):
    sealed = crypto.encrypt_message(json.dumps(event, ensure_ascii=False),
                                    timestamp=timestamp_ms or int(time.time() * 1000))
    query = {"signature": signature or sealed["msg_signature"], "timestamp": sealed["timeStamp"],
             "nonce": sealed["nonce"]}
    data = body if body is not None else json.dumps({"encrypt": sealed["encrypt"]})
    return client.post("/dingtalk/events", query_string=query, data=data, content_type="application/json")


def answered_success(response, crypto) -> bool:
    sealed = response.get_json()
    return crypto.decrypt_message(sealed, sealed["msg_signature"], sealed["timeStamp"], sealed["nonce"]) == "success"


def count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def rejections(session_factory) -> list[AuditLog]:
    with session_factory() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == "dingtalk.callback_rejected")))


def test_the_url_check_is_answered_with_an_encrypted_success(client, crypto, session_factory):
    response = post_event(client, crypto, {"EventType": "check_url"})
    assert response.status_code == 200 and answered_success(response, crypto)
    assert count(session_factory, InboundMessage) == 0


def test_a_leaver_is_stored_once_and_loses_the_binding(client, crypto, events_app, session, session_factory,
                                                       factory, dingtalk_emulator):
    from jobs.scheduler import run_job_now

    desk = make_desk(session, factory, dingtalk_emulator)
    session.commit()
    event = {"EventType": "user_leave_org", "TimeStamp": str(int(time.time() * 1000)), "UserId": ["wangbb"],
             "CorpId": "dingcorp"}
    first = post_event(client, crypto, event)
    again = post_event(client, crypto, event)  # DingTalk's retry: new nonce and ciphertext, same event
    assert first.status_code == again.status_code == 200
    assert answered_success(first, crypto) and answered_success(again, crypto)
    with session_factory() as s:
        [row] = s.scalars(select(InboundMessage)).all()
        assert row.platform == "dingtalk" and row.payload == {"event": event}
        assert summary(row).startswith("〔通讯录事件〕user_leave_org：wangbb")

    run_job_now(events_app, "process_inbound")
    with session_factory() as s:
        row = s.scalars(select(InboundMessage)).one()
        assert row.status == InboxStatus.DONE and "解除绑定 1 人" in row.outcome
        assert s.get(Person, desk.helper_id).dingtalk_userid is None
        assert s.get(Person, desk.outsider_id).dingtalk_userid == "libb"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "person.dingtalk_unbound")) is not None


def test_events_we_do_not_act_on_are_acknowledged_and_not_stored(client, crypto, session_factory):
    response = post_event(client, crypto, {"EventType": "org_dept_create", "DeptId": [12]})
    assert response.status_code == 200 and answered_success(response, crypto)
    assert count(session_factory, InboundMessage) == 0


@pytest.mark.parametrize("case, status, code", [
    ("forged", 403, "bad_signature"),
    ("other_app", 403, "wrong_app"),
    ("stale", 403, "stale"),
    ("not_json", 400, "bad_json"),
    ("no_encrypt", 400, "bad_message"),
    ("garbage", 400, "bad_encrypt"),
    ("too_large", 413, "too_large"),
])
def test_bad_callbacks_are_refused_clearly_and_change_nothing(client, crypto, session_factory, dingtalk_emulator,
                                                             case, status, code):
    event = {"EventType": "user_leave_org", "UserId": ["wangbb"]}
    if case == "forged":
        response = post_event(client, crypto, event, signature="0" * 40)
    elif case == "other_app":
        other = DingTalkCrypto(EVENT_TOKEN, EVENT_AES_KEY, "some-other-app-key")
        response = post_event(client, other, event)
    elif case == "stale":
        response = post_event(client, crypto, event, timestamp_ms=int(time.time() * 1000) - 2 * 3600 * 1000)
    elif case == "not_json":
        response = post_event(client, crypto, event, body="<xml>not json</xml>")
    elif case == "no_encrypt":
        response = post_event(client, crypto, event, body=json.dumps({"data": "x"}))
    elif case == "garbage":
        # Correctly signed, but not an AES envelope at all.
        ts, nonce, junk = str(int(time.time() * 1000)), "n0nce", "bm90LWFuLWVudmVsb3Bl"
        from dingtalk.core.utils import DingTalkSigner

        signer = DingTalkSigner()
        signer.add_data(EVENT_TOKEN, ts, nonce, junk)
        response = client.post("/dingtalk/events", query_string={"signature": signer.signature, "timestamp": ts,
                                                                 "nonce": nonce},
                               data=json.dumps({"encrypt": junk}), content_type="application/json")
    else:
        response = post_event(client, crypto, event, body=json.dumps({"encrypt": "A" * 70_000}))
    assert response.status_code == status
    body = response.get_json()
    assert body["ok"] is False and any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]["message"])
    assert count(session_factory, InboundMessage) == 0
    [audit] = rejections(session_factory)
    assert audit.detail["code"] == code


def test_the_endpoint_exists_only_when_configured_in_http_mode(app, dingtalk_emulator, session_factory, crypto):
    from application import create_app

    for dingtalk in (dingtalk_settings_for(dingtalk_emulator),  # no event token and key
                     replace(dingtalk_settings_for(dingtalk_emulator, mode="stream"), event_token=EVENT_TOKEN,
                             event_aes_key=EVENT_AES_KEY)):
        flask_app = create_app(settings=app.extensions["settings"].with_overrides({"dingtalk": dingtalk}))
        try:
            assert post_event(flask_app.test_client(), crypto, {"EventType": "check_url"}).status_code == 404
        finally:
            flask_app.extensions["db_engine"].dispose()
