"""The security headers of every response: one Content-Security-Policy for the whole site, a
variant for the H5 pages (/m/), no MIME sniffing, no framing by other sites.

No page runs inline script: templates load their behaviour from static/ and ask for it with data
attributes (``static/common.js``), so ``script-src 'self'`` holds everywhere. The console and the
public pages keep ``'unsafe-inline'`` for *styles* only (their areas' ``<style>`` blocks and a few
style attributes, which run no code); the H5 pages have none and forbid them too.

Framing: no page may be framed (``frame-ancestors 'none'``, and ``X-Frame-Options`` for older
browsers) except the H5 pages, which the web and desktop workbenches of an enabled platform may
show inside their own frame. The phone apps open them as a top-level page, which framing rules
do not touch.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

# Where each platform's web/desktop workbench shows an app's page in a frame of its own.
WECOM_CONTAINERS = ("https://work.weixin.qq.com", "https://*.work.weixin.qq.com")
DINGTALK_CONTAINERS = ("https://*.dingtalk.com",)
H5_PREFIX = "/m/"


def _policy(**directives: str) -> str:
    base = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    base.update({name.replace("_", "-"): value for name, value in directives.items()})
    return "; ".join(f"{name} {value}" for name, value in base.items())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def site_policy() -> str:
    return _policy()


def h5_policy(settings) -> str:
    """The H5 pages: the DingTalk JSAPI and WeCom JS-SDK scripts and the enabled platforms' frames,
    nothing else."""
    scripts = ["'self'"]
    ancestors = ["'self'"]
    if settings.wecom.enabled:
        ancestors += WECOM_CONTAINERS
        jssdk = _origin(settings.wecom.jssdk_url)
        if jssdk:
            scripts.append(jssdk)
    if settings.dingtalk.enabled:
        jsapi = _origin(settings.dingtalk.jsapi_url)
        if jsapi:
            scripts.append(jsapi)
        ancestors += DINGTALK_CONTAINERS
    return _policy(script_src=" ".join(scripts), style_src="'self'", frame_ancestors=" ".join(ancestors))


def is_h5(path: str) -> bool:
    return path == H5_PREFIX.rstrip("/") or path.startswith(H5_PREFIX)


def register(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if is_h5(request.path):
            headers.setdefault("Content-Security-Policy", h5_policy(current_app.extensions["settings"]))
        else:
            headers.setdefault("Content-Security-Policy", site_policy())
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        return response
