"""Command-line entry points: ``flask --app wsgi <command>``."""

from __future__ import annotations

import click
from flask import Flask, current_app

from config import PROJECT_ROOT


def alembic_config(app: Flask):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", app.extensions["settings"].database_url.replace("%", "%%"))
    cfg.attributes["engine"] = app.extensions["db_engine"]
    return cfg


def upgrade_database(app: Flask, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(app), revision)


def register_commands(app: Flask) -> None:
    @app.cli.group("db", help="数据库迁移（Alembic）")
    def db_group():
        pass

    @db_group.command("upgrade", help="升级到最新结构")
    @click.argument("revision", default="head")
    def db_upgrade(revision):
        upgrade_database(current_app, revision)
        click.echo("数据库已升级")

    @db_group.command("downgrade", help="回退一个或到指定版本")
    @click.argument("revision", default="-1")
    def db_downgrade(revision):
        from alembic import command

        command.downgrade(alembic_config(current_app), revision)

    @db_group.command("current", help="显示当前版本")
    def db_current():
        from alembic import command

        command.current(alembic_config(current_app), verbose=True)

    @db_group.command("revision", help="根据模型变化生成迁移")
    @click.option("-m", "--message", required=True)
    @click.option("--autogenerate/--empty", default=True)
    def db_revision(message, autogenerate):
        from alembic import command

        command.revision(alembic_config(current_app), message=message, autogenerate=autogenerate)

    @app.cli.command("seed", help="载入区级基础数据（可重复执行）；--demo 追加演示数据")
    @click.option("--demo", is_flag=True, help="追加演示人员、企业与各状态工单")
    def seed(demo):
        from database import session_scope
        from services.seed_reference import seed_reference
        from services.zone_rules import seed_address_rules

        with session_scope(current_app.extensions["db_sessionmaker"]) as session:
            counts = seed_reference(session)
            counts["zone_address_rule.inserted"] = seed_address_rules(session)
        inserted = sum(v for k, v in counts.items() if k.endswith(".inserted"))
        updated = sum(v for k, v in counts.items() if k.endswith(".updated"))
        click.echo(f"区级基础数据：新增 {inserted} 条，更新 {updated} 条（片区、部门、服务阶段、诉求领域、产业标签、时限策略、甄别规则）")
        if demo:
            if current_app.extensions["settings"].is_production:
                raise click.ClickException("生产环境不能载入演示数据（--demo 仅用于开发与演示）")
            from services.seed_demo import seed_demo

            with session_scope(current_app.extensions["db_sessionmaker"]) as session:
                summary = seed_demo(session, channels=_channels(current_app))
            click.echo(summary.describe())

    @app.cli.command("api-token", help="为人员签发 /api/v1 访问令牌（只显示一次）")
    @click.argument("person_id", type=int)
    @click.argument("name")
    def api_token(person_id, name):
        from database import session_scope
        from models import Person, utcnow
        from services.api_tokens import issue_token

        with session_scope(current_app.extensions["db_sessionmaker"]) as session:
            person = session.get(Person, person_id)
            if person is None:
                raise click.ClickException(f"未找到人员 {person_id}")
            click.echo(issue_token(session, person, name, utcnow()))

    @app.cli.group("jobs", help="定时任务进程")
    def jobs_group():
        pass

    @jobs_group.command("run", help="在独立进程中运行调度器（生产环境唯一的调度进程）")
    def jobs_run():
        from jobs.scheduler import run_forever

        run_forever(current_app._get_current_object())

    @jobs_group.command("once", help="立即执行一次某个任务")
    @click.argument("name")
    def jobs_once(name):
        from jobs.scheduler import run_job_now

        click.echo(run_job_now(current_app._get_current_object(), name))

    @app.cli.command("devserver", help="开发服务器：网页 + 后台调度线程（仅开发环境）")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5000, type=int)
    def devserver(host, port):
        flask_app = current_app._get_current_object()
        if flask_app.extensions["settings"].is_production:
            raise click.ClickException("生产环境请使用 gunicorn 与独立的 jobs 进程")
        from werkzeug.serving import run_simple

        from jobs.scheduler import start_in_background

        start_in_background(flask_app)
        # Not flask_app.run(): Flask ignores it inside a `flask` CLI command (FLASK_RUN_FROM_CLI).
        run_simple(host, port, flask_app, use_reloader=False, use_debugger=False, threaded=True)


def _channels(app: Flask):
    from services.notify import Channels

    s = app.extensions["settings"]
    return Channels(sandbox=s.sandbox_enabled, wecom=s.wecom.enabled, dingtalk=s.dingtalk.enabled)
