"""What the public may learn and do without signing in: find their service staff member, file a request.

Deliberately narrow. A lookup needs the enterprise's exact name or exact code (统一社会信用代码
or, for older individual businesses, the registration number) and answers with the staff
member's name and work phone — nothing about the enterprise itself, and no partial matching
that would let anyone list the registry. A request names the enterprise by code *and* name and
lands, received, with that staff member to confirm (``workorders.confirm_request``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

import qrcode
import qrcode.image.svg
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models import Enterprise, Person, Role, WorkOrder
from services.errors import ValidationFailed
from services.orders.lifecycle import State
from services.orders.operations import NewOrder, OpContext, submit_order
from services.registry import uscc

HOTLINE = "86912345"
_SPACES = re.compile(r"\s+")
_PHONE = re.compile(r"[0-9+\-() ]{7,20}")
_CODE_CHARS = re.compile(r"[0-9A-Z]{13,18}")


def _name_variants(raw: str) -> list[str]:
    """The name as typed, half-width, and with Chinese brackets: registries write （有限合伙）."""
    typed = (raw or "").strip()
    half = _SPACES.sub("", unicodedata.normalize("NFKC", typed))
    full_brackets = half.replace("(", "（").replace(")", "）")
    return [v for v in dict.fromkeys((typed, half, full_brackets)) if v]


def _code(raw: str) -> str | None:
    code = uscc.normalize(raw)
    return code if _CODE_CHARS.fullmatch(code) else None


def find_enterprises(session: Session, text: str) -> list[Enterprise]:
    """Exact code (USCC or registration number) or exact name; never a partial match."""
    text = (text or "").strip()[:200]
    if not text:
        return []
    clauses = [Enterprise.name.in_(_name_variants(text))]
    code = _code(text)
    if code is not None:
        clauses += [Enterprise.uscc == code, Enterprise.reg_no == code]
    query = select(Enterprise).options(selectinload(Enterprise.service_staff)).where(or_(*clauses)).limit(5)
    return list(session.scalars(query))


@dataclass(frozen=True)
class StaffContact:
    name: str
    phone: str


@dataclass(frozen=True)
class LookupResult:
    found: bool
    contact: StaffContact | None = None
    message: str = ""


def _public_staff(enterprise: Enterprise) -> Person | None:
    staff = enterprise.service_staff
    if staff is None or not staff.active or staff.role != Role.SERVICE_STAFF:
        return None
    return staff


def lookup_staff(session: Session, text: str) -> LookupResult:
    matches = find_enterprises(session, text)
    if not matches:
        return LookupResult(False, message="未查询到该企业。请输入营业执照上的完整名称或 18 位统一社会信用代码；"
                                           f"如仍无法查询，请拨打企业服务热线 {HOTLINE}。")
    staff = {p.id: p for p in (_public_staff(e) for e in matches) if p is not None}
    if len(matches) > 1 and len({e.service_staff_id for e in matches}) > 1:
        return LookupResult(False, message="存在同名的经营主体，请改用统一社会信用代码查询。")
    if not staff:
        return LookupResult(True, message=f"该企业的为企服务人员正在安排中，请先拨打企业服务热线 {HOTLINE}。")
    person = next(iter(staff.values()))
    return LookupResult(True, StaffContact(person.name, person.phone or HOTLINE))


def qr_svg(url: str) -> str:
    """The QR code for ``url`` as inline SVG (no image library needed), sized by its container."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, border=2,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    markup = image.to_string(encoding="unicode")
    markup = re.sub(r'^<\?xml[^>]*>\s*', "", markup)
    return re.sub(r'\s(width|height)="[^"]*mm"', "", markup, count=2)


# --------------------------------------------------------------------------------------------------
# The self-service request
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublicRequest:
    code: str
    name: str
    contact_name: str
    contact_phone: str
    content: str
    # Values of the fields marked public in the (classified) domain's form.
    fields: dict = field(default_factory=dict)


def _validate(data: PublicRequest) -> tuple[dict[str, str], str | None]:
    errors: dict[str, str] = {}
    code = _code(data.code)
    if code is None:
        errors["code"] = "请填写 18 位统一社会信用代码（个体工商户无代码的填写注册号）"
    elif len(code) == 18 and uscc.problem(code):
        errors["code"] = uscc.problem(code) or ""
    if not data.name.strip():
        errors["name"] = "请填写营业执照上的完整名称"
    if not data.contact_name.strip():
        errors["contact_name"] = "请填写联系人"
    elif len(data.contact_name.strip()) > 32:
        errors["contact_name"] = "联系人不能超过 32 个字"
    if not _PHONE.fullmatch(data.contact_phone.strip()):
        errors["contact_phone"] = "请填写正确的联系电话"
    content = data.content.strip()
    if len(content) < 10:
        errors["content"] = "请具体描述您的诉求（至少 10 个字）"
    elif len(content) > 2000:
        errors["content"] = "诉求内容不能超过 2000 字"
    return errors, code


class PublicSubmission(NamedTuple):
    order: WorkOrder
    staff: Person | None
    # The enterprise filed a similar request within the duplicate window: the page says so (without
    # naming it: the form proves no more than a code and a name anyone may read off a licence).
    repeats: bool


def submit_request(ctx: OpContext, data: PublicRequest) -> PublicSubmission:
    """Create the order for the enterprise named by code *and* name."""
    errors, code = _validate(data)
    if errors:
        raise ValidationFailed("请修正以下问题：" + "；".join(errors.values()), fields=errors)
    enterprise = ctx.session.scalar(
        select(Enterprise).where(or_(Enterprise.uscc == code, Enterprise.reg_no == code),
                                 Enterprise.name.in_(_name_variants(data.name)))
    )
    if enterprise is None:
        # One message for "unknown code" and "code and name disagree": no probing of the registry.
        raise ValidationFailed(
            f"统一社会信用代码与企业名称不一致或未登记在本区名录中，请核对营业执照；也可拨打 {HOTLINE}。",
            fields={"code": "请核对", "name": "请核对"},
        )
    if enterprise.status in ("注销",):
        raise ValidationFailed(f"该经营主体已注销，如有疑问请拨打 {HOTLINE}。", fields={"code": "已注销"})
    submission = submit_order(ctx, NewOrder(
        enterprise_id=enterprise.id, content=data.content.strip(), contact_name=data.contact_name.strip(),
        contact_phone=data.contact_phone.strip(), await_confirmation=True, auto_dispatch=True,
        fields=dict(data.fields or {}), public_fields_only=True,
    ))
    return PublicSubmission(submission.order, _public_staff(enterprise), bool(submission.duplicates))


# --------------------------------------------------------------------------------------------------
# The staff side: requests waiting for confirmation
# --------------------------------------------------------------------------------------------------
def _pending_clause(person: Person):
    """Public and hotline requests still waiting (received, no screening flag) that ``person`` may
    confirm (a hotline ticket not matched to the registry has no enterprise: the dispatchers see it)."""
    clauses = [WorkOrder.channel.in_(("public", "hotline")), WorkOrder.state == State.RECEIVED,
               WorkOrder.screening_category.is_(None)]
    if person.role == Role.SERVICE_STAFF:
        clauses.append(WorkOrder.enterprise_id.in_(
            select(Enterprise.id).where(Enterprise.service_staff_id == person.id)))
    elif person.role == Role.ZONE_ADMIN:
        clauses.append(WorkOrder.zone_id == person.zone_id)
    elif person.role not in (Role.DISPATCHER, Role.SYSADMIN):
        clauses.append(false())
    return and_(*clauses)


def pending_requests(session: Session, person: Person, *, limit: int = 200) -> list[WorkOrder]:
    query = (select(WorkOrder).options(selectinload(WorkOrder.enterprise), selectinload(WorkOrder.zone))
             .where(_pending_clause(person)).order_by(WorkOrder.created_at, WorkOrder.id).limit(limit))
    return list(session.scalars(query))


def pending_requests_count(session: Session, person: Person) -> int:
    return int(session.scalar(select(func.count(WorkOrder.id)).where(_pending_clause(person))) or 0)
