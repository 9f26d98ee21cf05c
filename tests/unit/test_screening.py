"""Scope screening (甄别): pure rules, no database."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.errors import ValidationFailed
from services.orders.screening import (
    CATEGORIES,
    DEFAULT_RULES,
    RuleSpec,
    ScreeningSuggestion,
    default_rules,
    load_rules,
    normalize_text,
    rejection_message,
    require_override_reason,
    screen,
)


@pytest.fixture(scope="module")
def rules() -> list[RuleSpec]:
    return default_rules()


# --- catalogue -------------------------------------------------------------------------------


def test_categories_follow_the_plan_in_order():
    assert list(CATEGORIES) == [
        "litigation",
        "petition",
        "state_secret",
        "trade_secret",
        "privacy",
        "unlawful",
    ]
    assert CATEGORIES["litigation"] == "涉法涉诉"
    assert CATEGORIES["unlawful"] == "违反法律法规或违背公序良俗"


def test_every_category_has_a_default_rule_citing_the_plan(rules):
    assert [r["category"] for r in DEFAULT_RULES] == list(CATEGORIES)
    orders = [r["sort_order"] for r in DEFAULT_RULES]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    for spec in rules:
        assert spec.keywords, spec.category
        assert "工作方案" in spec.reason
        assert spec.proper_channel


# --- the six categories ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "matched", "channel_bits"),
    [
        (
            "我公司与供应商的货款纠纷已向北辰区人民法院起诉，一审判决我方胜诉，"
            "但对方一直不履行，希望帮忙协调法院尽快强制执行。",
            "litigation",
            {"起诉", "判决", "强制执行"},
            ["人民法院诉讼服务中心", "12368", "12348"],
        ),
        (
            "我们公司十几名员工准备去市里集体上访，反映厂房拆迁补偿问题，之前交的信访件一直没有结果。",
            "petition",
            {"集体上访", "信访件"},
            ["区信访办", "国家信访局网上信访"],
        ),
        (
            "我们是军工配套企业，想请帮办帮忙调阅一份涉密的机密文件，了解某型号装备的技术参数。",
            "state_secret",
            {"涉密", "机密文件"},
            ["保密行政管理部门", "区委保密办"],
        ),
        (
            "想请为企服务人员帮忙弄到竞争对手的客户名单和投标报价，我们好调整价格策略。",
            "trade_secret",
            {"竞争对手+客户名单"},
            ["市场监督管理局", "商业秘密", "人民法院"],
        ),
        (
            "一名离职员工拖欠公司借款后失联，请帮我查一下他的家庭住址和手机号。",
            "privacy",
            {"离职员工+家庭住址"},
            ["公安机关", "12377", "依法维权"],
        ),
        (
            "下周环保局要来检查，能不能帮忙打个招呼通融一下，再介绍个能虚开发票的渠道。",
            "unlawful",
            {"打个招呼", "通融一下", "虚开发票"},
            ["公安机关", "110", "执法部门"],
        ),
    ],
)
def test_each_category_is_caught_with_its_channel(rules, text, category, matched, channel_bits):
    suggestion = screen(text, rules)
    assert isinstance(suggestion, ScreeningSuggestion)
    assert suggestion.category == category
    assert suggestion.category_label == CATEGORIES[category]
    assert matched <= set(suggestion.matched)
    for bit in channel_bits:
        assert bit in suggestion.proper_channel
    assert "工作方案" in suggestion.reason
    message = suggestion.message
    assert f"「{CATEGORIES[category]}」" in message
    assert suggestion.proper_channel.rstrip("。") in message


def test_trade_secret_verb_conjunction_and_plain_term(rules):
    hit = screen("能不能帮我们打听一下某公司的投标报价和产品配方？", rules)
    assert hit is not None and hit.category == "trade_secret"
    hit = screen("前技术总监离职时带走了我公司的商业秘密，想请帮忙追回。", rules)
    assert hit is not None and hit.category == "trade_secret"


def test_privacy_who_reported_us(rules):
    hit = screen("上周有人投诉我们噪音扰民，能否告诉我们是谁举报的？", rules)
    assert hit is not None and hit.category == "privacy"
    assert "谁举报" in hit.matched


def test_petition_without_legal_terms(rules):
    hit = screen("我们已经多次越级上访，这次想请帮忙转给区领导接访日。", rules)
    assert hit is not None and hit.category == "petition"


# --- ordinary requests stay in scope ---------------------------------------------------------

IN_SCOPE = [
    "新厂房已经建成，申请办理水电气报装，希望加快供电接入进度。",
    "企业用电负荷增加，申请增容，同时咨询峰谷电价政策。",
    "公司扩大产能，急需招聘50名普工和10名数控技术员，希望人社局帮忙对接用工招聘渠道。",
    "想申报今年的高新技术企业认定和专精特新中小企业，咨询需要准备哪些材料。",
    "企业流动资金紧张，希望对接银行办理融资贷款，了解有没有贴息政策和普通融资担保产品。",
    "园区门口道路破损严重，大货车进出困难，请城管委协调修复，周围标识牌也被撞坏了。",
    "公司法定代表人变更，需要办理营业执照变更和法人变更登记，请问流程。",
    "新建项目需要办理环评手续，咨询环境影响评价报告表的审批时限。",
    "厂房装修完毕，申请消防验收，想了解需要提交哪些资料。",
    "我公司有一批机电产品出口，咨询出口退税申报流程和退税时限。",
    "公司新引进三名博士，想为他们申请人才公寓，请问申请条件和其他人员的落户政策。",
    "新员工入职需要开具无犯罪记录证明，请问到哪里办理。",
    "我公司注册时手机号收不到验证码，无法登录政务服务网办理社保增员。",
    "政府部门拖欠我公司工程款两年，希望协调尽快支付。",
    "企业在执行国家标准过程中遇到问题，想咨询标准化奖励政策和项目立项备案流程。",
    "请提供人社局首席帮办的联系电话，我们被告知需要补充材料。",
    "想参加市场监管局的商业秘密保护培训，提高企业自身的保密管理水平。",
    "我们的APP上线前想做个人信息保护合规评估，请问网信部门有无指导。",
    "公司财务人员想参加银行组织的反洗钱培训和防范非法集资宣传活动。",
    "隔壁企业夜间偷排废水，气味很大，请生态环境局尽快查处。",
    "想把我们的做法申报案例，参与建立案例库，请问如何提交。",
    "为企服务人员走访民营企业时提到的稳岗返还政策，我们想详细了解。",
]


@pytest.mark.parametrize("text", IN_SCOPE)
def test_ordinary_requests_are_not_flagged(rules, text):
    assert screen(text, rules) is None


def test_court_alone_is_not_litigation(rules):
    # Decision: the district court is one of the mechanism's chief-helper departments, so a
    # request that merely names it (法治宣传, 法治体检) is in scope; "法人" never matches "法院".
    assert screen("区法院首席帮办来园区开展法治宣传，我们想预约一次企业法治体检。", rules) is None
    assert screen("办理法人变更", rules) is None


def test_labour_arbitration_is_flagged_as_litigation(rules):
    # Decision: any mention of 仲裁 ties the request to a dispute procedure, so it is suggested
    # as 涉法涉诉; the staff member may override with a reason when only the policy is asked.
    hit = screen("申请劳动仲裁前咨询社保政策", rules)
    assert hit is not None and hit.category == "litigation"
    assert hit.matched == ("仲裁",)
    assert "劳动人事争议仲裁委员会" in hit.proper_channel


def test_empty_text_is_in_scope(rules):
    assert screen("", rules) is None
    assert screen("   \u3000 ", rules) is None
    assert screen("起诉", []) is None


# --- normalisation ---------------------------------------------------------------------------


def test_normalize_text():
    assert normalize_text("ＡＢＣ１２３　企业\t\n 诉求") == "abc123 企业 诉求"
    assert normalize_text("  Hello   World ") == "hello world"
    assert normalize_text("（１２３４５）") == "(12345)"
    assert normalize_text("") == ""


def test_full_width_and_ideographic_spaces_still_match(rules):
    hit = screen("我公司被供应商起　诉，法院已经　判决，需要ＡＰＰ申请执行", rules)
    assert hit is not None and hit.category == "litigation"
    assert {"起诉", "判决", "申请执行"} <= set(hit.matched)
    spec = RuleSpec.parse("unlawful", "ＫＴＶ赌博", "原因", "渠道")
    assert spec.keywords == ("ktv赌博",)
    assert screen("有人在 Ｋｔｖ 赌博", [spec]) is not None
    assert screen("ktv 赌博", [RuleSpec.parse("unlawful", "ktv赌博", "r", "c")]) is not None


# --- keyword syntax --------------------------------------------------------------------------


def test_parse_separators_and_exceptions():
    spec = RuleSpec.parse(
        "litigation",
        "起诉，诉讼,判决、裁定;仲裁；上诉\n再审\r\n 立案 \n\n起诉\n!立案例\n！判决书模板",
        " 原因 ",
        " 渠道 ",
        rule_id=7,
        sort_order=3,
    )
    assert spec.keywords == ("起诉", "诉讼", "判决", "裁定", "仲裁", "上诉", "再审", "立案")
    assert spec.exceptions == ("立案例", "判决书模板")
    assert (spec.reason, spec.proper_channel, spec.rule_id, spec.sort_order) == ("原因", "渠道", 7, 3)
    assert spec.category_label == "涉法涉诉"


def test_from_model_and_load_rules_skip_inactive_and_sort():
    rows = [
        SimpleNamespace(
            id=2,
            category="petition",
            keywords="信访",
            reason="r2",
            proper_channel="c2",
            active=True,
            sort_order=20,
        ),
        SimpleNamespace(
            id=1,
            category="litigation",
            keywords="起诉\n诉讼",
            reason="r1",
            proper_channel="c1",
            active=True,
            sort_order=10,
        ),
        SimpleNamespace(
            id=3,
            category="unlawful",
            keywords="行贿",
            reason="r3",
            proper_channel="c3",
            active=False,
            sort_order=5,
        ),
    ]
    spec = RuleSpec.from_model(rows[1])
    assert spec == RuleSpec("litigation", ("起诉", "诉讼"), (), "r1", "c1", rule_id=1, sort_order=10)
    loaded = load_rules(rows)
    assert [s.rule_id for s in loaded] == [1, 2]
    hit = screen("起诉后又去信访", loaded)
    assert hit is not None and hit.rule_id == 1
    assert screen("想去行贿", loaded) is None


def test_exception_suppresses_only_the_overlapping_span():
    spec = RuleSpec.parse("trade_secret", "保密协议\n!保密协议模板", "原因", "渠道")
    assert screen("需要一份员工保密协议模板", [spec]) is None
    hit = screen("需要一份保密协议模板，另外对方违反保密协议泄露了图纸", [spec])
    assert hit is not None and hit.matched == ("保密协议",)


def test_default_exceptions(rules):
    assert screen("希望获得商业秘密保护指引", rules) is None
    assert screen("公司拟参加反洗钱培训", rules) is None
    hit = screen("公司拟参加反洗钱培训，顺便问问怎么帮客户洗钱", rules)
    assert hit is not None and hit.category == "unlawful"
    # "商业机密" is a trade secret, not a state secret.
    hit = screen("对方员工泄露了我们的商业机密文件", rules)
    assert hit is not None and hit.category == "trade_secret"
    assert hit.all_hits == ()


def test_conjunction_needs_the_same_sentence():
    spec = RuleSpec.parse("privacy", "查询|调取+家庭住址|住在哪", "原因", "渠道")
    hit = screen("请帮忙调取张某的家庭住址", [spec])
    assert hit is not None and hit.matched == ("调取+家庭住址",)
    assert screen("如何查询政策。员工家庭住址变更要登记吗", [spec]) is None


def test_shorter_keyword_inside_longer_one_counts_once():
    spec = RuleSpec.parse("unlawful", "虚开\n虚开发票", "原因", "渠道")
    assert screen("想虚开发票", [spec]).matched == ("虚开发票",)
    assert screen("想虚开发票，顺便虚开一份合同", [spec]).matched == ("虚开", "虚开发票")


# --- choosing the category -------------------------------------------------------------------


def test_most_matched_keywords_wins_and_others_are_listed(rules):
    hit = screen("帮忙找法官打个招呼，让法院判决和强制执行对我们有利", rules)
    assert hit is not None and hit.category == "litigation"
    assert [h.category for h in hit.all_hits] == ["unlawful"]
    assert hit.all_hits[0].matched == ("打个招呼",)
    assert hit.all_hits[0].category_label == "违反法律法规或违背公序良俗"


def test_ties_go_to_sort_order_then_list_order():
    a = RuleSpec.parse("petition", "上访", "ra", "ca", rule_id=1, sort_order=20)
    b = RuleSpec.parse("litigation", "起诉", "rb", "cb", rule_id=2, sort_order=10)
    hit = screen("起诉不成又去上访", [a, b])
    assert hit.category == "litigation" and hit.rule_id == 2
    assert [h.category for h in hit.all_hits] == ["petition"]
    # Equal sort_order: the order the rules were given in decides.
    a0 = RuleSpec.parse("petition", "上访", "ra", "ca", rule_id=1)
    b0 = RuleSpec.parse("litigation", "起诉", "rb", "cb", rule_id=2)
    assert screen("起诉不成又去上访", [a0, b0]).category == "petition"
    assert screen("起诉不成又去上访", [b0, a0]).category == "litigation"
    # More keywords beat an earlier rule.
    c = RuleSpec.parse("petition", "上访\n信访", "ra", "ca", sort_order=99)
    assert screen("起诉不成又去上访，信访也没用", [b, c]).category == "petition"


def test_two_rules_of_one_category_pool_their_keywords():
    first = RuleSpec.parse("litigation", "起诉", "r1", "c1", rule_id=1, sort_order=1)
    second = RuleSpec.parse("litigation", "判决\n上诉", "r2", "c2", rule_id=2, sort_order=2)
    other = RuleSpec.parse("unlawful", "行贿\n送红包", "r3", "c3", rule_id=3, sort_order=3)
    hit = screen("起诉后判决不公想上诉，还想行贿送红包", [first, second, other])
    assert hit.category == "litigation"
    assert hit.matched == ("起诉", "判决", "上诉")
    assert (hit.rule_id, hit.reason, hit.proper_channel) == (2, "r2", "c2")


def test_unknown_category_keeps_its_code_as_label():
    spec = RuleSpec.parse("custom", "传销", "原因", "渠道")
    assert screen("拉人头传销", [spec]).category_label == "custom"


# --- override and message --------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "\u3000", "不对", "abc", "  政策 "])
def test_override_reason_is_required(reason):
    with pytest.raises(ValidationFailed) as err:
        require_override_reason(reason)
    assert err.value.message == "推翻甄别建议必须填写理由"
    assert err.value.fields == {"override_reason": "必填"}


def test_override_reason_is_stripped():
    assert (
        require_override_reason("  仅咨询社保政策，未涉及仲裁案件本身  ")
        == "仅咨询社保政策，未涉及仲裁案件本身"
    )
    assert require_override_reason("政策咨询") == "政策咨询"


def test_rejection_message_from_category_code():
    text = rejection_message("litigation", "涉及法院判决执行。", "人民法院诉讼服务中心（12368）")
    assert text == (
        "经甄别，该诉求属于「涉法涉诉」事项，不在“政企同行·有需必应”服务范围内"
        "（依据《北辰区“政企同行·有需必应”服务机制工作方案》）。"
        "原因：涉及法院判决执行。建议渠道：人民法院诉讼服务中心（12368）。"
    )


def test_rejection_message_from_suggestion_and_label(rules):
    hit = screen("想去区政府集体上访", rules)
    text = rejection_message(hit, None, None)
    assert text.startswith("经甄别，该诉求属于「涉及信访」事项")
    assert "原因：该诉求属于信访事项" in text
    assert text.endswith("国家信访局网上信访平台。")
    assert "。。" not in text
    assert rejection_message(hit, "自定义原因", "自定义渠道").endswith(
        "原因：自定义原因。建议渠道：自定义渠道。"
    )
    # A Chinese label is accepted too, and empty parts are left out.
    assert rejection_message("涉及个人隐私", "", "") == (
        "经甄别，该诉求属于「涉及个人隐私」事项，不在“政企同行·有需必应”服务范围内"
        "（依据《北辰区“政企同行·有需必应”服务机制工作方案》）。"
    )
    assert hit.to_dict()["message"] == hit.message
