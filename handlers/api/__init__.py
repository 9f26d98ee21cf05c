"""The JSON API, /api/v1: work orders for other systems, authenticated with bearer tokens."""

from handlers.api import openapi, orders, reference, statistics  # noqa: F401  (modules register their routes)
from handlers.api.base import bp

__all__ = ["bp"]
