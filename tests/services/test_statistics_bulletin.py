"""The scheduled 统计通报: due editions, the xlsx and the chart built, sent once to the district
leaders and the 营商环境办 through the outbox; the files are served to the district roles only."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from integrations.storage import LocalStorage
from models import OutboundMessage
from services.messaging.notify import Channels
from services.statistics import bulletin
from services.statistics.kpis import LOCAL_TZ
from tests.handlers.test_statistics import login
from tests.services.test_statistics import Story

APRIL_1 = datetime(2026, 4, 1, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def story(factory, session):
    story = Story(factory, session)
    session.commit()
    return story


def test_due_editions():
    assert bulletin.due_editions(("monthly",), datetime(2026, 4, 1, 8, 59, tzinfo=LOCAL_TZ)) == []
    (monthly,) = bulletin.due_editions(("monthly",), datetime(2026, 4, 1, 9, 0, tzinfo=LOCAL_TZ))
    assert monthly.key == "monthly-2026-03" and monthly.period.last_day.isoformat() == "2026-03-31"
    keys = [e.key for e in bulletin.due_editions(("monthly", "weekly"), APRIL_1)]
    assert keys == ["monthly-2026-03", "weekly-2026-W13"]
    assert bulletin.due_editions(("weekly",), datetime(2026, 3, 30, 8, 0, tzinfo=LOCAL_TZ)) == []  # Monday, 08:00
    assert bulletin.due_editions(("weekly",), datetime(2026, 3, 29, 8, 0, tzinfo=LOCAL_TZ))[0].key == "weekly-2026-W12"


def test_bulletin_built_and_sent_once(story, session, tmp_path):
    sent = bulletin.send_due(session, APRIL_1, Channels(sandbox=True), ("monthly", "weekly"), LocalStorage(tmp_path))
    session.commit()
    assert sent == ["monthly-2026-03", "weekly-2026-W13"]
    book = load_workbook(io.BytesIO((tmp_path / "bulletins" / "monthly-2026-03.xlsx").read_bytes()))
    assert book.sheetnames == ["按片区统计", "按部门统计"]
    svg = (tmp_path / "bulletins" / "monthly-2026-03.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "天穆镇" in svg and "目标 90%" in svg
    messages = session.scalars(select(OutboundMessage).where(
        OutboundMessage.dedupe_key.like("statistics-bulletin:monthly-2026-03:%"))).all()
    assert {m.target_ref for m in messages} == {str(story.leader.id), str(story.bizenv.id)}
    payload = messages[0].payload
    assert payload["title"] == "2026 年 3 月统计通报"
    assert "受理 6 件" in payload["text"] and "按时办结率 50.0%" in payload["text"]
    assert payload["url"] == "/statistics/bulletins/monthly-2026-03.xlsx"
    # A later run in the same month and week sends nothing more.
    assert bulletin.send_due(session, APRIL_1, Channels(sandbox=True), ("monthly", "weekly"), LocalStorage(tmp_path)) == []


def test_bulletin_files_for_district_roles_only(app, client, story, session, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_ROOT", str(tmp_path))  # the storage the app serves from
    bulletin.send_due(session, APRIL_1, Channels(sandbox=True), ("monthly",), LocalStorage(tmp_path))
    session.commit()
    with time_machine.travel(APRIL_1, tick=True):
        login(client, "leader")
        response = client.get("/statistics/bulletins/monthly-2026-03.xlsx")
        assert response.status_code == 200 and response.data[:2] == b"PK"
        chart = client.get("/statistics/bulletins/monthly-2026-03.svg")
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
        assert client.get("/statistics/bulletins/monthly-2026-04.xlsx").status_code == 404
        assert client.get("/statistics/bulletins/..%2Fsecret.xlsx").status_code == 404
        login(client, "staff")
        assert client.get("/statistics/bulletins/monthly-2026-03.xlsx").status_code == 403
