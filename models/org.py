"""The district's organisation: zones, departments and their units, reference lists, people."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow


class Role:
    SERVICE_STAFF = "service_staff"
    ZONE_ADMIN = "zone_admin"
    CHIEF_HELPER = "chief_helper"
    DEPT_LEADER = "dept_leader"
    DISPATCHER = "dispatcher"
    BIZENV_OFFICE = "bizenv_office"
    DISTRICT_LEADER = "district_leader"
    SYSADMIN = "sysadmin"
    DESK_OPERATOR = "desk_operator"  # 坐席 of the 86912345 一号响应企业服务 desk

    LABELS = {
        SERVICE_STAFF: "为企服务人员",
        ZONE_ADMIN: "片区管理员",
        CHIEF_HELPER: "首席帮办",
        DEPT_LEADER: "部门领导",
        DISPATCHER: "区网格中心调度员",
        BIZENV_OFFICE: "区营商环境办",
        DISTRICT_LEADER: "区领导（总览、批示）",
        SYSADMIN: "系统管理员",
        DESK_OPERATOR: "86912345 坐席",
    }
    ALL = tuple(LABELS)
    ZONE_ROLES = (SERVICE_STAFF, ZONE_ADMIN)
    DEPARTMENT_ROLES = (CHIEF_HELPER, DEPT_LEADER)
    HUB_ROLES = (DISPATCHER, BIZENV_OFFICE)


class Zone(Base):
    """片区: a town, a street or the development zone."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # town | street | devzone
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class DepartmentKind:
    DEPARTMENT = "department"
    UNIT = "unit"  # a utility under a department (通信公司, 城东供电, 燃气公司, 水务公司)
    HUB = "hub"  # 区网格中心, 区营商环境办, 一号响应专席


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=DepartmentKind.DEPARTMENT)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    duty: Mapped[str] = mapped_column(Text, default="")
    # Keywords that suggest this department when a request is classified (comma separated).
    keywords: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Department | None] = relationship(remote_side=[id], back_populates="units")
    units: Mapped[list[Department]] = relationship(back_populates="parent")

    @property
    def display_name(self) -> str:
        return f"{self.parent.name}·{self.name}" if self.parent else self.name


class ServiceStage(Base):
    """全生命周期服务阶段, with the department that leads level-3 consultations for it."""

    __tablename__ = "service_stage"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    sort_order: Mapped[int] = mapped_column(default=0)

    lead_department: Mapped[Department | None] = relationship()


class RequestDomain(Base):
    """诉求领域: 经济调节, 市场监管, 社会管理, 公共服务, 生态环境保护."""

    __tablename__ = "request_domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    keywords: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)


class IndustryTag(Base):
    """An industry label; ``is_key_industry`` marks the district's "2+3" modern industry system."""

    __tablename__ = "industry_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_key_industry: Mapped[bool] = mapped_column(default=False)
    gbt_sections: Mapped[str] = mapped_column(String(128), default="")  # GB/T 4754 codes, comma separated
    sort_order: Mapped[int] = mapped_column(default=0)


chief_helper_stage = Table(
    "chief_helper_stage",
    Base.metadata,
    Column("person_id", ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("stage_id", ForeignKey("service_stage.id", ondelete="CASCADE"), primary_key=True),
)


class Person(TimestampMixin, Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    title: Mapped[str] = mapped_column(String(64), default="")
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    dingtalk_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped to end every session of the person at once (services.admin.sessions.revoke_all).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    zone: Mapped[Zone | None] = relationship()
    department: Mapped[Department | None] = relationship()
    stages: Mapped[list[ServiceStage]] = relationship(secondary=chief_helper_stage)

    @property
    def role_label(self) -> str:
        return Role.LABELS.get(self.role, self.role)

    @property
    def unit_label(self) -> str:
        if self.zone is not None:
            return self.zone.name
        if self.department is not None:
            return self.department.display_name
        return ""


class ConsoleLogin(TimestampMixin, Base):
    __tablename__ = "console_login"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    last_login_at: Mapped[datetime | None] = mapped_column()

    person: Mapped[Person] = relationship()


class SignInThrottle(Base):
    """Failed console sign-ins in a row, per typed username and client address, and per address.

    Keyed by what was typed, not by the login row, so an unknown username is throttled exactly
    like a real one; the username is stored only as a SHA-256 (``account``, "" for the row that
    counts every username from the address). See ``services.admin.sign_in``.
    """

    __tablename__ = "sign_in_throttle"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None] = mapped_column()


class ApiToken(Base):
    """Bearer token for /api/v1; only a SHA-256 of the token is stored."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked: Mapped[bool] = mapped_column(default=False)

    person: Mapped[Person] = relationship()
