"""survey settings follow the environment until an administrator saves them

The seed used to write survey_delay_hours / survey_reminder_hours = 24, and the survey job read
the environment instead of them. Now a saved row wins, so the seeded rows (still 24) are removed:
SURVEY_DELAY_HOURS / SURVEY_REMINDER_HOURS — what was in force — keep applying. A row an
administrator changed to another value stays and now takes effect.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

SEEDED = {"survey_delay_hours": 24, "survey_reminder_hours": 24}


def _setting_table():
    return sa.table("system_setting", sa.column("key", sa.String), sa.column("value", sa.JSON),
                    sa.column("updated_at", sa.DateTime))


def upgrade() -> None:
    table = _setting_table()
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c.key, table.c.value).where(table.c.key.in_(list(SEEDED)))).all()
    seeded = [key for key, value in rows if str(value).strip() in ("24", "24.0")]
    if seeded:
        connection.execute(sa.delete(table).where(table.c.key.in_(seeded)))


def downgrade() -> None:
    # The rows only restated the default; the old code ignored them. Nothing to restore.
    pass
