"""Shared fixtures. The database is SQLite by default, PostgreSQL when DATABASE_URL says so.

Each test that touches the database starts from empty tables plus the district's reference
data; tests that need commits (concurrency, handlers, jobs) get them for real.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from config import load_settings

# Emulator fixtures (wecom_emulator, wecom_app; dingtalk_emulator, dingtalk_app) for tests in every directory.
pytest_plugins = ["tests.emulators.fixtures", "tests.emulators.dingtalk_fixtures"]

_TMP = Path(tempfile.mkdtemp(prefix="yxby-test-"))


def _test_settings():
    env = {
        "APP_ENV": "development",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "INSTANCE_DIR": str(_TMP / "instance"),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}",
        "BASE_URL": "http://127.0.0.1:5000",
        "SANDBOX_ENABLED": "true",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return load_settings(env, read_dotenv=False).with_overrides({"testing": True})


@pytest.fixture(scope="session")
def app():
    from application import create_app
    from models import Base

    flask_app = create_app(settings=_test_settings())
    # Uploads (attachments, imports) of tests that do not choose a folder stay out of instance/,
    # where housekeeping would treat the development database's uploads as orphans.
    flask_app.config["UPLOAD_ROOT"] = str(_TMP / "uploads")
    engine = flask_app.extensions["db_engine"]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(connection)
    Base.metadata.create_all(engine)
    yield flask_app
    engine.dispose()


def _wipe(engine) -> None:
    from models import Base

    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def session_factory(app):
    factory = app.extensions["db_sessionmaker"]
    _wipe(app.extensions["db_engine"])
    from services.studio import store

    store.invalidate()  # the configuration cached for the wiped database
    from database import session_scope
    from services.demo.reference import seed_reference

    with session_scope(factory) as session:
        seed_reference(session)
    yield factory


@pytest.fixture
def session(session_factory):
    s = session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def client(app, session_factory):
    # The public pages' in-process limiters (per client address) live as long as the app: each test
    # starts with a full allowance, as a fresh process would.
    app.extensions.pop("public_limiters", None)
    return app.test_client()


@pytest.fixture
def now():
    return datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing


@pytest.fixture
def factory(session):
    from tests.factories import Factory

    return Factory(session)


@pytest.fixture(scope="session")
def zip_bomb_file(tmp_path_factory):
    """An xlsx of about half a megabyte whose sheet inflates to 120 MB (made once per run)."""
    from tests.registry.hostile import zip_bomb

    return zip_bomb(tmp_path_factory.mktemp("bomb") / "名录.xlsx", expanded_bytes=120 * 1024 * 1024)
