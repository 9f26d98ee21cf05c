"""Every text the desk sends, as an editable template (``services.studio.templates``).

Defaults are today's wording, so an untouched district sees exactly the old messages. A personal
notice's template holds its title on the first line and the text below it (the editor says so);
order number, state and time are appended by ``Notifier.notice`` because DingTalk drops identical
content within a day. Every template may use the order placeholders (``ORDER_PLACEHOLDERS``) where
an order is concerned, plus the few it documents here.
"""

from __future__ import annotations

from services.studio.templates import ORDER_PLACEHOLDERS, TemplateSpec, register

NOTICE = "个人通知（第一行为标题，其余为正文）"
GROUP = "部门群 / 枢纽群状态消息"
CHAT = "聊天回复"

ACTOR = {"actor": "操作人（如 赵帮办）"}
DUE = {"due": "办理时限（如 03-09 17:30）"}
REASON = {"reason": "理由或说明"}


def _order(name: str, label: str, default: str, extra: dict | None = None, *, channels: str = NOTICE,
           group: str = "工单通知") -> TemplateSpec:
    return register(TemplateSpec(name, label, default, {**ORDER_PLACEHOLDERS, **(extra or {})}, channels, group))


# -- Personal notices on an order's way ------------------------------------------------------
_order("order_screening", "诉求需人工甄别（派单员）",
       "诉求需人工甄别\n系统甄别提示该诉求可能属于「{{ category }}」。请确认不予受理，或填写理由后继续受理。",
       {"category": "甄别提示的类别（如 涉诉涉法）"})
_order("order_self_submitted", "企业自助提交诉求（服务专员）",
       "企业自助提交诉求，请核实受理\n{{ enterprise }}通过公开渠道提交诉求「{{ title }}」。"
       "请与企业核实后，在“网格 → 企业自助诉求”中确认受理。",
       {"title": "诉求标题（不含句末标点）"})
_order("order_hotline_unmatched", "热线工单未匹配到名录企业（派单员）",
       "热线工单待核实企业\n{{ source }}转来「{{ enterprise_name }}」的诉求（平台工单编号 {{ ticket_id }}），"
       "企业名录中未找到该企业。请与来电人核实后补录企业并受理。",
       {"source": "热线来源（如 市 12345 热线）", "enterprise_name": "来电人报的企业名称", "ticket_id": "平台工单编号"})
_order("order_rejected", "诉求不予受理（服务专员）", "诉求不予受理\n{{ message }}",
       {"message": "不予受理的说明（含类别、理由和建议渠道）"})
_order("order_dispatched", "诉求已派单（服务专员）",
       "诉求已派单\n已派至 {{ department }}{% if designated %}（指定承办）{% endif %}，等待首席帮办报到。",
       {"department": "承办部门", "designated": "是否指定承办（真/假）"})
_order("order_signed", "首席帮办已报到（服务专员）",
       "首席帮办已报到\n{{ actor }} 已报到并牵头办理，办理时限 {{ due }}。", {**ACTOR, **DUE})
_order("order_progress", "诉求办理进展（服务专员）", "诉求办理进展\n{{ actor }}：{{ text }}",
       {**ACTOR, "text": "答复内容"})
_order("order_suspended", "工单已挂起（服务专员）", "工单已挂起\n等待企业补充：{{ reason }}", REASON)
_order("order_extension_requested", "延期申请待审批（派单员）",
       "延期申请待审批\n{{ actor }} 申请延期 {{ days }} 个工作日：{{ reason }}",
       {**ACTOR, **REASON, "days": "申请延期的工作日数"})
_order("order_extension_decided", "延期申请结果（申请人）",
       "延期申请结果\n延期 {{ days }} 个工作日{% if approved %}已批准，新的办理时限 {{ due }}{% else %}未获批准：{{ note }}{% endif %}",
       {**DUE, "days": "申请延期的工作日数", "approved": "是否批准（真/假）", "note": "不批准的说明"})
_order("order_resolved", "诉求已办结，请反馈企业（服务专员）",
       "诉求已办结，请反馈企业\n办理结果：{{ result }}\n请第一时间将结果反馈企业，并在工单中登记“已反馈”。",
       {"result": "办理结果"})
_order("order_revisit_unsatisfied", "重办后回访仍不满意（派单员）",
       "重办后回访仍不满意\n企业评价：{{ satisfaction }}，意见：{{ comment }}请研判后归档或升级协调。",
       {"satisfaction": "企业评价（如 不满意）", "comment": "企业意见（带句末标点）"})
_order("order_reopened", "工单重办（经办人）", "工单重办\n{{ note }}\n请重新办理，时限 {{ due }}。",
       {**DUE, "note": "重办原因"})
_order("order_escalated_city", "诉求已提级市级办理（服务专员）",
       "诉求已提级市级办理\n{{ route }}{% if city_department %}：{{ city_department }}{% endif %}"
       "{% if city_reference %}，市级编号 {{ city_reference }}{% endif %}。请持续跟踪至办结。",
       {"route": "市级渠道（如 12345 热线）", "city_department": "市级承办部门（可空）",
        "city_reference": "市级编号（可空）"})
_order("order_supervised", "督办通知（经办人 / 首席帮办）", "督办通知\n{{ actor }} 督办：{{ note }}",
       {**ACTOR, "note": "督办意见"})
_order("order_instructed", "领导批示（经办人 / 首席帮办）", "领导批示\n{{ actor }} 批示：{{ note }}\n请按批示要求抓紧办理。",
       {**ACTOR, "note": "批示内容"})

# -- Status lines in department and hub groups -----------------------------------------------
_order("group_queued", "待派单（枢纽群）",
       "【待派单】{{ number }}（{{ level }}{% if green_channel %}·绿色通道，请优先协调{% endif %}）{{ why }}\n"
       "企业：{{ enterprise }}",
       {"why": "进入待派单的原因（如 被退回：……）"}, channels=GROUP, group="群内状态")
_order("group_signed", "已报到（部门群）", "【已报到】{{ actor }} 已报到 {{ number }}，办理时限 {{ due }}。",
       {**ACTOR, **DUE}, channels=GROUP, group="群内状态")
_order("group_returned", "已退回（部门群）", "【已退回】{{ actor }} 退回 {{ number }}：{{ reason }}",
       {**ACTOR, **REASON}, channels=GROUP, group="群内状态")
_order("group_transferred", "已转办（部门群）", "【已转办】{{ number }} 已转至 {{ department }}：{{ reason }}",
       {**REASON, "department": "转往的部门"}, channels=GROUP, group="群内状态")
_order("group_resolved", "已办结（部门群）", "【已办结】{{ number }}：{{ result }}", {"result": "办理结果"},
       channels=GROUP, group="群内状态")
_order("group_reopened", "重办（部门群）", "【重办】{{ number }}：{{ note }}", {"note": "重办原因"},
       channels=GROUP, group="群内状态")
_order("group_joint", "联席会商（配合部门群）",
       "【联席会商】{{ number }} 由 {{ lead }} 牵头，本部门配合。会商意见：{{ decisions }}",
       {"lead": "牵头部门", "decisions": "会商意见"}, channels=GROUP, group="群内状态")
_order("group_supervised", "督办（部门群）", "【督办】{{ number }}：{{ note }}", {"note": "督办意见"},
       channels=GROUP, group="群内状态")
_order("group_instructed", "领导批示（部门群）", "【领导批示】{{ actor }} 对 {{ number }} 批示：{{ note }}",
       {**ACTOR, "note": "批示内容"}, channels=GROUP, group="群内状态")

# -- Time-limit reminders and the 督办 chain (services/orders/alerts.py) -----------------------
ALERT = {"label": "提醒名称（如 时限过半提醒）", "title": "诉求标题",
         "due": "办理时限与剩余时间（如 办理时限 03-09 17:30（剩余 2 个工作日））",
         "where": "承办单位一句（如 承办单位：区人社局。；无承办单位时为空）"}
_order("alert_remind", "时限提醒（50 % / 80 %，经办人）", "{{ label }}\n{{ title }}\n{{ due }}，请抓紧办理。", ALERT,
       group="时限提醒与督办")
_order("alert_sign_overdue", "报到超时督办（首席帮办、派单员）",
       "{{ label }}\n{{ where }}报到时限 {{ sign_due }} 已过，尚无首席帮办报到，请立即报到。",
       {**ALERT, "sign_due": "报到时限（如 03-03 10:00）"}, group="时限提醒与督办")
_order("alert_overdue", "超期督办（经办人）", "{{ label }}\n{{ title }}\n{{ due }}，已超期，请立即办理并答复。", ALERT,
       group="时限提醒与督办")
_order("alert_overdue_group", "超期督办（部门群）", "【超期督办】{{ number }} {{ due }}，请尽快办结。", ALERT,
       channels=GROUP, group="时限提醒与督办")
_order("alert_overdue_leader", "超期通报部门领导", "{{ label }}\n{{ where }}经办人：{{ handler }}。{{ due }}，请督促办理。",
       {**ALERT, "handler": "经办人姓名（无人报到时为 尚无人报到）"}, group="时限提醒与督办")
_order("alert_overdue_bizenv", "超期通报营商办", "{{ label }}\n{{ where }}{{ due }}，已通报部门领导仍未办结，请协调推进。",
       ALERT, group="时限提醒与督办")

# -- Satisfaction survey (services/orders/surveys.py) -----------------------------------------
SURVEY = {"title": "诉求标题", "enterprise_or_default": "企业名称（无企业时为 企业）",
          "survey_link": "评价链接（绝对地址）", "levels": "评价等级（如 满意 / 基本满意 / 不满意）",
          "stamp": "发送时间（如 2026-03-02 10:00）"}
_order("survey_invite", "满意度回访邀请（服务专员）",
       "满意度回访\n工单 {{ number }} 已反馈企业，请邀请{{ enterprise_or_default }}对办理结果作出评价。\n"
       "诉求：{{ title }}\n评价链接：{{ survey_link }}\n评价等级：{{ levels }}\n工单 {{ number }} · {{ stamp }}",
       SURVEY, channels="个人通知（第一行为标题；含评价按钮）", group="满意度回访")
_order("survey_reminder", "满意度回访提醒（服务专员）",
       "满意度回访提醒\n{{ enterprise_or_default }}尚未对工单 {{ number }} 作出评价，请再次邀请企业填写满意度回访。\n"
       "诉求：{{ title }}\n评价链接：{{ survey_link }}\n评价等级：{{ levels }}\n工单 {{ number }} · {{ stamp }}",
       SURVEY, channels="个人通知（第一行为标题；含评价按钮）", group="满意度回访")

# -- Fixed chat replies (services/messaging/inbound.py) ---------------------------------------
register(TemplateSpec(
    "chat_not_bound", "未登记账号的回复",
    "您好，您的账号尚未在「有需必应」登记，暂时不能在这里办理工单。"
    "请联系片区管理员或系统管理员在「人员管理」中绑定账号后再试。", {}, CHAT, "聊天回复"))
register(TemplateSpec(
    "chat_text_only", "非文字消息的回复",
    "目前只能识别文字指令，请直接发送文字（在群里请先 @我），例如「报到 0001」；发送「帮助」查看全部指令。",
    {}, CHAT, "聊天回复"))

# -- Orders of someone who left the address book (services/grid/leavers.py) ------------------
_order("order_handler_left", "承办人已离开通讯录（派单员）",
       "承办人已离开{{ platform }}\n{{ person }}{{ unit }}已离开{{ platform }}通讯录（{{ reason }}），其承办的工单需要重新指派。",
       {"platform": "平台（企业微信 / 钉钉）", "person": "离开的人员姓名", "unit": "其单位（如（区人社局）；可空）",
        "reason": "离开原因"})

# -- Duplicate requests (services/orders/operations.py: merge, split; services/messaging/commands.py) --
_order("order_merged", "重复诉求已合并（提交人、服务专员，只发一次）",
       "重复诉求已合并办理\n{{ enterprise }}的诉求 {{ merged_number }} 与 {{ number }} 为同一事项，已并入 {{ number }} 一并办理，"
       "不再单独办理；今后请以 {{ number }} 查询进展，两个单号都可查到。{% if reason %}说明：{{ reason }}{% endif %}",
       {"merged_number": "被合并的（后提交的）工单号；其余工单占位符指合并到的原工单", "reason": "合并说明（可空）"})
_order("order_split", "合并的诉求已拆分（提交人、服务专员）",
       "合并的诉求已拆分\n诉求 {{ number }} 已从 {{ earlier_number }} 拆分，恢复独立办理：{{ reason }}",
       {"earlier_number": "原来并入的工单号", "reason": "拆分理由"})
_order("group_merged", "重复诉求已合并（部门群）",
       "【已合并】{{ number }} 与 {{ into }} 为同一事项，已并入 {{ into }}，本单不再单独办理。",
       {"into": "合并到的原工单号"}, channels=GROUP, group="群内状态")
_order("chat_possible_duplicate", "提交诉求时发现相似诉求（聊天回复）",
       "提示：{{ enterprise }} {{ days }} 天内已有相似诉求 {{ earlier }}（{{ earlier_state }}）。"
       "如为同一事项，请发送「关联 {{ short_number }} {{ earlier }}」，由区网格中心合并办理。",
       {"days": "比对天数", "earlier": "相似的原工单号", "earlier_state": "原工单状态"}, channels=CHAT, group="聊天回复")

# -- Policies (services/policies/push.py, training.py) -----------------------------------------
DIGEST = {"whose": "对象（你负责的 / 你所在片区尚未分配服务专员的）", "count": "企业数", "target": "政策（如《稳岗补贴》等 2 项政策）",
          "items": "事项（如「一次性补贴」「培训补贴」）", "names": "企业名单（前若干家，如 甲公司、乙公司 等 12 家）",
          "deadlines": "申报截止说明（多项以；分隔）", "campaign_id": "推送批次号", "stamp": "发送时间"}
register(TemplateSpec(
    "policy_digest", "政策精准推送（服务专员汇总）",
    "政策精准推送\n{{ whose }} {{ count }} 家企业符合{{ target }}：{{ items }}。\n企业：{{ names }}\n{{ deadlines }}\n"
    "打开名单可逐家查看匹配原因，并一键复制转发给企业。\n推送批次 #{{ campaign_id }} · {{ stamp }}",
    DIGEST, "个人通知（第一行为标题；附名单链接）", "政策推送"))
register(TemplateSpec(
    "policy_deadline_digest", "政策申报截止提醒（服务专员汇总）",
    "政策申报截止提醒\n{{ whose }} {{ count }} 家企业尚未申报{{ target }}{{ items }}，{{ deadline }}，请提醒企业抓紧申报。\n"
    "企业：{{ names }}\n{{ deadlines }}\n"
    "打开名单可逐家查看匹配原因，并一键复制转发给企业。\n推送批次 #{{ campaign_id }} · {{ stamp }}",
    {**DIGEST, "deadline": "第一项的截止说明（如 3 月 31 日截止）"}, "个人通知（第一行为标题；附名单链接）", "政策推送"))
CAMPAIGN = {"kind": "推送类型（如 政策精准推送）", "subject": "推送内容（政策名称）"}
register(TemplateSpec(
    "policy_campaign_started", "推送开始（牵头部门群）", "【{{ kind }}】{{ subject }} 开始推送，将通过服务专员逐家转达。",
    CAMPAIGN, GROUP, "政策推送"))
register(TemplateSpec(
    "policy_campaign_done", "推送完成（牵头部门群）",
    "【{{ kind }}】{{ subject }} 已完成：送达 {{ sent }} 家次{% if failed %}，失败 {{ failed }} 家次{% endif %}"
    "{% if already %}，另有 {{ already }} 家此前已推送{% endif %}。",
    {**CAMPAIGN, "sent": "送达家次", "failed": "失败家次", "already": "此前已推送的家数"}, GROUP, "政策推送"))
register(TemplateSpec(
    "policy_uptake_weekly", "政策推送成效周报（部门领导、首席帮办）",
    "政策推送成效周报（{{ year }} 年第 {{ week }} 周）\n{{ lines }}\n统计时间 {{ stamp }}",
    {"year": "年份", "week": "周次", "lines": "各项政策的推送→查看→申报→兑现，每项一行", "stamp": "统计时间"},
    "个人通知（第一行为标题）", "政策推送"))
register(TemplateSpec(
    "statistics_bulletin", "统计通报（区领导、区营商环境办；月报，可另开周报）",
    "{{ title }}\n{{ period }}：受理 {{ received }} 件，办结 {{ resolved }} 件；按时办结率 {{ on_time_rate }}，"
    "响应率 {{ response_rate }}，满意率 {{ satisfaction_rate }}；期末积压 {{ backlog }} 件，超期 {{ overdue }} 件。\n"
    "按时办结率靠后：{{ lowest }}\n统计表（Excel）与图表见链接。统计时间 {{ stamp }}",
    {"title": "标题（如 3 月统计通报）", "period": "统计时段", "received": "受理数", "resolved": "办结数",
     "on_time_rate": "按时办结率", "response_rate": "响应率", "satisfaction_rate": "满意率", "backlog": "积压数",
     "overdue": "超期数", "lowest": "按时办结率最低的片区与部门（各至多 3 个）", "stamp": "统计时间"},
    "个人通知（第一行为标题）", "统计"))
register(TemplateSpec(
    "training_invite", "培训 / 活动邀请（服务专员）",
    "{{ kind }}邀请：{{ title }}\n你负责的 {{ count }} 家企业受邀参加{{ kind }}《{{ title }}》：{{ when }}，{{ place }}"
    "请打开名单逐一转告，并可代企业报名。",
    {"kind": "活动类型（如 政策培训）", "title": "活动名称", "count": "受邀企业数", "when": "时间（如 03月10日 14:30）",
     "place": "地点（带句末标点，如 区政务中心 3 楼。）"}, "个人通知（第一行为标题）", "政策推送"))

# -- Knowledge review (services/knowledge/entries.py) -----------------------------------------
REVIEW = {"what": "内容类型（如 知识条目）", "actor": "操作人", "title": "标题"}
register(TemplateSpec(
    "knowledge_review_submitted", "知识待审核（营商环境办）",
    "{{ what }}待审核\n{{ actor }}提交了{{ what }}「{{ title }}」，请审核后发布或退回修改。", REVIEW,
    "个人通知（第一行为标题）", "知识库审核"))
register(TemplateSpec(
    "knowledge_review_sent_back", "知识退回修改（作者）",
    "{{ what }}退回修改\n{{ actor }}退回了{{ what }}「{{ title }}」：{{ note }}修改后请再次提交审核。",
    {**REVIEW, "note": "退回理由（带句末标点）"}, "个人通知（第一行为标题）", "知识库审核"))

# -- To the enterprise itself: SMS and WeCom customer contact (services/messaging/enterprise.py) --
# With a provider (SMS_BACKEND=tencent) the text of each must match the template registered with it:
# the provider receives the template id and the values marked {1}, {2} below, in that order.
SMS = "企业短信与企业微信客户联系（服务商模板须与此文字一致，变量按 {1}{2} 顺序）"
TRACK = {"track_link": "进度查询链接（绝对地址，含单号与查询码）— 短信变量 {2}"}
register(TemplateSpec(
    "sms_accepted", "诉求已受理（企业）",
    "您的诉求已受理，工单号 {{ number }}，查询办理进度：{{ track_link }} 回复TD退订",
    {**ORDER_PLACEHOLDERS, **TRACK, "number": "工单编号 — 短信变量 {1}"}, SMS, "企业短信"))
register(TemplateSpec(
    "sms_result", "办理结果已反馈（企业）",
    "您的诉求（工单 {{ number }}）已办结，办理结果请查看：{{ track_link }} 回复TD退订",
    {**ORDER_PLACEHOLDERS, **TRACK, "number": "工单编号 — 短信变量 {1}", "result": "办理结果（只在沙箱与企业微信中可用）"},
    SMS, "企业短信"))
register(TemplateSpec(
    "sms_survey", "满意度评价邀请（企业）",
    "请对工单 {{ number }} 的办理结果作出评价：{{ survey_link }} 回复TD退订",
    {**ORDER_PLACEHOLDERS, "number": "工单编号 — 短信变量 {1}", "survey_link": "评价链接（绝对地址）— 短信变量 {2}"},
    SMS, "企业短信"))
register(TemplateSpec(
    "sms_policy", "政策推送（企业）",
    "{{ enterprise }}可能符合政策「{{ item }}」，详情与申报：{{ policy_link }} 回复TD退订",
    {"enterprise": "企业名称（只在沙箱与企业微信中可用）", "item": "政策事项名称（前 20 字）— 短信变量 {1}",
     "policy_link": "企业专属政策链接（绝对地址）— 短信变量 {2}"}, SMS, "企业短信"))
