"""Pure data behind the demo seed (``services.demo.seed``): names, firms and requests of a believable Beichen.

Everything here is invented. Names are drawn from common surnames and given names; company names
follow the usual "天津 + 字号 + 行业 + 有限公司" pattern; requests are the kinds of things the work
plan lists (用电报装, 招工, 融资, 环评 …). Nothing here is used outside the demo.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_PASSWORD = "demo1234"

# --------------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
    "阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺"
)
GIVEN_SINGLE = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚鹏辉华飞玲颖宁斌蕾晶琳博浩宇倩婷健鑫凯"
GIVEN_DOUBLE = (
    "建国", "志强", "海燕", "晓东", "春梅", "立新", "文博", "思远", "雨萱", "子涵", "国庆", "秀兰", "玉珍",
    "俊杰", "晓燕", "红梅", "振华", "永强", "丽娟", "建华", "金凤", "德胜", "学文", "宏伟", "佳琪", "欣怡",
    "浩然", "梓涵", "一鸣", "雅琴", "桂芳", "庆丰", "亚男", "少华", "世杰", "凤英", "晓明", "建军", "淑华",
    "家豪", "若曦", "嘉怡", "天宇", "婉婷", "志刚", "兰英", "明轩", "晓丽", "春生", "文静",
)
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
                  "155", "156", "157", "158", "159", "176", "177", "180", "181", "186", "187", "188", "189")

# Stages each department (or unit) typically serves; its first chief helper covers all of them,
# a second one (only where there are two or more) takes the later half.
DEPARTMENT_STAGES: dict[str, tuple[str, ...]] = {
    "fgw": ("construction", "growth"),
    "czj": ("operation", "growth"),
    "sfj": ("operation", "exit"),
    "jyj": ("operation",),
    "mzj": ("startup", "operation"),
    "kjj": ("operation", "growth"),
    "gxj": ("operation", "growth"),
    "rsj": ("startup", "operation", "growth"),
    "zjw": ("construction", "operation"),
    "cgw": ("construction", "operation"),
    "sthjj": ("construction", "operation"),
    "water": ("construction", "operation"),
    "ygj": ("startup", "operation"),
    "nyncw": ("startup", "operation", "growth"),
    "commerce": ("operation", "growth"),
    "wlj": ("startup", "operation"),
    "wjw": ("startup", "operation"),
    "zwfwb": ("startup", "exit"),
    "tcj": ("startup", "construction"),
    "gzw": ("operation",),
    "ybj": ("operation",),
    "yjglj": ("construction", "operation"),
    "scjgj": ("startup", "operation", "exit"),
    "fy": ("exit",),
    "tax": ("startup", "operation", "exit"),
    "ghzy": ("construction",),
    "telecom": ("startup", "construction", "operation"),
    "power_chengdong": ("construction", "operation"),
    "gas": ("construction", "operation"),
    "water_supply": ("construction", "operation"),
}


def leader_title(department_name: str, kind: str) -> str:
    if kind == "unit":
        return "总经理"
    if department_name == "法院":
        return "院长"
    return "局长" if department_name.endswith("局") else "主任"


def helper_title(department_name: str, kind: str, index: int) -> str:
    if kind == "unit":
        return "副总经理" if index == 0 else "大客户经理"
    if department_name == "法院":
        return "副院长" if index == 0 else "庭长"
    deputy = "副局长" if department_name.endswith("局") else "副主任"
    return deputy if index == 0 else "科长"


# --------------------------------------------------------------------------------------------------
# Enterprises
# --------------------------------------------------------------------------------------------------
BRANDS = (
    "瑞丰", "恒信", "华泰", "宏达", "鑫源", "金诺", "博远", "中辰", "泰和", "永盛", "天拓", "众合", "盛鼎", "海川",
    "凯达", "润德", "华盛", "诚远", "信达", "聚鑫", "裕丰", "东方锐", "北辰星", "辰宇", "津港", "嘉禾", "远航",
    "长城", "亿联", "同创", "隆昌", "顺通", "汇川", "弘毅", "卓越", "明阳", "新华源", "鼎盛", "正和", "广源",
    "万通", "富康", "德隆", "安泰", "精诚", "华宇", "金桥", "锦程", "百川", "立信", "宝成", "兴业", "晟达",
    "荣华", "盈科", "康宁", "融创", "天祥", "京辰", "鸿运", "佳美", "启明", "睿智", "华科", "中盈", "海纳",
    "丰泽", "永昌", "恒通", "瑞祥", "龙腾", "信和", "博森", "和盛", "东升", "凯瑞", "宏图", "振兴", "利达",
    "福瑞", "合众", "天成", "新纪元", "华信", "力拓", "通达", "泰丰", "金鼎", "德润", "世纪", "中天", "方圆",
    "永利", "庆丰", "鑫达", "华光", "辰光", "蓝海", "青禾", "绿源", "沃土", "丰收", "稻香", "碧水", "金穗",
)

# (industry words in the company name, industry tag code, size bands to draw from, GB/T 4754-2017 class
# code and name). The class is what the firm would be registered under; size figures are drawn to fit
# the band by the rules of that industry (services.registry.size_band).
COMPANY_INDUSTRIES: tuple[tuple[str, str, str, str, str], ...] = (
    ("智能装备", "high_end_equipment", "中小", "C3491", "工业机器人制造"),
    ("精密机械", "high_end_equipment", "中小", "C3484", "机械零部件加工"),
    ("数控机床", "high_end_equipment", "中", "C3421", "金属切削机床制造"),
    ("液压设备", "high_end_equipment", "小", "C3444", "液压动力机械及元件制造"),
    ("自动化设备", "high_end_equipment", "小微", "C3499", "其他未列明通用设备制造业"),
    ("仪器仪表", "high_end_equipment", "小", "C4011", "工业自动控制系统装置制造"),
    ("生物医药", "biomedicine_tcm", "中大", "C2761", "生物药品制造"),
    ("医疗器械", "biomedicine_tcm", "中小", "C3581", "医疗诊断、监护及治疗设备制造"),
    ("中药饮片", "biomedicine_tcm", "小", "C2730", "中药饮片加工"),
    ("制药", "biomedicine_tcm", "中大", "C2720", "化学药品制剂制造"),
    ("新材料", "new_energy_materials", "中小", "C2659", "其他合成材料制造"),
    ("新能源科技", "new_energy_materials", "小", "D4416", "太阳能发电"),
    ("锂电科技", "new_energy_materials", "中", "C3841", "锂离子电池制造"),
    ("高分子材料", "new_energy_materials", "小", "C2651", "初级形态塑料及合成树脂制造"),
    ("信息技术", "xinchuang", "小微", "I6531", "信息系统集成服务"),
    ("软件", "xinchuang", "小微", "I6513", "应用软件开发"),
    ("电子科技", "xinchuang", "中小", "C3982", "电子电路制造"),
    ("数据科技", "xinchuang", "微", "I6550", "信息处理和存储支持服务"),
    ("供应链管理", "modern_services", "小", "L7224", "供应链管理服务"),
    ("国际物流", "modern_services", "中小", "G5821", "货物运输代理"),
    ("检测技术", "modern_services", "小微", "M7452", "检测服务"),
    ("五金制品", "general_manufacturing", "小微", "C3351", "建筑、家具用金属配件制造"),
    ("包装制品", "general_manufacturing", "小", "C2231", "纸和纸板容器制造"),
    ("塑料制品", "general_manufacturing", "小微", "C2929", "塑料零件及其他塑料制品制造"),
    ("家具", "general_manufacturing", "小", "C2110", "木质家具制造"),
    ("服装", "general_manufacturing", "小微", "C1819", "其他机织服装制造"),
    ("食品", "general_manufacturing", "中小", "C1432", "速冻食品制造"),
    ("金属制品", "general_manufacturing", "小", "C3311", "金属结构制造"),
    ("汽车配件", "general_manufacturing", "中小", "C3670", "汽车零部件及配件制造"),
    ("商贸", "wholesale_retail", "微", "F5199", "其他未列明批发业"),
    ("建材销售", "wholesale_retail", "微", "F5165", "建材批发"),
    ("建筑工程", "construction", "中小", "E4790", "其他房屋建筑业"),
    ("装饰工程", "construction", "小微", "E5011", "公共建筑装饰和装修"),
    ("运输", "transport_storage", "小微", "G5431", "普通货物道路运输"),
    # 通用仓储 is G59, which the district maps to 现代服务业; the demo keeps this firm an ordinary one.
    ("仓储", "transport_storage", "小", "G5920", "通用仓储"),
    ("餐饮管理", "accommodation_catering", "小微", "H6241", "餐饮配送服务"),
)
KEY_INDUSTRY_TAGS = ("high_end_equipment", "biomedicine_tcm", "new_energy_materials", "xinchuang", "modern_services")

# 个体工商户: (业态, industry tag code, GB/T 4754-2017 class code and name)
SHOPS: tuple[tuple[str, str, str, str], ...] = (
    ("五金店", "wholesale_retail", "F5281", "五金零售"),
    ("便利店", "wholesale_retail", "F5213", "便利店零售"),
    ("小吃店", "accommodation_catering", "H6291", "小吃服务"),
    ("汽车修理部", "other", "O8111", "汽车修理与维护"),
    ("建材经营部", "wholesale_retail", "F5289", "其他室内装饰材料零售"),
    ("理发店", "other", "O8040", "理发及美容服务"),
    ("水果店", "wholesale_retail", "F5223", "果品、蔬菜零售"),
    ("日用百货店", "wholesale_retail", "F5219", "其他综合零售"),
    ("快餐店", "accommodation_catering", "H6220", "快餐服务"),
    ("家电维修部", "other", "O8132", "日用电器修理"),
)
# 农民专业合作社: (products, GB/T 4754-2017 class code and name)
COOP_PRODUCTS: tuple[tuple[str, str, str], ...] = (
    ("蔬菜种植", "A0141", "蔬菜种植"),
    ("果品", "A0151", "仁果类和核果类水果种植"),
    ("水产养殖", "A0412", "内陆养殖"),
    ("花卉苗木", "A0143", "花卉种植"),
    ("粮食种植", "A0112", "小麦种植"),
    ("食用菌", "A0142", "食用菌种植"),
    ("生猪养殖", "A0313", "猪的饲养"),
    ("葡萄种植", "A0152", "葡萄种植"),
)

# Registry figures the demo gives each market entity (services.demo.seed draws within these).
# 市场主体类型 of companies other than 股份有限公司, with weights; the big ones are joint-stock companies.
COMPANY_MARKET_TYPES: tuple[tuple[str, int], ...] = (
    ("有限责任公司（自然人投资或控股）", 6),
    ("有限责任公司（自然人独资）", 2),
    ("有限责任公司（法人独资）", 1),
    ("其他有限责任公司", 1),
)
JOINT_STOCK_MARKET_TYPE = "股份有限公司（非上市、自然人投资或控股）"
# 注册资本 (万元) by size band; 个体工商户 register a 资金数额, cooperatives the members' contributions.
REGISTERED_CAPITAL = {
    "大": (10000, 20000, 30000, 50000),
    "中": (1000, 2000, 3000, 5000),
    "小": (100, 200, 300, 500, 1000),
    "微": (10, 30, 50, 100),
    "individual": (1, 2, 3, 5, 10),
    "cooperative": (50, 100, 200, 300, 500),
}
# 资质 a "2+3" firm may hold (the 专精特新 title only for small and medium firms).
QUALIFICATIONS = ("高新技术企业", "科技型中小企业", "专精特新中小企业", "瞪羚企业", "雏鹰企业")

# Address fragments: towns and the development zone host parks and villages, streets host shops.
TOWN_PLACES = ("工业园区", "科技园", "创业园", "物流园", "工业区", "商贸园")
STREET_PLACES = ("商业街", "底商", "综合市场", "商务楼", "社区商业中心")
DEVZONE_PLACES = ("医药医疗器械工业园", "科技园", "高端装备产业园", "智能制造产业园", "新材料产业园")

# Firms per zone: (companies, individual businesses, cooperatives)
FIRMS_PER_ZONE = {"town": (9, 2, 2), "street": (4, 4, 0), "devzone": (30, 0, 0)}


# --------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    title: str
    content: str
    department: str | None  # the department that owns it (level 2), None: handled in the zone
    stage: str
    result: str
    reply: str = ""


REQUESTS: dict[str, Request] = {
    "water_outage": Request(
        "厂区停水抢修",
        "今早8点起厂区主供水管道爆裂，三个车间全面停水，生产线被迫停机，请尽快组织抢修恢复供水。",
        "water_supply", "operation",
        "已更换破损DN150供水管段并冲洗消毒，11时40分恢复供水，水压正常。",
        "抢修队已到场，正在关阀排查漏点。",
    ),
    "power_install": Request(
        "二期厂房用电报装",
        "二期厂房年内投产，需新增一台1250kVA箱式变压器，申请高压用电报装，希望压缩接电时间。",
        "power_chengdong", "construction",
        "供电方案已答复，配套外线工程纳入绿色通道，预计15个工作日内装表接电。",
        "已安排客户经理上门对接，完成现场勘查。",
    ),
    "recruit": Request(
        "急需招聘技术工人",
        "企业新接出口订单，急需招聘焊工、数控车工等技术工人30名，希望协助对接招聘会和职业院校。",
        "rsj", "operation",
        "已安排企业参加区春季专场招聘会，现场达成意向28人，另推荐职业院校实习生12名。",
        "岗位信息已推送至区人力资源市场，并联系了两所职业院校。",
    ),
    "road_damage": Request(
        "厂区门前道路破损",
        "厂区门前道路破损严重，坑槽积水，大货车进出困难，影响原料运输。",
        None, "operation",
        "已协调镇城管办完成坑槽修补并清理积水，道路恢复通行。",
    ),
    "export_rebate": Request(
        "出口退税备案辅导",
        "公司首次开展出口业务，对出口退税备案和申报流程不熟悉，希望税务部门上门辅导。",
        "tax", "operation",
        "税务局派专人上门辅导，已完成出口退（免）税备案，首笔退税申报已受理。",
    ),
    "eia": Request(
        "喷涂生产线环评手续",
        "新上一条表面喷涂生产线，需办理环评手续，咨询应编制报告书还是报告表，以及审批时限。",
        "sthjj", "construction",
        "已明确应编制环境影响报告表，讲解告知承诺制审批流程，企业已委托编制单位。",
    ),
    "food_license": Request(
        "搬迁后重新办理食品经营许可",
        "餐馆搬到新门脸，需要重新办理食品经营许可证，想了解需要准备哪些材料。",
        "scjgj", "startup",
        "已告知办理材料清单，指导经营者网上提交申请，3个工作日内取得新证。",
    ),
    "high_tech": Request(
        "高新技术企业申报辅导",
        "企业计划今年申报高新技术企业认定，希望了解研发费用归集口径和知识产权要求。",
        "kjj", "growth",
        "科技局专员上门辅导，已帮助企业梳理研发项目和专利，纳入高企培育库。",
    ),
    "broadband": Request(
        "新厂区光纤专线迟迟未施工",
        "新厂区需要开通千兆光纤专线，报装半个月了运营商迟迟未施工。",
        "telecom", "operation",
        "通信公司已完成光缆敷设，专线开通测试正常。",
    ),
    "gas_install": Request(
        "职工食堂天然气报装",
        "职工食堂改造需新增天然气报装，想了解报装流程和施工周期。",
        "gas", "construction",
        "燃气管线已接通并完成置换通气，食堂已正常使用。",
    ),
    "coop_subsidy": Request(
        "设施农业建设补贴申报",
        "合作社准备新建两栋蔬菜大棚，想申请设施农业建设补贴，咨询申报条件和截止时间。",
        "nyncw", "growth",
        "农业农村委已上门讲解申报条件，合作社已提交申报材料并通过初审。",
    ),
    "stable_jobs": Request(
        "稳岗返还到账查询",
        "企业咨询去年的失业保险稳岗返还什么时候发放，到账金额如何查询。",
        None, "operation",
        "已查询确认返还资金已拨付，并告知企业通过社保网上服务平台查询到账明细。",
    ),
    "talent_apartment": Request(
        "研发人员申请人才公寓",
        "企业新引进的6名研发人员希望申请人才公寓，想了解申请条件和现有房源。",
        "zjw", "operation",
        "已协助企业完成人才公寓申请，6人全部配租，本月入住。",
    ),
    "drain": Request(
        "门口雨水井堵塞厂区积水",
        "企业门口雨水井堵塞，一下雨厂区就积水，货物进出受影响。",
        "cgw", "operation",
        "水务局已组织清掏疏通雨水井及管道，排水恢复正常。",
    ),
    "cross_border": Request(
        "跨境电商政策咨询",
        "企业想开展跨境电商出口业务，咨询跨境电商综试区支持政策和海外仓补贴。",
        "commerce", "growth",
        "商务局已讲解相关政策并推荐对接服务商，企业已完成跨境电商备案。",
    ),
    "disabled_staff": Request(
        "安置残疾人就业税费优惠",
        "企业新招用了5名残疾人员工，咨询如何享受相关税费优惠。",
        None, "operation",
        "已告知残疾人就业保障金减免和增值税即征即退政策及办理方式。",
    ),
    "safety_training": Request(
        "新员工安全生产培训",
        "企业今年新招员工较多，希望安排一次安全生产和消防知识培训。",
        "yjglj", "operation",
        "应急管理局已组织专家到企业开展安全生产培训，参训员工86人。",
    ),
    "law_lecture": Request(
        "劳动法律法规宣讲报名",
        "企业想组织人事专员参加区劳动人事争议仲裁院开展的劳动法律法规宣讲活动，想了解报名方式。",
        None, "operation",
        "已告知宣讲时间地点，并协助企业报名3人。",
    ),
    "payment_lawsuit": Request(
        "货款纠纷执行",
        "公司与供应商的货款纠纷已起诉到法院，一审判决后对方仍不付款，希望区里督促法院尽快强制执行。",
        None, "operation", "",
    ),
    "demolition_petition": Request(
        "厂房拆迁补偿",
        "去年厂房拆迁补偿问题已经多次到区信访办上访，希望通过这个渠道再反映一次。",
        None, "exit", "",
    ),
    "competitor_bid": Request(
        "打听投标报价",
        "能否帮忙打听一下竞争对手公司这次投标的报价，我们想据此调整方案。",
        None, "operation", "",
    ),
    "biomed_base": Request(
        "生物医药产业化基地二期审批协调",
        "企业拟投资5亿元建设生物医药产业化基地二期，涉及用地规划调整、环评、能耗指标等多项审批，"
        "希望区里统筹协调推进。",
        None, "construction", "",
    ),
    "sewage": Request(
        "园区污水管网堵塞外溢",
        "园区内多家企业共用的污水管网堵塞外溢，气味很大，园区物业说不归他们管，责任主体不清。",
        None, "operation", "",
    ),
    "bus_stop": Request(
        "厂区附近增设公交站点",
        "企业员工300余人，附近没有公交站点，希望协调在厂区附近增设公交站或开通通勤线路。",
        None, "operation", "",
    ),
    "expansion": Request(
        "厂区扩建涉及多部门审批",
        "企业计划在现有厂区内扩建自动化生产车间，涉及容积率调整、新增用地和消防设计审查，希望协调推进。",
        "gxj", "growth", "",
        "已摸清扩建方案，涉及规划、土地、消防多部门，需提请区级会商。",
    ),
    "property_cert": Request(
        "厂房不动产权证办理",
        "企业购置的厂房一直没有办下不动产权证，影响银行抵押贷款，希望协调办理。",
        "ghzy", "construction", "",
    ),
    "graduate_subsidy": Request(
        "吸纳高校毕业生社保补贴",
        "企业去年招用了8名高校毕业生，申请社保补贴时系统提示材料不全，希望有人指导一下。",
        "rsj", "operation", "",
    ),
    "financing": Request(
        "融资担保贷款和贴息",
        "受原材料涨价影响，企业流动资金紧张，希望申请政府性融资担保贷款，并了解贷款贴息政策。",
        "czj", "operation", "",
    ),
    "injury_insurance": Request(
        "工伤保险待遇审核缓慢",
        "企业员工工伤保险待遇申领材料已提交两周，至今未审核，员工医疗费用报销受影响。",
        "rsj", "operation", "",
        "已联系工伤保险经办机构，正在补录事故调查材料。",
    ),
    "injury_insurance_again": Request(
        "再次反映工伤保险待遇审核慢",
        "员工工伤保险待遇申领材料交了两周还没审核，医疗费用报销受影响，企业再次反映，请帮忙催办。",
        "rsj", "operation", "",
    ),
    "discharge_permit": Request(
        "排污许可证延续变更",
        "企业排污许可证下月到期，申请延续时发现排放口信息需要变更，不清楚应走变更还是重新申请。",
        "sthjj", "operation", "",
    ),
    "joint_acceptance": Request(
        "新建厂房联合验收受阻",
        "新建厂房已竣工，联合验收中消防、规划、人防意见不一致，验收迟迟无法通过，影响企业投产。",
        None, "construction", "",
        "住建委已组织现场联合复核，消防整改项已明确，规划核实正在办理。",
    ),
    "truck_pass": Request(
        "货车市区通行证",
        "企业配送车辆需要进入中心城区配送，申请货车市区通行证多次未获批，涉及市级交管部门。",
        None, "operation", "",
    ),
    "trade_barrier": Request(
        "出口产品技术壁垒",
        "企业出口欧盟的产品遭遇新的技术性贸易措施，需要市级部门协调检测认证和原产地证办理。",
        "commerce", "growth", "",
        "已梳理企业出口产品清单和认证需求，需市级部门协调。",
    ),
    "tax_relief": Request(
        "“六税两费”减免咨询",
        "企业想了解今年小微企业“六税两费”减免政策的适用范围和申报方式。",
        None, "operation", "",
    ),
    "night_noise": Request(
        "周边夜间施工噪声",
        "厂区附近道路夜间施工噪声大，影响企业倒班员工休息，希望协调调整施工时间。",
        "cgw", "operation",
        "已约谈施工单位，夜间22时后停止高噪声作业。",
    ),
    "scope_change": Request(
        "经营范围变更登记被退回",
        "企业办理经营范围变更登记，网上提交后被退回，提示材料不符合要求。",
        "scjgj", "operation", "",
        "已核对退回原因，需企业补充股东会决议和新章程。",
    ),
    "skills_subsidy": Request(
        "技能提升培训补贴",
        "企业组织了一批员工参加技能提升培训，想了解培训补贴标准和申请方式。",
        "rsj", "operation",
        "已讲解补贴标准，指导企业在线提交申请材料，补贴预计下月拨付。",
    ),
    "street_light": Request(
        "门口路灯不亮",
        "企业门口路灯不亮已一周，员工夜间下班不安全。",
        None, "operation",
        "已报镇城管办维修，路灯恢复照明。",
    ),
    "tech_sme": Request(
        "科技型中小企业评价数据更正",
        "企业申报科技型中小企业评价，系统提示研发人员数据有误，不知道如何更正。",
        "kjj", "growth",
        "已指导企业退回修改研发人员数据并重新提交，评价已通过。",
    ),
    "signal_5g": Request(
        "厂区5G信号弱",
        "厂区5G信号弱，影响智能仓储设备联网和扫码出入库。",
        "telecom", "operation",
        "通信公司已在厂区增设室分设备，5G信号覆盖达标。",
    ),
    "dust": Request(
        "渣土车扬尘",
        "厂区周边渣土车频繁通行，道路扬尘严重，影响企业产品质量。",
        "cgw", "operation",
        "已约谈运输企业，增加道路洒水频次。",
    ),
    "gmp_upgrade": Request(
        "新药生产线改造多项审批",
        "企业新药生产线GMP改造需同步办理环评变更、消防验收和用电增容，时间紧，希望区里协调。",
        None, "growth",
        "联席会议后各部门并联办理，环评变更、消防验收和用电增容已全部完成，生产线按期投产。",
    ),
    "deregistration": Request(
        "简易注销卡在清税环节",
        "企业办理简易注销时，税务清税和社保账户注销进度不一致，卡在最后环节。",
        None, "exit",
        "市场监管局牵头与税务局、人社局会商，清税证明和社保账户注销已同步完成，注销登记已办结。",
    ),
    "hotline_upload": Request(
        "规划许可网上申报无法上传附件",
        "企业通过86912345热线反映：办理建设工程规划许可时，网上申报系统无法上传附件。",
        "ghzy", "construction",
        "已排查系统故障并修复，指导企业重新上传附件，申报已受理。",
    ),
}

# Routine orders that went round the whole loop: (department or None for the zone itself, stage, entity
# type of the enterprise, title, content, result).
ROUTINE: tuple[tuple[str | None, str, str, str, str, str], ...] = (
    ("scjgj", "startup", "enterprise", "分公司设立登记", "新设立分公司，咨询营业执照办理流程和所需材料。",
     "已指导企业通过“一网通办”提交设立登记，2个工作日领取执照。"),
    ("zwfwb", "startup", "enterprise", "企业开办一件事", "新办企业想一次性办理营业执照、公章刻制、税务和社保登记。",
     "已通过企业开办“一件事”集成办理，一日内全部办结。"),
    ("rsj", "operation", "enterprise", "职业技能等级认定", "企业想为一线员工申请职业技能等级认定，不清楚找哪家评价机构。",
     "已对接社会评价机构，安排本月开展认定考核。"),
    ("tax", "operation", "enterprise", "留抵退税进度", "增值税留抵退税申请提交后一直显示审核中，企业资金周转压力大。",
     "已加快审核，留抵退税款已退还到账。"),
    ("kjj", "growth", "enterprise", "雏鹰企业评价", "企业咨询雏鹰企业评价的申报条件和时间。",
     "已告知申报条件，企业已完成在线填报。"),
    ("gxj", "growth", "enterprise", "专精特新申报辅导", "企业想申报市级专精特新中小企业，希望有人辅导申报材料。",
     "工信局已组织专家上门辅导，材料已按期提交。"),
    ("power_chengdong", "operation", "enterprise", "车间用电增容", "车间计划增加两台注塑机，需要办理用电增容。",
     "已完成增容方案答复，增容工程已竣工送电。"),
    ("water_supply", "construction", "enterprise", "办公楼供水报装", "新建办公楼需要办理供水报装，想了解流程和费用。",
     "已完成供水报装及管线接驳，正式通水。"),
    ("sthjj", "operation", "enterprise", "危废转移联单", "企业想了解危险废物转移联单的办理方式。",
     "已告知危废转移电子联单操作流程，企业已完成首次转移。"),
    ("commerce", "operation", "enterprise", "展会补贴", "企业想参加广交会，咨询展位费补贴政策。",
     "已讲解展会补贴政策，企业已提交补贴申请。"),
    ("ygj", "operation", "enterprise", "道路运输证办理", "企业新购置5辆货车，需要办理道路运输证。",
     "已指导企业网上申请，道路运输证已核发。"),
    ("wjw", "startup", "enterprise", "医务室诊所备案", "企业内部医务室想办理诊所备案，咨询需要哪些材料。",
     "已告知诊所备案材料，完成备案。"),
    ("jyj", "operation", "enterprise", "技术骨干子女转学", "引进的技术骨干子女需要转学到区内小学。",
     "教育局已协调学位，孩子已办理转学入学。"),
    ("ybj", "operation", "enterprise", "新员工医保结算", "新员工医保参保登记后无法在定点医院结算。",
     "已核实参保信息并完成数据同步，员工可正常结算。"),
    ("ghzy", "construction", "enterprise", "仓库建设工程规划许可", "企业新建仓库需要办理建设工程规划许可证。",
     "已指导企业完成方案审查，建设工程规划许可证已核发。"),
    ("zjw", "construction", "enterprise", "厂房施工许可", "新建厂房需要办理施工许可证，咨询办理时限。",
     "已告知承诺制办理流程，施工许可证3个工作日内核发。"),
    ("fgw", "growth", "enterprise", "技改项目备案", "企业技改项目需要办理项目备案，不清楚在哪个系统申报。",
     "已指导企业在投资项目在线审批监管平台完成备案。"),
    ("czj", "growth", "enterprise", "技改补贴资金到账", "企业去年的技改补贴资金一直没有到账，想了解拨付进度。",
     "已核实资金拨付进度，补贴资金已拨付到账。"),
    ("yjglj", "construction", "enterprise", "粉尘防爆安全设施", "新建车间涉及粉尘防爆，想了解安全设施“三同时”要求。",
     "已上门指导，企业已委托编制安全预评价。"),
    ("scjgj", "operation", "enterprise", "商标被抢注", "企业的品牌名称被他人抢先申请商标，想了解提出商标异议的途径。",
     "已指导企业向国家知识产权局提交商标异议申请。"),
    ("telecom", "operation", "enterprise", "办公楼宽带断网", "办公楼宽带经常断网，影响业务系统运行。",
     "已更换光猫并优化线路，网络恢复稳定。"),
    ("gas", "operation", "enterprise", "燃气表异常", "燃气表显示异常，担心存在安全隐患。",
     "燃气公司已上门检测并更换燃气表，排除安全隐患。"),
    ("nyncw", "operation", "cooperative", "绿色食品认证", "合作社种植的蔬菜想申请绿色食品认证。",
     "已指导合作社准备认证材料并提交申请。"),
    ("mzj", "operation", "enterprise", "行业协会登记", "企业牵头成立行业协会，咨询社会团体登记流程。",
     "已指导完成社会团体登记。"),
    ("scjgj", "operation", "individual", "个体户转企业", "个体户想了解转型升级为有限公司的办理流程。",
     "已讲解“个转企”流程，协助完成新公司设立登记。"),
    (None, "operation", "enterprise", "年报填报", "企业咨询如何在网上填报年度报告。",
     "已指导企业在国家企业信用信息公示系统完成年报。"),
    (None, "operation", "individual", "门前共享单车乱停放", "店门口共享单车乱停放，顾客进出不方便。",
     "已协调单车运营企业清理并划定停放区域。"),
    (None, "operation", "enterprise", "垃圾清运不及时", "厂区周边垃圾清运不及时，夏季气味大。",
     "已协调镇环卫所增加清运频次。"),
    (None, "startup", "enterprise", "新办企业政策包", "新落户企业想了解区里对新办企业的扶持政策。",
     "已送达惠企政策汇编并逐条讲解。"),
    ("rsj", "growth", "enterprise", "人才引进落户", "企业引进的博士研发人员想办理人才引进落户。",
     "已协助通过“海河英才”通道完成落户申请。"),
)


# --------------------------------------------------------------------------------------------------
# Policies (政策库). Invented for the demo, in the style of a district's measures; document numbers say
# 示例 so they cannot be taken for real ones. ``conditions`` are services.policies.matching conditions,
# except that ``stages`` holds stage codes (the seed turns them into ``stage_ids``). Windows close
# ``open_days`` calendar days after the demo's "now"; None: 常年受理 (or 免申即享).
# --------------------------------------------------------------------------------------------------
DEMO_POLICY_NOTE = "（本政策为系统演示数据，内容为虚构。）"


@dataclass(frozen=True)
class DemoGrant:
    """How the owner department marks some pushes 兑现: ``note`` with {} for the amount in 万元."""

    note: str
    low: float
    high: float
    step: float = 0.01
    per_employee: bool = False  # low..high per employee: a refund follows the payroll


@dataclass(frozen=True)
class DemoItem:
    title: str
    summary: str  # 申报条件 and 支持标准
    materials: str  # what to hand in; the seed adds the accepting department
    conditions: dict
    open_days: int | None = 60
    no_application: bool = False
    grant: DemoGrant | None = None


@dataclass(frozen=True)
class DemoPolicy:
    key: str
    title: str
    owner: str  # department code
    issuing_body: str
    level: str  # 国家 / 天津市 / 北辰区
    doc_number: str  # "{year}" is the year of publication
    summary: str
    items: tuple[DemoItem, ...]


DEMO_POLICIES: dict[str, DemoPolicy] = {p.key: p for p in (
    DemoPolicy(
        "manufacturing", "北辰区支持先进制造业高质量发展的若干措施", "gxj", "北辰区人民政府办公室", "北辰区",
        "北辰政办发〔{year}〕示例1号",
        "围绕“2+3”现代产业体系，对制造业企业实施智能化改造和数字化转型、带动区内产业链协同配套、"
        "研制应用首台（套）重大技术装备给予资金支持，资金由区财政统筹安排，工信局牵头组织申报和审核。",
        (
            DemoItem(
                "智能化改造和数字化转型项目补助",
                "申报条件：在本区登记注册、依法纳税的中型、小型制造业企业，处于生产经营或发展壮大阶段，"
                "近一年内完成智能化改造或数字化转型项目，设备和软件投资额不低于 200 万元。"
                "支持标准：按项目设备和软件实际投资额的 10% 给予补助，单个企业最高 200 万元。",
                "提交项目申报书、投资明细及发票复印件、项目验收报告，经所在镇街（开发区）初审后报送。",
                {"industries": ["C"], "size_bands": ["中", "小"], "stages": ["operation", "growth"]},
                open_days=45, grant=DemoGrant("已拨付智能化改造补助资金 {} 万元", 20, 160),
            ),
            DemoItem(
                "产业链“链主”企业协同配套奖励",
                "申报条件：列入区“2+3”重点产业链的链主企业，上年度向区内配套企业采购额同比增长 10% 以上。"
                "支持标准：按新增区内采购额的 1% 给予奖励，单个企业最高 100 万元。",
                "提交申报书、上年度区内配套采购合同及发票汇总表、配套企业名单。",
                {"chain_positions": ["链主"], "key_industry": True},
                open_days=60, grant=DemoGrant("已拨付协同配套奖励 {} 万元", 30, 100),
            ),
            DemoItem(
                "首台（套）重大技术装备推广应用奖励",
                "申报条件：成立满 3 年的通用设备、专用设备制造业“2+3”重点产业链企业，"
                "产品列入国家或天津市首台（套）重大技术装备推广应用指导目录，并在申报年度内实现首次销售。"
                "支持标准：按单台（套）销售价格的 20% 给予奖励，单个企业最高 300 万元。",
                "提交申报书、目录入选证明、销售合同及发票、用户使用报告。",
                {"industries": ["C34", "C35"], "key_industry": True, "age_min_years": 3},
                open_days=60,
            ),
        ),
    ),
    DemoPolicy(
        "jobs", "北辰区落实稳岗扩岗支持政策实施细则", "rsj", "北辰区人力资源和社会保障局", "北辰区",
        "北辰人社发〔{year}〕示例2号",
        "落实国家和天津市稳就业政策，对吸纳重点群体就业的企业发放一次性扩岗补助，"
        "对不裁员、少裁员的中小微企业返还失业保险费，其中稳岗返还通过大数据比对“免申即享”。",
        (
            DemoItem(
                "一次性扩岗补助",
                "申报条件：招用毕业年度或离校 2 年内未就业高校毕业生、登记失业的 16—24 岁青年，"
                "与其签订 1 年以上劳动合同并按月足额缴纳社会保险费满 3 个月的企业，未列入经营异常名录。"
                "支持标准：每招用 1 人发放一次性扩岗补助 1500 元。",
                "提交申请表、劳动合同复印件和社会保险缴费明细，可在区政务服务中心人社窗口或网上办理。",
                {"entity_types": ["enterprise"], "exclude_abnormal": True},
                open_days=90, grant=DemoGrant("已发放一次性扩岗补助 {} 万元", 0.15, 1.2, step=0.15),
            ),
            DemoItem(
                "失业保险稳岗返还",
                "享受条件：依法参加失业保险且足额缴费、上年度未裁员或裁员率不高于规定标准的中小微企业"
                "（30 人及以下的企业裁员率不高于参保职工总数的 20%），未列入经营异常名录。"
                "支持标准：按企业上年度实际缴纳失业保险费的 60% 返还，经数据比对后直接拨付至企业对公账户，无需申报。",
                "无需提交材料；返还名单公示 5 个工作日后拨付，对公账户变更的请及时告知。",
                {"entity_types": ["enterprise"], "size_bands": ["中", "小", "微"], "exclude_abnormal": True},
                open_days=None, no_application=True, grant=DemoGrant("已返还失业保险费 {} 万元", 0.018, 0.03, per_employee=True),
            ),
        ),
    ),
    DemoPolicy(
        "zjtx", "北辰区专精特新中小企业梯度培育实施方案", "gxj", "北辰区人民政府办公室", "北辰区",
        "北辰政办发〔{year}〕示例3号",
        "建立“创新型中小企业—专精特新中小企业—专精特新‘小巨人’企业”梯度培育库，"
        "对入库企业提供诊断辅导、融资对接和认定奖励。",
        (
            DemoItem(
                "创新型中小企业入库培育",
                "申报条件：成立满 1 年、具有高新技术企业或科技型中小企业资质的中小微企业。"
                "支持内容：纳入区级培育库，免费提供专精特新诊断和申报辅导，优先推荐银行“专精特新贷”。",
                "提交入库申请表、资质证书复印件和上年度财务报表。",
                {"qualifications": ["高新技术企业", "科技型中小企业"], "size_bands": ["中", "小", "微"],
                 "entity_types": ["enterprise"], "age_min_years": 1},
                open_days=None,
            ),
            DemoItem(
                "专精特新中小企业认定奖励",
                "申报条件：“2+3”重点产业链中首次被认定为天津市专精特新中小企业或国家级专精特新“小巨人”的企业。"
                "支持标准：市级专精特新中小企业一次性奖励 20 万元，国家级“小巨人”企业一次性奖励 50 万元。",
                "提交奖励申请表和认定文件复印件。",
                {"qualifications": ["专精特新中小企业"], "key_industry": True},
                open_days=90,
            ),
        ),
    ),
    DemoPolicy(
        "individual", "北辰区个体工商户纾困帮扶若干措施", "scjgj", "北辰区市场监督管理局", "北辰区",
        "北辰市监发〔{year}〕示例4号",
        "支持个体工商户稳定经营、转型升级：鼓励“个转企”，对零售、餐饮个体工商户的经营贷款给予贴息。",
        (
            DemoItem(
                "“个转企”升级奖励",
                "申报条件：成立满 1 年、正常经营的个体工商户转型为企业，转型后继续在本区经营。"
                "支持标准：给予一次性奖励 5000 元，并协助办理变更登记、银行开户和税务衔接。",
                "转型完成后提交奖励申请表、新营业执照复印件和原个体工商户注销证明。",
                {"entity_types": ["individual"], "age_min_years": 1},
                open_days=120,
            ),
            DemoItem(
                "零售餐饮个体工商户经营贷款贴息",
                "申报条件：从事零售、餐饮的个体工商户，在合作银行获得 50 万元以下经营性贷款并按期还本付息。"
                "支持标准：按贷款实际利息的 50% 给予贴息，每户每年最高 1 万元。",
                "提交贴息申请表、借款合同和利息支付凭证。",
                {"entity_types": ["individual"], "industries": ["F52", "H62"]},
                open_days=90,
            ),
        ),
    ),
    DemoPolicy(
        "agriculture", "北辰区设施农业提质增效扶持办法（征求意见稿）", "nyncw", "北辰区农业农村委员会", "北辰区",
        "",
        "支持农民专业合作社改造提升老旧设施大棚，推广水肥一体化和智能环境控制。",
        (
            DemoItem(
                "老旧设施大棚改造提升补助",
                "申报条件：从事种植业的农民专业合作社，改造连片 20 亩以上的老旧日光温室或塑料大棚。"
                "支持标准：按改造面积每亩补助 5000 元，单个合作社最高 50 万元。",
                "提交申报书、土地流转合同、改造方案和预算。",
                {"entity_types": ["cooperative"], "industries": ["A01"]},
                open_days=120,
            ),
        ),
    ),
)}

# Training and consultation events around the policies (times are set by the seed).
DEMO_TRAININGS = {
    "jobs_briefing": {
        "title": "稳岗扩岗政策专场培训会", "kind": "培训", "department": "rsj", "policy": "jobs",
        "description": "讲解一次性扩岗补助申领流程、稳岗返还“免申即享”到账查询和社保补贴政策，现场答疑。",
        "place": "北辰区人力资源市场二楼培训室", "capacity": 60,
        "audience": {"entity_types": ["enterprise"], "size_bands": ["小", "微"]},
        "zones": ("tianmu", "beicang", "xiaodian", "kaifaqu"),
    },
    "manufacturing_briefing": {
        "title": "智能化改造和数字化转型政策解读会", "kind": "政策宣讲", "department": "gxj", "policy": "manufacturing",
        "description": "解读《北辰区支持先进制造业高质量发展的若干措施》，邀请服务商介绍智能化改造案例，"
                       "现场开展一对一申报辅导。",
        "place": "北辰经济技术开发区企业服务中心报告厅", "capacity": 80,
        "audience": {"industries": ["C"], "size_bands": ["中", "小"]},
        "zones": (),
    },
}
# Questions: one asked at the 人社局 training, one by an enterprise on its policy page about the 工信局 policy.
DEMO_QUESTIONS = {
    "jobs_briefing": (
        "我们去年招了 3 名应届毕业生，今年还能申领一次性扩岗补助吗？",
        "可以。只要是毕业年度或离校 2 年内未就业的高校毕业生，签订 1 年以上劳动合同并连续缴纳社会保险费满 3 个月，"
        "就可以在政策有效期内申领，每人 1500 元。",
    ),
    "manufacturing": (
        "智能化改造项目是分两期建设的，可以按一期已完成的投资先申报补助吗？",
        "可以按已完成并通过验收的一期投资额申报，二期完成后在下一申报批次另行申报，两期合计补助不超过 200 万元。",
    ),
}


# ==================================================================================================
# Knowledge base: answers written by the departments' chief helpers (and 营商环境办 itself), reviewed
# and published; one left waiting for review. The handbook job then links its recurring topics.
# ==================================================================================================
DEMO_KB_NOTE = "（演示数据，以正式文件为准。）"


@dataclass(frozen=True)
class DemoEntry:
    author: str  # "helper:<department code>" | "dispatcher" | "bizenv"
    department: str | None  # the department the entry is filed under
    title: str
    answer: str
    keywords: str
    domain: str | None = None  # request domain code; None: any domain
    stage: str | None = None  # service stage code; None: every stage
    review: str = "publish"  # publish | send_back (first sent back, then published) | wait (left in review)
    revision: str = ""  # with send_back: what the reviewer asks for, added to the answer before resubmitting
    policy_owner: str | None = None  # link the published policy of this department


DEMO_ENTRIES: tuple[DemoEntry, ...] = (
    DemoEntry(
        "helper:rsj", "rsj", "招用高校毕业生可以申请哪些社保补贴？",
        "企业招用毕业年度或离校 2 年内未就业的高校毕业生，签订 1 年以上劳动合同并按规定缴纳社会保险的，"
        "可按实际缴纳的养老、医疗、失业保险费申请社保补贴，期限最长 1 年；同时可申请一次性吸纳就业补贴。"
        "登录天津人社网上办事大厅“企业社保补贴”事项在线提交，或到北辰区人社局窗口办理。" + DEMO_KB_NOTE,
        "社保补贴、补贴、高校毕业生、吸纳就业", policy_owner="rsj",
    ),
    DemoEntry(
        "helper:rsj", "rsj", "稳岗返还需要企业自己申请吗？",
        "失业保险稳岗返还实行“免申即享”：符合条件的企业无需申请，人社部门通过数据比对直接发放至企业对公账户。",
        "稳岗返还、免申即享、失业保险", domain="economy", stage="operation", review="send_back",
        revision="每年发放后可登录天津人社网上办事大厅“单位网厅”查询到账情况；未收到的，可联系北辰区人社局核实。",
    ),
    DemoEntry(
        "bizenv", "zwfwb", "新办企业从注册到领执照、刻章、开户要多久？",
        "通过企业开办“一件事”集成办理，营业执照、公章刻制、发票申领、社保医保登记和银行预约开户一次提交，"
        "一般 1 个工作日内办结，全程免费。线上登录天津市“一网通办”平台，线下到北辰区政务服务中心企业开办专区。"
        + DEMO_KB_NOTE,
        "企业开办、一件事、营业执照、刻章", domain="market", stage="startup",
    ),
    DemoEntry(
        "helper:kjj", "kjj", "高新技术企业认定通过后有哪些优惠？",
        "经认定的高新技术企业减按 15% 的税率缴纳企业所得税，研发费用可按规定加计扣除；首次认定的，"
        "可按区里当年的科技政策申请奖励。申报前可联系北辰区科技局预约上门辅导。" + DEMO_KB_NOTE,
        "高新技术企业、高企、认定、研发费用", domain="economy", stage="growth",
    ),
    DemoEntry(
        "dispatcher", None, "厂区突然停水停电、燃气中断怎么办？",
        "先拨打供电（95598）、供水或燃气公司的抢修电话；同时告诉为企服务人员，按“紧急（水电气热中断）”提交诉求，"
        "系统按 30 分钟签收时限直接派至城东供电、水务公司或燃气公司；危及生命财产安全的按 15 分钟处理。",
        "停电、停水、燃气、抢修、紧急",
    ),
    DemoEntry(
        "helper:zjw", "zjw", "厂房扩建办理施工许可需要哪些材料？",
        "一般需要：施工许可申请表、建设工程规划许可证、施工图审查合格意见、中标通知书或直接发包备案、"
        "施工合同、安全生产与质量监督手续。社会投资的小型工业项目可走“拿地即开工”快速通道。",
        "施工许可、扩建、厂房", domain="public_service", stage="construction", review="wait",
    ),
)

# The typical case: an archived order written up by the handling chief helper, anonymised and
# published by 营商环境办 (the demo's stories give its title).
DEMO_CASE_ORDER_TITLE = "急需招聘技术工人"
DEMO_CASE_LESSONS = ("招聘类诉求先摸清岗位、人数和到岗时间，再同时对接专场招聘会和职业院校，"
                     "当场达成意向，后续跟踪到岗情况。")
