"""The grid's assignment rules: which zone an address belongs to, which staff member serves whom.

Both are data the district edits at run time (see ``services.grid.rules``); an enterprise's own
``zone_id`` / ``service_staff_id`` are the result, and the rules only decide for new or moved
enterprises and for the 未分配 queue.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin
from models.org import Person, Zone


class AddressRuleKind:
    TOWN = "town"
    ROAD = "road"
    PARK = "park"
    COMMUNITY = "community"
    PLACE = "place"
    LABELS = {TOWN: "镇街名称", ROAD: "道路", PARK: "园区", COMMUNITY: "社区 / 村", PLACE: "其他地名"}


class ZoneAddressRule(TimestampMixin, Base):
    """An address fragment that places an enterprise in a zone (a town or street name, road, park …).

    The best match wins: higher ``priority`` first, then the longer fragment; a tie between two
    zones decides nothing (the enterprise waits in the 未分配 queue).
    """

    __tablename__ = "zone_address_rule"
    __table_args__ = (UniqueConstraint("zone_id", "pattern"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), index=True)
    pattern: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default=AddressRuleKind.PLACE)
    priority: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(String(200), default="")

    zone: Mapped[Zone] = relationship()

    @property
    def kind_label(self) -> str:
        return AddressRuleKind.LABELS.get(self.kind, self.kind)


class StaffRuleTarget:
    ADDRESS = "address"
    NAME = "name"
    LABELS = {ADDRESS: "地址包含", NAME: "企业名称包含"}


class StaffAssignmentRule(TimestampMixin, Base):
    """Within a zone: enterprises whose address (or name) contains ``pattern`` go to this staff member."""

    __tablename__ = "staff_assignment_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(16), default=StaffRuleTarget.ADDRESS)
    pattern: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    zone: Mapped[Zone] = relationship()
    person: Mapped[Person] = relationship()

    @property
    def target_label(self) -> str:
        return StaffRuleTarget.LABELS.get(self.target, self.target)
