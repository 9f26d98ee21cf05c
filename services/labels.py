"""Chinese labels for what the desk stores as codes: outbox message kinds and targets, audit actions,
audit targets, audit detail keys (and the changed fields inside ``changes``) and their coded values.

One place, so no page shows ``policy_digest``, ``from: draft`` or ``typical: True``. Pure: it knows
codes and labels only; turning ids into names needs the database and lives in
``services.audit.describe``. A key or value missing here is shown as stored, and
``tests/services/test_labels.py`` reads the source for every audit call so that none is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models import (
    CampaignKind,
    CampaignStatus,
    EntityType,
    ImportStatus,
    ItemStatus,
    KnowledgeSource,
    KnowledgeStatus,
    MessageKind,
    OutboxStatus,
    PolicyLevel,
    PolicyStatus,
    Role,
    TopicStatus,
    TrainingStatus,
)
from models.assignment import AddressRuleKind, StaffRuleTarget

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
EMPTY = "（空）"

# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------
MESSAGE_KINDS: Mapping[str, str] = MessageKind.LABELS
# Who an outbox row goes to (OutboundMessage.target_type).
MESSAGE_TARGETS = {"group": "部门群", "person": "个人", "people": "多人", "session": "群内会话", "phone": "企业手机号",
                   "external": "企业微信外部联系人", "platform": "12345 平台"}
CHANNELS = {
    "console": "网页工作台", "sandbox": "沙箱", "wecom": "企业微信", "dingtalk": "钉钉", "api": "接口",
    "public": "企业自助", "system": "系统", "mobile": "移动端", "policy_page": "企业政策服务页", "event": "活动页面",
    "desk": "86912345 坐席", "hotline": "12345 热线", "sms": "短信",
}
PLATFORMS = {"wecom": "企业微信", "wecom_aibot": "企业微信智能机器人", "wecom_ws": "企业微信智能机器人（长连接）",
             "dingtalk": "钉钉", "sandbox": "沙箱", "sms": "短信", "hotline": "12345 平台"}
# Which reader parsed an imported spreadsheet (ImportJob.header_map["library"]).
SPREADSHEET_READERS = {"calamine": "快速读取", "pyexcel-xlsx": "兼容模式读取", "csv": "文本表格读取"}


def message_kind_label(kind: str) -> str:
    return MESSAGE_KINDS.get(kind, kind)


# --------------------------------------------------------------------------------------------------
# Audit actions and the kinds of row they touch
# --------------------------------------------------------------------------------------------------
AUDIT_ACTIONS = {
    "zone.update": "修改片区",
    "department.update": "修改部门",
    "department.create_unit": "新增下属单位",
    "chat_group.create": "绑定群聊",
    "chat_group.update": "修改群聊绑定",
    "person.create": "新增人员",
    "person.update": "修改人员",
    "person.deactivate": "停用人员",
    "person.access_request": "未登记账号申请开通",
    "person.dingtalk_bound": "绑定钉钉账号",
    "person.dingtalk_unbound": "解除钉钉绑定",
    "wecom.binding_created": "绑定企业微信账号",
    "wecom.binding_renamed": "企业微信账号变更",
    "wecom.binding_deactivated": "解除企业微信绑定",
    "wecom.unknown_user": "企业微信未登记账号来信",
    "dingtalk.unknown_user": "钉钉未登记账号来信",
    "chat.unknown_user": "未登记账号来信",
    "chat_group.conversation_mapped": "绑定群聊会话",
    "chat_group.conversation_confirmed": "确认群聊会话绑定",
    "chat_group.conversation_released": "解除群聊会话绑定",
    "config.edit": "修改运行配置",
    "config.import": "导入运行配置",
    "config.restore": "恢复运行配置版本",
    "wecom.callback_rejected": "拒绝企业微信回调",
    "dingtalk.callback_rejected": "拒绝钉钉回调",
    "policy.create": "新建政策",
    "policy.update": "修改政策",
    "policy.submit": "政策提交审核",
    "policy.send_back": "政策退回修改",
    "policy.publish": "发布政策",
    "policy.retire": "政策废止",
    "policy.import": "导入政策",
    "policy.attachment.add": "上传政策附件",
    "policy.attachment.remove": "删除政策附件",
    "policy.item.create": "新增申报事项",
    "policy.item.update": "修改申报事项",
    "policy.item.delete": "删除申报事项",
    "policy.item.publish": "发布申报事项",
    "policy.item.withdraw": "撤回申报事项",
    "policy.push.applied": "标记已申报",
    "policy.push.granted": "标记已兑现",
    "campaign.create": "创建推送任务",
    "campaign.approve": "批准推送任务",
    "campaign.pause": "暂停推送任务",
    "campaign.resume": "恢复推送任务",
    "campaign.cancel": "取消推送任务",
    "login.create": "开通登录账号",
    "login.update": "修改登录账号",
    "login.throttled": "登录失败过多，暂停尝试",
    "sla.create": "新增时限策略",
    "sla.update": "修改时限策略",
    "sla.delete": "删除时限策略",
    "holiday.add": "新增节假日调整",
    "holiday.delete": "删除节假日调整",
    "holiday.import": "按国务院通知录入节假日",
    "screening.create": "新增甄别规则",
    "screening.update": "修改甄别规则",
    "setting.update": "修改系统参数",
    "outbox.retry": "重新发送消息",
    "inbound.retry": "重新处理回调消息",
    "registry.enterprise.update": "修改企业档案",
    "import.enterprises": "导入企业名录",
    # The knowledge base (services.knowledge.entries, services.knowledge.cases, services.knowledge.handbook).
    "knowledge.create": "新建知识条目",
    "knowledge.update": "修改知识条目",
    "knowledge.submit": "知识条目提交审核",
    "knowledge.send_back": "知识条目退回修改",
    "knowledge.publish": "发布知识条目",
    "knowledge.retire": "停用知识条目",
    "knowledge.restore": "恢复知识条目为草稿",
    "case.create": "工单整理为案例",
    "case.update": "修改案例",
    "case.submit": "案例提交审核",
    "case.send_back": "案例退回修改",
    "case.publish": "发布案例",
    "case.retire": "停用案例",
    "case.restore": "恢复案例为草稿",
    "case.typical": "设置/取消典型案例",
    "handbook.propose": "应答手册新增待审核事项",
    "handbook.link": "应答手册自动收录",
    "handbook.publish": "收录入应答手册",
    "handbook.dismiss": "从应答手册撤下",
    "handbook.restore": "应答手册事项恢复待审核",
    # The grid (services.grid.rules, services.grid.people_roster).
    "grid.address_rule.create": "新增地址规则",
    "grid.address_rule.update": "修改地址规则",
    "grid.staff_rule.create": "新增人员分配规则",
    "grid.staff_rule.update": "修改人员分配规则",
    "grid.assign_zone": "企业划入片区",
    "grid.rematch": "按地址规则重新匹配",
    "grid.assign_staff": "指定为企服务人员",
    "grid.fill_staff": "为未配备人员的企业分配",
    "grid.reassign": "离岗人员企业批量移交",
    "grid.people_import": "导入人员名册",
    # Training and consultation (services.policies.training).
    "training.create": "新建培训/咨询活动",
    "training.update": "修改培训/咨询活动",
    "training.status": "变更活动状态",
    "training.invite": "发送活动邀请",
    "training.register": "活动报名",
    "training.cancel_registration": "取消活动报名",
    "training.attendance": "登记活动签到",
    "question.answer": "答复政策咨询",
    "question.publish": "调整咨询问答是否纳入知识库",
    # Duplicate requests (services.orders.operations: merge, split).
    "order.merge": "合并重复诉求",
    "order.split": "拆分合并的诉求",
    # Enterprise texts and the hotline interchange.
    "sms.opt_out": "登记短信退订",
    "sms.opt_in": "恢复接收短信",
    "hotline.refused": "拒绝热线接口调用",
}

AUDIT_TARGETS = {
    "zone": "片区", "department": "部门", "chat_group": "群聊", "person": "人员", "sla_policy": "时限策略",
    "holiday": "节假日", "screening_rule": "甄别规则", "system_setting": "系统参数", "outbound_message": "消息",
    "inbound_message": "回调消息", "training_event": "活动", "policy_question": "政策咨询", "policy": "政策",
    "policy_item": "申报事项", "push_campaign": "推送任务", "policy_push": "政策推送", "knowledge_entry": "知识条目",
    "case_study": "案例", "handbook_topic": "应答手册事项", "enterprise": "企业", "import_job": "导入任务",
    "zone_address_rule": "地址规则", "staff_assignment_rule": "人员分配规则", "wecom_user": "企业微信账号",
    "wecom_callback": "企业微信回调", "dingtalk_robot": "钉钉机器人回调", "wecom": "企业微信账号",
    "dingtalk": "钉钉账号", "platform_user": "平台账号", "config_revision": "配置版本", "work_order": "工单",
    "sms_opt_out": "短信退订号码", "hotline": "热线接口",
}


def audit_action_label(action: str) -> str:
    return AUDIT_ACTIONS.get(action, action)


def audit_target_label(target_type: str) -> str:
    return AUDIT_TARGETS.get(target_type, target_type)


# --------------------------------------------------------------------------------------------------
# Audit detail keys, and the fields a ``changes`` entry names
# --------------------------------------------------------------------------------------------------
# The enterprise registry's fields (its history page shows the same labels).
ENTERPRISE_FIELDS = {
    "uscc": "统一社会信用代码", "reg_no": "注册号", "name": "企业名称", "entity_type": "主体类别",
    "market_type": "市场主体类型", "status": "登记状态", "legal_representative": "法定代表人",
    "established_on": "成立日期", "address": "住所", "industry_code": "行业代码", "industry_name": "行业名称",
    "registered_capital": "注册资本（万元）", "capital_currency": "币种", "employees": "从业人数",
    "contact_name": "联系人", "contact_phone": "联系电话", "revenue": "营业收入（万元）", "assets": "资产总额（万元）",
    "status_flags": "标记", "size_band": "企业规模", "missing_from_full_export": "名录缺失",
    "stage_id": "服务阶段", "chain_position": "产业链位置", "is_key_industry": "“2+3”产业体系",
    "qualifications": "资质", "abnormal": "经营异常",
}

AUDIT_FIELDS = {
    "scope": "计数范围", "failures": "失败次数", "wait_seconds": "等待秒数", "session_version": "登录会话版本",
    "conversation_title": "群名称",
    # Holidays from the State Council notice
    "year": "年份", "holidays": "放假日期", "workdays": "调休上班日期", "festivals": "节日",
    **ENTERPRISE_FIELDS,
    # Who and what
    "name": "名称", "title": "标题", "label": "事项", "code": "编码", "parent": "上级部门", "department": "部门",
    "department_id": "部门", "owner_department_id": "牵头部门", "zone": "片区", "zone_id": "片区", "stage_id": "服务阶段",
    "stage_ids": "服务阶段", "stages": "服务阶段", "domain_id": "诉求领域", "policy_id": "关联政策", "item_id": "申报事项",
    "items": "推送事项", "entry_id": "知识条目", "enterprise_id": "企业", "enterprise": "企业", "enterprises": "负责企业数",
    "enterprise_ids": "涉及企业", "count": "企业数", "truncated": "仅列出部分", "staff": "为企服务人员",
    "person_id": "人员", "inactive_person": "已停用人员", "order": "工单", "orders": "相关工单数",
    "role": "角色", "phone": "电话", "active": "启用", "sort_order": "排序", "duty": "职责", "keywords": "关键词",
    "platform": "平台", "platform_label": "平台", "userid": "平台账号", "wecom_userid": "企业微信账号",
    "dingtalk_userid": "钉钉账号", "dingtalk_name": "钉钉昵称", "username": "登录用户名", "password_reset": "重置密码",
    "robot_key": "机器人密钥", "robot_secret": "加签密钥", "conversation_id": "群会话编号", "conversation_pending": "群会话待确认",
    # What happened
    "changes": "修改内容", "values": "设置", "from": "原状态", "to": "新状态", "note": "说明", "reason": "原因",
    "kind": "类型", "source": "来源", "channel": "渠道", "by": "操作方", "matched_by": "匹配方式", "mobile": "手机号",
    "version": "版本", "edited": "修改已有答复", "published_to_kb": "纳入知识库", "anonymised": "已脱敏",
    "typical": "典型案例", "is_typical": "典型案例", "auto": "自动创建", "scheduled_for": "计划发送时间", "policy": "时限策略", "day": "日期",
    "category": "类别", "files": "文件", "filename": "文件名", "summary": "摘要", "errors": "错误行数",
    "full_export": "全量导出", "total": "总行数", "new": "新增", "changed": "变更", "unchanged": "未变",
    "rejected_rows": "退回行数", "invited": "邀请企业数", "already": "此前已邀请", "digests": "汇总消息数",
    "without_staff": "无服务人员", "contact": "联系人", "attended": "签到报名", "strategy": "移交方式",
    "rules_moved": "转移的分配规则", "rules_disabled": "停用的分配规则", "pattern": "匹配文字",
    "priority": "优先级", "target": "匹配对象",
    # Delivery and callbacks
    "last_error": "最近错误", "reference": "参考号", "dedupe_key": "去重键", "attempts": "尝试次数", "error": "错误",
    "msg_type": "消息类型", "event": "事件", "status": "状态", "method": "请求方式", "content_length": "内容长度",
    "length": "内容长度", "user_agent": "客户端",
    # Zones, departments, people, deadlines, screening, settings
    "sign_minutes": "签收时限（分钟）", "sign_workdays": "签收时限（工作日）", "handle_workdays": "办理时限（工作日）",
    "remind_percents": "提醒节点（%）", "leader_after_workdays": "超期后督办部门领导（工作日）",
    "bizenv_after_workdays": "超期后通报营商环境办（工作日）", "return_limit_workdays": "退单时限（工作日）",
    "return_limit_workdays_complex": "复杂诉求退单时限（工作日）", "proper_channel": "建议渠道",
    "max_returns": "退单次数上限", "survey_delay_hours": "满意度调查发送时间（小时）",
    "survey_reminder_hours": "调查提醒间隔（小时）", "policy_push_weekly_cap": "每周推送上限",
    "duplicate_window_days": "重复诉求比对天数", "duplicate_similarity_percent": "重复诉求相似度（%）",
    "into": "并入的工单", "out_of": "拆出的原工单",
    "policy_quiet_hours": "免打扰时段", "policy_push_time": "每日推送时间", "policy_reminder_days": "截止前提醒天数",
    # Policies and items
    "issuing_body": "发文机关", "level": "层级", "doc_number": "文号", "published_on": "发布日期",
    "valid_from": "生效日期", "valid_until": "失效日期", "source_url": "原文链接", "how_to_apply": "申报方式",
    "apply_from": "申报开始", "apply_until": "申报截止", "no_application": "免申即享", "conditions": "适用条件",
    # Training events
    "description": "活动介绍", "starts_at": "开始时间", "ends_at": "结束时间", "place": "地点",
    "online_url": "线上链接", "capacity": "名额", "audience": "邀请范围",
    # Knowledge entries and cases
    "answer": "答复", "situation": "诉求情况", "handling": "办理过程", "result": "办理结果", "lessons": "经验启示",
    "public_title": "公开标题", "public_situation": "公开诉求情况", "public_handling": "公开办理过程",
    "public_result": "公开办理结果", "public_lessons": "公开经验启示",
}


def audit_field_label(key: str) -> str:
    return AUDIT_FIELDS.get(key, key)


# --------------------------------------------------------------------------------------------------
# Coded values
# --------------------------------------------------------------------------------------------------
# "from"/"to" are a status of the row the audit entry is about.
STATUS_BY_TARGET: dict[str, Mapping[str, str]] = {
    "policy": PolicyStatus.LABELS, "policy_item": ItemStatus.LABELS, "training_event": TrainingStatus.LABELS,
    "push_campaign": CampaignStatus.LABELS, "knowledge_entry": KnowledgeStatus.LABELS,
    "case_study": KnowledgeStatus.LABELS, "handbook_topic": TopicStatus.LABELS, "import_job": ImportStatus.LABELS,
    "outbound_message": OutboxStatus.LABELS,
}
# Per (target type, key) first, then per key.
VALUES_BY_TARGET: dict[tuple[str, str], Mapping[str, str]] = {
    ("push_campaign", "kind"): CampaignKind.LABELS,
    ("outbound_message", "kind"): MessageKind.LABELS,
    ("zone_address_rule", "kind"): AddressRuleKind.LABELS,
}
VALUES: dict[str, Mapping[str, str]] = {
    "level": PolicyLevel.LABELS,
    "source": {**KnowledgeSource.LABELS, "sync": "通讯录同步", "change_contact": "通讯录变更事件"},
    "channel": CHANNELS,
    "platform": PLATFORMS,
    "role": Role.LABELS,
    "by": {"enterprise": "企业自行登记", "staff": "为企服务人员"},
    "matched_by": {"mobile": "手机号"},
    "strategy": {"balance": "按负载均衡分配"},
    "target": StaffRuleTarget.LABELS,
    "entity_type": EntityType.LABELS,
    "msg_type": {"text": "文字", "image": "图片", "voice": "语音", "video": "视频", "file": "文件",
                 "location": "位置", "link": "链接", "event": "事件"},
    "event": {"enter_agent": "进入应用", "subscribe": "关注应用", "unsubscribe": "取消关注", "click": "点击菜单",
              "view": "打开菜单链接", "template_card_event": "点击卡片按钮", "change_contact": "通讯录变更"},
}
# Why a platform callback was refused (the target id of *.callback_rejected rows).
REJECTIONS = {
    "not_configured": "未启用", "missing_args": "缺少参数", "bad_signature": "签名不符", "stale_timestamp": "时间戳过期",
    "bad_timestamp": "时间戳无效", "stale": "时间戳过期", "too_large": "内容过大", "unreadable": "无法读取",
    "bad_xml": "XML 格式错误", "xml_dtd": "含 DTD 或实体", "bad_ciphertext": "无法解密", "wrong_corp": "企业 ID 不符",
    "bad_json": "JSON 格式错误", "bad_message": "消息无法识别", "bad_encrypt": "无法解密", "bad_event": "事件无法识别",
    "wrong_app": "应用不符",
}
VALUES["code"] = REJECTIONS


def _iso_datetime(value: str) -> str | None:
    if len(value) < 16 or value[4:5] != "-" or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ)
    return moment.strftime("%Y-%m-%d %H:%M")


def value_text(key: str, value: Any, *, target_type: str = "", names: Mapping[Any, str] | None = None) -> str:
    """One stored detail value as a person reads it. ``names`` turns the ids of ``key`` into names
    (``services.audit.describe`` looks them up)."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "、".join(value_text(key, v, target_type=target_type, names=names) for v in value)
    if isinstance(value, Mapping):
        return "；".join(f"{audit_field_label(str(k))}：{value_text(str(k), v, target_type=target_type)}"
                        for k, v in value.items())
    if names is not None and value in names:
        return names[value]
    if isinstance(value, str):
        if key in ("from", "to") and target_type in STATUS_BY_TARGET:
            return STATUS_BY_TARGET[target_type].get(value, value)
        table = VALUES_BY_TARGET.get((target_type, key)) or VALUES.get(key)
        if table is not None and value in table:
            return table[value]
        return _iso_datetime(value) or value
    return str(value)
