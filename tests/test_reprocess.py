"""Reprocess: after a taxonomy term is added, old articles get the new tag, and a damaged body is re-extracted
from the stored raw HTML, with the web server gone and the fetcher forbidden: not a single HTTP request."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import get_engine
from tests.test_backfill import NEO, SINCE, UNTIL, Site, env_for, invoke
from tests.test_backfill import site as site  # noqa: F401  (the loopback site fixture)

pytestmark = pytest.mark.usefixtures("prefect_harness")

NEW_TERMS = """
[[term]]
kind = "place"
name = "Narva"
patterns = ["Narva"]
"""


def _tags(database_url: str) -> dict[str, set[str]]:
    query = text(
        "SELECT a.title, t.name FROM article a JOIN article_tag x ON x.article_id = a.id JOIN tag t ON t.id = x.tag_id"
    )
    tags: dict[str, set[str]] = {}
    with get_engine(database_url).connect() as connection:
        for title, name in connection.execute(query):
            tags.setdefault(title, set()).add(name)
    return tags


def _versions(database_url: str) -> set[str | None]:
    with get_engine(database_url).connect() as connection:
        return set(connection.execute(text("SELECT DISTINCT taxonomy_version FROM article")).scalars())


def test_reprocess_tags_old_articles_with_a_new_term_without_any_http_request(
    site: Site, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_for(database_url).items():
        monkeypatch.setenv(name, value)
    invoke("backfill", "--site", site.web.url("/"), "--since", SINCE, "--until", UNTIL)
    assert "Narva" not in _tags(database_url)[NEO.title]
    old_versions = _versions(database_url)

    # The web is gone and the fetcher may not even be built: reprocess must need neither.
    site.web.server.stop()
    site.web.clear()

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("reprocess tried to use the network")

    monkeypatch.setattr("connectors.http.Fetcher.__init__", no_network)
    extra = tmp_path / "my_terms.toml"
    extra.write_text(NEW_TERMS, encoding="utf-8")
    monkeypatch.setenv("RARE_NEWS_TAXONOMY_EXTRA_FILE", str(extra))

    output = invoke("reprocess", "--what", "tag")
    assert "re-tagged" in output
    tags = _tags(database_url)
    assert "Narva" in tags[NEO.title]
    assert len(_versions(database_url)) == 1 and _versions(database_url) != old_versions  # seeds too

    # Nothing changed since: a second reprocess finds every article current.
    again = invoke("reprocess", "--what", "all")
    assert "current already" in again
    with get_engine(database_url).connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM article")).scalar_one()
        neo_id, body = connection.execute(
            text("SELECT id, body_text FROM article WHERE title = :t"), {"t": NEO.title}
        ).one()
    current = re.search(r"current already \(skipped\)\D+(\d+)", again)
    assert current is not None and int(current.group(1)) == total, again

    # A damaged body comes back from the stored page; full-text search follows the new text.
    with get_engine(database_url).begin() as connection:
        connection.execute(
            text("UPDATE article SET body_text = :b, extractor_version = 'old' WHERE id = :i"),
            {"b": "lost text " * 40, "i": neo_id},
        )
    invoke("reprocess", "--what", "extract")
    with get_engine(database_url).connect() as connection:
        restored, version = connection.execute(
            text("SELECT body_text, extractor_version FROM article WHERE id = :i"), {"i": neo_id}
        ).one()
    assert restored == body and version != "old"
    hits = [json.loads(line) for line in invoke("search", "Silmet", "--format", "json").splitlines()]
    assert [hit["id"] for hit in hits] == [neo_id]
    assert site.web.paths_requested() == []
