"""The district's reference data, as pure data: zones, departments, stages, domains, industries, SLAs.

Source: 北辰区“政企同行·有需必应”服务机制工作方案 (shared/seed) and shared/DOMAIN.md.
Everything here is the *default* the system is seeded with (see ``services.demo.reference``); the
district edits the live rows at run time. Codes are stable ASCII slugs and are how the seed matches
existing rows, so never change a code once a database has been seeded.

Keyword lists are comma separated in the database (``keywords_csv``) and are used to *suggest* a
department or domain when a request is classified; a person always confirms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ZoneRef:
    code: str
    name: str
    kind: str  # town | street | devzone
    sort_order: int
    # Address fragments that suggest this zone. A starting point for the district to edit: the zone
    # name, its short name and a few place names we are reasonably confident lie inside it. The zone
    # of an enterprise is decided by the grid assignment, never by these keywords alone.
    address_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class DepartmentRef:
    code: str
    name: str
    kind: str  # department | unit | hub
    duty: str
    keywords: tuple[str, ...]
    sort_order: int
    parent_code: str | None = None

    @property
    def keywords_csv(self) -> str:
        return ",".join(self.keywords)


@dataclass(frozen=True)
class StageRef:
    code: str
    name: str
    lead_department_code: str
    sort_order: int


@dataclass(frozen=True)
class DomainRef:
    code: str
    name: str
    keywords: tuple[str, ...]
    sort_order: int

    @property
    def keywords_csv(self) -> str:
        return ",".join(self.keywords)


@dataclass(frozen=True)
class IndustryTagRef:
    code: str
    name: str
    is_key_industry: bool
    gbt_sections: str  # GB/T 4754-2017 section letters / division or class codes, comma separated
    sort_order: int


@dataclass(frozen=True)
class SlaPolicyRef:
    priority: str  # normal | urgent | emergency
    level: int
    sign_minutes: int | None
    sign_workdays: int | None
    handle_workdays: int | None
    remind_percents: tuple[int, ...] = (50, 80)
    leader_after_workdays: int = 1
    bizenv_after_workdays: int = 2
    return_limit_workdays: int = 1
    return_limit_workdays_complex: int = 2
    domain_code: str | None = None  # None: applies to any domain


# --------------------------------------------------------------------------------------------------
# Zones (片区): the 17 zones in the order of the work plan, 9 towns, 7 streets, the development zone.
# --------------------------------------------------------------------------------------------------

ZONES: tuple[ZoneRef, ...] = (
    ZoneRef("tianmu", "天穆镇", "town", 1, ("天穆镇", "天穆", "天穆村")),
    ZoneRef("beicang", "北仓镇", "town", 2, ("北仓镇", "北仓", "北仓村")),
    ZoneRef("shuangjie", "双街镇", "town", 3, ("双街镇", "双街", "双街村")),
    ZoneRef("shuangkou", "双口镇", "town", 4, ("双口镇", "双口", "双口村")),
    ZoneRef("qingguang", "青光镇", "town", 5, ("青光镇", "青光", "青光村", "韩家墅")),
    ZoneRef("yixingbu", "宜兴埠镇", "town", 6, ("宜兴埠镇", "宜兴埠", "宜兴埠村")),
    ZoneRef("xiaodian", "小淀镇", "town", 7, ("小淀镇", "小淀", "小淀村")),
    ZoneRef("dazhangzhuang", "大张庄镇", "town", 8, ("大张庄镇", "大张庄", "大张庄村")),
    ZoneRef("xiditou", "西堤头镇", "town", 9, ("西堤头镇", "西堤头", "西堤头村")),
    ZoneRef("guoyuanxincun", "果园新村街", "street", 10, ("果园新村街", "果园新村")),
    ZoneRef("jixianli", "集贤里街", "street", 11, ("集贤里街", "集贤里")),
    ZoneRef("pudong", "普东街", "street", 12, ("普东街", "普东")),
    ZoneRef("ruijing", "瑞景街", "street", 13, ("瑞景街", "瑞景", "瑞景新苑")),
    ZoneRef("jiarongli", "佳荣里街", "street", 14, ("佳荣里街", "佳荣里")),
    ZoneRef("qingyuan", "青源街", "street", 15, ("青源街", "青源")),
    ZoneRef("shuanghuancun", "双环邨街", "street", 16, ("双环邨街", "双环邨", "双环村")),
    ZoneRef(
        "kaifaqu",
        "开发区",
        "devzone",
        17,
        ("开发区", "北辰经济技术开发区", "北辰经开区", "北辰开发区", "医药医疗器械工业园"),
    ),
)


# --------------------------------------------------------------------------------------------------
# Departments with chief helpers (首席帮办), their utility units, and the hubs.
# Codes are pinyin initials; where initials collide (水务局 / 税务局 / 商务局 are all "swj") an
# English word is used instead: water, tax, commerce.
# --------------------------------------------------------------------------------------------------

_D = "department"
_U = "unit"
_H = "hub"

DEPARTMENTS: tuple[DepartmentRef, ...] = (
    DepartmentRef(
        "fgw", "发改委", _D,
        "项目立项审批核准备案、重点项目调度、固定资产投资、节能审查与能耗、价格收费政策、社会信用体系",
        ("立项", "项目备案", "项目核准", "可行性研究", "重点项目", "固定资产投资", "节能审查", "能耗指标",
         "能耗", "价格", "收费", "社会信用", "信用修复", "招标投标", "专项债", "中央预算内投资"),
        1,
    ),
    DepartmentRef(
        "czj", "财政局", _D,
        "惠企资金拨付兑现、政府采购、财政贴息与政府性融资担保、代理记账管理",
        ("财政资金", "资金拨付", "奖补资金", "资金兑现", "政府采购", "采购合同", "财政贴息", "融资担保",
         "国库支付", "非税收入", "代理记账", "会计"),
        2,
    ),
    DepartmentRef(
        "sfj", "司法局", _D,
        "公共法律服务、企业合规与合同法律咨询、人民调解、行政执法监督与行政复议",
        ("法律咨询", "法律服务", "法律援助", "律师", "公证", "司法鉴定", "人民调解", "企业合规", "合同审查",
         "行政执法监督", "行政复议", "普法"),
        3,
    ),
    DepartmentRef(
        "jyj", "教育局", _D,
        "企业员工及人才子女入学入托、职业教育与校企合作、民办学校及培训机构审批",
        ("子女入学", "入学", "入托", "幼儿园", "学位", "转学", "职业教育", "校企合作", "民办学校",
         "培训机构", "办学许可"),
        4,
    ),
    DepartmentRef(
        "mzj", "民政局", _D,
        "社会组织（行业协会、商会、民办非企业单位）登记管理、养老服务机构、慈善捐赠、地名管理",
        ("社会组织", "民办非企业", "社会团体", "行业协会", "商会", "养老机构", "养老服务", "慈善", "捐赠",
         "地名", "殡葬"),
        5,
    ),
    DepartmentRef(
        "kjj", "科技局", _D,
        "高新技术企业认定、科技型中小企业评价、研发投入与研发机构、技术合同登记、科技成果转化",
        ("高新技术企业", "高企认定", "科技型中小企业", "研发费用", "研发投入", "研发中心", "技术合同登记",
         "科技成果转化", "雏鹰", "瞪羚", "科技领军", "孵化器", "众创空间", "科技项目", "产学研"),
        6,
    ),
    DepartmentRef(
        "gxj", "工信局", _D,
        "工业运行与中小企业服务、专精特新培育、技术改造、智能制造与数字化转型、产业链协同、用能用网要素协调",
        ("专精特新", "小巨人", "技术改造", "技改", "智能制造", "数字化转型", "工业互联网", "中小企业",
         "产业链", "工业运行", "绿色工厂", "单项冠军", "首台套", "企业技术中心", "工业企业"),
        7,
    ),
    DepartmentRef(
        "rsj", "人社局", _D,
        "招聘用工、社会保险、劳动关系与工资支付、职业技能培训与评价、人才引进与职称、稳岗就业政策",
        ("招聘", "用工", "社保", "养老保险", "工伤保险", "失业保险", "劳动合同", "劳动关系", "工资", "欠薪",
         "技能培训", "职业技能等级", "人才", "人才引进", "职称", "稳岗补贴", "社保补贴", "就业"),
        8,
    ),
    DepartmentRef(
        "zjw", "住建委", _D,
        "施工许可、工程质量安全、竣工联合验收、消防设计审查验收、建筑业资质、房地产与物业、人才租赁住房",
        ("施工许可", "施工图审查", "竣工验收", "联合验收", "工程质量", "建筑施工", "建筑业资质", "资质",
         "房屋安全", "房地产", "商品房", "预售", "物业", "人防", "消防设计审查", "消防验收", "人才公寓",
         "租赁住房"),
        9,
    ),
    DepartmentRef(
        "cgw", "城管委", _D,
        "市容环境卫生、生活及建筑垃圾、市政道路与路灯、占道及道路挖掘、园林绿化、牌匾广告、供热燃气行业管理",
        ("市容", "环境卫生", "垃圾", "生活垃圾", "建筑垃圾", "渣土", "占道", "道路挖掘", "掘路", "路灯",
         "市政道路", "园林", "绿化", "牌匾", "户外广告", "供热", "采暖"),
        10,
    ),
    DepartmentRef(
        "sthjj", "生态环境局", _D,
        "环境影响评价、排污许可、污染防治与环境监管、危险废物管理、重污染天气应急减排、碳排放管理",
        ("环评", "环境影响评价", "排污许可", "排污", "污染", "废气", "废水", "噪声", "固体废物", "危险废物",
         "危废", "环保验收", "重污染天气", "应急减排", "碳排放", "环境监测", "辐射"),
        11,
    ),
    DepartmentRef(
        "water", "水务局", _D,
        "取水许可与水资源、节水管理、排水许可、河道与防汛、水土保持、水利工程",
        ("取水许可", "水资源", "节水", "排水许可", "排水户", "河道", "防汛", "水土保持", "水利工程",
         "地下水", "水影响评价"),
        12,
    ),
    DepartmentRef(
        "ygj", "运管局", _D,
        "道路运输经营许可、货运及危险货物运输、营运车辆与从业资格、物流运输、交通基础设施",
        ("道路运输", "道路运输经营许可", "道路运输证", "货运", "危险货物运输", "营运车辆", "从业资格",
         "驾校", "公交", "出租车", "物流运输", "超限超载", "交通"),
        13,
    ),
    DepartmentRef(
        "nyncw", "农业农村委", _D,
        "农业生产经营、农民专业合作社与家庭农场、农产品质量、种养殖与动物防疫、农机、土地流转与乡村振兴",
        ("农业", "农产品", "种植", "养殖", "畜牧", "兽药", "饲料", "农药", "种子", "农民专业合作社",
         "合作社", "家庭农场", "农机", "设施农业", "动物防疫", "土地流转", "乡村振兴", "高标准农田"),
        14,
    ),
    DepartmentRef(
        "commerce", "商务局", _D,
        "外贸进出口与外资、电子商务与跨境电商、商贸流通与消费促进、会展、单用途预付卡、成品油及二手车流通",
        ("外贸", "进出口", "对外贸易", "外资", "外商投资", "电商", "电子商务", "跨境电商", "商贸流通",
         "消费促进", "展会", "会展", "限额以上", "商业网点", "成品油", "二手车", "预付卡", "服务外包"),
        15,
    ),
    DepartmentRef(
        "wlj", "文旅局", _D,
        "文化旅游企业、旅行社与景区、营业性演出与娱乐场所、出版印刷、广播电视、文物保护、体育经营",
        ("文旅", "文化", "旅游", "旅行社", "景区", "演出", "营业性演出", "娱乐场所", "上网服务", "网吧",
         "出版物", "印刷", "广播电视", "文物", "体育", "健身"),
        16,
    ),
    DepartmentRef(
        "wjw", "卫健委", _D,
        "医疗机构设置与执业、公共场所卫生许可、职业健康、传染病防控、托育机构",
        ("医疗机构", "诊所", "执业许可", "公共场所卫生", "卫生许可", "职业病", "职业健康", "职业卫生",
         "放射诊疗", "传染病", "疾控", "健康证", "体检", "托育"),
        17,
    ),
    DepartmentRef(
        "zwfwb", "政务服务办", _D,
        "政务服务与行政审批、“一网通办”和“一件事”集成办理、企业开办、帮办代办、政务服务中心窗口",
        ("政务服务", "审批", "行政许可", "一网通办", "一件事", "企业开办", "证照", "办事指南", "窗口",
         "帮办代办", "承诺制", "容缺受理", "电子证照", "网上办理", "政务服务中心"),
        18,
    ),
    DepartmentRef(
        "tcj", "投促局", _D,
        "招商引资与投资促进、新项目落地服务、选址与厂房楼宇载体对接、企业迁入",
        ("招商引资", "投资促进", "招商", "项目落地", "新项目", "投资合作", "选址", "厂房", "载体", "楼宇",
         "迁入", "总部"),
        19,
    ),
    DepartmentRef(
        "gzw", "国资委", _D,
        "区属国有企业监管、国有资产与产权管理、国企资产租赁与合作",
        ("国有企业", "国企", "国有资产", "国有资本", "区属国企", "国有产权", "国有资产租赁", "混合所有制"),
        20,
    ),
    DepartmentRef(
        "ybj", "医保局", _D,
        "职工医疗保险与生育保险、医保缴费与报销结算、定点医药机构管理、长期护理保险",
        ("医保", "医疗保险", "职工医保", "医保缴费", "医保报销", "生育保险", "医保定点", "定点医药机构",
         "医保结算", "长期护理保险"),
        21,
    ),
    DepartmentRef(
        "yjglj", "应急管理局", _D,
        "安全生产监管与许可、危险化学品、应急预案与演练、安全培训、隐患排查与事故处置、防灾减灾",
        ("安全生产", "安全生产许可", "危险化学品", "危化品", "安全评价", "应急预案", "应急演练", "安全培训",
         "有限空间", "粉尘防爆", "隐患排查", "安全标准化", "烟花爆竹", "事故", "防灾减灾"),
        22,
    ),
    DepartmentRef(
        "scjgj", "市场监管局", _D,
        "经营主体登记（设立、变更、注销）、食品药品经营许可、特种设备、计量标准质量、商标专利知识产权、广告价格监管",
        ("营业执照", "登记", "设立登记", "变更", "变更登记", "注销", "简易注销", "食品经营许可",
         "食品生产许可", "食品安全", "特种设备", "计量", "标准", "质量", "商标", "专利", "知识产权", "广告",
         "经营异常", "年报", "认证", "药品经营", "医疗器械经营", "化妆品", "工业产品生产许可"),
        23,
    ),
    DepartmentRef(
        "fy", "法院", _D,
        "诉讼服务指引、破产与重整、执行及失信信用修复等司法服务（具体涉诉案件不在本平台服务范围）",
        ("诉讼服务", "破产", "破产重整", "重整", "执行", "失信被执行人", "信用修复", "诉前调解",
         "司法确认", "财产保全"),
        24,
    ),
    DepartmentRef(
        "tax", "税务局", _D,
        "税费申报缴纳、发票、出口退税与留抵退税、税收优惠政策落实、纳税信用、社保费征缴",
        ("发票", "纳税", "纳税申报", "退税", "出口退税", "留抵退税", "税收优惠", "增值税", "企业所得税",
         "个人所得税", "税务登记", "纳税信用", "电子税务局", "完税证明", "社保费征缴"),
        25,
    ),
    DepartmentRef(
        "ghzy", "规划资源分局", _D,
        "国土空间规划与规划许可、建设用地供应与审批、不动产登记、测绘",
        ("规划", "规划许可", "建设用地规划许可", "建设工程规划许可", "规划条件", "用地", "土地", "土地出让",
         "供地", "用地预审", "不动产登记", "不动产权证", "产权证", "测绘", "容积率", "耕地"),
        26,
    ),
    # Utilities, each a unit under its department (the parent department sees their orders).
    DepartmentRef(
        "telecom", "通信公司", _U,
        "企业宽带、专线、5G网络覆盖与通信报装",
        ("宽带", "5G", "通信", "网络信号", "光纤", "专线", "基站", "通信报装"),
        27,
        parent_code="gxj",
    ),
    DepartmentRef(
        "power_chengdong", "城东供电", _U,
        "企业用电报装、增容、停电抢修与供电服务",
        ("用电", "供电", "停电", "电力报装", "用电报装", "增容", "变压器", "电费", "双电源"),
        28,
        parent_code="gxj",
    ),
    DepartmentRef(
        "gas", "燃气公司", _U,
        "天然气报装、供气保障、停气抢修与燃气安全",
        ("燃气", "天然气", "燃气报装", "燃气管道", "停气", "燃气表", "燃气安全"),
        29,
        parent_code="cgw",
    ),
    DepartmentRef(
        "water_supply", "水务公司", _U,
        "供水排水报装、停水抢修、水表水压与水费服务",
        ("供水", "用水", "停水", "排水", "水务报装", "供水报装", "水表", "水压", "水费"),
        30,
        parent_code="water",
    ),
    # Hubs.
    DepartmentRef(
        "grid_center", "区网格中心", _H,
        "承接、分派、流转企业需求工单并督办促办；派单时优先发挥现有企业服务机制作用；统筹协调镇街、开发区“吹哨报到”",
        (),
        31,
    ),
    DepartmentRef(
        "bizenv_office", "区营商环境办", _H,
        "区级会商办理：按服务阶段确定牵头部门或召集营商环境联席会议；“2+3”重点产业企业绿色通道优先协调",
        ("营商环境", "多部门", "会商", "联席会议", "绿色通道"),
        32,
    ),
    DepartmentRef(
        "one_number_desk", "区政务服务中心“一号响应企业服务”专席", _H,
        "通过86912345热线受理为企服务人员提交的政务服务领域诉求，智能语音或人工坐席处理解决",
        ("86912345", "一号响应"),
        33,
    ),
)


# --------------------------------------------------------------------------------------------------
# Service stages (全生命周期) and the default lead department for level-3 consultations.
# --------------------------------------------------------------------------------------------------
# Lead departments (defaults; 区营商环境办 may name another lead per case, and admins may edit):
# - 企业开办 → 政务服务办: it runs the integrated start-up service (一网通办, 一件事, 帮办代办) and
#   coordinates registration, seals, tax and social-security set-up across departments.
# - 项目建设 → 住建委: a project's longest run is construction permit → quality/safety → joint
#   completion acceptance (联合验收), all under 住建委, which also leads the engineering-approval
#   reform; 规划资源分局 (land, planning permits) and 发改委 (filing) join as co-handlers.
# - 生产经营 → 工信局: it owns industrial operation, SME services and the power/network/gas
#   factor coordination that day-to-day operating problems mostly need.
# - 发展壮大 → 发改委: growth requests are usually cross-cutting (expansion investment, land, energy
#   quotas, key-project scheduling), which 发改委 coordinates; single-department matters such as
#   高企 recognition (科技局) or 专精特新 (工信局) go to level 2 by keyword anyway.
# - 市场退出 → 市场监管局: deregistration (注销, 简易注销) is its procedure, with 税务局 (tax
#   clearance) and 法院 (bankruptcy) as co-handlers.

SERVICE_STAGES: tuple[StageRef, ...] = (
    StageRef("startup", "企业开办", "zwfwb", 1),
    StageRef("construction", "项目建设", "zjw", 2),
    StageRef("operation", "生产经营", "gxj", 3),
    StageRef("growth", "发展壮大", "fgw", 4),
    StageRef("exit", "市场退出", "scjgj", 5),
)


# --------------------------------------------------------------------------------------------------
# Request domains (诉求领域) of the work plan, with classification keywords.
# --------------------------------------------------------------------------------------------------

REQUEST_DOMAINS: tuple[DomainRef, ...] = (
    DomainRef(
        "economy", "经济调节",
        ("政策", "惠企政策", "补贴", "奖励", "扶持资金", "专项资金", "项目申报", "融资", "贷款", "投资",
         "产业", "用地指标", "能耗", "招商", "减税降费", "上市"),
        1,
    ),
    DomainRef(
        "market", "市场监管",
        ("营业执照", "登记", "变更", "注销", "许可证", "食品", "药品", "医疗器械", "特种设备", "计量",
         "质量", "商标", "专利", "知识产权", "广告", "价格", "经营异常"),
        2,
    ),
    DomainRef(
        "social", "社会管理",
        ("用工", "招聘", "劳动关系", "社保", "人才", "落户", "安全生产", "消防", "治安", "应急", "交通秩序",
         "停车", "物业", "周边秩序"),
        3,
    ),
    DomainRef(
        "public_service", "公共服务",
        ("供水", "供电", "供气", "供热", "燃气", "宽带", "通信", "道路", "公交", "路灯", "子女入学",
         "医疗", "政务服务", "办事", "审批", "不动产登记"),
        4,
    ),
    DomainRef(
        "environment", "生态环境保护",
        ("环评", "排污许可", "排污", "污水", "废气", "噪声", "扬尘", "固废", "危废", "环保", "碳排放",
         "绿化", "河道", "土壤"),
        5,
    ),
)


# --------------------------------------------------------------------------------------------------
# Industry tags. The "2+3" modern industry system is a district default for the district to correct.
# GB/T 4754-2017 codes: a section letter (e.g. "L"), a division ("C27") or a class ("C358"); a
# matcher should treat them as prefixes of an enterprise's industry code. The mapping of a policy
# label onto divisions is a judgement call, noted per row.
# --------------------------------------------------------------------------------------------------

INDUSTRY_TAGS: tuple[IndustryTagRef, ...] = (
    # 通用/专用设备, 铁路船舶航空航天, 电气机械, 仪器仪表.
    IndustryTagRef("high_end_equipment", "高端装备制造", True, "C34,C35,C37,C38,C40", 1),
    # 医药制造 (化学药, 中药饮片, 中成药, 生物药) plus 医疗仪器设备及器械 (class C358).
    IndustryTagRef("biomedicine_tcm", "生物医药与中医药", True, "C27,C358", 2),
    # New materials: 化学原料/化学纤维/非金属矿物/黑色与有色金属; new energy: 电池 (C384) and
    # 风力/太阳能/生物质能发电 (D4415-D4417).
    IndustryTagRef(
        "new_energy_materials", "新能源新材料", True, "C26,C28,C30,C31,C32,C384,D4415,D4416,D4417", 3
    ),
    # 计算机通信电子设备, 电信广电卫星传输, 互联网, 软件和信息技术服务.
    IndustryTagRef("xinchuang", "信息技术应用创新", True, "C39,I63,I64,I65", 4),
    # Modern logistics (多式联运/仓储/邮政快递), 金融, 租赁和商务服务, 科学研究和技术服务.
    IndustryTagRef("modern_services", "现代服务业", True, "G58,G59,G60,J,L,M", 5),
    # Ordinary tags.
    IndustryTagRef(
        "general_manufacturing", "一般制造业", False,
        "C13,C14,C15,C16,C17,C18,C19,C20,C21,C22,C23,C24,C25,C29,C33,C36,C41,C42,C43", 6,
    ),
    IndustryTagRef("wholesale_retail", "批发零售", False, "F", 7),
    IndustryTagRef("accommodation_catering", "住宿餐饮", False, "H", 8),
    IndustryTagRef("construction", "建筑业", False, "E", 9),
    IndustryTagRef("agriculture", "农业", False, "A", 10),
    IndustryTagRef("transport_storage", "交通运输仓储", False, "G53,G54,G55,G56,G57", 11),
    IndustryTagRef("other", "其他", False, "", 12),
)


# --------------------------------------------------------------------------------------------------
# Default SLA policies (any domain): sign-in limit by priority, handling limit by level.
# normal: sign within 1 working day; urgent (water/power/gas/heating outage): 30 natural minutes;
# emergency (life or property at risk): 15 natural minutes. Level 4 follows the city's deadline.
# --------------------------------------------------------------------------------------------------

PRIORITIES: tuple[str, ...] = ("normal", "urgent", "emergency")
_SIGN_LIMITS: dict[str, tuple[int | None, int | None]] = {  # priority -> (sign_minutes, sign_workdays)
    "normal": (None, 1),
    "urgent": (30, None),
    "emergency": (15, None),
}
_HANDLE_WORKDAYS: dict[int, int | None] = {1: 3, 2: 5, 3: 10, 4: None}

DEFAULT_SLA_POLICIES: tuple[SlaPolicyRef, ...] = tuple(
    SlaPolicyRef(
        priority=priority,
        level=level,
        sign_minutes=_SIGN_LIMITS[priority][0],
        sign_workdays=_SIGN_LIMITS[priority][1],
        handle_workdays=handle,
    )
    for priority in PRIORITIES
    for level, handle in _HANDLE_WORKDAYS.items()
)


# --------------------------------------------------------------------------------------------------
# SystemSetting defaults; inserted only when missing so an administrator's edits survive a reseed.
# The survey hours are not seeded: until an administrator saves them, SURVEY_DELAY_HOURS and
# SURVEY_REMINDER_HOURS supply them (services.admin.settings).
# --------------------------------------------------------------------------------------------------

DEFAULT_SETTINGS: dict[str, Any] = {
    "max_returns": 3,
    "attachment_max_mb": 20,
    "grid_center_hotline": "86912345",
    # Policy push (services.policies.push): per-enterprise pushes per 7 days, Beijing quiet hours in
    # which nothing is sent, and the working-day time newly published items go out.
    "policy_push_weekly_cap": 2,
    "policy_quiet_hours": "21:00-08:00",
    "policy_push_time": "09:30",
    "policy_reminder_days": 7,
}


def department_ref(code: str) -> DepartmentRef:
    """The reference row for a department code; KeyError when unknown."""
    for ref in DEPARTMENTS:
        if ref.code == code:
            return ref
    raise KeyError(code)
