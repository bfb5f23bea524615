"""`rare-news extract FILE_OR_URL...`: what the pipeline would store for each page, without the database.

For a user debugging one site: the body, title, authors, date, language and site that `transforms/extract.py`
gets from a saved page (`.html` or `.html.gz`) or from a URL fetched the way the pipeline fetches (the
project's Fetcher: timeouts, size caps, no private addresses, robots.txt). Every page is read before anything
is printed, so a mistake in the last argument does not leave half an output behind. Heavy imports (the
fetcher, trafilatura) happen inside the command, so `rare-news --help` stays fast.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from transforms.extract import ExtractedArticle

# Media types the pipeline extracts (transforms/pipeline.py); anything else it records as "not an HTML page".
HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_URL = re.compile(r"^https?://", re.IGNORECASE)


class ExtractFormat(StrEnum):
    json = "json"
    jsonl = "jsonl"
    text = "text"


@dataclass(frozen=True)
class _Source:
    """One page to extract: its bytes, the URL it is known by and the charset its server declared."""

    name: str  # as the user typed it
    url: str
    body: bytes
    charset: str | None = None


class _InputError(Exception):
    """A path or URL the user gave that cannot be read: shown as one line, exit code 2."""


def _read_file(name: str) -> _Source:
    import gzip

    path = Path(name)
    try:
        raw = path.read_bytes()
        body = gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except FileNotFoundError:
        raise _InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise _InputError(f"{name}: is a directory") from None
    except PermissionError:
        raise _InputError(f"{name}: permission denied") from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; a truncated .gz is an EOFError
        raise _InputError(f"{name}: cannot read ({exc})") from None
    return _Source(name=name, url=_page_url(body) or path.resolve().as_uri(), body=body)


def _page_url(body: bytes) -> str | None:
    """The URL a saved page names for itself (canonical link, then og:url): links are judged against it."""
    from lxml import etree
    from lxml import html as lxml_html

    from transforms.extract import decode_html

    text = decode_html(body)
    if not text.strip():
        return None
    try:
        tree = lxml_html.document_fromstring(text)
    except (ValueError, etree.ParserError):
        return None
    for xpath in ("//link[@rel='canonical']/@href", "//meta[@property='og:url']/@content"):
        for value in tree.xpath(xpath):
            if _URL.match(str(value).strip()):
                return str(value).strip()
    return None


def _fetch(names: list[str]) -> dict[str, _Source]:
    if not names:
        return {}
    from connectors.http import Fetcher, FetchError, FetchPolicy

    sources: dict[str, _Source] = {}
    with Fetcher(FetchPolicy()) as fetcher:
        for name in names:
            try:
                page = fetcher.get(name, check_robots=True)
            except FetchError as exc:
                raise _InputError(f"{name}: {exc.reason}") from None
            if page.content_type and page.content_type not in HTML_MEDIA_TYPES:
                raise _InputError(f"{name}: not an HTML page (Content-Type {page.content_type})")
            sources[name] = _Source(name=name, url=page.final_url, body=page.body, charset=page.charset)
    return sources


def _record(source: _Source, article: ExtractedArticle) -> dict[str, Any]:
    return {
        "input": source.name,
        "url": source.url,
        "title": article.title,
        "authors": list(article.authors),
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "language": article.language,
        "site": article.site,
        "body": article.body_text,
        "sources": dict(article.sources),  # where each field came from: page, meta, byline, feed, url
    }


def _as_text(record: dict[str, Any]) -> str:
    lines = [f"== {record['input']}"]
    for key in ("url", "title", "authors", "published_at", "language", "site"):
        value = record[key]
        shown = "; ".join(value) if isinstance(value, list) else value
        source = record["sources"].get(key)
        lines.append(f"{key}: {shown if shown not in (None, '') else '-'}" + (f"  ({source})" if source else ""))
    return "\n".join(lines) + "\n\n" + (record["body"] or "(no body text found)") + "\n"


def extract(
    paths_or_urls: Annotated[
        list[str],
        typer.Argument(metavar="FILE_OR_URL", help="Saved pages (.html, .html.gz) or http(s) URLs."),
    ],
    format: Annotated[
        ExtractFormat,
        typer.Option("--format", "-f", help="json: one array; jsonl: one object a line; text: for reading."),
    ] = ExtractFormat.json,
) -> None:
    """Show what the pipeline would store for each page (body, title, authors, date, language, site).

    Nothing is written to the database. URLs are fetched with the pipeline's own fetcher, robots.txt included.
    """
    from transforms.extract import extract_article

    try:
        files = {name: _read_file(name) for name in paths_or_urls if not _URL.match(name)}
        fetched = _fetch([name for name in paths_or_urls if _URL.match(name)])
    except _InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    records = []
    for name in paths_or_urls:
        source = files.get(name) or fetched[name]
        article = extract_article(source.body, url=source.url, header_charset=source.charset)
        records.append(_record(source, article))

    if format is ExtractFormat.json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
    elif format is ExtractFormat.jsonl:
        for record in records:
            typer.echo(json.dumps(record, ensure_ascii=False))
    else:
        typer.echo("\n".join(_as_text(record) for record in records), nl=False)
