"""Console sign-in (username + password) and the access decorators other pages use."""

from __future__ import annotations

import functools
from datetime import timedelta

from flask import flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from handlers.console import bp
from handlers.context import current_person, db, now
from handlers.errors import wants_json
from handlers.redirects import safe_next
from models import ConsoleLogin
from services.errors import DomainError, PermissionDenied

MAX_FAILURES = 5
LOCK_MINUTES = 15
BAD_CREDENTIALS = "用户名或密码错误"
# Compared against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class NotSignedIn(DomainError):
    code = "not_signed_in"
    http_status = 401


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_person() is None:
            if wants_json() or request.method != "GET":
                raise NotSignedIn("请先登录")
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str):
    """Signed in *and* one of ``roles``; anyone else gets a 403 page in Chinese."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            person = current_person()
            if person.role not in roles:
                raise PermissionDenied(f"您的角色（{person.role_label}）无权访问此页面")
            return view(*args, **kwargs)

        return wrapper

    return decorator


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_person() is not None:
            return redirect(next_url)
        return render_template("login.html", next=next_url, username="")

    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    error = _check_credentials(username, password)
    if error:
        # 200, not 4xx: the failure counter must be committed by the request boundary.
        return render_template("login.html", next=next_url, username=username, error=error)
    return redirect(next_url)


def _check_credentials(username: str, password: str) -> str | None:
    moment = now()
    record = db().scalar(select(ConsoleLogin).where(ConsoleLogin.username == username)) if username else None
    if record is None:
        check_password_hash(_DUMMY_HASH, password)
        return BAD_CREDENTIALS
    if record.locked_until is not None and record.locked_until > moment:
        minutes = max(1, int((record.locked_until - moment).total_seconds() // 60) + 1)
        return f"连续输错密码次数过多，账号已锁定，请 {minutes} 分钟后再试"
    if not check_password_hash(record.password_hash, password) or not record.person.active:
        record.failed_attempts = (record.failed_attempts or 0) + 1
        if record.failed_attempts >= MAX_FAILURES:
            record.failed_attempts = 0
            record.locked_until = moment + timedelta(minutes=LOCK_MINUTES)
            return f"{BAD_CREDENTIALS}。已连续输错 {MAX_FAILURES} 次，账号锁定 {LOCK_MINUTES} 分钟"
        return BAD_CREDENTIALS
    record.failed_attempts = 0
    record.locked_until = None
    record.last_login_at = moment
    session.clear()  # a fresh session on sign-in: nothing from before carries over
    session["person_id"] = record.person_id
    g.pop("person", None)
    return None


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    g.pop("person", None)
    flash("您已安全退出", "success")
    return redirect(url_for("console.login"))
