"""The chat command registry, shared by every chat channel (sandbox, WeCom, DingTalk).

A message is normalised (Chinese input methods produce full-width letters, digits, ``＠`` and the
ideographic space), leading ``@机器人`` mentions are dropped, the first word picks a command from
the registry, and the rest is bound to the command's arguments by its syntax line. The command
checks the sender's role, resolves the order reference (full number or its last digits among the
sender's open orders) and calls one operation in ``services.orders.operations``; relational rights stay
with that operation's ``authorize``. Every outcome, including every ``DomainError``, becomes one
complete Chinese sentence for the sender: a chat bot never answers with silence.

Free text (回复内容, 办结结果, 理由…) keeps the punctuation the person typed: a full-width comma is
Chinese typography, not input-method noise, so only the command word and structured arguments
(单号, 部门, 天数, 满意度) are NFKC-normalised.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import case, func, or_, select

from models import Department, DepartmentKind, Enterprise, KvEntry, Person, Role, Satisfaction, WorkOrder
from services import inputs
from services.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from services.knowledge import entries as knowledge
from services.messaging.notify import local_time, order_summary
from services.orders import operations as workorders
from services.orders import screening
from services.orders.ladder import level_label
from services.orders.lifecycle import TRANSITIONS, Action, State
from services.orders.operations import NewOrder, OpContext
from services.permissions import can, can_view, ensure_can_view, visible_orders_clause
from services.studio import document as studio_document
from services.studio import store as studio

log = logging.getLogger("youxubiying.commands")

MAX_CANDIDATES = 5
MAX_LISTED = 10
MIN_SHORT_REF = 3

# Parameters that take the rest of the line (free text, may contain spaces).
GREEDY_PARAMS = frozenset({"内容", "结果", "理由", "说明", "意见", "关键词"})
ORDER_PARAM = "单号"

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SEPARATORS = re.compile(r"[\s:：,，;；、]+")
_LEADING_SEPARATORS = re.compile(r"^[\s:：,，;；、]+")
_FULL_NUMBER = re.compile(r"(?i)bc-?(\d{8})-?(\d{4,})")
_REFERENCE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#-")
_ATTACHED_ARGUMENT = re.compile(r"[0-9A-Za-z#]")
_DAYS = re.compile(r"(\d{1,3})(?:个)?(?:工作日|天|日)?")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

# Official full names people type for departments seeded under their short names.
DEPARTMENT_FULL_NAMES = {
    "发展和改革委员会": "发改委",
    "发展改革委": "发改委",
    "人力资源和社会保障局": "人社局",
    "人力社保局": "人社局",
    "住房和城乡建设委员会": "住建委",
    "城市管理委员会": "城管委",
    "工业和信息化局": "工信局",
    "科学技术局": "科技局",
    "市场监督管理局": "市场监管局",
    "生态环境保护局": "生态环境局",
    "农业农村委员会": "农业农村委",
    "文化和旅游局": "文旅局",
    "卫生健康委员会": "卫健委",
    "政务服务办公室": "政务服务办",
    "投资促进局": "投促局",
    "国有资产监督管理委员会": "国资委",
    "医疗保障局": "医保局",
    "人民法院": "法院",
}
_PLACE_PREFIXES = ("天津市北辰区", "北辰区", "天津市", "区")


# --------------------------------------------------------------------------------------------
# Results and the registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommandResult:
    ok: bool
    reply: str
    order_number: str | None = None
    command: str | None = None
    duplicate: bool = False  # set by services.messaging.chat when a platform re-delivers a message


@dataclass(frozen=True)
class Param:
    name: str
    optional: bool = False
    greedy: bool = False


@dataclass(frozen=True)
class CommandSpec:
    name: str
    aliases: tuple[str, ...]
    syntax: str
    roles: tuple[str, ...]  # empty: everyone with an active account
    help: str
    handler: Callable[[OpContext, dict[str, str]], CommandResult]
    example: str = ""

    @property
    def params(self) -> tuple[Param, ...]:
        return _params(self.syntax)

    def allows(self, person: Person) -> bool:
        return not self.roles or person.role in self.roles

    @property
    def help_line(self) -> str:
        return f"{self.syntax} —— {self.help}"

    @property
    def usage(self) -> str:
        text = f"用法：{self.syntax}"
        return text + (f"（例：{self.example}）" if self.example else "")


REGISTRY: dict[str, CommandSpec] = {}
_LOOKUP: dict[str, CommandSpec] = {}


def _params(syntax: str) -> tuple[Param, ...]:
    params = []
    for token in syntax.split()[1:]:
        optional = token.startswith("[") and token.endswith("]")
        name = token.strip("[]")
        params.append(Param(name, optional, name in GREEDY_PARAMS))
    return tuple(params)


def command(
    name: str, aliases: tuple[str, ...] = (), syntax: str = "", roles: tuple[str, ...] = (), help: str = "",
    example: str = "",
):
    """Register a chat command; ``syntax`` starts with the name, ``[x]`` marks an optional argument."""
    syntax = syntax or name
    if syntax.split()[0] != name:
        raise ValueError(f"syntax of {name!r} must start with its name")
    params = _params(syntax)
    if any(p.greedy for p in params[:-1]):
        raise ValueError(f"only the last argument of {name!r} may take the rest of the line")

    def register(handler):
        spec = CommandSpec(name, tuple(aliases), syntax, tuple(roles), help, handler, example)
        for word in (name, *aliases):
            key = word.lower()
            if key in _LOOKUP:
                raise ValueError(f"chat command word {word!r} registered twice")
            _LOOKUP[key] = spec
        REGISTRY[name] = spec
        return handler

    return register


def lookup(word: str, aliases: Mapping[str, str] | None = None) -> CommandSpec | None:
    """The command a word names: a built-in word, else one of the district's aliases (配置中心)."""
    key = _nfkc(word).lower()
    spec = _LOOKUP.get(key)
    if spec is None and aliases:
        name = {(_nfkc(a).lower()): c for a, c in aliases.items()}.get(key)
        spec = REGISTRY.get(name) if name else None
    return spec


# --------------------------------------------------------------------------------------------
# Normalisation and parsing (pure)
# --------------------------------------------------------------------------------------------
def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").translate(_ZERO_WIDTH).replace("\u3000", " ").replace("＠", "@")


def _strip_mentions(raw: str) -> str:
    """Drop leading ``@机器人``/``@张三`` tokens (a group message addressed to the bot)."""
    raw = (raw or "").translate(_ZERO_WIDTH).strip()
    while raw:
        parts = raw.split(maxsplit=1)
        if not _nfkc(parts[0]).startswith("@"):
            break
        raw = parts[1] if len(parts) > 1 else ""
    return raw


def normalize(text: str) -> str:
    """Full-width → half-width (NFKC), ideographic space and ``＠`` folded, whitespace collapsed,
    leading @-mentions removed."""
    return " ".join(_nfkc(_strip_mentions(text)).split())


class UsageError(ValidationFailed):
    code = "usage"

    def __init__(self, spec: CommandSpec, missing: str):
        super().__init__(f"「{spec.name}」缺少{missing}。{spec.usage}", fields={missing: "必填"})
        self.spec = spec


@dataclass(frozen=True)
class ParsedCommand:
    spec: CommandSpec | None
    args: dict[str, str] = field(default_factory=dict)
    word: str = ""  # the first word as typed (normalised), for "did you mean"
    rest: str = ""  # everything after it, as typed


def _split_head(raw: str) -> tuple[str, str]:
    parts = raw.split(maxsplit=1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _prefix_command(word: str) -> tuple[CommandSpec, str] | None:
    """``报到0001`` typed without a space: the longest command word the text starts with. A
    one-character word taking free text (查) may run straight into Chinese: 「查社保补贴」."""
    for key in sorted(_LOOKUP, key=len, reverse=True):
        if key.isascii() or not word.startswith(key):
            continue
        tail = word[len(key):]
        spec = _LOOKUP[key]
        free_text = len(key) == 1 and bool(spec.params) and spec.params[0].greedy
        if _ATTACHED_ARGUMENT.match(tail) or (free_text and tail):
            return spec, tail
        return None  # the longest word decides: 「查询社保」 is no knowledge query for 「询社保」
    return None


def _take_token(remaining: str) -> tuple[str, str]:
    """The next word, up to whitespace or a separator; the separator stays with the rest."""
    text = _LEADING_SEPARATORS.sub("", remaining)
    match = _SEPARATORS.search(text)
    return (text[: match.start()], text[match.start():]) if match else (text, "")


def _take_reference(remaining: str) -> tuple[str, str]:
    """An order reference may run straight into the text ("0001已联系企业", "０００１，已联系"):
    it ends at the first character that cannot belong to a number, whatever its width."""
    text = _LEADING_SEPARATORS.sub("", remaining)
    end = 0
    while end < len(text) and (folded := _nfkc(text[end])) and all(c in _REFERENCE_CHARS for c in folded):
        end += 1
    if end == 0:
        return _take_token(text)
    rest = text[end:]
    return _nfkc(text[:end]), rest[1:] if rest.startswith("号") else rest


def _bind(spec: CommandSpec, rest: str) -> dict[str, str]:
    values: dict[str, str] = {}
    remaining = rest
    for param in spec.params:
        if param.greedy:
            value, remaining = _LEADING_SEPARATORS.sub("", remaining).strip(), ""
        else:
            take = _take_reference if param.name == ORDER_PARAM else _take_token
            token, remaining = take(remaining)
            value = _nfkc(token).strip()
        if not value:
            if param.optional:
                continue
            raise UsageError(spec, param.name)
        values[param.name] = value
    return values


def parse(text: str, aliases: Mapping[str, str] | None = None) -> ParsedCommand:
    """Find the command and bind its arguments; raises ``UsageError`` when one is missing."""
    raw = _strip_mentions(text)
    if not raw:
        return ParsedCommand(None)
    head, rest = _split_head(raw)
    word = _nfkc(head).strip()
    spec = lookup(word, aliases)
    if spec is None:
        found = _prefix_command(word)
        if found is not None:
            spec, tail = found
            rest = f"{tail} {rest}".strip()
    if spec is None:
        return ParsedCommand(None, word=word, rest=rest)
    return ParsedCommand(spec, _bind(spec, rest), word=word, rest=rest)


def suggest(word: str, rest: str = "") -> str | None:
    """The closest command to an unknown first word, with the rest of the line kept."""
    word = _nfkc(word).lower()
    if not word:
        return None
    words = list(_LOOKUP)
    scored = []
    for position, candidate in enumerate(words):
        ratio = difflib.SequenceMatcher(None, word, candidate).ratio()
        if ratio >= 0.5:
            # Ties (办完: 办结 or 转办?) go to the word sharing the longer beginning.
            prefix = len(os.path.commonprefix([word, candidate]))
            scored.append((ratio, prefix, -position, candidate))
    match = [max(scored)[3]] if scored else []
    if not match:
        # "办结了 0001": the first word runs on past a command name (not a one-character word:
        # 「检查」 does not mean 查).
        match = [w for w in sorted(words, key=len, reverse=True) if not w.isascii() and len(w) > 1 and w in word][:1]
    if not match:
        return None
    name = _LOOKUP[match[0]].name
    rest = " ".join(rest.split())
    return f"{name} {rest}".strip()


def help_text(person: Person | None = None, topic: str = "") -> str:
    if topic:
        spec = lookup(topic)
        if spec is not None:
            aliases = f"；也可以发送：{'、'.join(spec.aliases)}" if spec.aliases else ""
            return f"{spec.help_line}\n{spec.usage}{aliases}"
    specs = [s for s in REGISTRY.values() if person is None or s.allows(person)]
    lines = ["可用命令（单号可只写末尾 4 位，如 0001）："] + [f"· {s.help_line}" for s in specs]
    lines.append("发送「帮助 命令」查看某个命令的用法。")
    return "\n".join(lines)


def unknown_reply(person: Person | None, parsed: ParsedCommand) -> str:
    typed = f"{parsed.word} {parsed.rest}".strip()
    guess = suggest(parsed.word, parsed.rest)
    head = f"没有识别到命令「{typed[:30]}」。" if typed else "您好，我是有需必应工单助手。"
    if guess:
        head += f"您是不是想输入「{guess}」？"
    return f"{head}\n{help_text(person)}"


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------
def dispatch(ctx: OpContext, text: str) -> CommandResult:
    """Run one chat message as a command; always returns a reply, never raises a DomainError."""
    refusal = _refuse_actor(ctx.actor) or _refuse_text(text)
    if refusal is not None:
        return refusal
    pending = _continue_pending(ctx, text) if REGISTRY["诉求"].allows(ctx.actor) else None
    if pending is not None:
        return pending
    try:
        parsed = parse(text, studio.runtime(ctx.session).command_aliases)
    except UsageError as exc:
        return CommandResult(False, exc.message, command=exc.spec.name)
    if parsed.spec is None:
        return CommandResult(False, unknown_reply(ctx.actor, parsed))
    return run(ctx, parsed.spec, parsed.args)


def run(ctx: OpContext, spec: CommandSpec, args: dict[str, str]) -> CommandResult:
    """Check the role, then run the command in a savepoint: a refused operation leaves no trace
    even though the chat request itself commits (the inbound receipt, the reply)."""
    refusal = _refuse_actor(ctx.actor)
    if refusal is not None:
        return refusal
    if not spec.allows(ctx.actor):
        allowed = "、".join(Role.LABELS.get(r, r) for r in spec.roles)
        return CommandResult(
            False, f"「{spec.name}」仅限{allowed}使用，您的身份是{ctx.actor.role_label}。发送「帮助」查看您可用的命令。",
            command=spec.name,
        )
    try:
        with ctx.session.begin_nested():
            result = spec.handler(ctx, args)
    except DomainError as exc:
        return CommandResult(False, _sentence(exc.message), command=spec.name)
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("chat command %s failed ref=%s actor=%s", spec.name, reference, ctx.actor.id)
        return CommandResult(False, f"系统处理「{spec.name}」时出错，请稍后重试或联系管理员（参考号 {reference}）。",
                             command=spec.name)
    return result


def dispatch_button(ctx: OpContext, key: str, extra_text: str = "") -> CommandResult:
    """A card button (``sign:<number>``, ``return:<number>``, ``transfer:<number>``) runs the same
    operation as the typed command; returning and transferring need a reason typed by the person."""
    refusal = _refuse_text(key or "") or _refuse_text(extra_text or "")
    if refusal is not None:
        return refusal
    action, _, number = (key or "").partition(":")
    number = number.strip()
    extra = (extra_text or "").strip()
    if not number:
        return CommandResult(False, "无法识别的按钮操作，请直接发送命令，发送「帮助」查看用法。")
    short = number[-4:]
    if action == "sign":
        return run(ctx, REGISTRY["报到"], {ORDER_PARAM: number})
    if action == "return":
        if not extra:
            return CommandResult(False, f"请发送「退回 {short} 理由」说明退回原因。", number, "退回")
        return run(ctx, REGISTRY["退回"], {ORDER_PARAM: number, "理由": extra})
    if action == "transfer":
        department, reason = _take_token(extra)
        if not department or not reason.strip():
            return CommandResult(False, f"请发送「转办 {short} 部门 理由」说明转给哪个部门及原因。", number, "转办")
        return run(ctx, REGISTRY["转办"], {ORDER_PARAM: number, "部门": _nfkc(department), "理由": reason.strip()})
    return CommandResult(False, "无法识别的按钮操作，请直接发送命令，发送「帮助」查看用法。")


def _refuse_actor(actor: Person | None) -> CommandResult | None:
    if actor is None:
        return CommandResult(False, "未能识别您的身份，请联系系统管理员绑定账号后再使用。")
    if not actor.active:
        return CommandResult(False, "您的账号已停用，如有疑问请联系系统管理员。")
    return None


def _refuse_text(text: str) -> CommandResult | None:
    # A NUL or a lone surrogate cannot be stored (PostgreSQL, UTF-8): say so instead of failing in the database.
    problem = inputs.text_problem(text)
    if problem is None:
        return None
    return CommandResult(False, f"消息{problem}，无法处理，请重新输入。发送「帮助」查看用法。")


def _sentence(message: str) -> str:
    message = message.strip()
    return message if message.endswith(("。", "？", "！", "）")) or "\n" in message else message + "。"


# --------------------------------------------------------------------------------------------
# Resolving what the person typed
# --------------------------------------------------------------------------------------------
def _short(order: WorkOrder) -> str:
    return order.number[-4:]


def _describe(order: WorkOrder) -> str:
    enterprise = order.enterprise.name if order.enterprise else "—"
    return f"{order.number}（{State.LABELS.get(order.state, order.state)}，{enterprise}）"


def resolve_order(ctx: OpContext, ref: str, *, action: str | None = None, verb: str = "查询") -> WorkOrder:
    """A full number anywhere, or the last digits among the sender's open (visible) orders."""
    ref = _nfkc(ref).strip().lstrip("#").removesuffix("号").strip()
    full = _FULL_NUMBER.fullmatch(ref)
    if full:
        return workorders.get_order(ctx.session, f"BC-{full.group(1)}-{full.group(2)}")
    digits = ref.replace("-", "")
    if not digits.isdigit() or len(digits) < MIN_SHORT_REF:
        raise ValidationFailed(
            f"单号「{ref}」格式不对：请发送完整单号（如 BC-20260302-0001）或单号末尾至少 {MIN_SHORT_REF} 位数字"
        )
    rows = ctx.session.scalars(
        select(WorkOrder)
        .where(visible_orders_clause(ctx.actor), WorkOrder.state.in_(State.OPEN),
               WorkOrder.number.like(f"%{digits[-4:]}"))
        .order_by(WorkOrder.id.desc())
    )
    candidates = [o for o in rows if o.number.replace("-", "").endswith(digits)]
    if not candidates:
        raise NotFound(f"在您的在办工单中没有找到尾号为 {ref} 的工单，请核对或发送完整单号")
    if len(candidates) > 1 and action is not None:
        # Prefer the one order this action can apply to now (e.g. the only one awaiting 报到).
        sources = TRANSITIONS[action].sources
        fitting = [o for o in candidates if o.state in sources and can(ctx.actor, action, o)]
        if len(fitting) == 1:
            return fitting[0]
        candidates = fitting or candidates
    if len(candidates) > 1:
        lines = [f"{i}. {_describe(o)}" for i, o in enumerate(candidates[:MAX_CANDIDATES], 1)]
        more = f"\n……另有 {len(candidates) - MAX_CANDIDATES} 张" if len(candidates) > MAX_CANDIDATES else ""
        raise ValidationFailed(
            f"尾号 {ref} 对应 {len(candidates)} 张工单：\n" + "\n".join(lines) + more
            + f"\n请发送完整单号，例如「{verb} {candidates[0].number}」。",
            code="ambiguous",
        )
    return candidates[0]


def _strip_place(name: str) -> str:
    for prefix in _PLACE_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix) + 1:
            return name[len(prefix):]
    return name


def resolve_department(ctx: OpContext, text: str) -> Department:
    """A department by code, name (short or official full name) or a unique part of its name."""
    query = _nfkc(text).strip()
    departments = list(
        ctx.session.scalars(
            select(Department)
            .where(Department.active.is_(True), Department.kind != DepartmentKind.HUB)
            .order_by(Department.sort_order, Department.id)
        )
    )
    wanted = {query, _strip_place(query)}
    wanted |= {DEPARTMENT_FULL_NAMES[w] for w in list(wanted) if w in DEPARTMENT_FULL_NAMES}
    for department in departments:
        if department.code.lower() == query.lower() or department.name in wanted or department.display_name in wanted:
            return department
    core = _strip_place(query)
    partial = [d for d in departments if len(core) >= 2 and (core in d.name or d.name in core)]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = "、".join(d.display_name for d in partial[:MAX_CANDIDATES])
        raise ValidationFailed(f"「{query}」对应多个部门：{names}，请写出完整部门名称")
    raise NotFound(f"没有找到部门「{query}」，请使用部门简称（如 人社局、住建委）")


def resolve_enterprise(ctx: OpContext, text: str) -> Enterprise:
    """Exact 统一社会信用代码 or name anywhere; otherwise a unique partial name in the sender's zone."""
    query = _nfkc(text).strip()
    upper = query.upper()
    exact = ctx.session.scalar(
        select(Enterprise).where(or_(Enterprise.uscc == upper, Enterprise.reg_no == query, Enterprise.name == query))
    )
    if exact is not None:
        return exact
    if len(query) < 2:
        raise ValidationFailed("请填写企业名称（至少 2 个字）或统一社会信用代码")
    statement = select(Enterprise).where(Enterprise.name.contains(query, autoescape=True))
    if ctx.actor.zone_id is not None:
        statement = statement.where(Enterprise.zone_id == ctx.actor.zone_id)
    found = list(ctx.session.scalars(statement.order_by(Enterprise.name).limit(MAX_CANDIDATES + 1)))
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"在您的片区没有找到企业「{query}」，请发送企业全称或统一社会信用代码")
    lines = [f"{i}. {e.name}（{e.identifier or '无信用代码'}）" for i, e in enumerate(found[:MAX_CANDIDATES], 1)]
    more = "\n……还有更多，请写得更完整些" if len(found) > MAX_CANDIDATES else ""
    raise ValidationFailed(
        f"「{query}」对应多家企业：\n" + "\n".join(lines) + more + "\n请发送企业全称或统一社会信用代码。",
        code="ambiguous",
    )


def parse_days(text: str) -> int:
    value = _nfkc(text).strip()
    match = _DAYS.fullmatch(value)
    days = int(match.group(1)) if match else None
    if days is None:
        word = value.removesuffix("天").removesuffix("日").removesuffix("工作日").removesuffix("个")
        days = _CN_DIGITS.get(word)
    if days is None or not 1 <= days <= 30:
        raise ValidationFailed("延期天数请填写 1–30 的数字（工作日），例如「延期 0001 5 等待企业补充材料」",
                               fields={"days": "1–30"})
    return days


def _explained(ctx: OpContext, order: WorkOrder, action: str, operation: Callable[[], WorkOrder]):
    """Run an operation; when ``authorize`` refuses, say which rule the person ran into."""
    try:
        return operation()
    except PermissionDenied as exc:
        label = Action.LABELS.get(action, action)
        department = order.assigned_department
        if action in (Action.SIGN, Action.RETURN) and department is not None:
            why = f"该工单派给了{department.display_name}，只有{department.display_name}的首席帮办可以{label}"
        elif action in (Action.SIGN, Action.RETURN):
            why = "该工单尚未派给部门"
        elif action in (Action.RESOLVE, Action.REQUEST_EXTENSION) and department is not None:
            why = f"该工单由{department.display_name}承办，只有承办部门可以{label}"
        elif action in (Action.FEEDBACK, Action.VISIT):
            why = f"只有该企业的为企服务人员、所在片区管理员或区网格中心可以{label}"
        else:
            raise
        raise PermissionDenied(f"{exc.message}：{why}", code=exc.code) from exc


def _done(spec_name: str, order: WorkOrder, text: str) -> CommandResult:
    return CommandResult(True, text, order.number, spec_name)


# --------------------------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------------------------
_DEPT = Role.DEPARTMENT_ROLES
_ZONE = Role.ZONE_ROLES
_HUB = (Role.DISPATCHER, Role.BIZENV_OFFICE)


@command("报到", aliases=("接单", "签收"), syntax="报到 单号", roles=_DEPT,
         help="首席帮办接单（吹哨报到）", example="报到 0001")
def _sign(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.SIGN, verb="报到")
    try:
        order = _explained(ctx, order, Action.SIGN, lambda: workorders.sign(ctx, order))
    except Conflict as exc:
        if exc.code == "already_signed" and order.assigned_person_id == ctx.actor.id:
            raise Conflict(f"您已于 {local_time(order.signed_at)} 报到工单 {order.number}，无需重复报到") from exc
        raise
    return _done("报到", order, (
        f"已报到工单 {order.number}，办理时限 {local_time(order.due_at)}。"
        f"办理中可发送「回复 {_short(order)} 进展」答复进展，办结后请发送「办结 {_short(order)} 结果」。"
    ))


@command("回复", syntax="回复 单号 内容", roles=(*_DEPT, *_ZONE, *_HUB, Role.SYSADMIN),
         help="答复办理进展（通知为企服务人员）", example="回复 0001 已联系企业，明日上门核实")
def _reply(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.REPLY, verb="回复")
    order = workorders.reply(ctx, order, text=args["内容"])
    return _done("回复", order, f"已记录工单 {order.number} 的办理进展，并已通知为企服务人员。")


@command("办结", syntax="办结 单号 结果", roles=(*_DEPT, *_ZONE, Role.DISPATCHER, Role.SYSADMIN),
         help="登记办理结果并办结", example="办结 0001 已协调举办专场招聘会，企业招到 30 人")
def _resolve(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.RESOLVE, verb="办结")
    order = _explained(ctx, order, Action.RESOLVE, lambda: workorders.resolve(ctx, order, result=args["结果"]))
    return _done("办结", order, f"工单 {order.number} 已办结，已通知为企服务人员将结果反馈企业。")


@command("退回", aliases=("退单",), syntax="退回 单号 理由", roles=_DEPT,
         help="非本部门职责，退回重新派单（须说明理由）", example="退回 0001 该事项属于住建委职责")
def _return(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.RETURN, verb="退回")
    order = _explained(ctx, order, Action.RETURN, lambda: workorders.return_order(ctx, order, reason=args["理由"]))
    return _done("退回", order, f"已退回工单 {order.number}（第 {order.return_count} 次退回），等待重新派单。")


@command("转办", syntax="转办 单号 部门 理由", roles=(*_DEPT, *_HUB, Role.SYSADMIN),
         help="转给其他部门办理（部门写简称，如 人社局）", example="转办 0001 人社局 涉及用工招聘")
def _transfer(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.TRANSFER, verb="转办")
    department = resolve_department(ctx, args["部门"])
    order = workorders.transfer(ctx, order, department_id=department.id, reason=args["理由"])
    return _done("转办", order, (
        f"已将工单 {order.number} 转办至{department.display_name}，并已通知其首席帮办报到。"
    ))


@command("延期", syntax="延期 单号 天数 理由", roles=(*_DEPT, *_ZONE, Role.DISPATCHER, Role.SYSADMIN),
         help="申请延长办理时限（工作日，须审批）", example="延期 0001 5 等待企业补充材料")
def _extend(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.REQUEST_EXTENSION, verb="延期")
    days = parse_days(args["天数"])
    _explained(ctx, order, Action.REQUEST_EXTENSION,
               lambda: workorders.request_extension(ctx, order, days=days, reason=args["理由"]))
    return _done("延期", order, (
        f"已提交工单 {order.number} 延期 {days} 个工作日的申请，等待区网格中心审批，"
        f"审批前请按原时限 {local_time(order.due_at)} 办理。"
    ))


# 「升级 0001 4 理由」: a target level (2–4) may follow the number; 「编号=…」 carries the 12345 number,
# 「市级部门=…」 sends a level-4 escalation to a city department instead of the 12345 desk.
_LEVEL_FIRST = re.compile(r"^(?:第)?([2-4２-４])\s*(?:级)?[\s\u3000]+(.+)$", re.DOTALL)
CITY_REFERENCE_NAMES = ("编号", "12345", "市级编号")
CITY_DEPARTMENT_NAMES = ("市级部门", "部门")


def split_escalation(text: str) -> tuple[int | None, str, dict[str, str]]:
    """(target level or None, reason, {"编号"/"市级部门": value}) of what follows the order number."""
    text = (text or "").strip()
    level = None
    match = _LEVEL_FIRST.match(text)
    if match:
        level = inputs.parse_int(_nfkc(match.group(1)), minimum=2, maximum=4)
        text = match.group(2).strip()
    reason, pairs = split_field_pairs(text)
    extra: dict[str, str] = {}
    for name, value in pairs:
        if name in CITY_REFERENCE_NAMES:
            extra["编号"] = value
        elif name in CITY_DEPARTMENT_NAMES:
            extra["市级部门"] = value
        else:
            reason = f"{reason} {name}={value}".strip()
    return level, reason, extra


@command("升级", syntax="升级 单号 理由", roles=(*_DEPT, *_ZONE, *_HUB, Role.SYSADMIN),
         help="本级难以解决，提请上一级响应；单号后可写目标层级 2/3/4（4 为市级，可附「编号=市12345编号」）",
         example="升级 0001 涉及多个部门，需区级会商")
def _escalate(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.ESCALATE, verb="升级")
    level, reason, extra = split_escalation(args["理由"])
    if not reason:
        raise UsageError(REGISTRY["升级"], "理由")
    target = level or order.level + 1
    city = None
    if target >= 4:
        department = extra.get("市级部门", "")
        city = workorders.CityInfo(route="city_department" if department else "12345", city_department=department,
                                   city_reference=extra.get("编号", ""))
    order = workorders.escalate(ctx, order, reason=reason, level=level, city=city)
    if order.level == 4:
        route = "市级相关部门「" + city.city_department + "」" if city.city_department else "市12345热线企业服务专席"
        text = f"工单 {order.number} 已提级市级办理（{route}），由您持续跟踪至办结。"
        if city.city_reference:
            text += f"市级编号 {city.city_reference} 已登记。"
        else:
            text += f"取得市级工单编号后，请发送「市级编号 {_short(order)} 编号」登记，以便按市级时限跟踪。"
        return _done("升级", order, text)
    where = (f"已派至{order.assigned_department.display_name}" if order.assigned_department is not None
             else "等待" + ("区营商环境办" if order.level == 3 else "区网格中心") + "派单")
    return _done("升级", order, f"工单 {order.number} 已升级为{level_label(order.level)}，{where}。")


@command("市级编号", aliases=("12345编号",), syntax="市级编号 单号 编号", roles=(*_DEPT, *_ZONE, *_HUB, Role.SYSADMIN),
         help="登记市级提级工单的市 12345 编号", example="市级编号 0001 GD20260302001")
def _city_reference(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.COMMENT, verb="市级编号")
    order = workorders.record_city_reference(ctx, order, city_reference=args["编号"])
    return _done("市级编号", order, f"已登记工单 {order.number} 的市级编号 {args['编号']}，请持续跟踪市级办理。")


@command("批示", syntax="批示 单号 内容", roles=(Role.DISTRICT_LEADER, Role.SYSADMIN),
         help="区领导对工单作出批示（显示在工单上，并推送承办部门）", example="批示 0001 请人社局本周内专题研究解决")
def _instruct(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.INSTRUCT, verb="批示")
    order = workorders.instruct(ctx, order, note=args["内容"])
    where = order.assigned_department.display_name if order.assigned_department is not None else "区级调度"
    return _done("批示", order, f"已对工单 {order.number} 作出批示，已推送{where}。")


@command("查询", syntax="查询 单号", help="查看工单的状态、承办方和时限", example="查询 0001")
def _show(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], verb="查询")
    ensure_can_view(ctx.actor, order)
    carrier = workorders.follow_merges(order)
    if carrier is not order and can_view(ctx.actor, carrier):
        # A merged order's number leads to the order carrying it.
        shown = _show_lines(ctx, carrier)
        return _done("查询", carrier, f"工单 {order.number} 已并入 {carrier.number} 一并办理。\n" + shown)
    return _done("查询", order, _show_lines(ctx, order))


def _show_lines(ctx: OpContext, order: WorkOrder) -> str:
    handler = order.assigned_department.display_name if order.assigned_department else ""
    if order.assigned_person is not None:
        handler = f"{handler} · {order.assigned_person.name}" if handler else order.assigned_person.name
    lines = [
        f"工单 {order.number}（{State.LABELS.get(order.state, order.state)}）",
        f"企业：{order.enterprise.name if order.enterprise else '—'}",
        f"诉求：{order_summary(order)}",
        f"层级：{level_label(order.level)}{'·绿色通道' if order.green_channel else ''}；承办：{handler or '待派单'}",
    ]
    if order.state == State.DISPATCHED and order.sign_due_at is not None:
        lines.append(f"报到时限：{local_time(order.sign_due_at)}")
    if order.due_at is not None and order.state in State.OPEN:
        lines.append(f"办理时限：{local_time(order.due_at)}")
    if order.result:
        lines.append(f"办理结果：{order.result}")
    if order.events:
        last = order.events[-1]
        lines.append(f"最近：{local_time(last.created_at)} {last.actor_label} {Action.LABELS.get(last.action, last.action)}")
    merged = workorders.merged_orders(order)
    if merged:
        lines.append(f"并入本单的重复诉求：{'、'.join(o.number for o in merged)}")
    return "\n".join(lines)


@command("我的工单", syntax="我的工单", help="列出我可办理的在办工单")
def _mine(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    condition = (visible_orders_clause(ctx.actor), WorkOrder.state.in_(State.OPEN))
    total = ctx.session.scalar(select(func.count()).select_from(WorkOrder).where(*condition)) or 0
    if not total:
        return CommandResult(True, "您目前没有在办工单。", command="我的工单")
    orders = ctx.session.scalars(
        select(WorkOrder).where(*condition)
        .order_by(case((WorkOrder.due_at.is_(None), 1), else_=0), WorkOrder.due_at, WorkOrder.id)
        .limit(MAX_LISTED)
    )
    lines = [f"您有 {total} 张在办工单（按时限排序）："]
    for i, order in enumerate(orders, 1):
        due = f" · 时限 {local_time(order.due_at)}" if order.due_at else ""
        enterprise = order.enterprise.name if order.enterprise else "—"
        lines.append(f"{i}. {order.number} {State.LABELS.get(order.state, order.state)} · {enterprise}{due}")
    if total > MAX_LISTED:
        lines.append(f"……另有 {total - MAX_LISTED} 张，请到网页工作台查看。")
    lines.append("发送「查询 单号」查看详情。")
    return CommandResult(True, "\n".join(lines), command="我的工单")


@command("帮助", aliases=("help", "?"), syntax="帮助 [命令]", help="查看可用命令", example="帮助 报到")
def _help(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    return CommandResult(True, help_text(ctx.actor, args.get("命令", "")), command="帮助")


@command("诉求", syntax="诉求 企业名称或信用代码 内容", roles=_ZONE,
         help="为企业提交诉求（片区即时办理；末尾写「@部门」直接向该部门吹哨）",
         example="诉求 天津某某科技有限公司 企业门前道路破损，影响货车通行")
def _create(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    enterprise = resolve_enterprise(ctx, args["企业名称或信用代码"])
    text, department_name = split_department_mention(args["内容"])
    department = resolve_department(ctx, department_name) if department_name else None
    content, pairs = split_field_pairs(text)
    return _create_with_fields(ctx, enterprise, content, pairs, department=department)


_TRAILING_MENTION = re.compile(r"\s*@\s*([^\s@]{2,40})\s*$")


def split_department_mention(text: str) -> tuple[str, str]:
    """「内容 @人社局」 → (内容, 人社局): a department named at the end of a 诉求 gets the whistle."""
    folded = (text or "").replace("＠", "@")
    match = _TRAILING_MENTION.search(folded)
    if match is None:
        return text, ""
    return folded[:match.start()].rstrip(), _nfkc(match.group(1))


# --------------------------------------------------------------------------------------------
# 诉求 with the domain form's fields: 「字段名=值」 in the message, and a follow-up for the rest
# --------------------------------------------------------------------------------------------
PENDING_MINUTES = 30
_PAIR = re.compile(r"([^\s=＝]{1,40})\s*[=＝]\s*([^\s=＝]+)")
CANCEL_WORDS = frozenset({"取消", "算了", "放弃"})


def split_field_pairs(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The content without its 「名称=值」 pairs, and the pairs (names as typed: label or key)."""
    pairs = [(m.group(1), m.group(2)) for m in _PAIR.finditer(text or "")]
    return " ".join(_PAIR.sub(" ", text or "").split()), pairs


def _pending_key(ctx: OpContext) -> str:
    return f"chat-pending:{ctx.actor.id}:{ctx.channel}"


def _load_pending(ctx: OpContext) -> dict | None:
    entry = ctx.session.get(KvEntry, _pending_key(ctx))
    if entry is None:
        return None
    expires = entry.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=ctx.now.tzinfo)
    if expires is not None and expires <= ctx.now:
        ctx.session.delete(entry)
        return None
    try:
        return json.loads(entry.value)
    except ValueError:
        return None


def _save_pending(ctx: OpContext, state: dict | None) -> None:
    entry = ctx.session.get(KvEntry, _pending_key(ctx))
    if state is None:
        if entry is not None:
            ctx.session.delete(entry)
        return
    if entry is None:
        entry = KvEntry(key=_pending_key(ctx), value="")
        ctx.session.add(entry)
    entry.value = json.dumps(state, ensure_ascii=False)
    entry.expires_at = ctx.now + timedelta(minutes=PENDING_MINUTES)
    ctx.session.flush()


def _create_with_fields(ctx: OpContext, enterprise: Enterprise, content: str, pairs: list[tuple[str, str]],
                        earlier: dict | None = None, department: Department | None = None) -> CommandResult:
    _domain, definitions = workorders.order_form(ctx.session, None, content=content)
    by_name = {}
    for definition in definitions:
        by_name[definition.key] = definition.key
        by_name[definition.label] = definition.key
    values = dict(earlier or {})
    unknown = []
    for name, value in pairs:
        key = by_name.get(name.strip())
        if key is None:
            unknown.append(name)
        else:
            values[key] = value
    try:
        if department is not None:  # 「@人社局」: a level-2 whistle to the department named
            data = NewOrder(enterprise_id=enterprise.id, content=content, level=2, department_id=department.id,
                            fields=values)
        else:  # The chat names no level: the 派单目录 decides, 片区即时办理 when no rule matches.
            data = NewOrder(enterprise_id=enterprise.id, content=content, level=1, fields=values, auto_dispatch=True)
        submission = workorders.submit_order(ctx, data)
        order = submission.order
    except ValidationFailed as error:
        keys = {d.key for d in definitions}
        if not error.fields or not set(error.fields) <= keys:
            raise
        valid = {k: v for k, v in values.items() if k not in error.fields}
        _save_pending(ctx, {"enterprise_id": enterprise.id, "content": content, "fields": valid,
                            "department_id": department.id if department is not None else None})
        asked = [d for d in definitions if d.key in error.fields]
        lines = [f"为{enterprise.name}提交诉求还需补充："]
        for d in asked:
            hint = f"（可选：{'/'.join(d.options)}）" if d.options else f"（{d.type_label}{'，单位' + d.unit if d.unit else ''}）"
            problem = error.fields[d.key]
            lines.append(f"· {d.label}{hint}" + ("" if problem.startswith("请填写") else f"：{problem}"))
        if unknown:
            lines.append(f"未识别的字段：{'、'.join(unknown)}。")
        example = " ".join(f"{d.label}=…" for d in asked)
        lines.append(f"请直接回复「{example}」（{PENDING_MINUTES} 分钟内有效），发送「取消」放弃。")
        return CommandResult(False, "\n".join(lines), command="诉求")
    _save_pending(ctx, None)
    head = f"已为{enterprise.name}提交诉求，工单 {order.number}（{level_label(order.level)}）。"
    if order.state == State.RECEIVED:
        category = screening.category_label(order.screening_category or "")
        tail = f"系统甄别提示该诉求可能属于「{category}」，请在网页工作台确认是否受理。"
    elif order.state == State.PROCESSING and order.assigned_person_id == ctx.actor.id:
        tail = (f"由您即时办理，办理时限 {local_time(order.due_at)}；办结后请发送「办结 {_short(order)} 结果」，"
                f"难以解决请发送「升级 {_short(order)} 理由」。")
    elif order.state == State.DISPATCHED and order.assigned_department is not None:
        tail = f"已向{order.assigned_department.display_name}吹哨，等待首席帮办报到。"
    else:
        tail = f"当前状态：{State.LABELS.get(order.state, order.state)}。"
    if unknown:
        tail += f"（未识别的字段：{'、'.join(unknown)}，已忽略）"
    if submission.duplicates:
        earlier = submission.duplicates[0].earlier
        tail += "\n" + ctx.notifier().render(
            "chat_possible_duplicate", order, days=workorders.duplicate_rule(ctx.session).window_days,
            earlier=earlier.number, earlier_state=State.LABELS.get(earlier.state, earlier.state))
    return _done("诉求", order, head + tail)


@command("关联", syntax="关联 单号 原单号", roles=(*_ZONE, Role.DISPATCHER, Role.SYSADMIN),
         help="说明诉求与更早的工单是同一事项（重复诉求，由区网格中心合并）", example="关联 0002 BC-20260302-0001")
def _link(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.LINK, verb="关联")
    earlier = resolve_order(ctx, args["原单号"], verb="关联").number
    order = _explained(ctx, order, Action.LINK,
                       lambda: workorders.link_duplicate(ctx, order, earlier=earlier))
    return _done("关联", order, f"已将工单 {order.number} 关联到 {order.duplicate_of.number}（同一事项），"
                              "区网格中心将合并办理，合并后两个单号都可查询。")


def _continue_pending(ctx: OpContext, text: str) -> CommandResult | None:
    """The next message after a 诉求 that asked for fields: 「名称=值」 completes it, 取消 drops it;
    anything else is an ordinary message (the request keeps waiting until it expires)."""
    if ctx.actor is None:
        return None
    state = _load_pending(ctx)
    if state is None:
        return None
    words = " ".join((text or "").split())
    if words in CANCEL_WORDS:
        _save_pending(ctx, None)
        return CommandResult(True, "已取消这次诉求提交。", command="诉求")
    _rest, pairs = split_field_pairs(words)
    if not pairs or _PAIR.sub(" ", words).strip():
        return None
    enterprise = ctx.session.get(Enterprise, state.get("enterprise_id"))
    if enterprise is None:
        _save_pending(ctx, None)
        return None
    try:
        with ctx.session.begin_nested():
            department = (ctx.session.get(Department, state["department_id"]) if isinstance(
                state.get("department_id"), int) else None)
            return _create_with_fields(ctx, enterprise, state.get("content", ""), pairs, state.get("fields"),
                                       department=department)
    except DomainError as exc:
        return CommandResult(False, _sentence(exc.message), command="诉求")


@command("反馈", syntax="反馈 单号 [说明]", roles=(*_ZONE, Role.DISPATCHER, Role.SYSADMIN),
         help="登记已将办理结果反馈企业", example="反馈 0001 已电话告知企业负责人")
def _feedback(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.FEEDBACK, verb="反馈")
    order = _explained(ctx, order, Action.FEEDBACK, lambda: workorders.feedback(ctx, order, note=args.get("说明", "")))
    return _done("反馈", order, (
        f"已登记工单 {order.number} 已反馈企业。回访后请发送「回访 {_short(order)} 满意度 意见」，"
        f"满意度为：{'/'.join(Satisfaction.ALL)}。"
    ))


@command("回访", syntax="回访 单号 满意度 [意见]", roles=(*_ZONE, Role.DISPATCHER, Role.SYSADMIN),
         help=f"登记企业评价（{'/'.join(Satisfaction.ALL)}）", example="回访 0001 满意 问题已解决")
def _visit(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    order = resolve_order(ctx, args[ORDER_PARAM], action=Action.VISIT, verb="回访")
    rating = args["满意度"]
    if rating not in Satisfaction.ALL:
        raise ValidationFailed(f"满意度请填写：{'/'.join(Satisfaction.ALL)}，例如「回访 {_short(order)} 满意」")
    comment = args.get("意见", "")
    order = _explained(ctx, order, Action.VISIT,
                       lambda: workorders.visit(ctx, order, satisfaction=rating, comment=comment))
    if order.state == State.ARCHIVED:
        text = f"已记录回访（{rating}），工单 {order.number} 已归档。"
    elif order.state == State.PROCESSING:
        text = f"已记录回访（{rating}），工单 {order.number} 已退回承办方重新办理。"
    else:
        text = f"已记录回访（{rating}），工单 {order.number} 已提请区网格中心研判。"
    return _done("回访", order, text)


@command("查", aliases=("知识", "查知识"), syntax="查 关键词",
         help="查知识库（也可写「知识 关键词」）：返回最相关的 3 条已发布问答", example="查 社保补贴")
def _knowledge(ctx: OpContext, args: dict[str, str]) -> CommandResult:
    query = args["关键词"]
    folded = _nfkc(query).strip()
    if _FULL_NUMBER.fullmatch(folded.lstrip("#")) or (folded.isdigit() and len(folded) >= MIN_SHORT_REF):
        # 「查 0001」: a work-order number, not a question.
        return _show(ctx, {ORDER_PARAM: folded})
    return CommandResult(True, knowledge.chat_answer(ctx.session, query, base_url=ctx.base_url), command="查")


# The words the configuration may not take for aliases, and the commands aliases may name.
studio_document.register_command_words({word: spec.name for spec in REGISTRY.values()
                                        for word in (spec.name, *spec.aliases)})
