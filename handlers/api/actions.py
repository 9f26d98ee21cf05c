"""The transition actions the API offers: each names its body fields and the operation it calls.

The same table builds the OpenAPI request schemas, so the document cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.api.base import BOOLEAN, DATE, INTEGER, INTEGER_LIST, STRING, Field
from models import Person, Satisfaction, WorkOrder
from services.orders import ladder, screening
from services.orders import operations as wo
from services.orders.lifecycle import Action, allowed_actions
from services.orders.serializers import VISIT_METHODS
from services.permissions import can, can_track_city

Run = Callable[[wo.OpContext, WorkOrder, dict[str, Any]], Any]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    summary: str
    fields: tuple[Field, ...]
    run: Run
    # The lifecycle action whose rights and source states govern this API action.
    lifecycle_action: str
    # Further conditions for offering the action in an order's allowed actions.
    applies: Callable[[WorkOrder], bool] = lambda order: True
    # Beyond the lifecycle action's own permission (e.g. who may move a city-level deadline).
    permitted: Callable[[Person, WorkOrder], bool] = lambda person, order: True


def _text(name: str, label: str, *, required: bool = False, description: str = "") -> Field:
    return Field(name, STRING, label, required=required, max_length=5000, description=description,
                 default=None if required else "")


def _escalate(ctx: wo.OpContext, order: WorkOrder, a: dict) -> WorkOrder:
    city = None
    if a["route"]:
        city = wo.CityInfo(route=a["route"], city_department=a["city_department"],
                           city_reference=a["city_reference"], city_deadline=a["city_deadline"])
    return wo.escalate(ctx, order, reason=a["reason"], level=a["level"], department_id=a["department_id"], city=city)


def _reject(ctx: wo.OpContext, order: WorkOrder, a: dict) -> WorkOrder:
    category = a["category"] or order.screening_category
    return wo.reject(ctx, order, category=category, reason=a["reason"], proper_channel=a["proper_channel"])


def _spec(
    name: str, summary: str, fields: tuple[Field, ...], run: Run, lifecycle_action: str | None = None,
    applies: Callable[[WorkOrder], bool] | None = None,
    permitted: Callable[[Person, WorkOrder], bool] | None = None,
) -> ActionSpec:
    return ActionSpec(name, summary, fields, run, lifecycle_action or name, applies or (lambda order: True),
                      permitted or (lambda person, order: True))


def _one_text(name: str, summary: str, operation: Callable[..., Any], field: str, label: str, *,
              required: bool = False, description: str = "") -> ActionSpec:
    """An action whose body is one text field, passed to the operation under the same name."""
    return _spec(name, summary, (_text(field, label, required=required, description=description),),
                 lambda ctx, o, a: operation(ctx, o, **{field: a[field]}))


def _has_pending_extension(order: WorkOrder) -> bool:
    return any(r.status == "pending" for r in order.extension_requests)


ACTIONS: dict[str, ActionSpec] = {
    s.name: s
    for s in (
        _spec(
            "accept", "推翻甄别建议，继续受理（须说明理由）",
            (_text("reason", "继续受理的理由", required=True),),
            lambda ctx, o, a: wo.confirm_screening(ctx, o, decision="override", reason=a["reason"]),
        ),
        _spec(
            "reject", "不予受理（说明理由并告知正确渠道）",
            (
                Field("category", STRING, "不予受理类别", enum=tuple(screening.CATEGORIES),
                      description="缺省时采用系统甄别建议的类别"),
                _text("reason", "不予受理的理由", required=True),
                _text("proper_channel", "建议企业通过的正确渠道"),
            ),
            _reject,
        ),
        _spec(
            "dispatch", "派单到承办部门（吹哨）",
            (
                Field("department_id", INTEGER, "承办部门 ID", required=True),
                _text("note", "派单说明"),
                Field("designate", BOOLEAN, "指定承办（不可退单）", default=False),
            ),
            lambda ctx, o, a: wo.dispatch(ctx, o, department_id=a["department_id"], note=a["note"],
                                          designate=a["designate"]),
        ),
        _spec("sign", "首席帮办签收报到", (), lambda ctx, o, a: wo.sign(ctx, o)),
        _one_text("return", "退单（派错部门时，须说明理由）", wo.return_order, "reason", "退回理由", required=True),
        _spec(
            "transfer", "转办到其他部门",
            (Field("department_id", INTEGER, "转办部门 ID", required=True), _text("reason", "转办理由", required=True)),
            lambda ctx, o, a: wo.transfer(ctx, o, department_id=a["department_id"], reason=a["reason"]),
        ),
        _spec(
            "request_extension", "申请延期（到期前提出，由区网格中心审批）",
            (
                Field("days", INTEGER, "延期工作日数", required=True, minimum=1, maximum=30),
                _text("reason", "延期理由", required=True),
            ),
            lambda ctx, o, a: wo.request_extension(ctx, o, days=a["days"], reason=a["reason"]),
            applies=lambda o: not _has_pending_extension(o),
        ),
        _spec(
            "decide_extension", "审批延期申请",
            (Field("approve", BOOLEAN, "是否同意", required=True), _text("note", "审批意见", description="不同意时必填")),
            lambda ctx, o, a: wo.decide_extension(ctx, o, approve=a["approve"], note=a["note"]),
            applies=_has_pending_extension,
        ),
        _one_text("suspend", "挂起（等待企业补充材料，暂停计时）", wo.suspend, "reason", "挂起原因", required=True),
        _one_text("resume", "恢复办理", wo.resume, "note", "说明"),
        _one_text("reply", "答复办理进展", wo.reply, "text", "答复内容", required=True),
        _one_text("resolve", "办结并登记办理结果", wo.resolve, "result", "办理结果", required=True),
        _one_text("feedback", "已将办理结果反馈企业", wo.feedback, "note", "反馈说明"),
        _spec(
            "visit", "回访评价（基本满意及以上归档；不满意须填写意见并重办一次）",
            (
                Field("satisfaction", STRING, "满意度", required=True, enum=Satisfaction.ALL),
                Field("resolved", BOOLEAN, "问题是否解决", default=True),
                _text("comment", "企业意见", description="不满意、非常不满意时必填"),
                Field("method", STRING, "回访方式", enum=tuple(VISIT_METHODS), default="phone"),
            ),
            lambda ctx, o, a: wo.visit(ctx, o, satisfaction=a["satisfaction"], resolved=a["resolved"],
                                       comment=a["comment"], method=a["method"]),
        ),
        _one_text("reopen", "重办（回访后由区网格中心决定）", wo.reopen, "reason", "重办理由", required=True),
        _spec(
            "escalate", "升级到更高响应层级（市级须选择渠道）",
            (
                _text("reason", "升级理由", required=True),
                Field("level", INTEGER, "目标层级", minimum=2, maximum=4, description="缺省为上一级"),
                Field("department_id", INTEGER, "部门 ID", description="升级到部门协调办理时可直接派单"),
                Field("route", STRING, "市级提级渠道", enum=tuple(ladder.CITY_ROUTES), description="升级到市级时必填"),
                _text("city_department", "市级部门名称", description="渠道为 city_department 时必填"),
                _text("city_reference", "市级工单编号"),
                Field("city_deadline", DATE, "市级办理时限"),
            ),
            _escalate,
        ),
        _spec(
            "joint_meeting", "登记联席会商（区营商环境办），交牵头部门办理",
            (
                Field("held_on", DATE, "会商日期", required=True),
                Field("department_ids", INTEGER_LIST, "参会部门 ID（至少两个）", required=True),
                _text("decisions", "会商意见", required=True),
                Field("lead_department_id", INTEGER, "牵头部门 ID", required=True),
            ),
            lambda ctx, o, a: wo.joint_meeting(ctx, o, held_on=a["held_on"], department_ids=a["department_ids"],
                                               decisions=a["decisions"], lead_department_id=a["lead_department_id"]),
            applies=lambda o: o.level == 3,
        ),
        _one_text("supervise", "督办", wo.supervise, "note", "督办意见", required=True),
        _one_text("archive", "归档", wo.archive, "note", "归档说明", description="未回访即归档时必填"),
        _one_text("comment", "备注", wo.comment, "text", "备注内容", required=True),
        _spec(
            "link", "关联到较早的同一事项工单（重复诉求，由区网格中心合并）",
            (Field("earlier", STRING, "原工单号", required=True, max_length=40), _text("note", "说明")),
            lambda ctx, o, a: wo.link_duplicate(ctx, o, earlier=a["earlier"], note=a["note"]),
        ),
        _spec(
            "merge", "合并重复诉求：本单并入较早的工单（区网格中心）",
            (Field("into", STRING, "并入的原工单号", required=True, max_length=40), _text("reason", "合并说明")),
            lambda ctx, o, a: wo.merge(ctx, o, into=a["into"], reason=a["reason"]),
        ),
        _one_text("split", "拆分：撤销合并，恢复合并前的状态（区网格中心）", wo.split, "reason", "拆分理由",
                  required=True),
        _spec(
            "city_reference", "登记市级工单编号和时限（市级提级办理后）",
            (
                _text("city_reference", "市级工单编号", required=True),
                Field("city_deadline", DATE, "市级办理时限"),
                _text("note", "说明"),
            ),
            lambda ctx, o, a: wo.record_city_reference(ctx, o, city_reference=a["city_reference"],
                                                       city_deadline=a["city_deadline"], note=a["note"]),
            Action.COMMENT,
            applies=lambda o: o.level == 4 and bool(o.city_escalations),
            permitted=can_track_city,
        ),
    )
}


def allowed_for(person: Person, order: WorkOrder) -> list[str]:
    """API actions the lifecycle allows in the order's state and the person may perform."""
    lifecycle = set(allowed_actions(order.state))
    return [
        name for name, spec in ACTIONS.items()
        if spec.lifecycle_action in lifecycle and can(person, spec.lifecycle_action, order) and spec.applies(order)
        and spec.permitted(person, order)
    ]
