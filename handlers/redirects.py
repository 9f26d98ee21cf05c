"""Where a redirect may send a person: back into this desk, never to another site.

``safe_next`` checks a target a form or a link carried (``next``, ``back``); ``install`` adds a
last line of defence to the app: a redirect to a foreign host that the view did not declare as
intended (``allow_external_redirect``, e.g. WeCom's OAuth page) is replaced by the home page and
logged, so a forgotten check cannot become an open redirect.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, g, request

log = logging.getLogger(__name__)


def safe_next(target: str | None, default: str = "/", *, under: str = "/") -> str:
    """``target`` when it is a local path (below ``under``), else ``default``. Control characters,
    backslashes and scheme-relative ``//host`` are refused (browsers read ``/\\host`` as a host)."""
    if not target or len(target) > 2000:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(under) or target.startswith("//"):
        return default
    return target


def allow_external_redirect() -> None:
    """The view's redirect leaves the desk on purpose (a platform's sign-in page)."""
    g.external_redirect_ok = True


def install(app: Flask) -> None:
    @app.after_request
    def _only_local_redirects(response):
        location = response.headers.get("Location")
        if not location or not (300 <= response.status_code < 400) or g.get("external_redirect_ok"):
            return response
        parts = urlsplit(location)
        own_hosts = {request.host.lower(), urlsplit(app.extensions["settings"].base_url).netloc.lower()}
        foreign = bool(parts.netloc) and parts.netloc.lower() not in own_hosts
        if foreign or location.startswith("//") or "\\" in location or any(ord(c) < 32 for c in location):
            log.warning("redirect to %r from %s refused (not local)", location[:200], request.path)
            response.headers["Location"] = "/"
        return response
