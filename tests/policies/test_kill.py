"""The jobs process killed with SIGKILL in the middle of a campaign, then restarted: every matched
enterprise is pushed once, every staff member gets exactly one digest naming all of theirs."""

from __future__ import annotations

import re
import signal
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from database import session_scope
from models import Enterprise, OutboundMessage, Person, Role, SandboxMessage, SystemSetting, Zone
from models.policy import CampaignStatus, PolicyPush, PushCampaign, PushStatus
from services.policies.library import PolicyContext
from services.policies.push import DIGEST_KIND, approve_campaign, create_campaign
from tests.factories import make_uscc
from tests.jobs.test_kill import start_jobs_process, wait_for
from tests.policies.conftest import published_item

STAFF = 400
PER_STAFF = 6


class Probe:
    """Reads progress without taking SQLite's write lock (the app's sessions BEGIN IMMEDIATE)."""

    def __init__(self, app, session_factory):
        url = app.extensions["settings"].database_url
        self.session_factory = session_factory
        self.sqlite = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None) if url.startswith(
            "sqlite:///") else None

    def scalar(self, sql: str):
        if self.sqlite is not None:
            return self.sqlite.execute(sql).fetchone()[0]
        with self.session_factory() as session:
            return session.execute(text(sql)).scalar()

    def close(self):
        if self.sqlite is not None:
            self.sqlite.close()


@pytest.mark.slow
def test_sigkill_mid_campaign_then_restart_pushes_everyone_once(app, session, session_factory, desk, tmp_path):
    now = datetime.now(UTC) - timedelta(minutes=1)
    zones = session.scalars(select(Zone).order_by(Zone.id)).all()
    staff_rows = [{"name": f"专员{i}", "role": Role.SERVICE_STAFF, "zone_id": zones[i % len(zones)].id,
                   "phone": "", "title": "", "active": True, "created_at": now, "updated_at": now}
                  for i in range(STAFF)]
    session.execute(insert(Person), staff_rows)
    staff_ids = session.scalars(select(Person.id).where(Person.name.like("专员%"))).all()
    zone_of = dict(session.execute(select(Person.id, Person.zone_id).where(Person.id.in_(staff_ids))).all())
    session.execute(insert(Enterprise), [
        {"uscc": make_uscc(70_000_000 + n), "name": f"杀进程测试企业{n}", "status": "存续", "entity_type": "enterprise",
         "service_staff_id": staff_ids[n % STAFF], "zone_id": zone_of[staff_ids[n % STAFF]], "size_band": "小",
         "is_key_industry": False, "chain_position": "", "qualifications": [], "status_flags": [],
         "legal_representative": "", "address": "", "contact_name": "", "contact_phone": "", "market_type": "",
         "capital_currency": "", "industry_code": "C3311", "industry_name": "", "missing_from_full_export": False}
        for n in range(STAFF * PER_STAFF)])
    session.merge(SystemSetting(key="policy_quiet_hours", value=""))  # the test runs at any hour
    session.merge(SystemSetting(key="policy_push_weekly_cap", value=10))
    item = published_item(session, desk, now, {"industries": ["C33"]}, title="重启测试政策")
    campaign = create_campaign(PolicyContext(session, desk.helper, now), [item.id])
    approve_campaign(PolicyContext(session, desk.leader, now), campaign.id)
    session.commit()
    total = STAFF * PER_STAFF

    probe = Probe(app, session_factory)
    log_path = tmp_path / "jobs.log"
    digested = f"SELECT count(*) FROM policy_push WHERE digest_key IS NOT NULL AND campaign_id = {campaign.id}"
    first, log = start_jobs_process(app, tmp_path / "instance", log_path)
    try:
        wait_for(lambda: probe.scalar(digested) > 0, 90, "the first digests", log_path)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    at_kill = probe.scalar(digested)
    assert 0 < at_kill < total, f"killed too late to test anything: {at_kill} of {total}"

    second, log = start_jobs_process(app, tmp_path / "instance", log_path)
    try:
        wait_for(lambda: probe.scalar(f"SELECT status FROM push_campaign WHERE id = {campaign.id}") == "done",
                 150, "the campaign to finish", log_path)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    finally:
        if second.poll() is None:
            second.kill()
        log.close()
        probe.close()

    with session_scope(session_factory) as s:
        c = s.get(PushCampaign, campaign.id)
        assert c.status == CampaignStatus.DONE and (c.sent, c.waiting, c.failed) == (total, 0, 0)
        per_enterprise = Counter(s.scalars(select(PolicyPush.enterprise_id)))
        assert len(per_enterprise) == total and set(per_enterprise.values()) == {1}
        assert s.scalar(select(func.count()).select_from(PolicyPush).where(PolicyPush.status != PushStatus.SENT)) == 0
        digests = Counter(s.scalars(select(OutboundMessage.target_ref).where(OutboundMessage.kind == DIGEST_KIND)))
        assert digests == Counter({str(i): 1 for i in staff_ids})
        shown = s.execute(select(SandboxMessage.conversation, SandboxMessage.text).where(
            SandboxMessage.conversation.in_([f"person:{i}" for i in staff_ids]))).all()
        assert Counter(conv for conv, _ in shown) == Counter({f"person:{i}": 1 for i in staff_ids})
        counts = [int(re.search(r"你负责的 (\d+) 家企业", body).group(1)) for _, body in shown]
        assert counts == [PER_STAFF] * STAFF and sum(counts) == total
