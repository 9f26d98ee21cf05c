"""The WeCom client against the emulator: base URL, shared token, bounded refresh, timeouts."""

import socket
import time
import uuid

import pytest
import redis
from sqlalchemy import select

from database import session_scope
from extensions import wecom_api
from integrations import wecom_cards as cards
from integrations.wecom import WeComApi, WeComApiError
from models import KvEntry
from services.kvstore import DatabaseKvStore, RedisKvStore, TokenStore
from tests.emulators.fixtures import wecom_settings_for


@pytest.fixture
def api(wecom_emulator):
    wecom_emulator.add_user("zhangsan", "张三", "13900000001", [2])
    return WeComApi(wecom_settings_for(wecom_emulator), TokenStore())


def test_every_call_goes_under_the_configured_base(api, wecom_emulator):
    wecom_emulator.add_robot("robot-1")
    api.send_app_message(["zhangsan"], cards.text_message("你好"))
    api.send_webhook("robot-1", cards.robot_text("群消息", ["zhangsan"]))
    paths = [r.path for r in wecom_emulator.requests]
    assert paths == ["gettoken", "message/send", "webhook/send"]
    [hook] = wecom_emulator.calls("webhook/send")
    assert hook.query == {"key": "robot-1"}  # no access token leaks to the webhook
    assert hook.json == {"msgtype": "text", "text": {"content": "群消息", "mentioned_list": ["zhangsan"]}}
    [gettoken] = wecom_emulator.calls("gettoken")
    assert gettoken.query == {"corpid": wecom_emulator.corp_id, "corpsecret": wecom_emulator.secret}


def test_expired_token_is_refreshed_once_and_the_call_retried(api, wecom_emulator):
    api.send_app_message(["zhangsan"], cards.text_message("一"))
    wecom_emulator.expire_tokens()
    api.send_app_message(["zhangsan"], cards.text_message("二"))
    assert [(r.path, r.answer["errcode"]) for r in wecom_emulator.requests] == [
        ("gettoken", 0), ("message/send", 0), ("message/send", 42001), ("gettoken", 0), ("message/send", 0)]
    assert [m["text"]["content"] for m in wecom_emulator.messages] == ["一", "二"]


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_token_errors_retry_once_never_loop(api, wecom_emulator, errcode):
    wecom_emulator.fail_next("message/send", errcode, times=5)
    with pytest.raises(WeComApiError) as caught:
        api.send_app_message(["zhangsan"], cards.text_message("三"))
    assert caught.value.errcode == errcode
    assert len(wecom_emulator.calls("message/send")) == 2
    assert len(wecom_emulator.calls("gettoken")) == 2


def test_token_is_shared_through_the_database(app, session_factory, wecom_emulator):
    settings = wecom_settings_for(wecom_emulator)
    first = WeComApi(settings, TokenStore(database=DatabaseKvStore(session_factory)))
    second = WeComApi(settings, TokenStore(database=DatabaseKvStore(session_factory)))
    wecom_emulator.add_user("lisi", "李四", "13900000002")
    first.send_app_message(["lisi"], cards.text_message("a"))
    second.send_app_message(["lisi"], cards.text_message("b"))
    assert len(wecom_emulator.calls("gettoken")) == 1
    with session_factory() as s:
        entry = s.scalar(select(KvEntry))
        assert entry.key.startswith(wecom_emulator.corp_id) and entry.value.startswith("tok-")
        # Stored to expire before WeCom's 7200 s, so no process ever sends a dying token.
        assert entry.expires_at is not None


def test_token_read_and_written_in_the_bound_session(app, session_factory, wecom_emulator):
    """On SQLite a second connection would wait for the delivery's lock: use the caller's session."""
    settings = wecom_settings_for(wecom_emulator)
    api = WeComApi(settings, TokenStore())
    wecom_emulator.add_user("lisi", "李四", "13900000002")
    with session_scope(session_factory) as session, api.bound(session):
        session.execute(select(KvEntry))  # this transaction now holds SQLite's write lock
        api.send_app_message(["lisi"], cards.text_message("a"))
    with session_factory() as s:
        assert s.scalar(select(KvEntry.value)).startswith("tok-")


def test_token_is_shared_through_redis(wecom_emulator):
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"yxby-test-{uuid.uuid4().hex}:"
    settings = wecom_settings_for(wecom_emulator)
    wecom_emulator.add_user("lisi", "李四", "13900000002")
    try:
        for text in ("a", "b"):
            WeComApi(settings, TokenStore(redis=RedisKvStore(client, prefix))).send_app_message(
                ["lisi"], cards.text_message(text))
        assert len(wecom_emulator.calls("gettoken")) == 1
        ttl = client.ttl(f"{prefix}{wecom_emulator.corp_id}_{wecom_emulator.secret[:10]}_access_token")
        assert 0 < ttl <= 7200 - 300
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_oauth_code_maps_to_the_userid_once(api, wecom_emulator):
    code = wecom_emulator.issue_code("zhangsan")
    assert api.user_id_from_code(code) == "zhangsan"
    assert api.user_id_from_code(code) is None  # single use
    assert api.user_id_from_code("made-up") is None
    [call, *_] = wecom_emulator.calls("auth/getuserinfo")
    assert call.query["code"] == code


def test_wecom_api_is_cached_per_app_and_uses_the_request_session(wecom_app, session_factory, wecom_emulator):
    assert wecom_api(wecom_app) is wecom_api(wecom_app)
    wecom_emulator.add_user("wangwu", "王五", "13900000003")
    code = wecom_emulator.issue_code("wangwu")
    with wecom_app.test_request_context("/m/"):
        from handlers.context import db

        db().execute(select(KvEntry))  # the request's transaction holds the lock, as in a real request
        assert wecom_api(wecom_app).user_id_from_code(code) == "wangwu"
        db().commit()


def test_members(api, wecom_emulator):
    wecom_emulator.add_department(2, "区人社局")
    wecom_emulator.add_department(21, "就业科", parent=2)
    wecom_emulator.add_user("zhaoliu", "赵六", "13900000004", [21])
    assert {u["userid"] for u in api.list_users(2)} == {"zhangsan", "zhaoliu"}
    assert {u["userid"] for u in api.list_users(2, fetch_child=False)} == {"zhangsan"}
    assert api.get_user("zhaoliu")["mobile"] == "13900000004"
    with pytest.raises(WeComApiError) as caught:
        api.get_user("nobody")
    assert caught.value.errcode == 60111
    with pytest.raises(WeComApiError) as caught:
        api.list_users(999)
    assert caught.value.errcode == 60123


def test_every_call_has_a_timeout(wecom_emulator):
    """A server that accepts and never answers: gettoken gives up after the timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        settings = wecom_settings_for(wecom_emulator)
        settings = type(settings)(**{**settings.__dict__, "api_base": f"http://127.0.0.1:{silent.getsockname()[1]}/cgi-bin/"})
        api = WeComApi(settings, TokenStore(), timeout=0.5)
        started = time.monotonic()
        with pytest.raises(WeComApiError) as caught:
            api.send_app_message(["x"], cards.text_message("hello"))
        assert caught.value.errcode is None and time.monotonic() - started < 5
    finally:
        silent.close()


def test_text_is_clipped_on_a_character_boundary():
    body = cards.text_message("办" * 1000)  # 3000 bytes
    content = body["text"]["content"]
    assert len(content.encode()) <= cards.TEXT_MAX_BYTES and content.endswith("…")
    assert body["enable_duplicate_check"] == 1


def test_whistle_card_rendering_respects_the_template_limits():
    payload = {
        "title": "吹哨报到：" + "很长的标题" * 10, "text": "诉求" * 200, "task_id": "BC-20260302-0001-0-5",
        "fields": [[f"字段名很长{i}", "值" * 50] for i in range(8)],
        "buttons": [{"key": f"k{i}", "label": f"按钮{i}号很长很长很长"} for i in range(7)] + [{"key": "k1", "label": "重复"}],
        "url": "/m/orders/BC-20260302-0001", "order_number": "BC-20260302-0001",
    }
    card = cards.button_card_message(payload, "https://desk.example.cn/")["template_card"]
    assert len(card["main_title"]["title"]) <= cards.CARD_TITLE_MAX_CHARS
    assert len(card["sub_title_text"]) <= cards.CARD_SUBTITLE_MAX_CHARS
    assert len(card["horizontal_content_list"]) == 6
    assert all(len(f["keyname"]) <= 5 and len(f["value"]) <= 30 for f in card["horizontal_content_list"])
    buttons = card["button_list"]
    assert len(buttons) == 6 and len({b.get("key") for b in buttons[:-1]}) == 5
    assert buttons[-1] == {"type": 1, "text": "查看详情", "style": 2,
                           "url": "https://desk.example.cn/m/orders/BC-20260302-0001"}
    assert card["card_action"] == {"type": 1, "url": "https://desk.example.cn/m/orders/BC-20260302-0001"}
    with pytest.raises(ValueError):
        cards.button_card_message({"title": "无任务"}, "https://desk.example.cn")


def test_emulator_quotas_refuse_robots_and_silently_drop_member_messages():
    """The emulator's documented quotas (``Quotas``), counted on its clock over a sliding minute."""
    from tests.emulators.wecom import Quotas, WeComEmulator

    now = [1000.0]
    with WeComEmulator(quotas=Quotas(robot_per_minute=2, member_per_minute=2, app_per_minute=4),
                       clock=lambda: now[0]) as emulator:
        emulator.add_user("zhangsan", "张三")
        emulator.add_robot("robot-1")
        api = WeComApi(wecom_settings_for(emulator), TokenStore())
        for i in range(2):
            api.send_webhook("robot-1", cards.robot_text(f"群消息{i}", []))
        with pytest.raises(WeComApiError) as caught:
            api.send_webhook("robot-1", cards.robot_text("群消息2", []))
        assert caught.value.errcode == 130101
        for i in range(3):  # the third is accepted but never shown
            api.send_app_message(["zhangsan"], cards.text_message(f"通知{i}"))
        assert [m["text"]["content"] for m in emulator.messages] == ["通知0", "通知1"]
        assert [m["text"]["content"] for m in emulator.dropped] == ["通知2"]
        api.send_app_message(["zhangsan"], cards.text_message("通知3"))
        with pytest.raises(WeComApiError) as caught:  # the app's fifth call in the minute
            api.send_app_message(["zhangsan"], cards.text_message("通知4"))
        assert caught.value.errcode == 45009
        now[0] += 60  # a minute later every count has room again
        api.send_webhook("robot-1", cards.robot_text("群消息3", []))
        api.send_app_message(["zhangsan"], cards.text_message("通知5"))
        assert emulator.messages[-1]["text"]["content"] == "通知5"
