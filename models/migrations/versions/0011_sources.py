"""aggregator links, query sources and adaptive polling

- `entry_link`: for each feed entry whose link was an aggregator's (Google News, Bing...), the link it came
  from (provenance), the outlet the item named, the publisher URL it resolved to, or why it could not be. `feeds list` and the
  report count resolved / unresolved links per source from it.
- `feed.poll_interval` and `feed.poll_reason`: the interval adaptive polling chose at the last poll and why
  (Cache-Control max-age, Expires, RSS ttl, publishing rate); `feed.last_ok_at`: the last poll that answered,
  from which a query source (GDELT) asks only for what is newer.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("feed_id", sa.Integer(), sa.ForeignKey("feed.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("via_url", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("outlet", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("feed_id", "entry_key", name="uq_entry_link_feed_key"),
    )
    # Plain ALTER TABLE (SQLite has ADD and DROP COLUMN): a batch copy of `feed` would drop its feed_poll trigger.
    op.add_column("feed", sa.Column("poll_interval", sa.Float(), nullable=True))
    op.add_column("feed", sa.Column("poll_reason", sa.Text(), nullable=True))
    op.add_column("feed", sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in ("last_ok_at", "poll_reason", "poll_interval"):
        op.drop_column("feed", column)
    op.drop_table("entry_link")
