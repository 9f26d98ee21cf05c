"""Every response carries the Content-Security-Policy, nosniff and the framing rule; no template
runs inline script (the policy would block it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import PROJECT_ROOT
from models import Role
from tests.factories import sign_in_cookie

TEMPLATES = PROJECT_ROOT / "templates"
H5_TEMPLATES = TEMPLATES / "mobile"


def directives(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def check_headers(path: str, response) -> None:
    policy = directives(response)
    assert policy, f"{path}: no Content-Security-Policy"
    assert policy["script-src"].split()[0] == "'self'", path
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"], path
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'", path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    if path == "/m" or path.startswith("/m/"):
        assert policy["style-src"] == "'self'", path
        assert "'none'" not in policy["frame-ancestors"], path
    else:
        assert policy["frame-ancestors"] == "'none'", path
        assert response.headers.get("X-Frame-Options") == "DENY", path


def plain_get_paths(app) -> list[str]:
    """Every GET route that takes no argument."""
    return sorted({
        rule.rule for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    })


@pytest.fixture
def admin(factory, session):
    person = factory.person(Role.SYSADMIN, name="冯管理", login="admin")
    session.commit()
    return person


def test_every_page_sends_the_headers_signed_in_or_not(app, client, admin):
    paths = plain_get_paths(app)
    assert {"/", "/login", "/m/", "/admin/", "/faq", "/api/v1/openapi.json", "/healthz"} <= set(paths)
    for path in paths:
        check_headers(path, client.get(path))
    sign_in_cookie(client, admin)
    for path in paths:
        check_headers(path, client.get(path))


def test_pages_with_arguments_errors_files_and_json_send_them_too(app, client, admin, factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务")
    order = factory.order(staff, now, content="企业用电报装进度咨询")
    session.commit()
    sign_in_cookie(client, admin)
    for path in (f"/orders/{order.number}", f"/m/orders/{order.number}", f"/admin/people/{staff.id}",
                 "/s/not-a-token", "/no-such-page", "/m/no-such-page", "/static/app.css", "/static/common.js",
                 "/api/v1/orders"):
        check_headers(path, client.get(path))
    response = client.post("/login", data={"username": "x"})  # refused by CSRF: an error page
    assert response.status_code == 400
    check_headers("/login", response)


def test_the_h5_pages_allow_only_the_platform_scripts_and_the_enabled_workbenches(app, monkeypatch, client):
    from config import DingTalkSettings, WeComSettings

    assert directives(client.get("/m/"))["frame-ancestors"] == "'self'"  # no platform enabled
    settings = app.extensions["settings"].with_overrides({
        "wecom": WeComSettings(corp_id="ww1", secret="s"),
        "dingtalk": DingTalkSettings(app_key="k", app_secret="s"),
    })
    monkeypatch.setitem(app.extensions, "settings", settings)
    policy = directives(client.get("/m/", headers={"User-Agent": "Mozilla/5.0"}))
    assert policy["script-src"] == "'self' https://res.wx.qq.com https://g.alicdn.com"  # WeCom JS-SDK, DingTalk JSAPI
    assert policy["frame-ancestors"] == (
        "'self' https://work.weixin.qq.com https://*.work.weixin.qq.com https://*.dingtalk.com")
    assert directives(client.get("/login"))["frame-ancestors"] == "'none'"


# --------------------------------------------------------------------------------------------
# Templates: nothing the policy would block
# --------------------------------------------------------------------------------------------
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
# An event handler attribute, also where a Jinja tag writes it: `{% if x %}onclick="…"{% endif %}`.
_HANDLER = re.compile(r"""(?:\s|%\}|\}\})on[a-z]+\s*=\s*["'{]""", re.I)
_JS_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)
_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def templates(root: Path = TEMPLATES) -> list[Path]:
    return sorted(root.rglob("*.html"))


@pytest.mark.parametrize("pattern", [_INLINE_SCRIPT, _HANDLER, _JS_URL], ids=["script", "handler", "js-url"])
def test_no_template_has_inline_script(pattern):
    found = [f"{path.relative_to(TEMPLATES)}: {match.group(0)[:80]}"
             for path in templates() for match in pattern.finditer(path.read_text())]
    assert found == []


def test_no_h5_template_has_inline_styles():
    found = [f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
             for path in templates(H5_TEMPLATES) for match in _STYLE.finditer(path.read_text())]
    assert found == []


def test_the_scan_would_catch_what_it_looks_for():
    assert _INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not _INLINE_SCRIPT.search('<script src="/static/app.js" defer></script>')
    assert _HANDLER.search('<button type="button"\n  onclick="go()">')
    assert _HANDLER.search("""<button {% if a %}onclick="go()"{% endif %}>""")
    assert not _HANDLER.search('<form action="/x" data-confirm="确定？">')
    assert _JS_URL.search('<a href="javascript:history.back()">')
