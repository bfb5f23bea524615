"""Site templates in the store: read before a batch is extracted, written in the batch's own transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from models.db import dialect_insert, retry_on_disconnect
from models.tables import SiteTemplateRow, utcnow

SITE_TEMPLATE = SiteTemplateRow.__table__  # type: ignore[attr-defined]


@retry_on_disconnect
def load_templates(engine: Engine, sites: Iterable[str]) -> dict[str, str]:
    """site -> template JSON, for the sites that have one."""
    wanted = sorted(set(sites))
    if not wanted:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            select(SITE_TEMPLATE.c.site, SITE_TEMPLATE.c.template).where(SITE_TEMPLATE.c.site.in_(wanted))
        )
        return {row.site: row.template for row in rows}


def save_templates(connection: Connection, templates: Mapping[str, str]) -> None:
    """Upsert learned templates; two runs racing may lose one update, which costs nothing but a page's lesson."""
    if not templates:
        return
    rows = [{"site": site, "template": data, "updated_at": utcnow()} for site, data in sorted(templates.items())]
    statement = dialect_insert(connection, SITE_TEMPLATE)
    statement = statement.on_conflict_do_update(
        index_elements=[SITE_TEMPLATE.c.site],
        set_={"template": statement.excluded.template, "updated_at": statement.excluded.updated_at},
    )
    connection.execute(statement, rows)
