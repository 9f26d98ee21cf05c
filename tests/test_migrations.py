"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli import alembic_config
from config import load_settings
from database import include_in_schema_comparison
from models import Base


def _fresh_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return f"sqlite:///{Path(tempfile.mkdtemp()) / 'migrations.db'}"
    target = make_url(url).set(database=make_url(url).database + "_migrations")
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


@pytest.fixture
def migrated_app(tmp_path):
    from application import create_app

    settings = load_settings(
        {"DATABASE_URL": _fresh_database_url(), "SECRET_KEY": "k" * 40, "INSTANCE_DIR": str(tmp_path)},
        read_dotenv=False,
    )
    app = create_app(settings=settings)
    yield app
    app.extensions["db_engine"].dispose()


def test_upgrade_matches_models_and_downgrade_works(migrated_app):
    cfg = alembic_config(migrated_app)
    command.upgrade(cfg, "head")
    engine = migrated_app.extensions["db_engine"]
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_in_schema_comparison})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")


def test_upgrade_keeps_existing_rows(migrated_app):
    """Columns added later get their defaults on rows that existed before (no NULL in NOT NULL)."""
    cfg = alembic_config(migrated_app)
    command.upgrade(cfg, "0002")
    engine = migrated_app.extensions["db_engine"]
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO zone (id, code, name, kind, sort_order, active) VALUES (1, 'tianmu', '天穆镇', 'town', 1, true)"
        ))
        connection.execute(text(
            "INSERT INTO enterprise (id, uscc, name, entity_type, status, zone_id, is_key_industry, chain_position,"
            " size_band, legal_representative, address, contact_name, contact_phone, created_at, updated_at)"
            " VALUES (1, '911201130000000001', '天津老数据有限公司', 'enterprise', '存续', 1, false, '', '', '', '',"
            " '', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
    command.upgrade(cfg, "head")
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT name, market_type, industry_code, missing_from_full_export FROM enterprise WHERE id = 1"
        )).one()
    assert row[0] == "天津老数据有限公司" and row[1] == "" and row[2] == "" and not row[3]
