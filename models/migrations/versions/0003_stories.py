"""stories: the canonical rule applied to stored stories, and triggers that keep every story one level deep

Revision ID: 0003
Revises: 0002

A story is its canonical article (near_duplicate_of NULL) and the copies that point straight at it
(models/stories.py). The triggers make the database refuse a copy of a copy, a copy of itself, and turning an
article that copies point at into a copy, so no article can be in two stories and no story can lose its
canonical article, whatever writes. Before them, stories stored by earlier versions get their canonical
article by the rule: published first (undated last), then stored first (lowest id).
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GUARD_MESSAGE = "story: a copy must point at the canonical article of its story"

# Earlier versions pointed every copy at the first stored member, which was never itself a copy, so
# coalesce(near_duplicate_of, id) is each article's story here.
APPLY_CANONICAL_RULE = """
UPDATE article SET near_duplicate_of = CASE WHEN best.canonical_id = article.id THEN NULL
                                            ELSE best.canonical_id END
FROM (
    SELECT story, id AS canonical_id FROM (
        SELECT id, coalesce(near_duplicate_of, id) AS story,
               row_number() OVER (
                   PARTITION BY coalesce(near_duplicate_of, id)
                   ORDER BY (published_at IS NULL), published_at, id
               ) AS position
        FROM article
    ) AS ranked WHERE position = 1
) AS best
WHERE coalesce(article.near_duplicate_of, article.id) = best.story AND best.canonical_id <> best.story
"""

SQLITE_UP = [
    f"""CREATE TRIGGER article_story_insert BEFORE INSERT ON article
    WHEN NEW.near_duplicate_of IS NOT NULL
     AND (SELECT near_duplicate_of FROM article WHERE id = NEW.near_duplicate_of) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END""",
    f"""CREATE TRIGGER article_story_update BEFORE UPDATE OF near_duplicate_of ON article
    WHEN NEW.near_duplicate_of IS NOT NULL
     AND (NEW.near_duplicate_of = NEW.id
          OR (SELECT near_duplicate_of FROM article WHERE id = NEW.near_duplicate_of) IS NOT NULL
          OR EXISTS (SELECT 1 FROM article WHERE near_duplicate_of = NEW.id))
    BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END""",
]

POSTGRES_UP = [
    f"""CREATE FUNCTION article_story_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.near_duplicate_of IS NOT NULL AND (
            NEW.near_duplicate_of = NEW.id
            OR EXISTS (SELECT 1 FROM article WHERE id = NEW.near_duplicate_of AND near_duplicate_of IS NOT NULL)
            OR (TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM article WHERE near_duplicate_of = NEW.id))
        ) THEN
            RAISE EXCEPTION '{GUARD_MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER article_story_guard BEFORE INSERT OR UPDATE OF near_duplicate_of ON article
    FOR EACH ROW EXECUTE FUNCTION article_story_guard()""",
]


def upgrade() -> None:
    op.execute(APPLY_CANONICAL_RULE)
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS article_story_insert")
        op.execute("DROP TRIGGER IF EXISTS article_story_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS article_story_guard ON article")
        op.execute("DROP FUNCTION IF EXISTS article_story_guard()")
