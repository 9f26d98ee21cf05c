"""Market entities (经营主体): enterprises, 个体工商户 and 农民专业合作社."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin
from models.org import IndustryTag, Person, ServiceStage, Zone


class EntityType:
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    COOPERATIVE = "cooperative"
    LABELS = {ENTERPRISE: "企业", INDIVIDUAL: "个体工商户", COOPERATIVE: "农民专业合作社"}


class RegistrationStatus:
    ACTIVE = "存续"
    LABELS = ("存续", "在业", "开业", "在营", "停业", "歇业", "吊销", "注销", "迁入", "迁出", "清算", "撤销", "责令关闭")
    OPERATING = ("存续", "在业", "开业", "在营", "迁入")
    MOVED_IN = "迁入"
    MOVED_OUT = "迁出"
    DEREGISTERED = "注销"
    REVOKED = "吊销"
    # Groups the census counts by (a status outside every group counts as "other").
    GROUPS = {
        "operating": ("经营中", OPERATING),
        "paused": ("停业/歇业", ("停业", "歇业")),
        "revoked": ("吊销", ("吊销",)),
        "deregistered": ("注销", ("注销",)),
        "moved_out": ("迁出", ("迁出",)),
        "other": ("清算/撤销/关闭", ("清算", "撤销", "责令关闭")),
    }


class StatusFlag:
    """Flags next to the registration status (经营异常名录 is a list an entity is on, not a status)."""

    ABNORMAL = "经营异常"
    ALL = (ABNORMAL,)


# Money is in 万元 with two decimals (exact on PostgreSQL, and within float precision on SQLite).
Money = Numeric(18, 2)


class Enterprise(TimestampMixin, Base):
    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 统一社会信用代码; pre-2016 个体工商户 may have only a registration number.
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    reg_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    entity_type: Mapped[str] = mapped_column(String(16), default=EntityType.ENTERPRISE)
    status: Mapped[str] = mapped_column(String(16), default=RegistrationStatus.ACTIVE)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    service_staff_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    industry_tag_id: Mapped[int | None] = mapped_column(ForeignKey("industry_tag.id"))
    # Member (or supporting firm, 配套企业) of the "2+3" modern industry system: green channel.
    is_key_industry: Mapped[bool] = mapped_column(default=False)
    chain_position: Mapped[str] = mapped_column(String(16), default="")  # 链主 / 核心配套 / 一般配套
    size_band: Mapped[str] = mapped_column(String(8), default="")  # 大/中/小/微
    legal_representative: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    established_on: Mapped[date | None] = mapped_column()

    # From the registry (市场监管局 exports); see services.registry.importer.
    market_type: Mapped[str] = mapped_column(String(64), default="")  # 市场主体类型 as registered
    status_flags: Mapped[list[Any]] = mapped_column(default=list)  # StatusFlag values
    registered_capital: Mapped[Decimal | None] = mapped_column(Money)  # 万元
    capital_currency: Mapped[str] = mapped_column(String(16), default="")  # '' = 人民币
    employees: Mapped[int | None] = mapped_column()
    revenue: Mapped[Decimal | None] = mapped_column(Money)  # 营业收入, 万元
    assets: Mapped[Decimal | None] = mapped_column(Money)  # 资产总额, 万元
    industry_code: Mapped[str] = mapped_column(String(8), default="")  # GB/T 4754-2017, e.g. C3311
    industry_name: Mapped[str] = mapped_column(String(128), default="")

    # Profile tags for policy matching (besides industry, size, chain position and "2+3").
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("service_stage.id"))
    qualifications: Mapped[list[Any]] = mapped_column(default=list)  # 高新技术企业, 专精特新 …

    # The import that last created or changed this row (an unchanged re-import writes nothing), and
    # a digest of the source row it applied: an identical row later is skipped without parsing.
    import_fingerprint: Mapped[str | None] = mapped_column(String(32))
    last_import_id: Mapped[int | None] = mapped_column(ForeignKey("import_job.id", ondelete="SET NULL"))
    # Absent from the latest full export: flagged, never deleted (its orders and history stay).
    missing_from_full_export: Mapped[bool] = mapped_column(default=False)
    missing_since: Mapped[datetime | None] = mapped_column()

    zone: Mapped[Zone | None] = relationship()
    service_staff: Mapped[Person | None] = relationship()
    industry_tag: Mapped[IndustryTag | None] = relationship()
    stage: Mapped[ServiceStage | None] = relationship()

    @property
    def entity_type_label(self) -> str:
        return EntityType.LABELS.get(self.entity_type, self.entity_type)

    @property
    def identifier(self) -> str:
        return self.uscc or self.reg_no or ""

    @property
    def is_operating(self) -> bool:
        return self.status in RegistrationStatus.OPERATING

    @property
    def size_band_label(self) -> str:
        return {"大": "大型", "中": "中型", "小": "小型", "微": "微型"}.get(self.size_band, "")
