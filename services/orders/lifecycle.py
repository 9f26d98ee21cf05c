"""The work-order lifecycle: states, actions and the one transition table.

受理 → 甄别/分类 → 派单 → 签收(报到) → 办理 → 答复/办结 → 反馈企业 → 回访 → 归档,
with 不予受理, 退单, 转办, 延期, 挂起/恢复, 升级, 督办, 重办 and 合并/拆分 (duplicates) beside the main line.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.errors import InvalidTransition


class State:
    RECEIVED = "received"
    REJECTED = "rejected"
    PENDING_DISPATCH = "pending_dispatch"
    DISPATCHED = "dispatched"
    PROCESSING = "processing"
    SUSPENDED = "suspended"
    RESOLVED = "resolved"
    FED_BACK = "fed_back"
    VISITED = "visited"
    ARCHIVED = "archived"
    MERGED = "merged"  # a duplicate merged into an earlier order: that order carries it now

    LABELS = {
        RECEIVED: "待甄别",
        REJECTED: "不予受理",
        PENDING_DISPATCH: "待派单",
        DISPATCHED: "待签收",
        PROCESSING: "办理中",
        SUSPENDED: "已挂起",
        RESOLVED: "已办结待反馈",
        FED_BACK: "已反馈待回访",
        VISITED: "已回访",
        ARCHIVED: "已归档",
        MERGED: "已合并",
    }
    ALL = tuple(LABELS)
    # Orders still owed something by the government side ("诉求零积压").
    OPEN = (RECEIVED, PENDING_DISPATCH, DISPATCHED, PROCESSING, SUSPENDED, RESOLVED, FED_BACK)
    # States in which the handling clock runs.
    CLOCK_RUNNING = (DISPATCHED, PROCESSING)
    TERMINAL = (REJECTED, ARCHIVED, MERGED)


class Action:
    ACCEPT = "accept"
    REJECT = "reject"
    DISPATCH = "dispatch"
    SIGN = "sign"
    RETURN = "return"
    TRANSFER = "transfer"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    SUSPEND = "suspend"
    RESUME = "resume"
    REPLY = "reply"
    RESOLVE = "resolve"
    FEEDBACK = "feedback"
    VISIT = "visit"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    JOINT_MEETING = "joint_meeting"
    SUPERVISE = "supervise"
    ARCHIVE = "archive"
    COMMENT = "comment"
    INSTRUCT = "instruct"  # 领导批示: a district leader's instruction, pushed to the handling department
    CREATE = "create"
    ALERT = "alert"
    LINK = "link"
    MERGE = "merge"
    SPLIT = "split"

    LABELS = {
        CREATE: "提交诉求",
        ACCEPT: "受理",
        REJECT: "不予受理",
        DISPATCH: "派单",
        SIGN: "签收报到",
        RETURN: "退单",
        TRANSFER: "转办",
        REQUEST_EXTENSION: "申请延期",
        DECIDE_EXTENSION: "审批延期",
        SUSPEND: "挂起",
        RESUME: "恢复办理",
        REPLY: "答复进展",
        RESOLVE: "办结",
        FEEDBACK: "反馈企业",
        VISIT: "回访评价",
        REOPEN: "重办",
        ESCALATE: "升级",
        JOINT_MEETING: "联席会商",
        SUPERVISE: "督办",
        ARCHIVE: "归档",
        COMMENT: "备注",
        INSTRUCT: "领导批示",
        ALERT: "时限提醒",
        LINK: "关联重复诉求",
        MERGE: "合并重复诉求",
        SPLIT: "拆分",
    }


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    # The states the action may lead to; the operation picks one (routing decides, e.g. escalate).
    targets: frozenset[str]


def _t(action: str, sources: tuple[str, ...], targets: tuple[str, ...] | None = None) -> Transition:
    return Transition(action, frozenset(sources), frozenset(targets if targets is not None else sources))


S = State
_WORKING = (S.DISPATCHED, S.PROCESSING)
_LIVE = (S.RECEIVED, S.PENDING_DISPATCH, S.DISPATCHED, S.PROCESSING, S.SUSPENDED)

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t(Action.ACCEPT, (S.RECEIVED,), (S.PENDING_DISPATCH, S.PROCESSING, S.DISPATCHED)),
        _t(Action.REJECT, (S.RECEIVED, S.PENDING_DISPATCH), (S.REJECTED,)),
        _t(Action.DISPATCH, (S.PENDING_DISPATCH,), (S.DISPATCHED,)),
        _t(Action.SIGN, (S.DISPATCHED,), (S.PROCESSING,)),
        _t(Action.RETURN, _WORKING, (S.PENDING_DISPATCH,)),
        _t(Action.TRANSFER, (S.PENDING_DISPATCH, *_WORKING), (S.DISPATCHED,)),
        _t(Action.REQUEST_EXTENSION, _WORKING),
        _t(Action.DECIDE_EXTENSION, (*_WORKING, S.SUSPENDED)),
        _t(Action.SUSPEND, (S.PROCESSING,), (S.SUSPENDED,)),
        _t(Action.RESUME, (S.SUSPENDED,), (S.PROCESSING,)),
        _t(Action.REPLY, (S.PROCESSING, S.SUSPENDED)),
        _t(Action.RESOLVE, (S.PROCESSING,), (S.RESOLVED,)),
        _t(Action.FEEDBACK, (S.RESOLVED,), (S.FED_BACK,)),
        _t(Action.VISIT, (S.FED_BACK,), (S.VISITED,)),
        _t(Action.REOPEN, (S.VISITED,), (S.PROCESSING, S.DISPATCHED)),
        _t(Action.ESCALATE, (S.PENDING_DISPATCH, *_WORKING), (S.PENDING_DISPATCH, S.DISPATCHED, S.PROCESSING)),
        _t(Action.JOINT_MEETING, (S.PENDING_DISPATCH, *_WORKING), (S.PENDING_DISPATCH, S.DISPATCHED, S.PROCESSING)),
        _t(Action.SUPERVISE, (S.PENDING_DISPATCH, S.DISPATCHED, S.PROCESSING, S.SUSPENDED)),
        _t(Action.ARCHIVE, (S.VISITED, S.FED_BACK, S.REJECTED), (S.ARCHIVED,)),
        _t(Action.COMMENT, (*_LIVE, S.RESOLVED, S.FED_BACK, S.VISITED)),
        _t(Action.INSTRUCT, (*_LIVE, S.RESOLVED, S.FED_BACK, S.VISITED)),
        # 重复诉求: a live order is linked to (a relation only) or merged into an earlier one; a split
        # gives a merged order back the state it had.
        _t(Action.LINK, _LIVE),
        _t(Action.MERGE, _LIVE, (S.MERGED,)),
        _t(Action.SPLIT, (S.MERGED,), _LIVE),
    )
}


def check_transition(action: str, state: str, target: str | None = None) -> str:
    """Return the state after ``action`` from ``state``; raise InvalidTransition otherwise."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidTransition(f"未知的操作：{action}")
    label = Action.LABELS.get(action, action)
    if state not in transition.sources:
        raise InvalidTransition(
            f"工单当前状态为「{State.LABELS.get(state, state)}」，不能{label}",
            code="invalid_transition",
        )
    if target is None:
        if state in transition.targets:
            return state
        if len(transition.targets) == 1:
            return next(iter(transition.targets))
        raise InvalidTransition(f"{label}需要指明去向")
    if target not in transition.targets:
        raise InvalidTransition(f"{label}不能使工单进入「{State.LABELS.get(target, target)}」")
    return target


def allowed_actions(state: str) -> list[str]:
    return [name for name, t in TRANSITIONS.items() if state in t.sources]


# The step an order in this state waits for, in order of preference: an order page opens the first
# of these its reader may take (派单 for the dispatcher, 办结 for the handler, 回访 for the staff
# member …) instead of leaving it among the collapsed others. Signing is a button of its own.
PRIMARY_ACTIONS: dict[str, tuple[str, ...]] = {
    State.RECEIVED: (Action.REJECT, Action.ACCEPT),  # confirm the screening suggestion, or override it
    State.PENDING_DISPATCH: (Action.DISPATCH, Action.JOINT_MEETING),
    State.PROCESSING: (Action.DECIDE_EXTENSION, Action.RESOLVE),
    State.SUSPENDED: (Action.RESUME,),
    State.RESOLVED: (Action.FEEDBACK,),
    State.FED_BACK: (Action.VISIT,),
}


def primary_action(state: str, available: list[str], *, self_submitted: bool = False) -> str | None:
    """Of the actions ``available`` to someone, the one the order waits for (None: no such step).
    ``self_submitted``: an enterprise's own request waiting for its staff member to accept it."""
    preferred = PRIMARY_ACTIONS.get(state, ())
    if state == State.RECEIVED and self_submitted:
        preferred = (Action.ACCEPT,)
    return next((a for a in preferred if a in available), None)
