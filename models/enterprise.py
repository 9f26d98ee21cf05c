"""Market entities (经营主体): enterprises, 个体工商户 and 农民专业合作社."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin
from models.org import IndustryTag, Person, Zone


class EntityType:
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    COOPERATIVE = "cooperative"
    LABELS = {ENTERPRISE: "企业", INDIVIDUAL: "个体工商户", COOPERATIVE: "农民专业合作社"}


class RegistrationStatus:
    ACTIVE = "存续"
    LABELS = ("存续", "在业", "开业", "在营", "停业", "歇业", "吊销", "注销", "迁入", "迁出", "清算", "撤销", "责令关闭")
    OPERATING = ("存续", "在业", "开业", "在营", "迁入")


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

    zone: Mapped[Zone | None] = relationship()
    service_staff: Mapped[Person | None] = relationship()
    industry_tag: Mapped[IndustryTag | None] = relationship()

    @property
    def entity_type_label(self) -> str:
        return EntityType.LABELS.get(self.entity_type, self.entity_type)

    @property
    def identifier(self) -> str:
        return self.uscc or self.reg_no or ""
