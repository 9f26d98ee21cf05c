"""Chat command parsing: normalisation, aliases, argument binding and "did you mean" (no database)."""

import pytest

from models import Person, Role
from services.messaging import commands
from services.messaging.commands import UsageError, normalize, parse, suggest


def test_normalize_full_width_and_ideographic_space():
    assert normalize("报到\u3000ＢＣ－２０２６０３０２－０００１") == "报到 BC-20260302-0001"
    assert normalize("  回复   0001 \t 已联系  ") == "回复 0001 已联系"


def test_normalize_drops_leading_mentions():
    assert normalize("＠有需必应 报到 0001") == "报到 0001"
    assert normalize("@有需必应\u2005@张三 报到 0001") == "报到 0001"  # WeCom puts U+2005 after a mention
    assert normalize("@有需必应") == ""
    assert normalize("报到 @张三") == "报到 @张三"  # only leading mentions are addressing


def test_parse_full_width_number():
    parsed = parse("报到\u3000ＢＣ－２０２６０３０２－０００１")
    assert parsed.spec.name == "报到"
    assert parsed.args == {"单号": "BC-20260302-0001"}


def test_parse_after_mention():
    parsed = parse("＠有需必应 报到 ０００１")
    assert parsed.spec.name == "报到"
    assert parsed.args == {"单号": "0001"}


@pytest.mark.parametrize(
    ("text", "name"),
    [("接单 0001", "报到"), ("签收 0001", "报到"), ("退单 0001 不属于本部门职责", "退回"), ("help", "帮助"),
     ("HELP", "帮助"), ("？", "帮助"), ("?", "帮助")],
)
def test_aliases(text, name):
    assert parse(text).spec.name == name


def test_command_word_without_space():
    parsed = parse("报到0001")
    assert parsed.spec.name == "报到"
    assert parsed.args == {"单号": "0001"}
    # A word that merely starts with a command is not split: it gets "did you mean" instead.
    assert parse("报到了").spec is None


def test_free_text_keeps_chinese_punctuation_and_spaces():
    parsed = parse("回复 0001：已联系企业，明日 上门核实")
    assert parsed.args == {"单号": "0001", "内容": "已联系企业，明日 上门核实"}
    parsed = parse("办结 0001已协调完成，企业满意")
    assert parsed.args == {"单号": "0001", "结果": "已协调完成，企业满意"}


def test_transfer_and_extension_arguments():
    assert parse("转办 0001 人社局 涉及用工招聘 需要专场").args == {
        "单号": "0001", "部门": "人社局", "理由": "涉及用工招聘 需要专场",
    }
    assert parse("延期 0001 ５天 等待企业补充材料").args == {"单号": "0001", "天数": "5天", "理由": "等待企业补充材料"}


def test_optional_arguments():
    assert parse("反馈 0001").args == {"单号": "0001"}
    assert parse("回访 0001 满意").args == {"单号": "0001", "满意度": "满意"}
    assert parse("回访 0001 不满意 还没修好").args == {"单号": "0001", "满意度": "不满意", "意见": "还没修好"}


@pytest.mark.parametrize(
    ("text", "usage"),
    [("办结 0001", "用法：办结 单号 结果"), ("报到", "用法：报到 单号"), ("转办 0001 人社局", "用法：转办 单号 部门 理由"),
     ("诉求 某某公司", "用法：诉求 企业名称或信用代码 内容")],
)
def test_missing_arguments_give_the_usage_line(text, usage):
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert usage in caught.value.message
    assert caught.value.message.startswith(f"「{text.split()[0]}」缺少")


def test_unknown_command_suggestions():
    assert parse("报道 0001").spec is None
    assert suggest("报道", "0001") == "报到 0001"
    assert suggest("办完", "0001 已解决") == "办结 0001 已解决"
    assert suggest("签到", "0001") == "报到 0001"  # close to the alias 签收: the name is suggested
    assert suggest("办结了", "0001") == "办结 0001"
    assert suggest("你好") is None


def test_unknown_reply_has_suggestion_and_help():
    parsed = parse("报道 0001")
    reply = commands.unknown_reply(None, parsed)
    assert "您是不是想输入「报到 0001」？" in reply
    assert "办结 单号 结果" in reply


def test_help_is_filtered_by_role():
    helper = Person(name="甲", role=Role.CHIEF_HELPER, active=True)
    staff = Person(name="乙", role=Role.SERVICE_STAFF, active=True)
    assert "报到 单号" in commands.help_text(helper)
    assert "诉求 企业名称或信用代码 内容" not in commands.help_text(helper)
    assert "诉求 企业名称或信用代码 内容" in commands.help_text(staff)
    assert "报到 单号" not in commands.help_text(staff)
    assert "别名" not in commands.help_text(helper, "接单")
    assert "用法：报到 单号" in commands.help_text(helper, "接单")


def test_registry_is_complete_and_consistent():
    names = {"报到", "回复", "办结", "退回", "转办", "延期", "升级", "市级编号", "批示", "查询", "我的工单", "帮助", "诉求",
             "反馈", "回访", "查", "关联"}
    assert set(commands.REGISTRY) == names
    for spec in commands.REGISTRY.values():
        assert spec.syntax.split()[0] == spec.name
        assert spec.help
        assert commands.lookup(spec.name) is spec
        for alias in spec.aliases:
            assert commands.lookup(alias) is spec


def test_registering_a_taken_word_fails():
    with pytest.raises(ValueError):
        commands.command("接单", syntax="接单 单号")(lambda ctx, args: None)


def test_parse_days():
    assert commands.parse_days("5") == 5
    assert commands.parse_days("５个工作日") == 5
    assert commands.parse_days("三天") == 3
    for bad in ("0", "31", "abc", "5周"):
        with pytest.raises(commands.ValidationFailed):
            commands.parse_days(bad)
