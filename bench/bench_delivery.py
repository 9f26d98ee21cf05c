"""Outbox delivery against the platforms' quotas, and the inbox's processing rate.

    python bench/bench_delivery.py [--database-url URL]      # alone, on a fresh database
    python bench/run.py                                         # with every other benchmark

**Delivery.** Real orders (``create_order``) whistle to their department: a WeCom group robot and
a DingTalk group robot each get the whistle, the department's chief helper a WeCom card and a
DingTalk work notification. The WeCom and DingTalk emulators (``tests/emulators``) enforce the
documented quotas — a group robot 20 messages a minute (then 130101; DingTalk also bans the robot
for 10 minutes), a member 30 app messages a minute (beyond: silently dropped) — and the jobs
process's ``deliver_outbox`` runs on its 2-second tick, with the real wechatpy / dingtalk-sdk
clients, for a fixed window. Time is scaled so the window fits in about a minute: the desk and the
emulators read one clock that runs ``60 / BENCH_DELIVERY_MINUTE_SECONDS`` times faster than the
wall clock, so a platform "minute" (and the desk's rate windows, pauses and tick) lasts
``BENCH_DELIVERY_MINUTE_SECONDS`` real seconds. The outbox holds more than a perfect sender could
send in the window to every quota-bound target, so each one is busy throughout.

Reported: sustained throughput as a share of the quota (messages the emulators accepted per
quota-bound target, over quota × window; target ≥ 90 %), and drops (target 0): an outbox row that
went dead, a row marked sent that the platform never received, a message the platform accepted
but dropped (over a member's quota). A message received twice is counted apart as a duplicate.

**Inbox.** Encrypted WeCom callbacks (「我的工单」 from a bound member) and signed DingTalk robot
callbacks (「查询 1234」) are posted to the desk (Flask test client), landing in the inbound inbox;
then the jobs process's ``process_inbound`` drains it. Its rate is compared with a bare loop on the
same database: per message one INSERT and one UPDATE of an inbox row and a commit.

The last line: ``delivery: messages=N share_of_quota=…% drops=0 inbox_per_s=… inbox_baseline_ratio=…``
(``inbox_baseline_ratio``: the inbox's rate over the bare loop's). Sizes from the environment:
``BENCH_DELIVERY_MINUTE_SECONDS`` (6), ``BENCH_DELIVERY_MINUTES`` (window in platform minutes, 8),
``BENCH_DELIVERY_DEPARTMENTS`` (3), ``BENCH_DELIVERY_INBOX`` (callbacks per platform, 150).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, or_, select, update  # noqa: E402

from database import session_scope  # noqa: E402
from models import (  # noqa: E402
    ChatGroup,
    Department,
    InboundMessage,
    InboxStatus,
    OutboundMessage,
    OutboxStatus,
    Person,
    Role,
)

ROBOT_QUOTA = 20  # messages per minute per group robot (WeCom and DingTalk)
MEMBER_QUOTA = 30  # WeCom app messages per minute per member
TICK_SECONDS = 2  # the jobs process runs deliver_outbox every 2 s (jobs/definitions.py)
TARGET_SHARE = 0.90
REAL_ORDERS = 5  # per department through create_order; the rest of the backlog copies their messages
DING_SECRET = "SEC" + "b3e7" * 16


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


@dataclass
class Sizes:
    minute_seconds: float = field(default_factory=lambda: _env_number("BENCH_DELIVERY_MINUTE_SECONDS", 12))
    minutes: float = field(default_factory=lambda: _env_number("BENCH_DELIVERY_MINUTES", 5))
    departments: int = field(default_factory=lambda: int(_env_number("BENCH_DELIVERY_DEPARTMENTS", 3)))
    inbox: int = field(default_factory=lambda: int(_env_number("BENCH_DELIVERY_INBOX", 150)))

    @property
    def speed(self) -> float:
        return 60.0 / self.minute_seconds

    @property
    def orders_per_department(self) -> int:
        # More than a perfect sender could send to the busiest quota (a member's 30/min) in the window.
        return int(MEMBER_QUOTA * self.minutes * 1.1) + 5


class FastClock:
    """Wall-clock time running ``speed`` times faster from now on; the desk and the emulators share it."""

    def __init__(self, speed: float):
        self.speed = speed
        self.restart()

    def restart(self) -> None:
        """Platform time starts again from the wall clock's now."""
        self.origin = time.time()
        self.started = time.monotonic()

    def __call__(self) -> float:
        return self.origin + (time.monotonic() - self.started) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)


# --------------------------------------------------------------------------------------------
# The stage: emulators, departments with groups and chief helpers, the desk app
# --------------------------------------------------------------------------------------------
@dataclass
class Stage:
    app: object
    wecom: object
    dingtalk: object
    clock: FastClock
    departments: list[int]
    helpers: dict[int, tuple[str, str]]  # person id → (wecom userid, dingtalk userid)
    wecom_robots: dict[str, str]  # robot key → group id
    ding_robots: dict[str, str]  # robot token → group id


def _stage(session_factory, sizes: Sizes) -> Stage:
    from tests.emulators.dingtalk import DingTalkEmulator
    from tests.emulators.wecom import DOCUMENTED_QUOTAS, WeComEmulator

    clock = FastClock(sizes.speed)
    wecom = WeComEmulator(quotas=DOCUMENTED_QUOTAS, clock=clock).start()
    dingtalk = DingTalkEmulator(app_key=f"benchdelivery{secrets.token_hex(4)}",  # tokens cached by an earlier run stay unknown
                                app_secret="bench-delivery-secret-0123456789abcdef",
                                agent_id="3000009", clock=clock).start()
    helpers: dict[int, tuple[str, str]] = {}
    wecom_robots: dict[str, str] = {}
    ding_robots: dict[str, str] = {}
    with session_scope(session_factory) as session:
        # Departments whose chief helpers are the benchmark's own (another benchmark may have added one),
        # so every whistle and card goes to targets the accounting below knows.
        others = select(Person.department_id).where(Person.role == Role.CHIEF_HELPER, Person.department_id.is_not(None),
                                                    or_(Person.wecom_userid.is_(None),
                                                        ~Person.wecom_userid.startswith("bd-wx-")))
        departments = list(session.scalars(select(Department).where(Department.id.not_in(others))
                                           .order_by(Department.id).limit(sizes.departments)))
        for dept in departments:
            wecom_userid, ding_userid = f"bd-wx-{dept.code}", f"bd-dd-{dept.code}"
            helper = session.scalar(select(Person).where(Person.wecom_userid == wecom_userid))
            if helper is None:
                helper = Person(name=f"帮办{dept.id}", role=Role.CHIEF_HELPER, department=dept,
                                wecom_userid=wecom_userid, dingtalk_userid=ding_userid)
                session.add(helper)
            for platform, key in (("wecom", f"bd-robot-{dept.code}"), ("dingtalk", f"bdtoken{dept.code}")):
                group = session.scalar(select(ChatGroup).where(ChatGroup.platform == platform,
                                                               ChatGroup.department_id == dept.id))
                if group is None:
                    group = ChatGroup(platform=platform, department_id=dept.id, name=f"{dept.name}服务群")
                    session.add(group)
                group.robot_key, group.robot_secret, group.active = key, DING_SECRET if platform == "dingtalk" else "", True
                session.flush()
                (wecom_robots if platform == "wecom" else ding_robots)[key] = str(group.id)
            session.flush()
            helpers[helper.id] = (wecom_userid, ding_userid)
            wecom.add_user(wecom_userid, helper.name)
            dingtalk.add_user(ding_userid, helper.name)
        dept_ids = [d.id for d in departments]
    for key in wecom_robots:
        wecom.add_robot(key)
    for token in ding_robots:
        dingtalk.add_robot(token, DING_SECRET)
    return Stage(_desk_app(session_factory, wecom, dingtalk), wecom, dingtalk, clock, dept_ids, helpers,
                 wecom_robots, ding_robots)


def _desk_app(session_factory, wecom, dingtalk):
    from application import create_app
    from config import load_settings
    from tests.emulators.dingtalk_fixtures import dingtalk_settings_for
    from tests.emulators.fixtures import wecom_settings_for

    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    env = {"APP_ENV": "development", "SECRET_KEY": "bench-delivery-" + "k" * 40, "DATABASE_URL": url,
           "INSTANCE_DIR": tempfile.mkdtemp(prefix="yxby-bench-delivery-"), "SANDBOX_ENABLED": "false",
           "LOG_LEVEL": "WARNING", "BASE_URL": "http://127.0.0.1:5000"}
    settings = load_settings(env, read_dotenv=False).with_overrides(
        {"wecom": wecom_settings_for(wecom), "dingtalk": dingtalk_settings_for(dingtalk)})
    return create_app(settings=settings)


def _fill(session_factory, ids, stage: Stage, per_department: int) -> tuple[list[int], int, float]:
    """(ids of the real orders, orders in all, seconds). ``REAL_ORDERS`` real orders per department, each
    whistled on both platforms (``create_order``); then their outbox rows copied under new order
    numbers up to ``per_department`` — ``create_order`` at the size needed would take longer than
    the measurement, and a copy is the same message to the same target."""
    from services.messaging.notify import Channels
    from services.orders.operations import NewOrder, OpContext, create_order

    staff_id, enterprise_id, _zone = ids
    channels = Channels(sandbox=False, wecom=True, dingtalk=True)
    t0 = time.perf_counter()
    real = min(REAL_ORDERS, per_department)
    order_ids = []
    for n in range(real):
        for dept_id in stage.departments:
            with session_scope(session_factory) as session:
                ctx = OpContext(session, session.get(Person, staff_id), datetime.now(UTC), "bench", channels)
                order_ids.append(create_order(ctx, NewOrder(
                    enterprise_id=enterprise_id, level=2, department_id=dept_id,
                    content=f"基准测试第 {n + 1} 件：企业扩产急需招聘数控技术工人 {dept_id}-{n}，请协助对接")).id)
    with session_scope(session_factory) as session:
        originals = list(session.scalars(select(OutboundMessage).where(
            OutboundMessage.channel.in_(("wecom", "dingtalk")), OutboundMessage.work_order_id.in_(order_ids))
            .order_by(OutboundMessage.id)))
        now = datetime.now(UTC)
        numbers = list(dict.fromkeys(m.payload["order_number"] for m in originals))  # departments interleaved
        rows_of = {number: [m for m in originals if m.payload["order_number"] == number] for number in numbers}
        batch = []
        for serial in range((per_department - real) * len(stage.departments)):
            number = numbers[serial % len(numbers)]
            fresh = f"BD-{number.split('-')[1]}-{serial:05d}"
            for m in rows_of[number]:
                batch.append({
                    "dedupe_key": f"bench-copy:{fresh}:{m.id}", "channel": m.channel, "kind": m.kind,
                    "target_type": m.target_type, "target_ref": m.target_ref, "work_order_id": m.work_order_id,
                    "payload": json.loads(json.dumps(m.payload, ensure_ascii=False).replace(number, fresh)),
                    "status": OutboxStatus.PENDING, "next_attempt_at": now, "created_at": now,
                })
        if batch:
            session.execute(insert(OutboundMessage), batch)
    return order_ids, per_department * len(stage.departments), time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# Delivery for a fixed window, on the jobs process's tick
# --------------------------------------------------------------------------------------------
RUN_COUNTS = re.compile(r"\d+")  # deliver_outbox's summary: claimed, sent, retrying, dead, throttled, paused, skipped


def _deliver(stage: Stage, seconds: float) -> tuple[float, int, list[int]]:
    """Run ``deliver_outbox`` every tick for ``seconds`` of wall-clock time; (platform seconds
    elapsed, runs, summed counts of its summaries)."""
    from jobs.definitions import deliver_outbox

    tick = TICK_SECONDS / stage.clock.speed
    start_virtual = stage.clock()
    end = time.monotonic() + seconds
    runs, totals = 0, [0] * 7
    with stage.app.app_context():
        while time.monotonic() < end:
            began = time.monotonic()
            summary = deliver_outbox(stage.app, now_fn=stage.clock.now)
            totals = [a + int(b) for a, b in zip(totals, RUN_COUNTS.findall(summary), strict=True)]
            runs += 1
            pause = tick - (time.monotonic() - began)  # a run longer than the tick delays the next
            if pause > 0 and time.monotonic() + pause < end:
                time.sleep(pause)
    return stage.clock() - start_virtual, runs, totals


NUMBER = re.compile(r"\b[A-Z]{1,4}-\d{8}-\d{3,}\b")  # an order number, e.g. BC-20261208-0001


@dataclass
class Account:
    rows: Counter = field(default_factory=Counter)  # outbox status → rows
    received: int = 0  # messages the platforms accepted and show
    quota_bound: int = 0  # of those, to a robot or (WeCom) a member
    dead: int = 0
    lost: int = 0  # marked sent, never received
    platform_dropped: int = 0  # accepted over a quota, never shown
    duplicates: int = 0
    unrecorded: int = 0  # received while the row is not marked sent
    shares: dict[str, tuple[int, float]] = field(default_factory=dict)  # class → (messages, quota in the window)

    @property
    def drops(self) -> int:
        return self.dead + self.lost + self.platform_dropped


def _number(value) -> str:
    """The order number a received message is about ("" for none)."""
    found = NUMBER.search(json.dumps(value, ensure_ascii=False))
    return found.group(0) if found else ""


def _account(session_factory, stage: Stage, order_ids: list[int], window_minutes: float) -> Account:
    """Match every outbox row of this run (its orders' and their copies') against what the emulators received."""
    account = Account()
    wecom, dingtalk = stage.wecom, stage.dingtalk
    by_wx_user = {wx: pid for pid, (wx, _dd) in stage.helpers.items()}
    by_dd_user = {dd: pid for pid, (_wx, dd) in stage.helpers.items()}
    got: Counter = Counter()  # (channel, target_type, target_ref, order number) → messages received
    with wecom._lock:
        for key, bodies in wecom.robots.items():
            for body in bodies:
                got[("wecom", "group", stage.wecom_robots[key], _number(body))] += 1
        for shown in wecom.messages:
            for userid in shown["touser"]:
                got[("wecom", "people", str(by_wx_user[userid]), _number(shown))] += 1
        account.platform_dropped += len(wecom.dropped)
    with dingtalk._lock:
        for token, robot in dingtalk.robots.items():
            for body in robot.sent:
                got[("dingtalk", "group", stage.ding_robots[token], _number(body))] += 1
        for notice in dingtalk.work_notices:
            if not notice["delivered"]:
                account.platform_dropped += 1
                continue
            for userid in notice["userids"]:
                got[("dingtalk", "people", str(by_dd_user[userid]), _number(notice["msg"]))] += 1
    with session_factory() as session:
        rows = session.execute(select(OutboundMessage.channel, OutboundMessage.target_type, OutboundMessage.target_ref,
                                      OutboundMessage.kind, OutboundMessage.status, OutboundMessage.payload)
                               .where(OutboundMessage.channel.in_(("wecom", "dingtalk")),
                                      OutboundMessage.work_order_id.in_(order_ids))).all()
    # Only this run's orders: on a reused database, rows left pending by an earlier run go out too.
    numbers = {(payload or {}).get("order_number") for *_rest, payload in rows}
    got = Counter({key: count for key, count in got.items() if key[3] in numbers})
    account.received = sum(got.values())
    per_class: Counter = Counter()
    for (channel, target_type, _ref, _order), count in got.items():
        if target_type == "group" or channel == "wecom":
            per_class[f"{channel}:{'robot' if target_type == 'group' else 'member'}"] += count
    account.quota_bound = sum(per_class.values())
    targets = len(stage.departments)  # one robot per platform and one chief helper per department
    for name, quota in (("wecom:robot", ROBOT_QUOTA), ("dingtalk:robot", ROBOT_QUOTA), ("wecom:member", MEMBER_QUOTA)):
        account.shares[name] = (per_class[name], quota * targets * window_minutes)

    for channel, target_type, ref, kind, status, payload in rows:
        account.rows[status] += 1
        key = (channel, "group" if target_type == "group" else "people", ref, (payload or {}).get("order_number"))
        received = got.pop(key, 0)
        # A DingTalk whistle is two robot messages: the @-text and the order's link card.
        expected = 2 if (channel, target_type, kind) == ("dingtalk", "group", "whistle") else 1
        if status == OutboxStatus.DEAD:
            account.dead += 1
        elif status == OutboxStatus.SENT and received == 0:
            account.lost += 1
        elif status != OutboxStatus.SENT and received:
            account.unrecorded += 1
        account.duplicates += max(0, received - expected)
    account.unrecorded += len(got)  # received for no row at all
    return account


# --------------------------------------------------------------------------------------------
# Inbox: callbacks in, the jobs process drains them
# --------------------------------------------------------------------------------------------
def _post_callbacks(stage: Stage, session_factory, count: int) -> int:
    from tests.emulators.dingtalk import callback_headers, robot_message
    from tests.emulators.wecom import text_message

    with session_factory() as session:
        helper_id = next(iter(stage.helpers))
        wx_user, dd_user = stage.helpers[helper_id]
        number = session.scalar(select(OutboundMessage.payload).where(OutboundMessage.kind == "whistle")
                                .limit(1))["order_number"]
    client = stage.app.test_client()
    stamp = time.time_ns()
    for i in range(count):
        query, body = stage.wecom.encrypt_callback(text_message(wx_user, "我的工单", stamp + i))
        answer = client.post("/wecom/callback", query_string=query, data=body, content_type="text/xml")
        if answer.status_code != 200:
            raise RuntimeError(f"WeCom callback refused: {answer.status_code}")
        payload = robot_message(stage.dingtalk, dd_user, f"查询 {number[-4:]}", msg_id=f"bd-{stamp}-{i}")
        answer = client.post("/dingtalk/robot", data=json.dumps(payload, ensure_ascii=False).encode(),
                             headers=callback_headers(stage.dingtalk.app_secret))
        if answer.status_code != 200:
            raise RuntimeError(f"DingTalk callback refused: {answer.status_code} {answer.get_data(as_text=True)[:200]}")
    with session_factory() as session:
        return len(session.scalars(select(InboundMessage.id).where(InboundMessage.status == InboxStatus.PENDING)).all())


def _drain(stage: Stage) -> tuple[int, float, int]:
    """(messages done, seconds, failed) for the jobs process's ``process_inbound`` runs to empty the inbox."""
    from jobs.definitions import process_inbound

    factory = stage.app.extensions["db_sessionmaker"]
    with factory() as session:
        before = len(session.scalars(select(InboundMessage.id).where(InboundMessage.status == InboxStatus.DONE)).all())
    t0 = time.perf_counter()
    with stage.app.app_context():
        while True:
            process_inbound(stage.app)
            with factory() as session:
                if session.scalar(select(InboundMessage.id).where(InboundMessage.status == InboxStatus.PENDING)
                                  .limit(1)) is None:
                    break
    seconds = time.perf_counter() - t0
    with factory() as session:
        done = len(session.scalars(select(InboundMessage.id).where(InboundMessage.status == InboxStatus.DONE)).all())
        failed = len(session.scalars(select(InboundMessage.id).where(InboundMessage.status == InboxStatus.FAILED)).all())
    return done - before, seconds, failed


def _baseline(session_factory, count: int) -> float:
    """Seconds for ``count`` bare messages: INSERT an inbox row, UPDATE it to done, commit — each."""
    table = InboundMessage.__table__
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for i in range(count):
        with session_scope(session_factory) as session:
            row_id = session.execute(insert(table).values(
                platform="bench", dedupe_key=f"baseline-{time.time_ns()}-{i}", payload={"i": i},
                status=InboxStatus.PENDING, attempts=0, next_attempt_at=now, error="", outcome="", created_at=now,
                request_id="").returning(table.c.id)).scalar_one()
            session.execute(update(table).where(table.c.id == row_id).values(
                status=InboxStatus.DONE, processed_at=now, outcome="ok"))
    seconds = time.perf_counter() - t0
    with session_scope(session_factory) as session:
        session.execute(delete(table).where(table.c.platform == "bench"))
    return seconds


def _own_ceilings() -> dict[str, float]:
    """The share of each quota the adapters' own rules allow a steady sender at most: ``limit`` per
    sliding window of ``window`` seconds counted in ``slices`` leaves room for ``limit`` sends per
    ``window + window / slices`` (services.ratelimit)."""
    from integrations import dingtalk, wecom

    def steady(limit: int, window: int, slices: int) -> float:
        return limit * 60 / (window + window / slices)

    return {
        "wecom:robot": steady(*wecom.ROBOT_RULE) / ROBOT_QUOTA,
        "dingtalk:robot": steady(dingtalk.ROBOT_RATE_LIMIT, dingtalk.ROBOT_RATE_WINDOW,
                                 dingtalk.ROBOT_RATE_SLICES) / ROBOT_QUOTA,
        "wecom:member": steady(*wecom.MEMBER_RULE) / MEMBER_QUOTA,
    }


# --------------------------------------------------------------------------------------------
def run(session_factory, ids, sizes: Sizes | None = None) -> dict:
    sizes = sizes or Sizes()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stage = _stage(session_factory, sizes)
    try:
        engine_name = session_factory.kw["bind"].dialect.name
        order_ids, orders, fill_seconds = _fill(session_factory, ids, stage, sizes.orders_per_department)
        with session_factory() as session:
            queued = len(session.scalars(select(OutboundMessage.id).where(
                OutboundMessage.status == OutboxStatus.PENDING, OutboundMessage.work_order_id.in_(order_ids))).all())
        stage.clock.restart()  # platform time starts with delivery
        window_seconds = sizes.minutes * sizes.minute_seconds
        elapsed, runs, totals = _deliver(stage, window_seconds)
        window_minutes = elapsed / 60
        account = _account(session_factory, stage, order_ids, window_minutes)

        posted = _post_callbacks(stage, session_factory, sizes.inbox)
        processed, drain_seconds, failed = _drain(stage)
        baseline_seconds = _baseline(stage.app.extensions["db_sessionmaker"], max(processed, 1))
    finally:
        stage.wecom.stop()
        stage.dingtalk.stop()
        stage.app.extensions["db_engine"].dispose()

    messages_done, quota = map(sum, zip(*account.shares.values(), strict=True))
    share = messages_done / quota if quota else 0.0
    inbox_rate = processed / drain_seconds if drain_seconds else 0.0
    baseline_rate = processed / baseline_seconds if baseline_seconds else 0.0
    ratio = inbox_rate / baseline_rate if baseline_rate else 0.0
    ceilings = _own_ceilings()
    detail = "，".join(f"{name} {sent}/{limit:.0f}（{sent / limit:.0%}，本系统限流规则上限 {ceilings[name]:.0%}）"
                      for name, (sent, limit) in account.shares.items())
    print(f"发件箱投递（{engine_name}）：{orders} 件工单吹哨（{len(order_ids)} 件经 create_order，其余复制其消息），"
          f"{queued} 条待发（{fill_seconds:.1f} s 写入）；"
          f"平台 1 分钟 = {sizes.minute_seconds:g} s，窗口 {window_minutes:.1f} 平台分钟（{runs} 次 deliver_outbox："
          f"认领 {totals[0]}，已送达 {totals[1]}，待重试 {totals[2]}，失败 {totals[3]}，限流顺延 {totals[4]}，"
          f"通道暂停 {totals[5]}）")
    print(f"发件箱投递：平台收到 {account.received} 条，受配额约束 {account.quota_bound} 条；配额占用 {share:.0%}"
          f"（目标 ≥ {TARGET_SHARE:.0%}）{'✓' if share >= TARGET_SHARE else '✗'}；{detail}")
    print(f"发件箱投递：丢失 {account.drops}（死信 {account.dead}，标记已送达但平台未收到 {account.lost}，"
          f"平台静默丢弃 {account.platform_dropped}），重复 {account.duplicates}，已收到但未记为已送达 {account.unrecorded}；"
          f"状态 {dict(account.rows)}")
    print(f"收件箱（jobs 进程 process_inbound，企业微信「我的工单」+ 钉钉「查询」）：{processed} 条 "
          f"{drain_seconds:.2f} s，{inbox_rate:.0f}/s（失败 {failed}，回调写入 {posted}）；"
          f"baseline 每条 INSERT+UPDATE+commit：{baseline_rate:.0f}/s；比值 {ratio:.2f}")
    print(f"delivery: messages={account.received} share_of_quota={share:.1%} drops={account.drops} "
          f"inbox_per_s={inbox_rate:.0f} inbox_baseline_ratio={ratio:.2f}")
    return {"messages": account.received, "share": share, "drops": account.drops, "duplicates": account.duplicates,
            "unrecorded": account.unrecorded, "inbox_processed": processed, "inbox_failed": failed,
            "inbox_per_s": inbox_rate, "ratio": ratio}


if __name__ == "__main__":
    from bench.run import run_alone

    run_alone(run)
