"""The request boundary (handlers/boundary.py): hostile values are refused before any view reads them."""

from __future__ import annotations

import re

import pytest

from models import Role
from services.admin.api_tokens import issue_token

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def dispatcher_client(client, factory, session):
    person = factory.person(Role.DISPATCHER, name="王调度")
    session.commit()
    with client.session_transaction() as cookie:
        cookie["person_id"] = person.id
    return client


@pytest.fixture
def api_headers(factory, session, now):
    token = issue_token(session, factory.person(Role.DISPATCHER), "测试", now)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("query", ["q=a%00b", "q=%0D%0ALocation:%20x", "q=" + "x" * 2001, "a%00=1"])
def test_hostile_query_values_are_a_chinese_400(client, query):
    response = client.get("/contact?" + query)
    assert response.status_code == 400
    assert "请求已被拒绝" in response.get_data(as_text=True)


def test_nul_in_the_anonymous_contact_form_is_refused_before_the_database(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    response = client.post("/contact", data={"code": "91120113\x00", "name": "天津"})
    assert response.status_code == 400
    assert "含有空字符" in response.get_data(as_text=True)


def test_line_breaks_stay_allowed_in_form_text(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    response = client.post("/contact", data={"code": "", "name": "天津\r\n北辰"})
    assert response.status_code < 500 and "请求已被拒绝" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/people/99999999999999999999", "/admin/people/2147483648",
                                  "/admin/people/%C2%B2", "/admin/people/%D9%A1", "/admin/people/0",
                                  "/policies/trainings/9223372036854775808"])
def test_path_ids_outside_the_database_range_or_not_ascii_do_not_match(dispatcher_client, path):
    assert dispatcher_client.get(path).status_code == 404


def test_path_strings_with_nul_are_refused(dispatcher_client):
    response = dispatcher_client.get("/orders/BC-20260302-0001%00")
    assert response.status_code == 400


def test_json_with_nan_or_lone_surrogate_is_a_json_400(client, api_headers):
    for body in ('{"content": "x", "level": NaN}', '{"content": "\\ud800"}', '{"content": "a\\u0000"}',
                 '{"level": 1e999}'):
        response = client.post("/api/v1/work-orders", data=body, content_type="application/json",
                               headers=api_headers)
        assert response.status_code == 400, body
        error = response.get_json()["error"]
        assert error["code"] == "malformed_request" and CHINESE.search(error["message"])


def test_unknown_action_echo_with_a_surrogate_still_renders(client, api_headers):
    # The guard refuses the body; were a message to quote a lone surrogate, rendering it must not fail.
    response = client.post("/api/v1/work-orders/BC-1/transitions", data='{"action": "\\udc80"}',
                           content_type="application/json", headers=api_headers)
    assert response.status_code == 400


def test_huge_or_non_integer_json_numbers_are_422(client, api_headers):
    for value in (2**31, 10**20, -(2**31) - 1, 1.5):
        response = client.post("/api/v1/work-orders", json={"content": "企业需要协调用地问题请尽快处理",
                                                             "enterprise_id": value}, headers=api_headers)
        assert response.status_code == 422, value
        assert "enterprise_id" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("query", ["zone_id=99999999999999999999", "page=9223372036854775808", "level=%C2%B2",
                                   "zone_id=%D9%A1%D9%A2"])
def test_api_query_integers_are_bounded_ascii(client, api_headers, query):
    response = client.get("/api/v1/work-orders?" + query, headers=api_headers)
    assert response.status_code == 422


@pytest.mark.parametrize("query", ["from=0001-01-01&to=0001-01-05", "from=9999-12-25&to=9999-12-31",
                                   "from=2026-02-30&to=2026-03-01"])
def test_statistics_dates_out_of_range_are_a_400(client, api_headers, query):
    response = client.get("/api/v1/statistics?" + query, headers=api_headers)
    assert response.status_code == 400
    assert CHINESE.search(response.get_json()["error"]["message"])


def test_unsupported_method_is_405_with_allow(client, api_headers):
    response = client.open("/api/v1/work-orders", method="TRACE", headers=api_headers)
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert response.get_json()["error"]["code"] == "http_405"


def test_redirect_target_with_a_line_break_is_a_400(app):
    with app.test_request_context("/"):
        from services.errors import DomainError

        with pytest.raises(DomainError):
            app.redirect("/orders\r\nSet-Cookie: x=1")
