"""merge the stories, watches/CJK and site-template branches into one head

Three features each added a migration on top of 0002 in parallel; this revision joins them so the history
has one head again (`alembic revision --autogenerate` and `downgrade -1` need one). No schema change.

Revision ID: 0007
Revises: 0003, 0004, 0006
"""

revision = "0007"
down_revision = ("0003", "0004", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
