"""gunicorn settings for the web process: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Every value can be changed through the environment (GUNICORN_*), so the same file serves the
container and the systemd unit. Metrics: each worker writes into PROMETHEUS_MULTIPROC_DIR, which
must exist and be emptied before the master starts (the unit and the container do that); a
worker that exits is marked dead so its live gauges stop counting.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# WeCom waits 5 s for a callback's answer; a console export may stream for longer.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# Nginx on the same host forwards X-Forwarded-*; the app trusts them through TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# The app is loaded in each worker: no database connection is shared across a fork.
preload_app = False


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
