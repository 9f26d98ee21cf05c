"""Scope screening (甄别): does a request fall outside "政企同行·有需必应"?

The district's 工作方案 (section 三(二)) puts six kinds of matters out of scope: 涉法涉诉,
涉及信访, 国家秘密, 商业秘密, 个人隐私, and anything against the law or public order and good
morals. This module only *suggests* a category; a person confirms, and overriding a suggestion
needs a reason (:func:`require_override_reason`).

Pure module: no Flask, no database session. Rules come either from :data:`DEFAULT_RULES` (seed
data) or from ``ScreeningRule`` rows via :meth:`RuleSpec.from_model` / :func:`load_rules`.

Keyword syntax (one keyword per line, or separated by ``,`` ``，`` ``、`` ``;`` ``；``):

* ``起诉`` — a plain phrase, matched as a substring of the normalised text.
* ``诉讼|官司`` — alternatives: any one of them counts as this keyword.
* ``竞争对手+客户名单|报价`` — all parts must appear in the same sentence (sentences end at
  ``。！？；``); each part may have alternatives.
* ``!保密协议模板`` — an exception phrase: a keyword occurrence that overlaps an occurrence of
  an exception phrase of the same rule does not count (so ``!反洗钱`` keeps ``洗钱`` from
  flagging "反洗钱培训", while a separate "洗钱" elsewhere in the text still counts).

Scoring: a keyword counts once however often it occurs; a plain keyword found only inside a
longer matched keyword of the same rule (``虚开`` inside ``虚开发票``) is not counted again. The
category with the most matched keywords wins; ties go to the rule listed first (``sort_order``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services import wording
from services.errors import ValidationFailed

CATEGORIES: dict[str, str] = {
    "litigation": "涉法涉诉",
    "petition": "涉及信访",
    "state_secret": "涉及国家秘密",
    "trade_secret": "涉及商业秘密",
    "privacy": "涉及个人隐私",
    "unlawful": "违反法律法规或违背公序良俗",
}

PLAN_TITLE = "《北辰区“政企同行·有需必应”服务机制工作方案》"
SERVICE_NAME = "“政企同行·有需必应”"
_CLAUSE = "工作方案第三部分第（二）项"

OVERRIDE_REASON_MIN_CHARS = 4

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "category": "litigation",
        "sort_order": 10,
        # "法院" alone is deliberately absent: the district court is one of the mechanism's
        # chief-helper departments (法治宣传, 法治体检, 破产事务辅导 are in scope). "被告" alone is
        # absent because it is a substring of "被告知". Any mention of 仲裁 is flagged: the
        # matter is tied to a dispute procedure, and staff may override for a pure policy question.
        "keywords": "\n".join(
            [
                "起诉",
                "诉讼",
                "打官司",
                "官司",
                "判决",
                "裁定",
                "裁决",
                "仲裁",
                "立案",
                "上诉",
                "再审",
                "开庭",
                "庭审",
                "审理",
                "法院传票",
                "收到传票",
                "应诉",
                "原告",
                "被告人",
                "作为被告",
                "列为被告",
                "成了被告",
                "律师函",
                "强制执行",
                "申请执行",
                "执行案件",
                "被执行人",
                "执行款",
                "法院执行",
                "法院判",
                "法院裁",
                "法院立案",
                "找法官",
                "财产保全",
                "诉讼保全",
                "法院查封",
                "司法查封",
                "司法拍卖",
                "账户被冻结",
                "冻结账户",
                "账户冻结",
                "资金被冻结",
                "调解书",
                "行政复议",
                "检察院",
                "抗诉",
                "报案",
                "刑事案件",
                "涉案",
                # "建立案例", "申报案例" contain 立案 / 报案 but are not cases.
                "!立案例",
                "!报案例",
            ]
        ),
        "reason": (
            f"该诉求涉及诉讼、仲裁、执行、行政复议或刑事案件等法定程序。依据{_CLAUSE}"
            "，涉法涉诉事项不在服务范围内，应依法通过司法途径解决"
        ),
        "proper_channel": (
            "有管辖权的人民法院诉讼服务中心（12368诉讼服务热线）；"
            "法律咨询、法律援助可联系区司法局公共法律服务中心（12348公共法律服务热线）；"
            "劳动争议可向区劳动人事争议仲裁委员会咨询"
        ),
    },
    {
        "category": "petition",
        "sort_order": 20,
        "keywords": "\n".join(
            [
                "信访",
                "上访",
                "越级访",
                "越级上访",
                "集体访",
                "集体上访",
                "进京访",
                "赴京上访",
                "缠访",
                "闹访",
                "重复上访",
                "领导接访",
                "接访日",
                "信访件",
                "信访事项",
                "信访办",
                "信访局",
                # "线上访问" contains 上访; "走访民营企业" is why 访民 is not a keyword.
                "!上访问",
            ]
        ),
        "reason": (
            f"该诉求属于信访事项或已进入信访程序。依据{_CLAUSE}"
            "，涉及信访的事项不在服务范围内，应按《信访工作条例》通过信访渠道反映"
        ),
        "proper_channel": "区信访办（信访接待窗口，书面或走访反映）；国家信访局网上信访平台",
    },
    {
        "category": "state_secret",
        "sort_order": 30,
        "keywords": "\n".join(
            [
                "国家秘密",
                "国家机密",
                "军事秘密",
                "军事机密",
                "涉密",
                "绝密",
                "机密级",
                "机密文件",
                "机密资料",
                "秘密级",
                "密级",
                "提前透露|提前获取|提前看|提前拿到+未公开|未公布|没公开|没公布|内部文件",
                # "商业机密" is a trade-secret term, not a state secret.
                "!商业机密",
            ]
        ),
        "reason": (
            f"该诉求涉及国家秘密或尚未公开的涉密信息。依据{_CLAUSE}"
            "，涉及国家秘密的事项不在服务范围内，须严格按保密法律法规办理"
        ),
        "proper_channel": "保密行政管理部门（区委保密办）；涉密事项由原定密机关依照保密规定办理",
    },
    {
        "category": "trade_secret",
        "sort_order": 40,
        "keywords": "\n".join(
            [
                "商业秘密",
                "商业机密",
                "技术秘密",
                "经营秘密",
                "竞争对手|对手公司|同行企业|同行公司|友商|别家企业|别的企业|其他企业"
                "+客户名单|客户信息|客户资料|报价|投标价|底价|技术资料|技术图纸|设计图纸|配方"
                "|工艺参数|源代码|财务数据|经营数据|供应商名单|销售数据|核心技术",
                "搞到|弄到|打听|窃取|套取|偷拿|私自拷贝+客户名单|投标报价|技术图纸|配方|源代码|工艺参数",
                # Guidance on protecting one's own secrets is an ordinary 市场监管 service.
                "!商业秘密保护指引",
                "!商业秘密保护培训",
                "!商业秘密保护示范",
                "!商业秘密保护工作站",
                "!保密协议模板",
            ]
        ),
        "reason": (
            f"该诉求涉及获取、使用或处理其他经营主体的商业秘密。依据{_CLAUSE}"
            "，涉及商业秘密的事项不在服务范围内"
        ),
        "proper_channel": (
            "侵犯商业秘密行为可向区市场监督管理局举报（12315）；商业秘密纠纷可向人民法院提起诉讼"
        ),
    },
    {
        "category": "privacy",
        "sort_order": 50,
        "keywords": "\n".join(
            [
                "个人隐私",
                "他人隐私",
                "员工隐私",
                "行踪",
                "开房记录",
                "举报人信息",
                "举报人是谁",
                "举报人姓名",
                "举报人电话",
                "举报人身份",
                "谁举报",
                "他人|某人|别人|此人|前员工|离职员工|竞争对手老板|对方老板|对方负责人|其家人"
                "+身份证号|家庭住址|住址|住在哪|手机号|行踪|婚姻|病历|病史|就诊|银行流水|存款"
                "|户籍|征信|通话记录|出行记录|家庭成员|开房|犯罪记录",
                "查询|查一下|查查|帮忙查|帮我查|调取|打听"
                "+家庭住址|住在哪|行程轨迹|通话记录|开房记录|就诊记录|病历|婚姻状况",
                # Compliance work on an enterprise's own handling of personal data is in scope.
                # "其他人" contains 他人.
                "!其他人",
                "!个人隐私保护合规",
                "!个人隐私政策",
            ]
        ),
        "reason": (
            f"该诉求涉及查询、获取或披露他人的个人隐私信息。依据{_CLAUSE}，涉及个人隐私的事项不在服务范围内"
        ),
        "proper_channel": (
            "由当事人通过法定途径依法维权；涉嫌违法犯罪的请向公安机关报案（110）；"
            "个人信息泄露、滥用可向网信部门举报（12377）"
        ),
    },
    {
        "category": "unlawful",
        "sort_order": 60,
        # Only phrases that ask for something unlawful; reports of *others'* violations (偷排,
        # 假冒商标 …) are ordinary 市场监管 / 生态环境 requests and stay in scope.
        "keywords": "\n".join(
            [
                "偷税",
                "逃税",
                "漏税",
                "骗税",
                "骗取出口退税",
                "虚开",
                "虚开发票",
                "买发票",
                "买卖发票",
                "假发票",
                "做假账",
                "假账",
                "两套账",
                "行贿",
                "给领导送礼",
                "请客送礼",
                "送红包",
                "送购物卡",
                "回扣",
                "好处费",
                "打点一下",
                "打点关系",
                "走后门",
                # Bare "通融" is a substring of 普通融资 / 流通融资.
                "通融一下",
                "通融通融",
                "帮忙通融",
                "能否通融",
                "能不能通融",
                "给个通融",
                "打个招呼",
                "打声招呼",
                "帮忙打招呼",
                "找关系",
                "疏通关系",
                "摆平",
                "网开一面",
                "睁一只眼闭一只眼",
                "放一马",
                "躲避检查",
                "逃避检查",
                "规避检查",
                "应付检查",
                "逃避监管",
                "规避监管",
                "通风报信",
                "提前透露|提前告知|提前告诉+抽查名单|检查名单|检查时间|暗访",
                "销毁证据",
                "伪造",
                "造假",
                "假证",
                "骗取",
                "骗保",
                "套取",
                "洗钱",
                "赌博",
                "非法集资",
                "传销",
                "高利贷",
                "套路贷",
                "暴力催收",
                "走私",
                "刷单",
                "规避社保",
                "逃缴社保",
                "不给员工交社保",
                "不给员工缴社保",
                "不想交社保",
                "资质挂靠",
                "借用资质",
                "租借资质",
                "围标",
                "串标",
                "陪标",
                "打听|透露|泄露|提前知道|告诉我+标底|评标专家|其他投标人",
                "!举报偷税",
                "!举报逃税",
                "!反洗钱",
                "!防范非法集资",
                "!打击非法集资",
                "!打击传销",
                "!打击走私",
                "!打击刷单",
                "!防伪",
                "!打击造假",
                "!举报造假",
                "!周围标",
                "!范围标",
                "!外围标",
                "!伪造我公司",
                "!伪造我司",
                "!被伪造",
                "!举报串标",
                "!举报围标",
            ]
        ),
        "reason": (
            f"该诉求要求协助实施或规避查处违法违规行为，或违背社会公序良俗。依据{_CLAUSE}"
            "，此类事项不在服务范围内，不予协助"
        ),
        "proper_channel": (
            "涉嫌违法犯罪的请向公安机关报警（110）；"
            "其他违法违规线索可向相关行政执法部门举报（如税务12366、市场监管12315）"
        ),
    },
]

_SEPARATORS = re.compile(r"[\n\r,，、;；]+")
_SENTENCE_END = re.compile(r"[。!?;\n]")
_WHITESPACE = re.compile(r"\s+")
# A space next to a Chinese character carries no meaning ("在 KTV 赌博"); spaces between
# Latin words are kept.
_CJK_GAP = re.compile(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])")


def normalize_text(text: str) -> str:
    """NFKC (full-width → half-width), ideographic space → space, collapse whitespace, lowercase."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).replace("\u3000", " ")
    return _WHITESPACE.sub(" ", text).strip().lower()


def _compact(text: str) -> str:
    """The form keywords are matched against: normalised, without spaces next to Chinese characters."""
    return _CJK_GAP.sub("", normalize_text(text))


def _split_keywords(keywords_text: str) -> list[str]:
    items: list[str] = []
    for raw in _SEPARATORS.split(keywords_text or ""):
        item = _compact(raw)
        if item and item not in items:
            items.append(item)
    return items


def _parts(keyword: str) -> list[list[str]]:
    """``a|b+c`` → ``[["a", "b"], ["c"]]``; empty pieces are dropped."""
    parts = []
    for part in keyword.split("+"):
        alts = [alt.strip() for alt in part.split("|") if alt.strip()]
        if alts:
            parts.append(alts)
    return parts


@dataclass(frozen=True)
class RuleSpec:
    """One screening rule, parsed and normalised; ``sort_order`` breaks ties between categories."""

    category: str
    keywords: tuple[str, ...]
    exceptions: tuple[str, ...]
    reason: str
    proper_channel: str
    rule_id: int | None = None
    sort_order: int = 0

    @classmethod
    def parse(
        cls,
        category: str,
        keywords_text: str,
        reason: str,
        proper_channel: str,
        rule_id: int | None = None,
        sort_order: int = 0,
    ) -> RuleSpec:
        keywords: list[str] = []
        exceptions: list[str] = []
        for item in _split_keywords(keywords_text):
            if item.startswith("!"):
                phrase = item[1:].strip()
                if phrase and phrase not in exceptions:
                    exceptions.append(phrase)
            elif _parts(item):
                keywords.append(item)
        return cls(
            category=(category or "").strip(),
            keywords=tuple(keywords),
            exceptions=tuple(exceptions),
            reason=(reason or "").strip(),
            proper_channel=(proper_channel or "").strip(),
            rule_id=rule_id,
            sort_order=sort_order or 0,
        )

    @classmethod
    def from_model(cls, rule: Any) -> RuleSpec:
        """Build from a ``ScreeningRule`` row (or anything with the same attributes)."""
        return cls.parse(
            rule.category,
            rule.keywords or "",
            rule.reason or "",
            rule.proper_channel or "",
            rule_id=getattr(rule, "id", None),
            sort_order=getattr(rule, "sort_order", 0) or 0,
        )

    @property
    def category_label(self) -> str:
        return category_label(self.category)


def category_label(category: str) -> str:
    """Chinese label of a category code; an unknown code (added by an administrator) is shown as is."""
    return CATEGORIES.get(category, category)


def default_rules() -> list[RuleSpec]:
    """:data:`DEFAULT_RULES` as rule specs, in ``sort_order``."""
    specs = [
        RuleSpec.parse(
            r["category"], r["keywords"], r["reason"], r["proper_channel"], sort_order=r["sort_order"]
        )
        for r in DEFAULT_RULES
    ]
    return sorted(specs, key=lambda s: s.sort_order)


def load_rules(models: Iterable[Any]) -> list[RuleSpec]:
    """Active ``ScreeningRule`` rows as specs, ordered by ``sort_order`` then id."""
    active = [m for m in models if getattr(m, "active", True)]
    active.sort(key=lambda m: (getattr(m, "sort_order", 0) or 0, getattr(m, "id", None) or 0))
    return [RuleSpec.from_model(m) for m in active]


@dataclass(frozen=True)
class CategoryHit:
    """Keywords of one category found in a request."""

    category: str
    category_label: str
    matched: tuple[str, ...]
    rule_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "category_label": self.category_label,
            "matched": list(self.matched),
            "rule_id": self.rule_id,
        }


@dataclass(frozen=True)
class ScreeningSuggestion:
    """The suggested out-of-scope category; ``all_hits`` lists the other categories that matched."""

    category: str
    category_label: str
    reason: str
    proper_channel: str
    matched: tuple[str, ...]
    rule_id: int | None = None
    all_hits: tuple[CategoryHit, ...] = field(default_factory=tuple)

    @property
    def message(self) -> str:
        return rejection_message(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "category_label": self.category_label,
            "reason": self.reason,
            "proper_channel": self.proper_channel,
            "matched": list(self.matched),
            "rule_id": self.rule_id,
            "all_hits": [hit.to_dict() for hit in self.all_hits],
            "message": self.message,
        }


def _occurrences(text: str, phrase: str) -> list[tuple[int, int]]:
    spans = []
    start = text.find(phrase)
    while start != -1:
        spans.append((start, start + len(phrase)))
        start = text.find(phrase, start + 1)
    return spans


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(text)))
    return [b for b in bounds if b[1] > b[0]]


def _rule_matches(text: str, rule: RuleSpec) -> list[str]:
    """Labels of the rule's keywords found in ``text`` (already compacted), in keyword order."""
    blocked = [span for phrase in rule.exceptions for span in _occurrences(text, phrase)]
    # (label, spans) for plain keywords, (label, None) for sentence conjunctions.
    found: list[tuple[str, list[tuple[int, int]] | None]] = []
    sentences: list[tuple[int, int]] | None = None
    for keyword in rule.keywords:
        parts = _parts(keyword)
        # Live occurrences of each part, ordered by position: (start, end, alternative).
        live = [
            sorted(
                (s, e, alt)
                for alt in alts
                for s, e in _occurrences(text, alt)
                if not _overlaps((s, e), blocked)
            )
            for alts in parts
        ]
        if not all(live):
            continue
        if len(parts) == 1:
            found.append((live[0][0][2], [(s, e) for s, e, _ in live[0]]))
            continue
        if sentences is None:
            sentences = _sentences(text)
        for lo, hi in sentences:
            firsts = [next((alt for s, e, alt in occ if s >= lo and e <= hi), None) for occ in live]
            if all(firsts):
                found.append(("+".join(alt for alt in firsts if alt), None))
                break

    plain = [spans for _, spans in found if spans]
    labels: list[str] = []
    for label, spans in found:
        if spans is not None and all(
            any(s2 <= s and e <= e2 and e2 - s2 > e - s for other in plain for s2, e2 in other)
            for s, e in spans
        ):
            continue  # only ever seen inside a longer matched keyword
        if label not in labels:
            labels.append(label)
    return labels


def screen(text: str, rules: Iterable[RuleSpec]) -> ScreeningSuggestion | None:
    """Suggest an out-of-scope category for a request, or ``None`` when it looks in scope."""
    compact = _compact(text or "")
    if not compact:
        return None
    ordered = sorted(enumerate(rules), key=lambda pair: (pair[1].sort_order, pair[0]))

    # category -> (matched labels, best rule, best rule's hit count), in first-rule order.
    per_category: dict[str, tuple[list[str], RuleSpec, int]] = {}
    for _, rule in ordered:
        labels = _rule_matches(compact, rule)
        if not labels:
            continue
        if rule.category not in per_category:
            per_category[rule.category] = (list(labels), rule, len(labels))
            continue
        merged, best, best_count = per_category[rule.category]
        merged.extend(label for label in labels if label not in merged)
        if len(labels) > best_count:
            best, best_count = rule, len(labels)
        per_category[rule.category] = (merged, best, best_count)

    if not per_category:
        return None
    # Stable sort: most keywords first, ties keep rule order.
    ranked = sorted(per_category.items(), key=lambda item: -len(item[1][0]))
    (category, (matched, rule, _)), others = ranked[0], ranked[1:]
    return ScreeningSuggestion(
        category=category,
        category_label=category_label(category),
        reason=rule.reason,
        proper_channel=rule.proper_channel,
        matched=tuple(matched),
        rule_id=rule.rule_id,
        all_hits=tuple(
            CategoryHit(cat, category_label(cat), tuple(labels), best.rule_id)
            for cat, (labels, best, _) in others
        ),
    )


def require_override_reason(reason: str) -> str:
    """The stripped reason for overriding a screening suggestion; refuses an empty or too short one."""
    cleaned = (reason or "").strip()
    if len(cleaned) < OVERRIDE_REASON_MIN_CHARS:
        raise ValidationFailed("推翻甄别建议必须填写理由", fields={"override_reason": "必填"})
    return cleaned


def _sentence_body(text: str | None) -> str:
    return wording.sentence_body(text).rstrip("！!")


def rejection_message(
    suggestion_or_category: ScreeningSuggestion | str,
    reason: str | None = None,
    proper_channel: str | None = None,
) -> str:
    """The text told to the enterprise and the staff when a request is refused as out of scope.

    Accepts a :class:`ScreeningSuggestion` (its reason and channel are used unless given) or a
    category code / label with the reason and channel.
    """
    if isinstance(suggestion_or_category, ScreeningSuggestion):
        label = suggestion_or_category.category_label
        reason = suggestion_or_category.reason if reason is None else reason
        if proper_channel is None:
            proper_channel = suggestion_or_category.proper_channel
    else:
        label = category_label((suggestion_or_category or "").strip())
    parts = [f"经甄别，该诉求属于「{label}」事项，不在{SERVICE_NAME}服务范围内（依据{PLAN_TITLE}）。"]
    if _sentence_body(reason):
        parts.append(f"原因：{_sentence_body(reason)}。")
    if _sentence_body(proper_channel):
        parts.append(f"建议渠道：{_sentence_body(proper_channel)}。")
    return "".join(parts)
