"""The statistics console (/statistics): KPIs by zone, department, level and domain, the xlsx export
and the printable 通报. Every number comes from ``services.statistics.kpis``; what a person sees is the
scope of their role (the district, their zone, or their department with its units)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("statistics", __name__, url_prefix="/statistics")

# Route modules register themselves on ``bp``; imported last so they can import it.
from handlers.statistics import pages  # noqa: E402

__all__ = ["bp", "pages"]
