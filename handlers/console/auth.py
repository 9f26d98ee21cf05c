"""Console sign-in (username + password) and the access decorators other pages use."""

from __future__ import annotations

import functools

from flask import flash, redirect, render_template, request, url_for

from handlers.console import bp
from handlers.context import current_person, db, end_session, now, start_session
from handlers.errors import wants_json
from handlers.redirects import safe_next
from services.admin import sessions, sign_in
from services.errors import DomainError, PermissionDenied


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
    result = sign_in.authenticate(db(), username, password, address=request.remote_addr or "", now=now())
    if result.person is None:
        # 200, not 4xx: the failure counters must be committed by the request boundary.
        return render_template("login.html", next=next_url, username=username, error=result.error)
    start_session(result.person)
    return redirect(next_url)


@bp.route("/logout", methods=["POST"])
def logout():
    person = current_person()
    if person is not None:
        # Every session of the person ends, including a copy of this cookie made before.
        sessions.revoke_all(person)
    end_session()
    flash("您已安全退出", "success")
    return redirect(url_for("console.login"))
