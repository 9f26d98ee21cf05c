"""Command-line entry points: ``flask --app wsgi <command>``."""

from __future__ import annotations

import contextlib

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
        from models import utcnow
        from services.demo.reference import seed_reference
        from services.grid.rules import seed_address_rules
        from services.studio import store as studio_store

        with _unit_of_work() as session:
            counts = seed_reference(session)
            counts["zone_address_rule.inserted"] = seed_address_rules(session)
            if not studio_store.revisions(session, limit=1):  # the first version of the configuration
                studio_store.snapshot(session, None, reason="初始配置（区级基础数据）", now=utcnow())
        inserted = sum(v for k, v in counts.items() if k.endswith(".inserted"))
        updated = sum(v for k, v in counts.items() if k.endswith(".updated"))
        click.echo(f"区级基础数据：新增 {inserted} 条，更新 {updated} 条（片区、部门、服务阶段、诉求领域、产业标签、时限策略、甄别规则）")
        if demo:
            if current_app.extensions["settings"].is_production:
                raise click.ClickException("生产环境不能载入演示数据（--demo 仅用于开发与演示）")
            from services.demo.seed import seed_demo

            with _unit_of_work() as session:
                summary = seed_demo(session, channels=_channels(current_app))
            click.echo(summary.describe())

    @app.cli.group("statistics", help="统计汇总（按日、按月预先汇总的统计数字与月末在办名单）")
    def statistics_group():
        pass

    @statistics_group.command("rebuild", help="重算指定日期范围（北京时间，含首尾）的日汇总、月汇总与月末在办名单；可重复执行")
    @click.option("--from", "first", required=True, help="开始日期 YYYY-MM-DD")
    @click.option("--to", "last", required=True, help="结束日期 YYYY-MM-DD（晚于昨天的部分不汇总，当天总是实时计算）")
    def statistics_rebuild(first, last):
        from models import utcnow
        from services import inputs
        from services.statistics.rollup import rebuild

        try:
            first_day, last_day = inputs.parse_date(first), inputs.parse_date(last)
        except ValueError as reason:
            raise click.ClickException(f"日期有误：{reason}（格式 YYYY-MM-DD）") from None
        if first_day > last_day:
            raise click.ClickException("开始日期不能晚于结束日期")
        days = rebuild(current_app.extensions["db_sessionmaker"], first_day, last_day, utcnow())
        click.echo(f"已重算 {days} 天的统计汇总（含所在月份与月末在办名单）")

    @app.cli.group("config", help="运行配置（表单字段、派单目录、消息模板、命令别名等）导出与导入")
    def config_group():
        pass

    @config_group.command("export", help="把整套运行配置写成一个 YAML 文档（不给文件名则输出到屏幕）")
    @click.argument("path", required=False, type=click.Path(dir_okay=False, writable=True))
    def config_export(path):
        from services.studio import store

        with _unit_of_work() as session:
            text = store.to_yaml(store.export_document(session))
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            click.echo(f"运行配置已导出到 {path}", err=True)
        else:
            click.echo(text, nl=False)

    @config_group.command("import", help="校验并导入 YAML 配置文档：先列出全部问题或改动，一次性生效（--dry-run 只检查）")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="只校验并显示改动，不写入")
    @click.option("--reason", default="", help="修改说明（记入版本记录）")
    def config_import(path, dry_run, reason):
        from models import utcnow
        from services.errors import DomainError
        from services.studio import store

        with open(path, "rb") as handle:
            raw = handle.read()
        try:
            incoming = store.from_yaml(raw)
            with _unit_of_work() as session:
                result = store.plan(session, incoming)
                if not result.ok:
                    raise click.ClickException("配置有误，未做任何修改：\n" + "\n".join(result.problems))
                if not result.changes:
                    click.echo("配置与当前一致，无需修改")
                    return
                click.echo("将要修改：\n" + "\n".join(f"  {line}" for line in result.changes))
                if dry_run:
                    session.rollback()
                    click.echo("（--dry-run：未写入）")
                    return
                revision = store.apply(session, None, incoming, reason=reason or f"命令行导入 {path}", now=utcnow(),
                                       kind="import", actor_label="命令行导入")
                click.echo(f"已导入，配置版本 {revision.id}")
        except DomainError as error:
            raise click.ClickException(error.message) from None

    @app.cli.command("api-token", help="为人员签发 /api/v1 访问令牌（只显示一次）")
    @click.argument("person_id", type=int)
    @click.argument("name")
    def api_token(person_id, name):
        from models import Person, utcnow
        from services.admin.api_tokens import issue_token

        with _unit_of_work() as session:
            person = session.get(Person, person_id)
            if person is None:
                raise click.ClickException(f"未找到人员 {person_id}")
            click.echo(issue_token(session, person, name, utcnow()))

    @app.cli.command("backup", help="备份数据库（PostgreSQL 用 pg_dump -Fc，SQLite 用在线备份）与全部存储文件到一个新目录，附校验清单")
    @click.argument("folder", type=click.Path(file_okay=False))
    def backup_command(folder):
        from datetime import UTC, datetime

        from extensions import storage
        from services.admin.backup import BackupError, take

        flask_app = current_app._get_current_object()
        try:
            report = take(flask_app.extensions["db_engine"], storage(flask_app), folder, now=datetime.now(UTC))
        except BackupError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"已备份 {report.describe()}")

    @app.cli.command("restore", help="从 backup 生成的目录恢复数据库与存储文件（先核对校验和；目标库已有工单时须加 --replace）")
    @click.argument("folder", type=click.Path(exists=True, file_okay=False))
    @click.option("--replace", is_flag=True, help="目标数据库已有数据时仍然覆盖")
    def restore_command(folder, replace):
        from extensions import storage
        from services.admin.backup import BackupError, restore

        flask_app = current_app._get_current_object()
        try:
            report = restore(flask_app.extensions["db_engine"], storage(flask_app), folder, replace=replace)
        except BackupError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"已恢复 {report.describe()}")

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

    @app.cli.command("dingtalk-stream", help="钉钉 Stream 模式：经出站长连接接收群机器人消息（内网无公网 IP 时使用，只运行一个进程）")
    def dingtalk_stream():
        flask_app = current_app._get_current_object()
        dingtalk = _require_platform(flask_app, "dingtalk")
        if dingtalk.mode != "stream":
            click.echo("提示：DINGTALK_MODE 不是 stream；请确认钉钉开发者后台的机器人消息接收模式为 Stream 模式", err=True)
        from extensions import dingtalk_stream_worker

        click.echo("钉钉 Stream 连接已启动（Ctrl-C 停止）")
        dingtalk_stream_worker(flask_app).run()

    @app.cli.command("wecom-aibot-ws", help="企业微信智能机器人长连接：经出站 WebSocket 接收群里 @机器人 的命令（内网无公网 IP 时使用，只运行一个进程）")
    def wecom_aibot_ws():
        flask_app = current_app._get_current_object()
        wecom = _require_platform(flask_app, "wecom")
        if not wecom.aibot_ws_enabled:
            raise click.ClickException("请先设置 WECOM_AIBOT_BOT_ID 与 WECOM_AIBOT_SECRET")
        from extensions import wecom_aibot_ws_worker

        click.echo("企业微信智能机器人长连接已启动（Ctrl-C 停止）")
        with contextlib.suppress(KeyboardInterrupt):
            wecom_aibot_ws_worker(flask_app).run()

    @app.cli.command("dingtalk-roster", help="按手机号把钉钉通讯录成员绑定到人员（参数：钉钉部门 ID，可多个）")
    @click.argument("dept_ids", nargs=-1, required=True, type=int)
    def dingtalk_roster(dept_ids):
        from extensions import dingtalk_api
        from integrations.dingtalk import DingTalkError
        from services.grid.dingtalk_roster import sync_dingtalk_roster

        _require_platform(current_app, "dingtalk")
        api = dingtalk_api(current_app)
        _sync_roster(DingTalkError, lambda session, now: sync_dingtalk_roster(session, api, dept_ids, now))

    @app.cli.command("wecom-sync", help="按手机号把企业微信通讯录成员绑定到人员（参数：企业微信部门 ID，可多个）")
    @click.argument("department_ids", nargs=-1, required=True, type=int)
    def wecom_sync(department_ids):
        from extensions import wecom_api
        from integrations.wecom import WeComApiError
        from services.grid.wecom_roster import sync_wecom_roster

        _require_platform(current_app, "wecom")
        api = wecom_api(current_app)
        channels = _channels(current_app)
        _sync_roster(WeComApiError, lambda session, now: sync_wecom_roster(session, api, department_ids, now,
                                                                           channels=channels))

    @app.cli.command("import-enterprises", help="导入企业名录（xlsx/xls/ods/csv）：按统一社会信用代码或注册号更新，重复导入不产生变化")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="只预检：统计新增、变更与错误行，不写入企业库")
    @click.option("--full", is_flag=True, help="全量名录：库中有而文件中没有的企业标记为“缺失”（不删除）")
    @click.option("--errors", "errors_path", type=click.Path(dir_okay=False), help="把未导入的行及原因写入这个 xlsx 文件")
    def import_enterprises_command(path, dry_run, full, errors_path):
        import os
        from pathlib import Path

        from sqlalchemy import select

        from models import ImportJob, ImportStatus, utcnow
        from services.errors import ValidationFailed
        from services.registry import excel_io, import_jobs
        from services.registry import importer as registry_import

        flask_app = current_app._get_current_object()
        factory = flask_app.extensions["db_sessionmaker"]
        path = str(Path(path).resolve())
        try:
            excel_io.check_upload(path, path, flask_app.extensions["settings"].import_max_bytes)
        except ValidationFailed as error:
            raise click.ClickException(error.message) from None
        with factory() as session:
            running = session.scalar(select(ImportJob.id).where(
                ImportJob.kind == "enterprises", ImportJob.status == ImportStatus.RUNNING,
                ImportJob.dry_run.is_(False)))
            if running and not dry_run:
                raise click.ClickException(f"导入任务 #{running} 正在进行，请等它完成后再导入")
            now = utcnow()
            job = import_jobs.create_job(
                session, kind="enterprises", filename=Path(path).name, stored_path=path,
                file_size=os.path.getsize(path), actor=None, now=now, full_export=full, dry_run=dry_run,
                status=ImportStatus.RUNNING)
            job.claimed_by, job.started_at, job.heartbeat_at = f"cli-{os.getpid()}", now, now
            session.commit()
            snapshot = import_jobs.snapshot_of(job)

        def progress(counters):
            click.echo(f"\r已读取 {counters.total} 行……", nl=False, err=True)

        status, summary = import_jobs.run_job(factory, snapshot, clock=utcnow, progress_cb=progress)
        click.echo("", err=True)
        if status == ImportStatus.FAILED:
            raise click.ClickException(f"导入任务 #{snapshot.id} 失败：{summary}")
        click.echo(f"{'预检' if dry_run else '导入'}完成（任务 #{snapshot.id}）：{summary}")
        with factory() as session:
            errors = registry_import.row_errors(session, snapshot.id, limit=20)
            for error in errors:
                click.echo(f"  第 {error.row_number} 行 [{error.column}] {error.reason}")
            job = session.get(ImportJob, snapshot.id)
            if job.errors > len(errors):
                click.echo(f"  …… 共 {job.errors} 行未导入" + ("" if errors_path else "，用 --errors 文件名.xlsx 导出全部"))
            if errors_path and job.errors:
                excel_io.write_row_errors(errors_path, registry_import.report_headers(job),
                                          registry_import.iter_row_errors(session, snapshot.id))
                click.echo(f"未导入的行已写入 {errors_path}")

    @app.cli.command("devserver", help="开发服务器：网页 + 后台调度线程（仅开发环境）")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5000, type=int)
    def devserver(host, port):
        flask_app = current_app._get_current_object()
        settings = flask_app.extensions["settings"]
        if settings.is_production:
            raise click.ClickException("生产环境请使用 gunicorn 与独立的 jobs 进程")
        from werkzeug.serving import run_simple

        from jobs.scheduler import start_in_background

        if not settings.base_url_configured:
            # Links in messages, QR posters and OAuth callbacks must reach this server, on the port it serves.
            settings = settings.with_overrides({"base_url": served_base_url(host, port)})
            flask_app.extensions["settings"] = settings
        click.echo(f"对外地址（BASE_URL）：{settings.base_url}")
        if settings.run_jobs_in_web:
            start_in_background(flask_app)
        else:
            click.echo("RUN_JOBS_IN_WEB=false：未启动后台调度线程，定时任务请另开终端运行 `flask --app wsgi jobs run`")
        # Not flask_app.run(): Flask ignores it inside a `flask` CLI command (FLASK_RUN_FROM_CLI).
        run_simple(host, port, flask_app, use_reloader=False, use_debugger=False, threaded=True)


def served_base_url(host: str, port: int) -> str:
    """The address of a development server listening on ``host:port``, as a browser on this machine
    reaches it (a wildcard address is not one; other devices need BASE_URL set)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _channels(app: Flask):
    from services.messaging.notify import Channels

    s = app.extensions["settings"]
    return Channels.from_settings(s)


def _unit_of_work():
    """One transaction of the app's database (``database.session_scope``)."""
    from database import session_scope

    return session_scope(current_app.extensions["db_sessionmaker"])


PLATFORM_SETUP = {
    "wecom": "未配置企业微信：请设置 WECOM_CORP_ID 与 WECOM_SECRET",
    "dingtalk": "未配置钉钉：请设置 DINGTALK_APP_KEY 与 DINGTALK_APP_SECRET",
}


def _require_platform(app: Flask, platform: str):
    """The platform's settings, or the command stops saying which variables to set."""
    platform_settings = getattr(app.extensions["settings"], platform)
    if not platform_settings.enabled:
        raise click.ClickException(PLATFORM_SETUP[platform])
    return platform_settings


def _sync_roster(platform_error: type[Exception], sync) -> None:
    """Run a roster sync in one transaction and print its report. The platform's access token
    goes through that transaction too (``services.kvstore.bind_session``: one writer on SQLite)."""
    from models import utcnow
    from services.kvstore import bind_session

    try:
        with _unit_of_work() as session, bind_session(session):
            report = sync(session, utcnow())
    except platform_error as error:
        raise click.ClickException(f"同步失败：{error}") from None
    click.echo(report.describe())
