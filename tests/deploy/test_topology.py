"""The production topology, with processes instead of containers: Debian's nginx in front of
gunicorn (2 workers, deploy/gunicorn.conf.py) on PostgreSQL and Redis, with a separate jobs
process. Through nginx: sign-in, a WeCom callback answered by the jobs process, the public
contact page's per-client limit, a file upload and its download, readiness and metrics.

nginx trusts a front proxy on 127.0.0.1 (``real_ip_header X-Forwarded-For``) and sets
``X-Forwarded-For $remote_addr`` for gunicorn, where ``TRUSTED_PROXIES=1`` — the README's chain.
So two clients behind that proxy are limited separately, and one client alone is limited.

Runs in every pass of the suite (its own PostgreSQL database ``<name>_topology``); skipped only
when the nginx binary is absent (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import PROJECT_ROOT, load_settings
from tests.emulators.wecom import WeComEmulator, text_message

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
pytestmark = [pytest.mark.topology, pytest.mark.slow,
              pytest.mark.skipif(NGINX is None, reason="nginx 未安装（Debian: apt-get install nginx-light；.ci/run 会安装）")]

REDIS_DB = 14  # this test's own Redis database, flushed at start
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PNG = b"\x89PNG\r\n\x1a\n" + b"topology-test-image" * 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """A database of its own on the suite's PostgreSQL server (or the local one in the SQLite pass)."""
    configured = os.environ.get("TOPOLOGY_DATABASE_URL")
    if configured:
        return configured
    base = os.environ.get("DATABASE_URL", "")
    url = make_url(base) if base.startswith("postgres") else make_url(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    return url.set(drivername="postgresql+psycopg", database=f"{url.database}_topology").render_as_string(
        hide_password=False)


def _fresh_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def _wait(predicate, timeout: float, what: str, logs: dict[str, Path]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (requests.ConnectionError, requests.Timeout):
            value = None
        if value:
            return value
        time.sleep(0.1)
    tails = "\n".join(f"--- {name} ---\n{path.read_text(errors='replace')[-2500:]}"
                      for name, path in logs.items() if path.exists())
    pytest.fail(f"timed out waiting for {what}\n{tails}")


NGINX_CONF = """
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {run}/nginx-access.log;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    client_max_body_size 64m;
    # A front proxy (load balancer) on 127.0.0.1 says who the client is.
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    upstream web {{ server 127.0.0.1:{web_port}; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://web;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host:$server_port;
            proxy_set_header X-Request-Id $request_id;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2).flushdb()
    except redis.RedisError as error:
        pytest.fail(f"Redis on 127.0.0.1:6379 is needed: {error}")
    root = tmp_path_factory.mktemp("topology")
    run = root / "run"
    for folder in ("run", "instance", "files", "metrics"):
        (root / folder).mkdir()
    database_url = _database_url()
    _fresh_database(database_url)
    nginx_port, web_port = _free_port(), _free_port()
    emulator = WeComEmulator().start()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECOM_", "DINGTALK_", "REDIS_", "DATABASE_", "PROMETHEUS_", "GUNICORN_"))}
    env.update(
        APP_ENV="production", SECRET_KEY="topology-secret-" + "t" * 40, DATABASE_URL=database_url,
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}", TRUSTED_PROXIES="1", SANDBOX_ENABLED="true",
        BASE_URL=f"http://127.0.0.1:{nginx_port}", INSTANCE_DIR=str(root / "instance"),
        STORAGE_DIR=str(root / "files"), PROMETHEUS_MULTIPROC_DIR=str(root / "metrics"), LOG_FORMAT="json",
        JOBS_HEARTBEAT_MAX_AGE_SECONDS="30", DB_POOL_SIZE="3", DB_MAX_OVERFLOW="2",
        WECOM_CORP_ID=emulator.corp_id, WECOM_AGENT_ID=str(emulator.agent_id), WECOM_SECRET=emulator.secret,
        WECOM_TOKEN=emulator.token, WECOM_AES_KEY=emulator.aes_key, WECOM_API_BASE=emulator.base_url,
        GUNICORN_BIND=f"127.0.0.1:{web_port}", GUNICORN_WORKERS="2", GUNICORN_THREADS="2",
    )
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    _migrate_and_seed(database_url, root, emulator)

    logs = {"gunicorn": run / "gunicorn.log", "jobs": run / "jobs.log", "nginx": run / "nginx-error.log"}
    processes = []
    try:
        for name, command in (
            ("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]),
            ("jobs", [*flask, "jobs", "run"]),
        ):
            log = open(logs[name], "ab")  # noqa: SIM115 - closed below
            processes.append((subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True), log))
        (run / "nginx.conf").write_text(NGINX_CONF.format(run=run, port=nginx_port, web_port=web_port))
        nginx = subprocess.Popen([NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=open(run / "nginx-stderr.log", "ab"))  # noqa: SIM115
        processes.append((nginx, None))
        base = f"http://127.0.0.1:{nginx_port}"
        _wait(lambda: requests.get(base + "/readyz", timeout=3).status_code == 200, 60,
              "nginx → gunicorn → /readyz 200 (jobs process beating)", logs)
        yield {"base": base, "emulator": emulator, "logs": logs, "database_url": database_url, "root": root}
    finally:
        for process, _log in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, log in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            if log is not None:
                log.close()
        emulator.stop()


def _migrate_and_seed(database_url: str, root: Path, emulator) -> None:
    """``db upgrade`` (in this process: a Python start-up less), the district's reference data, a
    service staff member with a console login and a WeCom id."""
    from application import create_app
    from cli import upgrade_database
    from database import session_scope
    from models import Role
    from services.demo.reference import seed_reference
    from tests.factories import Factory

    settings = load_settings({"DATABASE_URL": database_url, "SECRET_KEY": "s" * 40,
                              "INSTANCE_DIR": str(root / "instance")}, read_dotenv=False)
    app = create_app(settings=settings)
    try:
        upgrade_database(app)
        with session_scope(app.extensions["db_sessionmaker"]) as session:
            seed_reference(session)
            factory = Factory(session)
            staff = factory.person(Role.SERVICE_STAFF, name="拓扑测试员", login="topo", wecom_userid="topo01")
            factory.enterprise(staff=staff, name="天津北辰拓扑测试有限公司")
    finally:
        app.extensions["db_engine"].dispose()
    emulator.add_user("topo01", "拓扑测试员", "13800000000", [1])


def _token(response) -> str:
    match = _TOKEN.search(response.text)
    assert match, f"no CSRF token in {response.url}"
    return match.group(1)


def test_sign_in_through_nginx(topology):
    browser = requests.Session()
    page = browser.get(topology["base"] + "/login", timeout=10)
    response = browser.post(topology["base"] + "/login", data={
        "username": "topo", "password": "demo-pass-123", "csrf_token": _token(page)}, allow_redirects=False,
        timeout=10)
    assert response.status_code == 302, response.text[:500]
    assert response.headers["Location"].startswith(("/", topology["base"]))
    home = browser.get(topology["base"] + "/", timeout=10)
    assert home.status_code == 200 and "拓扑测试员" in home.text
    assert home.headers.get("X-Request-Id")  # nginx's $request_id, passed through


def test_a_wecom_callback_is_stored_by_a_web_worker_and_answered_by_the_jobs_process(topology):
    emulator = topology["emulator"]
    query, body = emulator.encrypt_callback(text_message("topo01", "帮助", 424242))
    response = requests.post(topology["base"] + "/wecom/callback", params=query, data=body,
                             headers={"Content-Type": "text/xml"}, timeout=10)
    assert response.status_code == 200 and response.content == b""
    _wait(lambda: [c for c in emulator.calls("message/send", ok=True) if c.json.get("touser") == "topo01"], 30,
          "the jobs process's answer at the WeCom emulator", topology["logs"])


def test_the_public_lookup_limit_is_per_client_behind_the_proxy(topology):
    url = topology["base"] + "/contact"

    def lookups(forwarded_for: str | None, count: int) -> list[int]:
        client = requests.Session()
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        token = _token(client.get(url, headers=headers, timeout=10))
        return [client.post(url, data={"q": "北辰", "csrf_token": token}, headers=headers, timeout=10).status_code
                for _ in range(count)]

    # Two clients behind the front proxy: each has its own 10 lookups a minute.
    first = lookups("203.0.113.10", 11)
    assert first[:10] == [200] * 10 and first[10] == 429
    second = lookups("203.0.113.11", 10)
    assert second == [200] * 10
    # One client on its own (no proxy) is limited too.
    alone = lookups(None, 11)
    assert alone[:10] == [200] * 10 and alone[10] == 429


def test_a_file_upload_through_nginx_is_stored_and_downloaded(topology):
    browser = requests.Session()
    page = browser.get(topology["base"] + "/login", timeout=10)
    browser.post(topology["base"] + "/login", data={"username": "topo", "password": "demo-pass-123",
                                                    "csrf_token": _token(page)}, timeout=10)
    form = browser.get(topology["base"] + "/orders/new", timeout=10)
    engine = create_engine(topology["database_url"])
    try:
        with engine.connect() as connection:
            enterprise_id = connection.execute(text("SELECT id FROM enterprise WHERE name = :name"),
                                               {"name": "天津北辰拓扑测试有限公司"}).scalar_one()
    finally:
        engine.dispose()
    response = browser.post(topology["base"] + "/orders/new", data={
        "csrf_token": _token(form), "enterprise_id": str(enterprise_id), "level": "2", "priority": "normal",
        "content": "企业扩大生产需要招聘技术工人，希望对接人社部门的招聘会"},
        files={"attachments": ("现场照片.png", PNG, "image/png")}, allow_redirects=False, timeout=20)
    assert response.status_code == 302, response.text[:800]
    order = browser.get(topology["base"] + response.headers["Location"].removeprefix(topology["base"]), timeout=10)
    link = re.search(r'href="(/attachments/\d+)[^"]*"', order.text)
    assert link, "no attachment link on the order page"
    download = browser.get(topology["base"] + link.group(1), timeout=10)
    assert download.status_code == 200 and download.content == PNG
    assert any(p.is_file() for p in (topology["root"] / "files").rglob("*"))


def test_metrics_add_up_both_gunicorn_workers(topology):
    for _ in range(6):
        requests.get(topology["base"] + "/healthz", timeout=5)
    body = requests.get(topology["base"] + "/metrics", timeout=10).text
    served = [float(m) for m in re.findall(
        r'^yxby_http_requests_total\{endpoint="health.healthz",method="GET",status="200"\} (\S+)$', body, re.M)]
    assert served and served[0] >= 6
    assert "yxby_job_runs_total" in body  # the jobs process shares the metrics folder on this host
    assert re.search(r'^yxby_database_up 1\.0$', body, re.M)


@pytest.mark.parametrize("name", ["youxubiying.conf", "compose.conf"])
def test_the_shipped_nginx_configs_pass_nginx_t(tmp_path, name):
    """deploy/nginx/*.conf as shipped (certificate paths and ports moved into a scratch folder)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl 未安装，无法生成测试证书")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
                   check=True, capture_output=True)
    site = (PROJECT_ROOT / "deploy" / "nginx" / name).read_text(encoding="utf-8")
    site = (site.replace("/etc/ssl/youxubiying", str(tmp_path)).replace("listen 80;", f"listen 127.0.0.1:{_free_port()};")
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{_free_port()} ssl http2;")
            .replace("server web:8000;", "server 127.0.0.1:8000;"))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/site.conf;\n}}\n", encoding="utf-8")
    result = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
