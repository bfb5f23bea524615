"""Turn a fetched page (bytes or text) into an article draft: body text, title, authors, date, language, site.

Pure: no IO, no network. One trafilatura pass per page, in precision mode, on a tree we parsed ourselves from
text we decoded ourselves; trafilatura's downloader is never used. Its body comes back as blocks
(transforms/blocks.py) that we render as plain paragraphs and filter: the headline and byline repeated in the
body, teasers made of links to the same site, and, when the caller passes what was learned from the site's
earlier pages, the site's template (transforms/templates.py). bench/eval.py measures each of these.
trafilatura is imported lazily so that importing this module (for its dataclasses) stays cheap for the CLI.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from transforms.blocks import (
    BYLINE_EDGE_BLOCKS,
    Block,
    blocks_to_body,
    body_blocks,
    bylines,
    drop_internal_link_blocks,
    drop_page_furniture,
    drop_title_and_byline,
    page_links,
)
from transforms.bylines import (
    Byline,
    credit_authors,
    dateline_reporters,
    parse_byline,
    tree_byline,
    without_dates,
)
from transforms.layout import clean_layout, remove_keeping_tail
from transforms.templates import SiteTemplate, block_key, drop_template_blocks
from transforms.text import comparable, normalize_whitespace, split_authors

if TYPE_CHECKING:
    from lxml.html import HtmlElement

__all__ = [
    "EXTRACTOR_VERSION",
    "EntryHints",
    "ExtractedArticle",
    "SiteTemplate",
    "decode_html",
    "extract_article",
    "guess_language",
    "normalize_whitespace",
    "paragraphs_to_body",
    "split_authors",
]

# Bump the suffix whenever the logic here changes what comes out for the same page: stored articles carry it,
# and `reprocess` uses it to find articles extracted by older logic.
EXTRACTOR_VERSION = f"trafilatura-{version('trafilatura')}+ren4"

# trafilatura's options, each measured on bench/extraction (F1, whitespace tokens; see bench/eval.py):
# precision mode +0.006 over balanced; comments left out +0.002 (a reader's comment is not the article);
# tables kept (+0.006: results tables and figures are the article on the pages that have them); fast mode off
# (+0.003: the comparison with trafilatura's fallback extractors rescues pages its main pass under-extracts).
# That comparison runs readability and justext on every page, a third of extraction's time, and changes the
# body of only the pages whose fast-mode body is short: so it runs only below FALLBACK_BELOW_CHARS. That
# threshold is refit on each fold by bench/crossval.py (TUNABLES): every fold chose 500 over 1000.
FAVOR_PRECISION = True
INCLUDE_TABLES = True
FAST = False
FALLBACK_BELOW_CHARS = 500
# Where a `<meta charset>` must appear (the HTML spec's prescan looks at the first 1024 bytes; real pages put
# long <script>/<link> blocks first, so look a little further).
META_PRESCAN_BYTES = 4096
# charset_normalizer only sees this much of an undeclared, non-UTF-8 page: enough to decide, bounded in time.
CHARSET_GUESS_SAMPLE_BYTES = 65536
# How many of the page's first <h1>/<h2> headings can confirm which part of a "Headline | Site" title is the
# headline.
HEADINGS_FOR_TITLE = 5
# How much body text the language heuristic looks at.
LANGUAGE_SAMPLE_CHARS = 3000


@dataclass(frozen=True)
class EntryHints:
    """What the feed entry said about the article; fills gaps in the page's own metadata."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    summary: str | None = None


@dataclass(frozen=True)
class ExtractedArticle:
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None  # timezone-aware UTC
    language: str | None  # ISO 639-1 like "en", "zh"
    site: str | None  # site name, e.g. "Global Times"
    body_text: str  # paragraphs separated by "\n\n"; "" if nothing found
    description: str | None = None
    # Template keys of the body's blocks before the site template was applied: what `learn_template` needs.
    block_keys: tuple[str, ...] = ()
    # Where each field came from: "page" (the page's metadata: JSON-LD, Open Graph, <meta>, <time>, <title>,
    # as read by trafilatura), "meta" (an author <meta> or JSON-LD name trafilatura refused, e.g. in Chinese),
    # "byline" (the byline line of the body), "feed" (the entry's hints), "url" (the site from the host).
    sources: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------------

# WHATWG Encoding Standard: labels browsers treat as a superset encoding. Keys are labels as servers and
# pages write them; values are Python codec names.
_LABEL_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "ascii",
            "us-ascii",
            "ansi_x3.4-1968",
            "iso-8859-1",
            "iso8859-1",
            "iso_8859-1",
            "iso88591",
            "latin1",
            "latin-1",
            "l1",
            "cp819",
            "ibm819",
            "iso-ir-100",
            "csisolatin1",
            "windows-1252",
            "x-cp1252",
            "cp1252",
        ),
        "cp1252",
    ),
    **dict.fromkeys(
        (
            "gb2312",
            "gbk",
            "x-gbk",
            "chinese",
            "csgb2312",
            "gb_2312",
            "gb_2312-80",
            "iso-ir-58",
            "csiso58gb231280",
            "gb18030",
        ),
        "gb18030",
    ),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "latin5", "l5", "windows-1254"), "cp1254"),
    **dict.fromkeys(("tis-620", "iso-8859-11", "windows-874", "dos-874"), "cp874"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "korean", "windows-949", "cp949"), "cp949"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "windows-31j"), "cp932"),
    **dict.fromkeys(("big5", "big5-hkscs", "x-x-big5", "cn-big5", "csbig5"), "big5hkscs"),
    **dict.fromkeys(("macintosh", "mac", "x-mac-roman", "csmacintosh"), "mac_roman"),
    "iso-8859-8-i": "iso8859-8",
}
# Superset mapping by Python codec name, for labels resolved through codecs.lookup and for guesses.
_CODEC_SUPERSETS: dict[str, str] = {
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "iso8859-11": "cp874",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
}
# Never honoured from a label: UTF-16/32 only count with a BOM (WHATWG treats a meta utf-16 as utf-8, and a
# server claiming it for ASCII bytes would turn the page into CJK noise); UTF-7 is not a web encoding.
_REFUSED_CODECS = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-7"})

_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.IGNORECASE)


def _codec_for_label(label: str | None) -> str | None:
    """Python codec for a charset label, WHATWG-mapped; None for labels that are unknown or not honoured."""
    if not label:
        return None
    key = label.strip().strip("\"'").strip().lower()
    if key in _LABEL_ALIASES:
        return _LABEL_ALIASES[key]
    try:
        info = codecs.lookup(key)
    except LookupError:
        return None
    # base64, rot13 and friends resolve too, but are not text encodings.
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return _CODEC_SUPERSETS.get(info.name, info.name)


def _decode_strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        if codec == "cp1252":
            # WHATWG windows-1252 maps the five bytes Python leaves undefined (0x81, 0x8D, ...) to the C1
            # controls of the same value, i.e. Latin-1: a page that declared it is still that page.
            return "".join(
                chunk.decode("cp1252", errors="strict") if ok else chunk.decode("latin-1")
                for ok, chunk in _split_cp1252_undefined(body)
            )
        return None


_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]+")


def _split_cp1252_undefined(body: bytes) -> list[tuple[bool, bytes]]:
    parts: list[tuple[bool, bytes]] = []
    pos = 0
    for match in _CP1252_UNDEFINED.finditer(body):
        parts.append((True, body[pos : match.start()]))
        parts.append((False, match.group()))
        pos = match.end()
    parts.append((True, body[pos:]))
    return parts


def _guess_codec(body: bytes) -> str | None:
    import charset_normalizer  # only undeclared, non-UTF-8 pages get here

    best = charset_normalizer.from_bytes(body[:CHARSET_GUESS_SAMPLE_BYTES]).best()
    return _codec_for_label(best.encoding) if best is not None else None


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """Decode a page the way a browser would, trusting the bytes over a server's claim. Never raises.

    Order: BOM; strict UTF-8 if the bytes are non-ASCII and valid UTF-8 (servers often say iso-8859-1 for
    UTF-8 pages, never the reverse by accident); the HTTP header charset; a `<meta>` charset in the first
    bytes; charset_normalizer's guess; UTF-8 with replacement. A label that is unknown, or under which the
    bytes do not decode, falls through to the next rule.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if body.startswith(codecs.BOM_UTF16_LE):
        return body[2:].decode("utf-16-le", errors="replace")
    if body.startswith(codecs.BOM_UTF16_BE):
        return body[2:].decode("utf-16-be", errors="replace")

    if not body.isascii():
        text = _decode_strict(body, "utf-8")
        if text is not None:
            return text

    meta = _META_CHARSET.search(body[:META_PRESCAN_BYTES])
    for label in (header_charset, meta.group(1).decode("ascii") if meta else None):
        codec = _codec_for_label(label)
        if codec is not None:
            text = _decode_strict(body, codec)
            if text is not None:
                return text

    if body.isascii():
        return body.decode("ascii")
    codec = _guess_codec(body)
    if codec is not None:
        return body.decode(codec, errors="replace")
    return body.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------------------
# Text helpers shared with transforms/seed_text.py (more in transforms/text.py)
# --------------------------------------------------------------------------------------------------------


def paragraphs_to_body(lines: list[str], *, title: str | None = None) -> str:
    """Join non-empty paragraphs with a blank line; drop leading paragraphs that only repeat the title."""
    paragraphs = [p for p in (normalize_whitespace(line) for line in lines) if p]
    if title:
        key = comparable(title)
        while paragraphs and comparable(paragraphs[0]) == key:
            paragraphs.pop(0)
    return "\n\n".join(paragraphs)


_ENGLISH_FUNCTION_WORDS = frozenset(
    {"the", "of", "and", "to", "in", "a", "is", "that", "for", "on", "with", "as", "was", "said", "by", "it"}
    | {"from", "at", "are", "be", "has", "have", "its", "an"}
)


_ASCII_LETTER = re.compile(r"[A-Za-z]")
_CJK_IDEOGRAPH = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")


def _letters_in(script: re.Pattern[str], sample: str) -> int:
    return sum(1 for ch in script.findall(sample) if ch.isalpha())


def guess_language(text: str) -> str | None:
    """Cheap script-based guess: 'zh' / 'ja' / 'ko' by script share, 'en' for ASCII text with English
    function words, else None. Confident enough to override a page's declared language."""
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    # counted by regular expressions, not a Python loop over each character (a twentieth of a page's CPU)
    letters = sum(map(str.isalpha, sample))
    ascii_letters = len(_ASCII_LETTER.findall(sample))
    cjk, kana, hangul = (_letters_in(script, sample) for script in (_CJK_IDEOGRAPH, _KANA, _HANGUL))
    if letters == 0:
        return None
    if kana >= 0.1 * letters:
        return "ja"
    if hangul >= 0.3 * letters:
        return "ko"
    # CJK characters carry a word each, so a third of letters is already a Chinese text
    if cjk >= 0.3 * letters:
        return "zh"
    if ascii_letters >= 0.9 * letters:
        words = re.findall(r"[a-z]+", sample.lower())
        if words and sum(w in _ENGLISH_FUNCTION_WORDS for w in words) >= 0.08 * len(words):
            return "en"
    return None


def _normalize_language_tag(tag: str | None) -> str | None:
    """'en-US' / 'zh_Hans_CN' / 'EN' -> 'en'; None for anything that is not a two-letter primary tag."""
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2}", primary) else None


# --------------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------------

# htmldate is asked for a full timestamp; a date-only source comes back as midnight without an offset.
_HTMLDATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def parse_page_date(value: str | None) -> tuple[datetime | None, bool]:
    """(aware UTC datetime, exact?) from htmldate output. Naive timestamps are taken as UTC; a naive
    midnight is a date-only value (not exact), which a feed entry's timestamp should beat."""
    if not value:
        return None, False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None, False
    if parsed.tzinfo is None:
        exact = (parsed.hour, parsed.minute, parsed.second) != (0, 0, 0)
        return parsed.replace(tzinfo=UTC), exact
    return parsed.astimezone(UTC), True


def to_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --------------------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------------------

# Boxes whose class or id says "newsletter" or "subscribe": sign-up pitches set inside the article's own
# container, where trafilatura keeps them ("subscribe-box" is outside its vocabulary). The name must start
# a word ("subscribe-box", "wp-newsletter" match; "unsubscribed" does not). Only these names: the wider list
# this started with (sidebar, nav, footer, comment, related, share) cost 0.017 F1 on bench/extraction,
# because layout wrappers are named like that ("content-with-sidebar-wrp" held a whole article), and
# trafilatura and the link-teaser filter already handle those boxes.
_BOILERPLATE_NAME = re.compile(r"(?:^|[^a-z])(?:newsletter|subscri)", re.IGNORECASE)
_BOILERPLATE_TAGS = frozenset({"div", "section", "aside", "form"})
# A container holding more than this share of the page's text is a layout wrapper, not a box.
_MAX_PRUNED_TEXT_SHARE = 0.4


def _preclean(tree: HtmlElement) -> None:
    """Remove sign-up boxes in place, never one that holds the headline or the article."""
    candidates = [
        el
        for el in tree.iter(*_BOILERPLATE_TAGS)
        if _BOILERPLATE_NAME.search(f"{el.get('class', '')} {el.get('id', '')}")
    ]
    if not candidates:
        return
    body = tree.find("body")
    total = len((body if body is not None else tree).text_content()) or 1
    for el in candidates:
        parent = el.getparent()
        if parent is None:  # already removed with an ancestor, or the root
            continue
        if el.find(".//h1") is not None or el.find(".//article") is not None:
            continue
        if el.find(".//*[@itemprop='articleBody']") is not None:
            continue
        if len(el.text_content()) > _MAX_PRUNED_TEXT_SHARE * total:
            continue
        remove_keeping_tail(el)  # the tail is text of the parent that happens to follow the box


# <meta> names and properties that carry the author's name (not a profile URL) on news pages.
_AUTHOR_META = frozenset({"author", "article:author", "og:article:author", "dc.creator", "byl", "parsely-author"})


def _meta_authors(tree: HtmlElement, site: str | None) -> tuple[str, ...]:
    """Authors named by <meta> tags and JSON-LD in a non-Latin script, taken as they are written.

    trafilatura reads the same tags but drops every name it cannot check, which includes every name written
    in Chinese. Names in Latin script it did see and refused ("BBC News", "MS", "RD"): its judgment stands.
    """
    names: list[str] = []
    for meta in tree.iterfind(".//meta"):
        key = (meta.get("name") or meta.get("property") or "").strip().lower()
        content = normalize_whitespace(meta.get("content") or "")
        if key in _AUTHOR_META and content and not re.match(r"https?://", content):
            names.append(content)
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        names.extend(_json_ld_authors(script.text or ""))
    site_key = comparable(site or "")
    return tuple(name for name in split_authors(*names) if not _latin_only(name) and comparable(name) != site_key)


def _latin_only(text: str) -> bool:
    return all(ord(ch) < 0x250 or 0x1E00 <= ord(ch) <= 0x1EFF for ch in text if ch.isalpha())


def _json_ld_authors(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    names: list[str] = []
    stack = [data]
    while stack:  # JSON-LD nests (@graph, lists): look at every object, authors of any article type
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            authors = item.get("author")
            for author in authors if isinstance(authors, list) else [authors]:
                name = author.get("name") if isinstance(author, dict) else author
                if isinstance(name, str) and name.strip() and not name.startswith("http"):
                    names.append(name)
            stack.extend(v for k, v in item.items() if k != "author" and isinstance(v, dict | list))
    return names


def _declared_language(tree: HtmlElement) -> str | None:
    lang = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not lang:
        for meta in tree.iterfind(".//meta"):
            key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
            if key in {"content-language", "og:locale", "language", "dc.language"}:
                lang = meta.get("content")
                break
    return _normalize_language_tag(lang)


def _host(url: str) -> str | None:
    host = urlsplit(url).hostname
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


_TITLE_SEPARATORS = re.compile(r"\s+(?:[|\-–—:]|::|»)\s+|\s*[｜_]\s*")


def _strip_site_suffix(title: str, site: str | None, host: str | None = None, headings: Sequence[str] = ()) -> str:
    """'Headline | Site' or 'Site :: Headline' -> 'Headline': the part that is not the site's name (or its
    host's), or the part the page's own headline repeats."""
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(title) if p.strip()]
    if len(parts) < 2:
        return title
    names = {comparable(site or ""), comparable((host or "").split(".")[0])} - {""}
    rest = [p for p in parts if comparable(p) not in names]
    if rest and len(rest) < len(parts):
        return _join_parts(title, rest)
    heading_keys = {comparable(h) for h in headings} - {""}
    for part in parts:
        if comparable(part) in heading_keys:
            return part
    return title


def _join_parts(title: str, rest: Sequence[str]) -> str:
    """The title less the site's part, its own separators kept ("A - B | Site" -> "A - B")."""
    start = title.find(rest[0])
    end = title.rfind(rest[-1]) + len(rest[-1])
    return title[start:end].strip() if start >= 0 and end > start else " ".join(rest)


def _trafilatura_extract(tree: HtmlElement, url: str) -> Any:
    """trafilatura's body, in fast mode first and with its fallback extractors only when that came out short,
    under the page's metadata (`_page_metadata`)."""
    import trafilatura  # lazy: about a second of import time the CLI's read-only commands should not pay

    def body(fast: bool) -> Any:
        return trafilatura.bare_extraction(
            tree,  # trafilatura works on a copy: the caller's tree is left as parsed
            url=url,
            fast=fast,
            favor_precision=FAVOR_PRECISION,
            with_metadata=False,
            include_comments=False,
            include_tables=INCLUDE_TABLES,
        )

    document = body(fast=True)
    if not FAST and (document is None or len(document.text or "") < FALLBACK_BELOW_CHARS):
        document = body(fast=False) or document
    metadata = _page_metadata(tree, url)
    if document is not None:
        metadata.body, metadata.text = document.body, document.text
    return metadata


def _page_metadata(tree: HtmlElement, url: str) -> Any:
    """Title, author, date, site name and description, as trafilatura's `extract_metadata` finds them, less
    the categories, tags and licence it also looks for (a third of its time, and nothing here uses them)."""
    from htmldate import find_date
    from trafilatura.metadata import (
        META_URL,
        examine_meta,
        extract_author,
        extract_meta_json,
        extract_sitename,
        extract_title,
        extract_url,
    )
    from trafilatura.settings import set_date_params

    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:  # trafilatura's rule: a one-word author is a handle
        metadata.author = None
    with contextlib.suppress(Exception):  # trafilatura's own guard: its JSON-LD reader fails on odd pages
        metadata = extract_meta_json(tree, metadata)
    metadata.title = metadata.title or extract_title(tree)
    metadata.author = metadata.author or extract_author(tree)
    metadata.url = metadata.url or extract_url(tree, url)
    date_params = set_date_params(extensive=True)
    date_params["outputformat"] = _HTMLDATE_FORMAT
    metadata.date = find_date(tree, **date_params, url=metadata.url)
    sitename = metadata.sitename or extract_sitename(tree)
    if sitename:
        sitename = sitename.lstrip("@")  # a Twitter handle
        if sitename and "." not in sitename and not sitename[0].isupper():
            sitename = sitename.title()
    elif metadata.url and (match := META_URL.match(metadata.url)):
        sitename = match[1]
    metadata.sitename = sitename
    return metadata


def _load_tree(html: str) -> HtmlElement | None:
    from trafilatura import load_html

    return load_html(html)


def _headings(tree: HtmlElement) -> list[str]:
    return [normalize_whitespace(h.text_content()) for h in tree.iter("h1", "h2")][:HEADINGS_FOR_TITLE]


def _copyright_year_guess(page_date: datetime, exact: bool) -> bool:
    """htmldate's last resort: when every date it finds is older than the page's copyright year (a footer's
    "© 2025" on a 2024 article), it answers January 1 of that year."""
    return not exact and (page_date.month, page_date.day) == (1, 1)


def _byline_in_text(blocks: list[Block], tree: HtmlElement, site: str | None) -> Byline | None:
    """A byline written in the page: at either end of the body, a wire credit at its end, a reporter in a
    Chinese dateline at its start, then the page's short texts from the headline on."""
    for text in bylines(blocks, site=site):
        found = parse_byline(text)
        if found is not None and found.authors:
            return found
    for block in blocks[-BYLINE_EDGE_BLOCKS:]:
        names = credit_authors(block.text)
        if names:
            return Byline(names)
    for block in blocks[:2]:
        names = dateline_reporters(block.text)
        if names:
            return Byline(names)
    return tree_byline(tree)[0]


def _hinted(hints: EntryHints) -> list[tuple[str, object]]:
    return [("title", hints.title), ("authors", hints.authors), ("published_at", hints.published_at)]


def extract_article(
    body: bytes | str,
    *,
    url: str,
    header_charset: str | None = None,
    hints: EntryHints | None = None,
    template: SiteTemplate | None = None,
) -> ExtractedArticle:
    """Extract one article from one page. Page metadata first, the feed entry's hints where it is silent.

    `template` is what was learned from earlier pages of the same site (transforms/templates.py); its
    boilerplate blocks are left out of the body. The result's `block_keys` feed `learn_template`.
    """
    hints = hints or EntryHints()
    html = body if isinstance(body, str) else decode_html(body, header_charset)
    tree = _load_tree(html) if html.strip() else None
    if tree is None:
        return ExtractedArticle(
            title=hints.title,
            authors=split_authors(*hints.authors),
            published_at=to_utc(hints.published_at),
            language=None,
            site=_host(url),
            body_text="",
            description=hints.summary,
            sources={
                "site": "url",
                **{field: "feed" for field, value in _hinted(hints) if value},
            },
        )

    declared_language = _declared_language(tree)
    _preclean(tree)
    links = page_links(tree, url)
    clean_layout(tree, links.internal_hrefs)
    anchors = links.internal_texts
    document = _trafilatura_extract(tree, url)

    sources: dict[str, str] = {}
    site_host = _host(url)
    page_site = normalize_whitespace(document.sitename or "")
    site = page_site or site_host
    # trafilatura falls back to the host name itself when the page names no site
    sources["site"] = "page" if page_site and comparable(page_site) != comparable(site_host or "") else "url"
    page_title = normalize_whitespace(document.title or "") or None
    title = _strip_site_suffix(page_title, site, site_host, _headings(tree)) if page_title else hints.title
    if title:
        sources["title"] = "page" if page_title else "feed"

    blocks = body_blocks(getattr(document, "body", None))
    page_date, exact = parse_page_date(document.date)
    authors, sources["authors"] = without_dates(split_authors(document.author or "")), "page"
    if not authors:
        authors, sources["authors"] = _meta_authors(tree, page_site or None), "meta"
    byline = _byline_in_text(blocks, tree, page_site or None) if not authors else None
    if byline is not None:
        authors, sources["authors"] = byline.authors, "byline"
    if not authors:
        authors, sources["authors"] = split_authors(*hints.authors), "feed"
    if not authors:
        del sources["authors"]

    if page_date is None or _copyright_year_guess(page_date, exact):
        # the date the page writes beside its byline or under its headline
        text_date = (byline.published if byline else None) or tree_byline(tree)[1]
        if text_date is not None:
            page_date, exact = datetime(text_date.year, text_date.month, text_date.day, tzinfo=UTC), False
    # an exact page date beats the feed; the feed's timestamp beats a page date known only to the day
    published_at = page_date if exact or hints.published_at is None else to_utc(hints.published_at)
    if published_at is not None:
        sources["published_at"] = "page" if published_at is page_date else "feed"

    blocks = drop_title_and_byline(
        blocks, titles=(page_title, title, hints.title), authors=authors, site=page_site or None
    )
    blocks = drop_internal_link_blocks(blocks, anchors)
    blocks = drop_page_furniture(blocks, links.texts, url)
    block_keys = tuple(dict.fromkeys(k for k in (block_key(b.text) for b in blocks) if k))
    blocks = drop_template_blocks(blocks, template)
    body_text = blocks_to_body(blocks)

    guessed = guess_language(body_text or title or "")
    language = _normalize_language_tag(document.language) or guessed or declared_language

    return ExtractedArticle(
        title=title,
        authors=authors,
        published_at=published_at,
        language=language,
        site=site,
        body_text=body_text,
        description=normalize_whitespace(document.description or "") or hints.summary,
        block_keys=block_keys,
        sources=sources,
    )
