"""Property tests of the chat command parser: whatever a person types, the bot answers in a sentence.

``parse`` gives a parsed command or a ``UsageError``; ``dispatch`` and ``dispatch_button`` always return
a ``CommandResult`` and never take the "系统处理…时出错" path (an unexpected exception, logged with a
reference) — that path is for a broken database, not for odd text.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Role
from services.messaging import commands
from services.messaging.commands import CommandResult, ParsedCommand, UsageError
from services.orders import operations as wo

WORDS = sorted({name for spec in commands.REGISTRY.values() for name in (spec.name, *spec.aliases)})
# Characters that have broken parsers before: Unicode digits str.isdigit() takes and int() refuses, full-width
# forms NFKC folds, zero-width and ideographic spaces, mentions, separators, NUL and lone surrogates.
TRICKY = st.sampled_from(list("²³¹①⑩١٢٣٤۵߀０１２３ＢＣ－＠@#＃:：,，;；、 \u3000\u2005\u200b\ufeff\n\t\x00\ud800"
                              "BCbc-0123456789天穆人社局满意不满意非常个工作日天号"))
PIECES = st.one_of(
    st.text(max_size=12),
    st.text(TRICKY, max_size=12),
    st.sampled_from(["BC-20260302-0001", "bc20260302-0001", "0001", "#0001号", "99999999999999999999", "²²²",
                     "١٢٣٤", "①②③", "5", "31", "五", "十天", "人社局", "满意", "非常不满意", "91120113MA05"]),
)
FREE_TEXT = st.tuples(st.text(st.one_of(TRICKY, st.characters()), min_size=4, max_size=12),
                      st.sampled_from(["", "\x00", "\ud800", "\udfff", "²", "\u3000"]),
                      st.text(max_size=6)).map("".join)
# Well-formed commands on the order that exists, so the free text reaches the operation and the database.
COMMANDS = st.tuples(st.sampled_from(WORDS), st.sampled_from(["0001", "0002", "BC-20260302-0002", "²⁰⁰¹", "١٠٠١"]),
                     st.sampled_from(["", "人社局 ", "5 ", "满意 ", "非常不满意 "]), FREE_TEXT).map(
    lambda parts: f"{parts[0]} {parts[1]} {parts[2]}{parts[3]}")
MESSAGES = st.one_of(
    st.text(max_size=60),
    COMMANDS,
    st.lists(st.one_of(st.sampled_from(WORDS), PIECES), min_size=1, max_size=5).map(" ".join),
    st.tuples(st.sampled_from(WORDS), PIECES).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(MESSAGES)
def test_parse_gives_a_command_or_a_usage_error(text):
    try:
        parsed = commands.parse(text)
    except UsageError as error:
        assert error.message
        return
    assert isinstance(parsed, ParsedCommand)
    if parsed.spec is None:
        assert isinstance(commands.suggest(parsed.word, parsed.rest) or "", str)


@pytest.fixture
def people(factory, now):
    rsj = factory.department("rsj")
    staff = factory.person(Role.SERVICE_STAFF, name="王服务")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="李帮办")
    dispatcher = factory.person(Role.DISPATCHER, name="张调度")
    enterprise = factory.enterprise(staff=staff, name="天津北辰精工机械有限公司")
    factory.order(staff, now, enterprise=enterprise, level=2, department_id=rsj.id)
    signed = factory.order(staff, now, enterprise=enterprise, level=2, department_id=rsj.id)
    wo.sign(factory.ctx(helper, now), signed)  # BC-…-0002 is being handled: 回复 and 办结 reach the database
    return [staff, helper, dispatcher]


class _Unexpected(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record):
        self.seen.append(record.getMessage())


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=MESSAGES, who=st.integers(0, 2))
def test_dispatch_always_answers_without_an_internal_error(factory, session, people, now, text, who):
    handler = _Unexpected()
    log = logging.getLogger("youxubiying.commands")
    log.addHandler(handler)
    try:
        with session.begin_nested() as savepoint:  # each example starts from the same orders
            result = commands.dispatch(factory.ctx(people[who], now, channel="sandbox"), text)
            savepoint.rollback()
    finally:
        log.removeHandler(handler)
    assert isinstance(result, CommandResult) and result.reply
    assert handler.seen == [], handler.seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.one_of(st.text(max_size=30), st.tuples(st.sampled_from(["sign", "return", "transfer", ""]),
                                                      PIECES).map(":".join)),
       extra=st.one_of(st.text(max_size=20), PIECES), who=st.integers(0, 2))
def test_buttons_always_answer(factory, session, people, now, key, extra, who):
    with session.begin_nested() as savepoint:
        result = commands.dispatch_button(factory.ctx(people[who], now, channel="sandbox"), key, extra)
        savepoint.rollback()
    assert isinstance(result, CommandResult) and result.reply
    assert "参考号" not in result.reply
