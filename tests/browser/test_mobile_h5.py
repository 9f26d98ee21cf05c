"""The H5 pages in Chromium on a phone-sized screen, as the WeCom and DingTalk in-app browsers show them."""

from __future__ import annotations

import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from models import Role, WorkOrder, WorkOrderEvent
from tests.emulators.fixtures import wecom_settings_for

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect

PHONE = {"width": 390, "height": 844}
WXWORK_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00"
       b"\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def seeded(factory, session):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff", wecom_userid="wangfuwu")
    rsj = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办", login="helper", wecom_userid="sunbangban")
    factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    factory.enterprise(staff=staff, name="天津天穆食品有限公司")
    session.commit()
    return {"rsj_id": rsj.id, "staff_id": staff.id, "helper_id": helper.id}


def platform_live_server(app, tmp_path, overrides: dict, name: str):
    """The app with a platform switched on (``overrides``, e.g. ``{"wecom": …}``) on a free port
    whose URL is its BASE_URL, so the links and signatures it makes point back at this very server."""
    from werkzeug.serving import make_server

    from application import create_app

    holder = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    settings = app.extensions["settings"].with_overrides({**overrides, "base_url": base})
    flask_app = create_app(settings=settings)
    flask_app.config["UPLOAD_ROOT"] = str(tmp_path / "uploads")
    holder["app"] = flask_app
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        flask_app.extensions["db_engine"].dispose()


@pytest.fixture
def wecom_live_server(app, session_factory, wecom_emulator, tmp_path):
    """WeCom against the emulator; the OAuth redirect_uri points back at this server."""
    yield from platform_live_server(app, tmp_path, {"wecom": wecom_settings_for(wecom_emulator)},
                                    "wecom-live-server")


class WeComOAuthServer:
    """``open.weixin.qq.com`` as WeCom serves it to a member inside the workbench: the authorize page
    checks the corp and the scope and redirects at once to ``redirect_uri`` with a fresh one-time
    code (issued by the WeCom emulator, so ``auth/getuserinfo`` answers for it) and the same state.

    Playwright's ``page.route`` cannot catch the app's 302 towards WeCom (routes never see
    redirects), so Chromium resolves ``open.weixin.qq.com`` to this local HTTPS server instead.
    """

    def __init__(self, emulator, cert_dir):
        self.emulator = emulator
        self.userid = ""  # the member holding the phone
        self.seen: list[dict] = []
        cert, key = _self_signed_certificate(cert_dir, "open.weixin.qq.com")
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                owner.seen.append({"path": url.path, "host": self.headers.get("Host"), **query})
                if (url.path != "/connect/oauth2/authorize" or query.get("appid") != owner.emulator.corp_id
                        or query.get("scope") != "snsapi_base" or query.get("response_type") != "code"
                        or not query.get("redirect_uri")):
                    self.send_response(400)
                    self.end_headers()
                    return
                code = owner.emulator.issue_code(owner.userid)
                target = query["redirect_uri"]
                target += ("&" if "?" in target else "?") + urlencode({"code": code, "state": query.get("state", "")})
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="wecom-oauth", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _self_signed_certificate(directory, host: str):
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    moment = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(moment - timedelta(days=1))
        .not_valid_after(moment + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "oauth-cert.pem", directory / "oauth-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def wecom_oauth(wecom_emulator, tmp_path):
    server = WeComOAuthServer(wecom_emulator, tmp_path)
    yield server
    server.close()


@pytest.fixture
def workbench_browser(browser, wecom_oauth, csp_violations):
    """Chromium as inside the WeCom workbench: open.weixin.qq.com answers from the local OAuth server."""
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, CspWatchedBrowser

    instance = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP open.weixin.qq.com 127.0.0.1:{wecom_oauth.port}"],
    )
    yield CspWatchedBrowser(instance, csp_violations)
    instance.close()


def phone_page(browser, user_agent: str = WXWORK_UA):
    # The certificate of the local open.weixin.qq.com is self-signed; our own server is plain http.
    context = browser.new_context(viewport=PHONE, user_agent=user_agent, locale="zh-CN", device_scale_factor=2,
                                  is_mobile=True, has_touch=True, ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def console_sign_in(page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


def test_console_session_submits_on_a_phone(live_server, browser, seeded, artifacts):
    base = live_server
    context, page = phone_page(browser, user_agent="Mozilla/5.0 (iPhone) Safari/604.1")
    page.goto(f"{base}/m/")
    assert "请在企业微信或钉钉工作台中打开" in page.content()
    page.screenshot(path=str(artifacts / "mobile-open-in-app.png"), full_page=True)
    page.click("[data-action=console-login]")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "demo-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/m/")
    page.screenshot(path=str(artifacts / "mobile-home-staff.png"), full_page=True)
    page.click("[data-action=new-order]")
    page.fill("#m-enterprise-query", "精密")
    # The page's CSP forbids eval, so no wait_for_function: Playwright's expect polls the DOM instead.
    expect(page.locator("#m-enterprise-results .m-choice")).to_have_count(1)
    expect(page.locator("#m-enterprise-results input[name=enterprise_id]")).to_be_checked()
    page.fill("textarea[name=content]", "企业扩大生产，急需招聘 30 名数控技术工人，希望对接招聘会并了解用工补贴政策。")
    page.click("label.m-choice:has(input[name=level][value='2'])")
    page.select_option("select[name=department_id]", label="人社局")
    page.set_input_files("input[name=attachments][accept='image/*']",
                         files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}])
    page.screenshot(path=str(artifacts / "mobile-new-order.png"), full_page=True)
    page.click("button[data-action=create]")
    page.wait_for_url(re.compile(r".*/m/orders/BC-\d{8}-\d{4}$"))
    assert "诉求已提交" in page.content()
    page.screenshot(path=str(artifacts / "mobile-order-detail.png"), full_page=True)
    context.close()


def test_wecom_staff_submits_the_h5_form_and_the_helper_signs(wecom_live_server, wecom_emulator, wecom_oauth,
                                                              workbench_browser, seeded, session_factory, artifacts):
    base = wecom_live_server
    wecom_emulator.add_user("wangfuwu", "王服务", "13900000001")
    wecom_emulator.add_user("sunbangban", "孙帮办", "13900000002")

    # 1. The staff member opens 提交诉求 from the WeCom workbench: OAuth, then the form.
    wecom_oauth.userid = "wangfuwu"
    context, page = phone_page(workbench_browser)
    page.goto(f"{base}/m/orders/new")
    # Browsers keep the authorize URL's #wechat_redirect across the redirects back: harmless.
    page.wait_for_url(re.compile(re.escape(f"{base}/m/orders/new") + r"(#wechat_redirect)?$"))
    assert len(wecom_oauth.seen) == 1
    seen = wecom_oauth.seen[0]
    assert seen["host"] == "open.weixin.qq.com" and seen["agentid"] == str(wecom_emulator.agent_id)
    assert seen["redirect_uri"] == f"{base}/m/auth/wecom/callback?next=/m/orders/new"
    assert len(wecom_emulator.calls("auth/getuserinfo", ok=True)) == 1
    assert page.locator(".m-bar-who").inner_text() == "王服务"
    assert page.locator(".nav").count() == 0  # no console navigation inside the workbench
    page.fill("#m-enterprise-query", "精密")
    expect(page.locator("#m-enterprise-results .m-choice")).to_have_count(1)
    expect(page.locator("#m-enterprise-results input[name=enterprise_id]")).to_be_checked()
    page.fill("textarea[name=content]", "企业扩大生产，急需招聘 30 名数控技术工人，希望对接招聘会并了解用工补贴政策。")
    page.click("label.m-choice:has(input[name=level][value='2'])")
    expect(page.locator("select[name=department_id]")).to_be_visible()
    page.select_option("select[name=department_id]", label="人社局")
    page.click(".m-segment label:has(input[name=priority][value=urgent])")
    page.set_input_files("input[name=attachments][accept='image/*']",
                         files=[{"name": "现场照片.png", "mimeType": "image/png", "buffer": PNG}])
    expect(page.locator("#m-previews img")).to_have_count(1)
    # The tap targets are phone-sized.
    box = page.locator("button[data-action=create]").bounding_box()
    assert box["height"] >= 48 and box["width"] >= 300
    page.screenshot(path=str(artifacts / "mobile-wecom-new-order.png"), full_page=True)
    page.click("button[data-action=create]")
    page.wait_for_url(re.compile(r".*/m/orders/BC-\d{8}-\d{4}$"))
    number = page.url.rsplit("/", 1)[-1]
    assert "诉求已提交" in page.locator(".m-alert-success").inner_text()
    assert page.locator(".m-head .m-badge").first.inner_text() == "待签收"
    page.screenshot(path=str(artifacts / "mobile-wecom-submitted.png"))
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert order.channel == "wecom" and order.priority == "urgent" and len(order.attachments) == 1
        assert order.assigned_department_id == seeded["rsj_id"] and order.submitter_id == seeded["staff_id"]
    page.click(".m-tabs >> text=我的工作")
    expect(page.locator(".m-order", has_text=number)).to_have_count(1)
    page.screenshot(path=str(artifacts / "mobile-wecom-home-staff.png"))
    context.close()

    # 2. The chief helper opens the order from the whistle card link and taps 报到.
    wecom_oauth.userid = "sunbangban"
    context, page = phone_page(workbench_browser)
    page.goto(f"{base}/m/orders/{number}")
    page.wait_for_url(re.compile(re.escape(f"{base}/m/orders/{number}") + r"(#wechat_redirect)?$"))
    assert page.locator("[data-action=sign]").is_visible()
    assert page.locator("#act-resolve").count() == 0
    page.screenshot(path=str(artifacts / "mobile-wecom-helper-detail.png"), full_page=True)
    page.click("[data-action=sign]")
    page.wait_for_selector("text=已签收报到")
    assert page.locator(".m-head .m-badge").first.inner_text() == "办理中"
    page.click("#act-resolve > summary")
    page.fill("#act-resolve textarea[name=result]", "短")
    page.click("#act-resolve button[data-action=resolve]")
    expect(page.locator("#m-error")).to_be_visible()
    assert page.locator("#act-resolve textarea[name=result]").input_value() == "短"  # kept after the error
    page.screenshot(path=str(artifacts / "mobile-wecom-helper-error.png"))
    with session_factory() as s:
        event = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.action == "sign"))
        assert event.channel == "wecom" and event.actor_id == seeded["helper_id"]
    context.close()
