"""event stories: every article in one event (models/events.py), with the candidate lookup table

Revision ID: 0010
Revises: 0009

Creates `event`, `event_key` and `article_event`, then places the articles already stored in events (the
same rule a load applies, in publication order), so an old database has events from the first run on.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canonical_article_id", sa.Integer(), nullable=True),
        sa.Column("first_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("articles", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["canonical_article_id"], ["article.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_event_canonical_article_id", "event", ["canonical_article_id"])
    op.create_table(
        "event_key",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "day", "event_id"),
    )
    op.create_index("ix_event_key_event_id", "event_key", ["event_id"])
    op.create_table(
        "article_event",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id"),
    )
    op.create_index("ix_article_event_event_id", "article_event", ["event_id"])
    # Articles stored before this revision: placed now, as `rare-news dedup --rebuild` would.
    from models.events import place_unassigned

    place_unassigned(op.get_bind())


def downgrade() -> None:
    op.drop_table("article_event")
    op.drop_table("event_key")
    op.drop_table("event")
