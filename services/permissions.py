"""Who may do what to which work order, and which orders a person may see."""

from __future__ import annotations

from sqlalchemy import false, or_, select, true

from models import Department, Enterprise, Person, Role, WorkOrder
from services.errors import PermissionDenied
from services.orders.lifecycle import Action

HUB_ALL = (Role.DISPATCHER, Role.SYSADMIN)
# Roles that see every order of the district (the hubs, the read-only district leader, the administrator).
DISTRICT_WIDE = (Role.SYSADMIN, Role.DISPATCHER, Role.BIZENV_OFFICE, Role.DISTRICT_LEADER)


def department_and_units(column, department_id: int):
    """SQL: ``column`` is the department or one of its units (a parent department sees its units' orders)."""
    units = select(Department.id).where(Department.parent_id == department_id)
    return or_(column == department_id, column.in_(units))


def is_owner_side(person: Person, order: WorkOrder) -> bool:
    """The zone side that speaks for the enterprise: its service staff member or the zone admin."""
    if person.role == Role.SERVICE_STAFF:
        if order.submitter_id == person.id or order.assigned_person_id == person.id:
            return True
        return order.enterprise is not None and order.enterprise.service_staff_id == person.id
    if person.role == Role.ZONE_ADMIN:
        return order.zone_id is not None and order.zone_id == person.zone_id
    return False


def is_assignee_side(person: Person, order: WorkOrder) -> bool:
    """The department (or unit) the order is assigned to, or the staff member handling it at level 1."""
    if order.assigned_department_id is not None:
        return person.role in Role.DEPARTMENT_ROLES and person.department_id == order.assigned_department_id
    return order.assigned_person_id is not None and order.assigned_person_id == person.id


def is_parent_department(person: Person, order: WorkOrder) -> bool:
    dept = order.assigned_department
    return (
        dept is not None
        and dept.parent_id is not None
        and person.role in Role.DEPARTMENT_ROLES
        and person.department_id == dept.parent_id
    )


def can(person: Person | None, action: str, order: WorkOrder) -> bool:
    if person is None:  # the system itself (jobs, the public survey page after its own checks)
        return True
    if not person.active:
        return False
    role = person.role
    if role == Role.SYSADMIN:
        return True
    if role == Role.DISTRICT_LEADER:
        # The district leader reads everything and has one write action: the 批示.
        return action == Action.INSTRUCT
    if action == Action.INSTRUCT:
        return False
    # A 86912345 desk operator speaks for the caller on the orders they took (feedback, the
    # return visit), and handles those they answered on the spot (level 1, assigned to them).
    owner = is_owner_side(person, order) or (role == Role.DESK_OPERATOR and order.submitter_id == person.id)
    assignee = is_assignee_side(person, order)
    dispatcher = role == Role.DISPATCHER
    bizenv = role == Role.BIZENV_OFFICE and (order.level >= 3 or order.green_channel)

    if action in (Action.ACCEPT, Action.REJECT):
        return owner or dispatcher or bizenv
    if action == Action.DISPATCH:
        # An order waits for dispatch only in a hub's queue (the zone chose 「交区网格中心派单」, a
        # department returned it, or it was escalated): the hub dispatches, not the zone side.
        return dispatcher or bizenv
    if action in (Action.SIGN, Action.RETURN):
        return assignee and order.assigned_department_id is not None
    if action == Action.TRANSFER:
        return (assignee and order.assigned_department_id is not None) or dispatcher or bizenv
    if action in (Action.REQUEST_EXTENSION, Action.SUSPEND, Action.RESUME, Action.RESOLVE):
        return assignee or (dispatcher and order.level == 4)
    if action == Action.REPLY:
        return assignee or dispatcher or bizenv
    if action == Action.DECIDE_EXTENSION:
        return dispatcher
    if action in (Action.FEEDBACK, Action.VISIT):
        return owner or dispatcher
    if action == Action.REOPEN:
        return dispatcher
    if action == Action.ESCALATE:
        return owner or assignee or dispatcher or bizenv
    if action == Action.JOINT_MEETING:
        return role == Role.BIZENV_OFFICE
    if action == Action.SUPERVISE:
        return dispatcher or role == Role.BIZENV_OFFICE or (
            role == Role.DEPT_LEADER and (assignee or is_parent_department(person, order))
        )
    if action == Action.ARCHIVE:
        return dispatcher
    if action == Action.COMMENT:
        return can_view(person, order)
    if action == Action.LINK:
        # The side that filed the request says it repeats an earlier one; the grid center may too.
        return owner or dispatcher
    if action in (Action.MERGE, Action.SPLIT):
        # Merging duplicates (and undoing it) is the grid center's call.
        return dispatcher
    return False


def can_track_city(person: Person | None, order: WorkOrder) -> bool:
    """Who keeps a city-level order's 12345 number and city deadline current: the hubs, and the
    two sides of the order (its zone and the department handling it). Anyone who may merely see
    the order may comment on it, but must not move its deadline."""
    if person is None:
        return True
    if not person.active or person.role == Role.DISTRICT_LEADER:
        return False
    if person.role in (Role.SYSADMIN, Role.DISPATCHER, Role.BIZENV_OFFICE):
        return True
    return is_owner_side(person, order) or is_assignee_side(person, order)


def authorize(person: Person | None, action: str, order: WorkOrder) -> None:
    if not can(person, action, order):
        label = Action.LABELS.get(action, action)
        who = person.role_label if person else ""
        raise PermissionDenied(f"您（{who}）无权对工单 {order.number} 执行「{label}」")


def can_view(person: Person, order: WorkOrder) -> bool:
    if person.role in DISTRICT_WIDE:
        return True
    if person.role == Role.DESK_OPERATOR:
        return order.submitter_id == person.id
    if person.role in Role.ZONE_ROLES:
        return (order.zone_id is not None and order.zone_id == person.zone_id) or is_owner_side(person, order)
    if person.role in Role.DEPARTMENT_ROLES:
        if is_assignee_side(person, order) or is_parent_department(person, order):
            return True
        return any(e.data.get("department_id") == person.department_id for e in order.events)
    return False


def ensure_can_view(person: Person, order: WorkOrder) -> None:
    if not can_view(person, order):
        raise PermissionDenied("您无权查看该工单")


def visible_orders_clause(person: Person):
    """SQL filter matching ``can_view`` for lists (departments: current assignment or units under it)."""
    role = person.role
    if role in DISTRICT_WIDE:
        return true()
    if role in Role.ZONE_ROLES:
        clauses = [WorkOrder.submitter_id == person.id]
        if person.zone_id is not None:
            clauses.append(WorkOrder.zone_id == person.zone_id)
        clauses.append(
            WorkOrder.enterprise_id.in_(select(Enterprise.id).where(Enterprise.service_staff_id == person.id))
        )
        return or_(*clauses)
    if role in Role.DEPARTMENT_ROLES and person.department_id is not None:
        return department_and_units(WorkOrder.assigned_department_id, person.department_id)
    if role == Role.DESK_OPERATOR:
        return WorkOrder.submitter_id == person.id
    return false()


def can_create_order(person: Person | None) -> bool:
    if person is None:
        return True
    return person.active and person.role in (Role.SERVICE_STAFF, Role.ZONE_ADMIN, Role.DISPATCHER, Role.SYSADMIN,
                                             Role.DESK_OPERATOR)


def can_submit_for(person: Person | None, enterprise: Enterprise) -> bool:
    """Whether ``person`` may file a request for ``enterprise``: the zone side only for the
    enterprises of its own zone (or those it serves), the grid center for any. The one check
    behind the web form, the phone, chat and the API (``enterprise_scope_clause`` is its SQL)."""
    if person is None:
        return True
    if not can_create_order(person):
        return False
    if person.role in Role.ZONE_ROLES:
        # An enterprise not yet placed in any zone (未分配) may be helped by whoever meets it first.
        return enterprise.service_staff_id == person.id or enterprise.zone_id is None or (
            person.zone_id is not None and enterprise.zone_id == person.zone_id)
    return True


def enterprise_scope_clause(person: Person):
    """SQL matching ``can_submit_for`` for pickers: service staff and zone admins pick enterprises
    of their own zone (or those they serve); None means every enterprise."""
    if person.role in Role.ZONE_ROLES:
        clauses = [Enterprise.service_staff_id == person.id]
        if person.zone_id is not None:
            clauses.append(Enterprise.zone_id == person.zone_id)
        return or_(*clauses)
    return None
