"""The enterprise's survey page /s/<token>: no sign-in, CSRF kept, one use, light rate limit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import ReturnVisit, Role, WorkOrder
from services.orders import operations as wo
from services.orders.lifecycle import State
from tests.factories import sign_in_cookie

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fresh_limiter(app):
    from handlers.public.survey import limiter

    with app.app_context():
        limiter().reset()
    yield


@pytest.fixture
def fed_back(factory, session, now):
    """A level-1 order solved by the zone's staff member and reported back to the enterprise."""
    staff = factory.person(Role.SERVICE_STAFF)
    enterprise = factory.enterprise(staff=staff, name="天津北辰精工机械有限公司")
    order = factory.order(staff, now, enterprise=enterprise, content="厂区门前路灯损坏多日，夜间货车进出不安全")
    ctx = factory.ctx(staff, now)
    wo.resolve(ctx, order, result="已协调城管委更换路灯 3 盏，夜间照明恢复")
    wo.feedback(ctx, order, note="已电话告知企业负责人")
    assert order.state == State.FED_BACK and order.survey_token
    session.commit()
    return order


class Visitor:
    """An anonymous browser; the test session leaves its transaction before each request (SQLite lock)."""

    def __init__(self, client, session, remote_addr="203.0.113.7"):
        self.client = client
        self.session = session
        self.environ = {"REMOTE_ADDR": remote_addr}
        self.token = ""

    def _settle(self):
        self.session.commit()
        self.session.expire_all()

    def get(self, path):
        self._settle()
        return self.client.get(path, environ_base=self.environ)

    def submit(self, path, data, *, with_csrf=True):
        payload = dict(data)
        if with_csrf:
            page = self.get(path)
            match = CSRF.search(page.get_data(as_text=True))
            assert match, page.status_code
            self.token = payload["csrf_token"] = match.group(1)
        self._settle()
        return self.client.post(path, data=payload, environ_base=self.environ)


@pytest.fixture
def visitor(client, session):
    return Visitor(client, session)


def reload(session, order) -> WorkOrder:
    session.expire_all()
    return session.get(WorkOrder, order.id)


def test_page_shows_the_order_without_console_chrome(visitor, fed_back):
    response = visitor.get(f"/s/{fed_back.survey_token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert fed_back.number in html and "天津北辰精工机械有限公司" in html and "已协调城管委更换路灯 3 盏" in html
    for level in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        assert f'value="{level}"' in html
    assert "问题是否解决" in html and 'name="csrf_token"' in html
    assert "主导航" not in html and "退出" not in html and "app.js" not in html


def test_satisfied_archives_the_order(visitor, fed_back, session):
    path = f"/s/{fed_back.survey_token}"
    response = visitor.submit(path, {"satisfaction": "满意", "resolved": "yes", "comment": "响应很快"})
    assert response.status_code == 200 and "感谢您的评价" in response.get_data(as_text=True)
    order = reload(session, fed_back)
    assert order.state == State.ARCHIVED
    visit = session.scalars(select(ReturnVisit).where(ReturnVisit.work_order_id == order.id)).one()
    assert (visit.satisfaction, visit.method, visit.recorded_by_id, visit.resolved) == ("满意", "survey", None, True)
    event = [e for e in order.events if e.action == "visit"][-1]
    assert event.channel == "public" and event.actor_id is None

    # The link is used now: a friendly 410, and nothing changes.
    again = visitor.get(path)
    assert again.status_code == 410 and "已完成评价" in again.get_data(as_text=True)
    post_again = visitor.submit(path, {"satisfaction": "不满意", "resolved": "no", "comment": "再评一次",
                                       "csrf_token": visitor.token}, with_csrf=False)
    assert post_again.status_code == 410
    assert len(reload(session, fed_back).visits) == 1


def test_dissatisfied_needs_a_comment(visitor, fed_back, session):
    path = f"/s/{fed_back.survey_token}"
    response = visitor.submit(path, {"satisfaction": "不满意", "resolved": "no", "comment": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "评价为不满意时必须填写意见" in html
    assert re.search(r'value="不满意"[^>]*checked', html)  # the choice is kept
    order = reload(session, fed_back)
    assert order.state == State.FED_BACK and order.visits == []


def test_dissatisfied_with_comment_reopens(visitor, fed_back, session):
    token = fed_back.survey_token
    response = visitor.submit(f"/s/{token}", {"satisfaction": "非常不满意", "resolved": "no",
                                              "comment": "路灯换了又坏，问题没有解决"})
    assert response.status_code == 200 and "重新办理" in response.get_data(as_text=True)
    order = reload(session, fed_back)
    assert order.state == State.PROCESSING and order.reopen_count == 1


def test_the_link_of_a_reopened_order_says_it_is_handled_again(visitor, fed_back, session, factory, now):
    token = fed_back.survey_token
    visitor.submit(f"/s/{token}", {"satisfaction": "不满意", "resolved": "no", "comment": "路灯换了又坏"})
    page = visitor.get(f"/s/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "链接无效" not in html
    assert "评价已收到" in html and "重新办理" in html and 'name="csrf_token"' not in html
    # Posting again (a second tab) changes nothing and says the same.
    again = visitor.client.post(f"/s/{token}", environ_base=visitor.environ, data={
        "csrf_token": visitor.token, "satisfaction": "满意", "resolved": "yes"})
    assert again.status_code == 200 and "重新办理" in again.get_data(as_text=True)
    assert len(reload(session, fed_back).visits) == 1

    # Handled again and fed back: the same link takes the second rating.
    order = reload(session, fed_back)
    staff = order.assigned_person
    wo.resolve(factory.ctx(staff, now), order, result="已更换为新型路灯并加装稳压器")
    wo.feedback(factory.ctx(staff, now), order, note="上门告知")
    session.commit()
    assert order.survey_token == token
    assert visitor.submit(f"/s/{token}", {"satisfaction": "满意", "resolved": "yes", "comment": ""}).status_code == 200
    order = reload(session, fed_back)
    assert order.state == State.ARCHIVED and [v.satisfaction for v in order.visits] == ["不满意", "满意"]
    assert visitor.get(f"/s/{token}").status_code == 410


def test_resolved_choice_is_required(visitor, fed_back, session):
    response = visitor.submit(f"/s/{fed_back.survey_token}", {"satisfaction": "满意", "comment": ""})
    assert response.status_code == 422 and "请选择问题是否解决" in response.get_data(as_text=True)
    assert reload(session, fed_back).state == State.FED_BACK


def test_unknown_token_is_a_friendly_404(visitor):
    for token in ("x" * 32, "short", "../../etc/passwd"):
        response = visitor.get(f"/s/{token}")
        assert response.status_code == 404
        assert "该评价链接不存在或已失效" in response.get_data(as_text=True)


def test_not_yet_fed_back_is_refused(visitor, factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF)
    order = factory.order(staff, now)
    order.survey_token = "t" * 32  # a token on an order not waiting for its visit
    session.commit()
    page = visitor.get(f"/s/{'t' * 32}")
    assert page.status_code == 410 and 'name="csrf_token"' not in page.get_data(as_text=True)
    token = CSRF.search(visitor.get("/login").get_data(as_text=True)).group(1)  # any page's token is valid
    response = visitor.submit(f"/s/{'t' * 32}", {"satisfaction": "满意", "resolved": "yes", "csrf_token": token},
                              with_csrf=False)
    assert response.status_code == 410
    assert reload(session, order).state == State.PROCESSING


def test_post_without_csrf_is_refused_on_a_public_page(visitor, fed_back, session):
    response = visitor.submit(f"/s/{fed_back.survey_token}", {"satisfaction": "满意", "resolved": "yes"},
                              with_csrf=False)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "页面已过期" in html and "主导航" not in html
    assert reload(session, fed_back).state == State.FED_BACK


def test_a_signed_in_console_user_still_rates_as_the_enterprise(visitor, fed_back, factory, session):
    # A chief helper who may not rate this order opens the link in the same browser.
    helper = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"))
    session.commit()
    sign_in_cookie(visitor.client, helper)
    response = visitor.submit(f"/s/{fed_back.survey_token}", {"satisfaction": "基本满意", "resolved": "yes"})
    assert response.status_code == 200
    order = reload(session, fed_back)
    assert order.state == State.ARCHIVED and order.visits[0].recorded_by_id is None


def test_posts_are_rate_limited_per_address(client, session, fed_back):
    noisy = Visitor(client, session, remote_addr="198.51.100.23")
    path = f"/s/{fed_back.survey_token}"
    statuses = [noisy.submit(path, {"satisfaction": "满意"}).status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
    assert "提交过于频繁" in noisy.submit(path, {"satisfaction": "满意"}).get_data(as_text=True)
    # Another address is not affected.
    other = Visitor(client, session, remote_addr="198.51.100.24")
    assert other.submit(path, {"satisfaction": "满意", "resolved": "yes"}).status_code == 200
    assert reload(session, fed_back).state == State.ARCHIVED


def test_limiter_window_slides():
    from handlers.public.ratelimit import SlidingWindowLimiter

    limiter = SlidingWindowLimiter(2, 60, max_keys=2)
    assert limiter.allow("a", at=0) and limiter.allow("a", at=1) and not limiter.allow("a", at=2)
    assert limiter.allow("a", at=60.5)  # the first hit left the window
    assert limiter.allow("b", at=61) and limiter.allow("c", at=200)  # idle keys are forgotten, not grown
