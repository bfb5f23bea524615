"""Atom 1.0 documents of a search's newest matches, so a feed reader can follow a search or a watch.

Built with ElementTree, which escapes every text and attribute; only http(s) URLs become links.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree

from models.queries import ArticleView
from transforms.report import safe_href

ATOM = "http://www.w3.org/2005/Atom"
SUMMARY_CHARACTERS = 400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Characters XML 1.0 cannot carry at all; text from the web sometimes has them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _when(article: ArticleView) -> datetime:
    return article.published_at or article.fetched_at or _EPOCH


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    for name, value in attributes.items():
        element.set(name, _NOT_XML.sub("", value))
    return element


def render_atom(
    *, title: str, feed_id: str, self_url: str, page_url: str, articles: Sequence[ArticleView], base_url: str
) -> bytes:
    """An Atom feed of `articles` (newest first); entry links go to the publisher, ids to this app's pages."""
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _add(feed, "title", title)
    _add(feed, "id", feed_id)
    updated = max((_when(article) for article in articles), default=_EPOCH)
    _add(feed, "updated", _stamp(updated))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    _add(feed, "generator", "rare-news web")
    for article in articles:
        entry = _add(feed, "entry")
        _add(entry, "title", article.title or article.canonical_url)
        _add(entry, "id", f"{base_url}/articles/{article.id}")
        _add(entry, "updated", _stamp(_when(article)))
        if article.published_at:
            _add(entry, "published", _stamp(article.published_at))
        href = safe_href(article.canonical_url)
        if href:
            _add(entry, "link", rel="alternate", type="text/html", href=href)
        _add(entry, "link", rel="related", type="text/html", href=f"{base_url}/articles/{article.id}")
        for name in article.authors or [article.site or "unknown"]:
            _add(_add(entry, "author"), "name", name)
        for kind, names in article.tags.items():
            for name in names:
                _add(entry, "category", term=name, scheme=f"urn:rare-news:{kind}", label=f"{kind}: {name}")
        summary = " ".join(article.body_text.split())
        if len(summary) > SUMMARY_CHARACTERS:
            summary = summary[:SUMMARY_CHARACTERS].rsplit(" ", 1)[0] + " …"
        _add(entry, "summary", summary, type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        feed, encoding="utf-8", xml_declaration=False
    )
