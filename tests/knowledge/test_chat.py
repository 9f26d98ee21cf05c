"""「查 关键词」 (also 「知识 关键词」) in chat: the three best published entries with a short answer and
a link, through the same registry and reply path as every other command."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import KnowledgeEntry, OutboundMessage, SandboxMessage
from services.knowledge import entries as knowledge
from services.messaging import chat as chat_inbound
from services.messaging import commands
from services.orders.operations import OpContext


@pytest.fixture
def entries(kctx, people):
    made = {}
    for key, title, answer in (
        ("subsidy", "小微企业吸纳高校毕业生，社保补贴怎么申请？", "登录天津市人社局网上办事大厅，在社保补贴栏目提交申请，15 个工作日内审核。"),
        ("card", "职工社保卡遗失如何补办？", "携带身份证到社保经办窗口补办。"),
        ("retire", "社保费缓缴怎么申请？", "向税务局提出申请。"),
        ("pension", "养老保险断缴能补缴吗？", "符合条件的可以到社保经办窗口补缴。"),
    ):
        entry = knowledge.create_entry(kctx(people.bizenv), {"title": title, "answer": answer})
        made[key] = knowledge.publish(kctx(people.bizenv), entry.id)
    made["draft"] = knowledge.create_entry(kctx(people.bizenv), {"title": "社保补贴草稿条目", "answer": "未审核"})
    return made


def say(factory, person, now, text, **kw):
    return chat_inbound.handle_text(factory.ctx(person, now, channel="sandbox"), text, **kw)


def test_parse_finds_the_command_with_and_without_a_space():
    assert commands.parse("查 社保补贴").spec.name == "查"
    assert commands.parse("知识 社保补贴").spec.name == "查" and commands.parse("查知识 社保").spec.name == "查"
    assert commands.parse("知识\u3000社保　补贴").args == {"关键词": "社保　补贴"}
    assert commands.parse("查社保补贴").args == {"关键词": "社保补贴"}
    assert commands.parse("查询 0001").spec.name == "查询"
    assert commands.parse("查询社保").spec is None  # 查询 decides; no knowledge query for 「询社保」
    assert commands.suggest("检查一下") is None
    # One name everywhere (README, docs, help): 查; 知识 and 查知识 stay as aliases.
    assert "· 查 关键词 —— 查知识库" in commands.help_text() and "· 知识 关键词" not in commands.help_text()
    assert "也可以发送：知识、查知识" in commands.help_text(topic="知识")


def test_answer_lists_the_top_three_published_entries_with_links(factory, session, people, entries, now):
    result = say(factory, people.staff, now, "＠有需必应 查 社保补贴")
    assert result.ok and result.command == "查"
    lines = result.reply.split("\n")
    assert lines[0] == "知识库中与「社保补贴」最相关的 3 条："
    assert lines[1] == f"1. {entries['subsidy'].title}"
    assert lines[2].startswith("答：登录天津市人社局网上办事大厅")
    assert lines[3] == f"详情：http://127.0.0.1:5000/knowledge/entries/{entries['subsidy'].id}"  # absolute: opened in chat
    assert entries["draft"].title not in result.reply
    assert result.reply.count("详情：") == 3
    # The reply goes out like every command's answer: outbox, then the sandbox transcript.
    reply = session.scalar(select(OutboundMessage).where(OutboundMessage.kind == "reply"))
    assert reply.payload["text"] == result.reply
    assert session.scalar(select(SandboxMessage.text).where(SandboxMessage.direction == "in")) == "＠有需必应 查 社保补贴"
    edited = entries["subsidy"].updated_at
    session.expire_all()
    used = session.get(KnowledgeEntry, entries["subsidy"].id)
    assert used.use_count == 1 and used.updated_at == edited  # being used is no edit


def test_links_are_absolute_when_the_channel_knows_the_site(session, people, entries, now):
    ctx = OpContext(session, people.helper, now, "sandbox", base_url="https://qy.tjbc.gov.cn/")
    result = commands.dispatch(ctx, "知识 社保卡补办")
    assert f"详情：https://qy.tjbc.gov.cn/knowledge/entries/{entries['card'].id}" in result.reply


def test_nothing_found_and_missing_keyword_answer_in_chinese(factory, people, entries, now):
    nothing = say(factory, people.staff, now, "查 排污许可")
    assert nothing.ok and nothing.reply.startswith("知识库中暂未找到与「排污许可」相关的已发布问答")
    missing = say(factory, people.staff, now, "知识")
    assert not missing.ok and missing.reply == "「查」缺少关键词。用法：查 关键词（例：查 社保补贴）"


def test_an_order_number_after_cha_shows_the_order(factory, people, now):
    order = factory.order(people.staff, now)
    shown = say(factory, people.staff, now, f"查 {order.number[-4:]}")
    assert shown.ok and shown.command == "查询" and shown.reply.startswith(f"工单 {order.number}")


def test_through_the_console_sandbox_the_link_is_absolute(client, session, people, entries):
    from tests.policies_ui.conftest import login, page_token

    staff_id, card_id = people.staff.id, entries["card"].id
    session.commit()
    login(client, "admin")
    token = page_token(client, "/sandbox")
    conversation = f"person:{staff_id}"
    client.post("/sandbox/send", data={"csrf_token": token, "conversation": conversation, "person_id": staff_id,
                                       "text": "查　社保卡补办"})
    client.post("/sandbox/deliver", data={"csrf_token": token})
    with client.application.extensions["db_sessionmaker"]() as s:
        texts = list(s.scalars(select(SandboxMessage.text).where(SandboxMessage.conversation == conversation,
                                                                 SandboxMessage.direction == "out")))
    assert any(f"详情：http://127.0.0.1:5000/knowledge/entries/{card_id}" in t for t in texts), texts
