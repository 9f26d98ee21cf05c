"""The demo's pages as people see them: every page Chinese for every role, long lists paged.

The demo is seeded through the real operations and its outbox delivered to the sandbox; then, for
each role, every GET page without arguments (from the app's url_map) is opened, and every link on
those pages is followed to the detail pages (a few per kind: orders, enterprises, policies,
campaigns, people …). The visible text of each page (tags, scripts, styles and attribute values
stripped) must not contain an ASCII word outside the fixed allow-list below; data that is ASCII by
nature (order numbers, credit codes, industry codes, links, login names, department codes) is
taken out first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from database import session_scope
from integrations.sandbox import SandboxAdapter
from models import ConsoleLogin, Department, Person, PolicyPush, PushCampaign, Role, Zone
from services.demo import data as demo_data
from services.demo.seed import seed_demo
from services.messaging.delivery import deliver_due
from services.messaging.notify import Channels
from services.ratelimit import DatabaseRateLimiter

# Words a Chinese page may show, and why.
ALLOWED = {
    # File formats and the programs people know them by (upload and export hints).
    "xlsx", "xls", "ods", "csv", "txt", "zip", "jpg", "jpeg", "png", "gif", "bmp", "webp", "heic", "PDF", "OFD",
    "Office", "WPS", "Excel", "YAML",
    # Units and sizes.
    "MB", "KB", "A4",
    # The platforms' own terms, which an administrator looks up in their consoles.
    "UserID", "Webhook", "SEC", "IP", "ID",
    # The carriers' unsubscribe keyword every text ends with (回复TD退订).
    "TD",
    # Standards named by their code (行业代码 GB/T 4754); GB is a size as well.
    "GB", "T",
}
# Taken out before counting: data that is ASCII by nature. (Boundaries are spelled out: to ``\b``
# a Chinese character is a word character too.)
_A, _Z = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
DATA = [re.compile(pattern) for pattern in (
    r"https?://\S+",  # links (posters, invitations)
    r"(?<![\w/])/(?:m|p|s|c|contact)/\S*",  # a page's own path, e.g. the link an invitation gives
    _A + r"BC-\d{8}-\d{4}" + _Z,  # order numbers
    _A + r"[0-9A-HJ-NPQRTUWXY]{18}" + _Z,  # 统一社会信用代码
    _A + r"[A-Z]{1,4}\d{6,}" + _Z,  # other reference numbers (registration numbers, the city's 12345 numbers)
    _A + r"[A-T]\d{0,4}" + _Z,  # GB/T 4754 industry codes (C3351, F52, A)
    _A + r"\d+G" + _Z,  # 5G
    _A + r"IN-(?:\d+|编号)",  # inbound callback reference numbers
    _A + r"[0-9a-f]{16,}" + _Z,  # tokens in links
    r"\S+@\S+",  # e-mail addresses
)]
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
# Never followed: signing out, files, JSON, platform callbacks.
SKIP = re.compile(r"^/(static|api|wecom|dingtalk|healthz)/|/logout|/export|\.xlsx|/download|/attachments/|"
                  r"/progress$|/status$|/similar|/search")
PER_ENDPOINT = 3


class _Visible(HTMLParser):
    """The text a person sees: no tags, attributes, scripts or styles, nor what is marked
    ``translate="no"`` (identifiers and platform payloads the studio shows as they are)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.verbatim: list[str] = []
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.hidden += 1
        elif dict(attrs).get("translate") == "no":
            self.verbatim.append(tag)
            self.hidden += 1
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("/"):
                self.links.append(href)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self.hidden:
            self.hidden -= 1
        elif self.verbatim and tag == self.verbatim[-1]:
            self.verbatim.pop()
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> tuple[str, list[str]]:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()), parser.links


def english_words(text: str, data_words: set[str]) -> set[str]:
    for pattern in DATA:
        text = pattern.sub(" ", text)
    return {w for w in WORD.findall(text) if w not in ALLOWED and w not in data_words}


def test_visible_text_ignores_markup_and_attributes():
    text, links = visible_text('<p class="muted" title="hidden">企业 <b>status</b></p><script>var x = "whistle";</script>'
                               '<style>.a{color:red}</style><a href="/orders?x=1">工单</a><input value="draft">')
    assert text == "企业 status 工单" and links == ["/orders?x=1"]
    assert english_words("工单 BC-20260302-0001 行业 C3351 上传 xlsx 91120113000000001X 状态 draft", set()) == {"draft"}


@pytest.fixture(scope="module")
def demo(app, now_module):
    """The demo as ``make run`` shows it, once for this module: seeded, its outbox delivered, plus
    logins for the two roles the demo's personas leave out (zone admin, department leader).
    Returns the ASCII data words (login names, department and zone codes) pages may show."""
    from services.demo.reference import seed_reference
    from tests.conftest import _wipe

    session_factory = app.extensions["db_sessionmaker"]
    _wipe(app.extensions["db_engine"])
    with session_scope(session_factory) as session:
        seed_reference(session)
    with session_scope(session_factory) as session:
        seed_demo(session, channels=Channels(sandbox=True), now=now_module)
        password_hash = session.scalar(select(ConsoleLogin.password_hash).limit(1))
        for username, role in (("zoneadmin", Role.ZONE_ADMIN), ("deptleader", Role.DEPT_LEADER)):
            person = session.scalar(select(Person).where(Person.role == role, Person.active.is_(True))
                                    .order_by(Person.id).limit(1))
            session.add(ConsoleLogin(person_id=person.id, username=username, password_hash=password_hash))
    while deliver_due(session_factory, {"sandbox": SandboxAdapter()}, DatabaseRateLimiter(session_factory),
                      worker_id="walk", now_fn=lambda: now_module, batch_size=500).claimed:
        pass
    with session_factory() as session:
        words = set(session.scalars(select(ConsoleLogin.username)))
        words |= set(session.scalars(select(Department.code))) | set(session.scalars(select(Zone.code)))
    return words


@pytest.fixture(scope="module")
def now_module():
    return datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # as the ``now`` fixture: Monday 10:00 in Beijing


def signed_in(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": demo_data.DEMO_PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, username
    return client


def _pages_without_arguments(app) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not SKIP.search(rule.rule):
            paths.append(rule.rule)
    return sorted(paths)


def _endpoint(adapter, url: str) -> str | None:
    parts = urlsplit(url)
    try:
        endpoint, _ = adapter.match(parts.path, method="GET", query_args=parts.query)
    except (NotFound, MethodNotAllowed, RequestRedirect):
        return None
    return endpoint


def _walk(app, client, data_words: set[str]) -> tuple[dict[str, set[str]], int]:
    adapter = app.url_map.bind("localhost")
    queue = _pages_without_arguments(app)
    seen: set[str] = set()
    per_endpoint: dict[str, int] = defaultdict(int)
    leaks: dict[str, set[str]] = {}
    while queue:
        url = queue.pop(0)
        if url in seen or SKIP.search(urlsplit(url).path):
            continue
        seen.add(url)
        endpoint = _endpoint(adapter, url)
        if endpoint is None or endpoint == "static":
            continue
        if per_endpoint[endpoint] >= PER_ENDPOINT and urlsplit(url).path not in ("/", ""):
            continue
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        per_endpoint[endpoint] += 1
        text, links = visible_text(response.get_data(as_text=True))
        words = english_words(text, data_words)
        if words:
            leaks[url] = words
        queue.extend(link for link in links if link not in seen)
    return leaks, len(seen)


ROLES = ("admin", "dispatcher", "bizenv", "staff", "helper", "leader", "zoneadmin", "deptleader", "desk")


def test_every_page_reads_chinese_for_every_role(app, demo):
    problems = {}
    for username in ROLES:
        leaks, walked = _walk(app, signed_in(app, username), demo)
        assert walked > 30, f"{username}: only {walked} pages walked"
        for url, words in leaks.items():
            problems[f"{username} {url}"] = sorted(words)
    assert not problems, "\n".join(f"{where}: {words}" for where, words in sorted(problems.items()))


# --------------------------------------------------------------------------------------------------
# Long lists come a page at a time, with filters (as the order list does)
# --------------------------------------------------------------------------------------------------
def _rows(html: str, table_id: str | None = None) -> int:
    body = html.split(f'id="{table_id}"', 1)[1] if table_id else html
    body = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr")


def test_audit_log_is_paged_and_filtered(app, demo):
    client = signed_in(app, "admin")
    html = client.get("/admin/audit").get_data(as_text=True)
    total = int(re.search(r"共 (\d+) 条", html).group(1))
    assert total > 100 and _rows(html, "audit-rows") == 50
    assert f"第 1 / {-(-total // 50)} 页" in html and "page=2" in html
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert _rows(second, "audit-rows") == 50 and second != html
    published = client.get("/admin/audit?action=policy.publish").get_data(as_text=True)
    assert "（已筛选）" in published and 0 < _rows(published, "audit-rows") < 10
    assert published.count("<td data-label=\"操作\">发布政策</td>") == _rows(published, "audit-rows")
    by_target = client.get("/admin/audit?target_type=training_event").get_data(as_text=True)
    assert "活动 " in by_target and "政策推送" not in by_target.split('id="audit-rows"', 1)[1]
    nobody = client.get("/admin/audit?actor=不存在的人").get_data(as_text=True)
    assert "暂无记录" in nobody
    late = client.get("/admin/audit?since=2099-01-01").get_data(as_text=True)
    assert "暂无记录" in late


def test_people_are_paged_searched_and_filtered(app, demo):
    client = signed_in(app, "admin")
    html = client.get("/admin/people").get_data(as_text=True)
    total = int(re.search(r"共 (\d+) 人", html).group(1))
    assert total > 140 and _rows(html) == 50 and f"第 1 / {-(-total // 50)} 页" in html
    pages = -(-total // 50)
    last = client.get(f"/admin/people?page={pages}").get_data(as_text=True)
    assert _rows(last) == total - 50 * (pages - 1)
    staff = client.get("/admin/people?role=service_staff").get_data(as_text=True)
    assert "（已筛选）" in staff and staff.count('<td data-label="角色">为企服务人员</td>') == _rows(staff)
    found = client.get("/admin/people?q=dispatcher").get_data(as_text=True)  # a login name
    assert "共 1 人" in found and "dispatcher" in found


def test_campaign_pushes_are_paged_and_filtered(app, demo):
    with app.extensions["db_sessionmaker"]() as session:
        campaign_id, pushes = session.execute(
            select(PushCampaign.id, func.count(PolicyPush.id)).join(PolicyPush, PolicyPush.campaign_id == PushCampaign.id)
            .group_by(PushCampaign.id).order_by(func.count(PolicyPush.id).desc()).limit(1)).one()
        some = session.scalar(select(PolicyPush).where(PolicyPush.campaign_id == campaign_id).limit(1))
        name = some.enterprise.name
    assert pushes > 50
    client = signed_in(app, "bizenv")
    url = f"/policies/campaigns/{campaign_id}"
    html = client.get(url).get_data(as_text=True)
    assert f"共 {pushes} 家次" in html and _rows(html.split('id="pushes"', 1)[1]) == 50
    assert f"第 1 / {-(-pushes // 50)} 页" in html
    second = client.get(url + "?page=2").get_data(as_text=True)
    assert _rows(second.split('id="pushes"', 1)[1]) == min(50, pushes - 50)
    one = client.get(url + f"?q={name}").get_data(as_text=True)
    assert "（已筛选）" in one and name in one and _rows(one.split('id="pushes"', 1)[1]) >= 1
    granted = client.get(url + "?stage=granted").get_data(as_text=True)
    rows = _rows(granted.split('id="pushes"', 1)[1])
    assert granted.split('id="pushes"', 1)[1].count(">已兑现</td>") == rows or "没有符合条件的推送记录" in granted


def test_error_pages_read_chinese(app, client, factory, session):
    """A refused form (stale or forged token) and HTTP errors werkzeug names in English."""
    factory.person(Role.DISPATCHER, department=factory.department("grid_center"), login="dispatcher")
    session.commit()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "dispatcher", "password": "demo-pass-123", "csrf_token": token})
    forged = client.post("/orders/new", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    text, _ = visible_text(forged.get_data(as_text=True))
    assert "安全校验未通过" in text and english_words(text, set()) == set()
    wrong_method = client.delete("/orders")  # 405: werkzeug would say "Method Not Allowed"
    assert wrong_method.status_code == 405
    text, _ = visible_text(wrong_method.get_data(as_text=True))
    assert english_words(text, set()) == set()

    from handlers.errors import http_message

    assert http_message(418) == "请求未能完成（错误 418），请稍后重试" and http_message(503).startswith("系统暂时")
