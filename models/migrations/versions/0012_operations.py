"""operations: each run's fetch histograms, and alerts

- `run.fetch_stats`: the run's requests as histograms of latency and bytes per outcome (flows/metrics.py), so
  /metrics reads them from the store whichever process (serve, a worker on another machine) ran the run.
- `alert`: one row per incident (a feed failing N times in a row, no successful run for a while), with when its
  notification and its recovery notification went out. An open incident is unique per (kind, subject), so a
  restarted service, or two of them, find the incident already recorded and do not notify it again.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite has ADD and DROP COLUMN): a batch copy would rebuild `run` for one column.
    op.add_column("run", sa.Column("fetch_stats", sa.JSON(), nullable=True))
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovery_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index(
        "uq_alert_open",
        "alert",
        ["kind", "subject"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_alert_open", table_name="alert")
    op.drop_table("alert")
    op.drop_column("run", "fetch_stats")
