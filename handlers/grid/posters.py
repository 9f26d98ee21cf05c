"""Printable QR posters per zone and per staff member, pointing to /contact and /contact/request."""

from __future__ import annotations

from flask import Response, abort, render_template

from handlers.console.auth import roles_required
from handlers.context import current_person, db
from handlers.grid import bp
from handlers.grid.common import POSTER_ROLES, zone_or_404
from handlers.public.contact import public_url
from models import Person, Role, Zone
from services.grid import public_contact
from services.grid import rules as zone_rules

TARGETS = {"contact": "public.contact", "request": "public.contact_request"}


def _zones_for(person: Person) -> list[Zone]:
    if person.role in (Role.SYSADMIN, Role.DISPATCHER):
        return zone_rules.managed_zones(db(), person, placing=True)
    return [person.zone] if person.zone is not None else []


def _may_print(zone_id: int | None) -> bool:
    person = current_person()
    return person.role in (Role.SYSADMIN, Role.DISPATCHER) or (zone_id is not None and zone_id == person.zone_id)


def _codes() -> dict:
    urls = {key: public_url(endpoint) for key, endpoint in TARGETS.items()}
    return {"urls": urls, "svgs": {key: public_contact.qr_svg(url) for key, url in urls.items()},
            "hotline": public_contact.HOTLINE}


@bp.get("/posters")
@roles_required(*POSTER_ROLES)
def posters():
    zones = _zones_for(current_person())
    staff = {z.id: zone_rules.zone_staff(db(), z.id) for z in zones}
    return render_template("grid/posters.html", zones=zones, staff=staff, urls=_codes()["urls"])


@bp.get("/posters/zone/<int:zone_id>")
@roles_required(*POSTER_ROLES)
def poster_zone(zone_id: int):
    zone = zone_or_404(zone_id)
    if not _may_print(zone.id):
        abort(403)
    return render_template("grid/poster.html", zone=zone, staff=zone_rules.zone_staff(db(), zone.id),
                           person=None, **_codes())


@bp.get("/posters/staff/<int:person_id>")
@roles_required(*POSTER_ROLES)
def poster_staff(person_id: int):
    person = db().get(Person, person_id)
    if person is None or person.role != Role.SERVICE_STAFF or not person.active:
        abort(404)
    if not _may_print(person.zone_id):
        abort(403)
    return render_template("grid/poster.html", zone=person.zone, staff=[person], person=person, **_codes())


@bp.get("/qr/<target>.svg")
@roles_required(*POSTER_ROLES)
def qr(target: str):
    if target not in TARGETS:
        abort(404)
    svg = public_contact.qr_svg(public_url(TARGETS[target]))
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})
