"""WeCom callback benchmark: the desk's ``/wecom/callback`` against a bare Flask endpoint that only
decrypts, both behind a real werkzeug server on 127.0.0.1 and driven by 20 concurrent senders.

Each callback is a real text command (「我的工单」) from a bound member: check, decrypt, parse,
store it in the inbox (de-duplicated on MsgId), commit, answer 200 — what WeCom waits for. The
command itself runs afterwards in the jobs process (``process_inbound``): that work is timed
separately at the end, draining every stored message with the real processor (sandbox off, as in
production). The servers run in child processes so the load generator does not share their GIL. Throughput is measured with 20 senders posting back to back; latency both under that
saturation (where Little's law ties it to throughput: 20 / rate) and with the 20 senders
together offering half the measured capacity. The numbers are printed as measured, beside the
targets (≥ 40 % of the bare endpoint's throughput, p99 ≤ 50 ms on SQLite); nothing fails when
they are missed.

    python bench/run.py            # runs every bench_*.py after the core benchmark
"""

from __future__ import annotations

import logging
import multiprocessing
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from flask import Flask, Response, request
from werkzeug.serving import make_server

from database import session_scope
from models import InboundMessage, InboxStatus, Person

SENDERS = 20
MESSAGES = 600
WARMUP = 40
PACED_MESSAGES = 400
TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0


def _emulator():
    from tests.emulators.wecom import WeComEmulator

    return WeComEmulator()  # used for its keys and its encryption only; the server is not started


def _desk_app(database_url: str, emulator):
    from application import create_app
    from config import load_settings

    instance = Path(tempfile.mkdtemp(prefix="yxby-bench-wecom-"))
    settings = load_settings({
        "APP_ENV": "development", "SECRET_KEY": "bench-secret-" + "x" * 32, "INSTANCE_DIR": str(instance),
        "DATABASE_URL": database_url, "SANDBOX_ENABLED": "false", "LOG_LEVEL": "WARNING",
        "WECOM_CORP_ID": emulator.corp_id, "WECOM_AGENT_ID": str(emulator.agent_id),
        "WECOM_SECRET": emulator.secret, "WECOM_TOKEN": emulator.token, "WECOM_AES_KEY": emulator.aes_key,
        "WECOM_API_BASE": "http://127.0.0.1:9/cgi-bin/",  # never called: delivery does not run here
    }, read_dotenv=False)
    return create_app(settings=settings)


def _bare_app(emulator) -> Flask:
    from wechatpy.enterprise.crypto import WeChatCrypto

    crypto = WeChatCrypto(emulator.token, emulator.aes_key, emulator.corp_id)
    bare = Flask("bare_decrypt")

    @bare.post("/wecom/callback")
    def callback():
        crypto.decrypt_message(request.get_data(), request.args["msg_signature"], request.args["timestamp"],
                               request.args["nonce"])
        return Response(b"", 200)

    return bare


def _serve(kind: str, database_url: str, ready) -> None:
    """Child process: build the app after the fork (its own engine, its own GIL) and serve it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    emulator = _emulator()
    app = _desk_app(database_url, emulator) if kind == "desk" else _bare_app(emulator)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    ready.put(server.server_port)
    server.serve_forever()


class _Server:
    """The app in a child process, so the load generator does not share the server's GIL."""

    def __init__(self, kind: str, database_url: str):
        context = multiprocessing.get_context("fork")
        self.ready = context.Queue()
        self.process = context.Process(target=_serve, args=(kind, database_url, self.ready), daemon=True)

    def __enter__(self) -> str:
        self.process.start()
        port = self.ready.get(timeout=60)
        return f"http://127.0.0.1:{port}/wecom/callback"

    def __exit__(self, *_exc):
        self.process.terminate()
        self.process.join(10)


def _drive(url: str, requests_: list[tuple[dict, bytes]]) -> tuple[float, list[float], int]:
    """(seconds, latencies in ms, failures) for posting every request with SENDERS threads."""
    local = threading.local()

    def post(item):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        query, body = item
        started = time.perf_counter()
        response = session.post(url, params=query, data=body, headers={"Content-Type": "text/xml"}, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, response.status_code == 200 and response.content == b""

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        results = list(pool.map(post, requests_))
    seconds = time.perf_counter() - t0
    return seconds, [r[0] for r in results], sum(1 for r in results if not r[1])


def _drive_paced(url: str, requests_: list[tuple[dict, bytes]], total_rate: float) -> list[float]:
    """Latencies (ms) with SENDERS senders that together offer ``total_rate`` messages per second.

    Each latency counts from the moment the message was due to be sent, so a sender held up by
    a slow answer does not hide the wait of the messages queued behind it.
    """
    interval = SENDERS / total_rate
    shares = [requests_[i::SENDERS] for i in range(SENDERS)]
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def sender(index: int):
        session = requests.Session()
        offset = index * interval / SENDERS
        for n, (query, body) in enumerate(shares[index]):
            due = start + offset + n * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            session.post(url, params=query, data=body, headers={"Content-Type": "text/xml"}, timeout=30)
            elapsed = (time.perf_counter() - due) * 1000
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _drain_inbox(factory, database_url: str, emulator) -> tuple[int, float]:
    """(messages, seconds) for the jobs process to act on everything the callbacks stored."""
    from sqlalchemy import func, select

    from integrations import wecom_inbound
    from jobs.definitions import utc_now
    from services.messaging import inbox
    from services.messaging.inbound import processors_for

    processors = processors_for(_desk_app(database_url, emulator).extensions["settings"])
    t0 = time.perf_counter()
    while inbox.process_due(factory, processors, now_fn=utc_now).claimed:
        pass
    seconds = time.perf_counter() - t0
    with factory() as session:
        done = session.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.platform == wecom_inbound.PLATFORM, InboundMessage.status == InboxStatus.DONE))
    return done, seconds


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def run(factory, ids) -> None:
    from tests.emulators.wecom import text_message

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    staff_id = ids[0]
    emulator = _emulator()
    engine = factory.kw["bind"]
    database_url = engine.url.render_as_string(hide_password=False)
    with session_scope(factory) as session:
        session.get(Person, staff_id).wecom_userid = "bench-staff"

    total = WARMUP + MESSAGES

    def messages(offset: int, count: int):
        return [emulator.encrypt_callback(text_message("bench-staff", "我的工单", offset + i)) for i in range(count)]

    engine.dispose()  # no pooled connection crosses the fork
    try:
        bare_requests, desk_requests = messages(10_000_000, total), messages(20_000_000, total)
        paced_requests = messages(30_000_000, PACED_MESSAGES)
        with _Server("bare", database_url) as url:
            _drive(url, bare_requests[:WARMUP])
            bare_seconds, bare_latencies, bare_failed = _drive(url, bare_requests[WARMUP:])
        with _Server("desk", database_url) as url:
            _drive(url, desk_requests[:WARMUP])
            desk_seconds, latencies, desk_failed = _drive(url, desk_requests[WARMUP:])
            paced_rate = MESSAGES / desk_seconds / 2
            paced = _drive_paced(url, paced_requests, paced_rate)
        processed, drain_seconds = _drain_inbox(factory, database_url, emulator)
    finally:
        with session_scope(factory) as session:
            session.get(Person, staff_id).wecom_userid = None

    bare_rate = MESSAGES / bare_seconds
    desk_rate = MESSAGES / desk_seconds
    ratio = desk_rate / bare_rate
    p99 = _p99(latencies)
    print(
        f"WeCom 回调 ×{MESSAGES}（{SENDERS} 个并发发送方，{engine.dialect.name}）："
        f"{desk_rate:.0f}/s；仅解密的空 Flask 端点 {bare_rate:.0f}/s；"
        f"吞吐比 {ratio:.0%}（目标 ≥ {TARGET_RATIO:.0%}）{'✓' if ratio >= TARGET_RATIO else '✗'}"
    )
    print(
        f"WeCom 回调延迟（{SENDERS} 个发送方满负荷连续发送）：p50 {statistics.median(latencies):.1f} ms，"
        f"p99 {p99:.1f} ms；同样负载下空端点 p99 {_p99(bare_latencies):.1f} ms"
    )
    paced_p99 = _p99(paced)
    print(
        f"WeCom 回调延迟（{SENDERS} 个发送方合计 {paced_rate:.0f} 条/秒，即实测容量的一半）："
        f"p50 {statistics.median(paced):.1f} ms，p99 {paced_p99:.1f} ms"
        f"（目标 ≤ {TARGET_P99_MS:.0f} ms）{'✓' if paced_p99 <= TARGET_P99_MS else '✗'}；"
        f"失败 {desk_failed + bare_failed} 次"
    )
    print(
        f"WeCom 收件箱（jobs 进程 process_inbound，执行指令并写回复）：{processed} 条 {drain_seconds:.2f} s，"
        f"{processed / drain_seconds:.0f}/s"
    )
