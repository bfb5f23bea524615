"""The article body as a list of blocks, and the filters that drop boilerplate blocks trafilatura kept.

trafilatura returns its body as a small XML tree (`p`, `head`, `list/item`, `table/row/cell`, `quote`, ...).
`body_blocks` turns that tree into plain-text blocks, one per paragraph, heading, list item or table row, with
no markdown left in (no "- " bullets, no "|" cell separators: they are noise to search, tags and dedup).

The filters are pure functions over blocks, each measured on the extraction benchmark (bench/eval.py):

- `drop_title_and_byline`: the headline and a bare byline ("By Jane Doe", "Jane Doe | May 2, 2024") are
  metadata, stored in their own fields; in the body they are repeats.
- `drop_internal_link_blocks`: a block whose text is mostly the text of links to other pages of the same
  site is a "Related:", "More:" or "Most read" teaser, not the article. Links to other sites (sources,
  products, share-a-quote buttons) do not count: they are often the article's own content.

Every filter keeps the page when it would remove most of it (`MAX_FILTERED_SHARE`): a page whose body is
mostly teasers or repeats is a listing or a copy, and it is for later stages to judge, not for a filter to
empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from transforms.bylines import credit_authors, parse_byline
from transforms.text import comparable, normalize_whitespace

if TYPE_CHECKING:
    from lxml.etree import _Element

# A block counts as a link teaser when links to the same site cover at least this share of its characters.
INTERNAL_LINK_SHARE = 0.7
# Shorter anchor texts ("More", "Home", a single name) are too common inside real sentences to say anything.
MIN_ANCHOR_CHARS = 3
# No filter may remove more than this share of a body's characters; beyond it the filter is not applied.
MAX_FILTERED_SHARE = 0.5
# A byline is short; anything longer is a sentence that happens to name the author.
MAX_BYLINE_WORDS = 12
# Without known authors, a labelled byline may hold this many words of names ("By Ann Lee and Bo Chen" has 4).
MAX_BYLINE_NAME_WORDS = 6
# Bylines sit at the top or the bottom of the body: only this many blocks at each end are looked at.
BYLINE_EDGE_BLOCKS = 3

# Tags of trafilatura's output that hold blocks rather than inline text.
_BLOCK_TAGS = frozenset({"p", "head", "list", "table", "quote", "code", "div", "section"})
# Words a byline is made of besides names and dates, in the languages the feeds bring.
_BYLINE_WORDS = frozenset(
    {"by", "and", "written", "posted", "updated", "published", "on", "at", "staff", "reporter", "writer"}
    | {"editor", "correspondent", "contributor", "am", "pm", "gmt", "utc", "est", "edt", "pst", "pdt", "et"}
    | {"von", "und", "par", "et", "por", "y", "di", "e", "door", "en"}
    | {"文", "记者", "作者", "编辑", "责任编辑", "来源", "发布时间", "时间", "日期", "点击", "阅读", "浏览"}
)
# How a byline starts when no author is known from the page's metadata: "By ...", "作者：...", "记者 ...".
_BYLINE_LABEL = re.compile(
    r"^\s*[(（【\[]?\s*(?:(?:written\s+)?by\s+\w|作者|记者|来源|编辑|责任编辑|文\s*[/／|｜:：])", re.IGNORECASE
)
# An editor's credit ("（编辑：严玉洁 王辉）", "【责任编辑：严玉洁】", "(Editing by Tony Munroe)"): whoever it names, it
# is the page's furniture, never the author (bylines.py) and never the article.
_EDITOR_CREDIT = re.compile(r"^\s*[(（【\[]?\s*(?:责任编辑|编辑|(?:editing|edited)\s+by)\b", re.IGNORECASE)
_MONTHS = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?=\W|$)", re.IGNORECASE)
_CJK_DATE = re.compile(r"\d{1,4}\s*[年月日时分]")
# "来源：新华社" (source: the agency or site, whatever its name): a byline's field, like the site's name.
_CJK_SOURCE = re.compile(r"来源\s*[:：]\s*\S+")
_SENTENCE_END = ".!?。！？"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Block:
    """One paragraph, heading, list item or table row of an extracted body."""

    kind: str  # "p", "head", "item", "row", "quote", ...
    text: str  # whitespace-normalised, never empty


# --------------------------------------------------------------------------------------------------------
# From trafilatura's body tree to blocks
# --------------------------------------------------------------------------------------------------------


def _inline_text(el: _Element, *, skip: frozenset[str] = frozenset()) -> str:
    """Text of an element; line breaks become spaces; children tagged in `skip` are left out."""
    parts: list[str] = [el.text or ""]
    for child in el:
        if child.tag in skip:
            parts.append(child.tail or "")
            continue
        parts.append(" " if child.tag == "lb" else "")
        parts.append(_inline_text(child, skip=skip))
        parts.append(child.tail or "")
    return normalize_whitespace("".join(parts))


def _has_block_children(el: _Element) -> bool:
    return any(child.tag in _BLOCK_TAGS for child in el)


def _visit(el: _Element, out: list[Block]) -> None:
    tag = str(el.tag)
    if tag == "list":
        for item in el:
            text = _inline_text(item, skip=frozenset({"list"}))
            if text:
                out.append(Block("item", text))
            for nested in item.iterfind("list"):
                _visit(nested, out)
    elif tag == "table":
        for row in el.iter("row"):
            text = " ".join(cell for cell in (_inline_text(c) for c in row) if cell)
            if text:
                out.append(Block("row", text))
    elif _has_block_children(el):
        _append_text(out, el.text)
        for child in el:
            _visit(child, out)
            _append_text(out, child.tail)
    elif el.find("lb") is not None:
        for text in _lines_between_blank_lines(el):
            out.append(Block(tag, text))
    else:
        text = _inline_text(el)
        if text:
            out.append(Block(tag, text))


def _lines_between_blank_lines(el: _Element) -> list[str]:
    """An element's text cut where two line breaks in a row leave a blank line: old layouts write paragraphs
    as text between `<br><br>`, which trafilatura keeps as one paragraph."""
    segments: list[list[str]] = [[el.text or ""]]
    breaks = 0
    for child in el:
        if child.tag == "lb":
            breaks += 1
            if breaks == 2:
                segments.append([])
            elif breaks == 1:
                segments[-1].append(" ")
        else:
            breaks = 0
            segments[-1].append(_inline_text(child))
        if normalize_whitespace(child.tail or ""):
            breaks = 0
        segments[-1].append(child.tail or "")
    return [text for text in (normalize_whitespace("".join(parts)) for parts in segments) if text]


def _append_text(out: list[Block], text: str | None) -> None:
    """Loose text between blocks (trafilatura leaves some as tails of headings) is a paragraph of its own."""
    text = normalize_whitespace(text or "")
    if text:
        out.append(Block("p", text))


def body_blocks(body: _Element | None) -> list[Block]:
    """Blocks of trafilatura's body tree, in reading order."""
    blocks: list[Block] = []
    if body is None:
        return blocks
    _append_text(blocks, body.text)
    for child in body:
        _visit(child, blocks)
        _append_text(blocks, child.tail)
    return blocks


def blocks_to_body(blocks: Iterable[Block]) -> str:
    return "\n\n".join(block.text for block in blocks)


# --------------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------------


def _chars(blocks: Iterable[Block]) -> int:
    return sum(len(block.text) for block in blocks)


def guarded(before: Sequence[Block], after: list[Block]) -> list[Block]:
    """`after`, unless it lost more than MAX_FILTERED_SHARE of the text of `before`."""
    total = _chars(before)
    if total and _chars(after) < (1 - MAX_FILTERED_SHARE) * total:
        return list(before)
    return after


def _is_byline(text: str, authors: Sequence[str], site: str | None = None) -> bool:
    """A short block made of the author's names, the site's name, dates and byline words, and nothing else.

    Without a known author, a labelled line ("By Jane Doe", "来源：新华社　作者：王晓明") with a few unknown
    words at most, capitalised like names, counts too.
    """
    words = _WORD.findall(text)
    if not words or len(words) > MAX_BYLINE_WORDS:
        return False
    if _EDITOR_CREDIT.match(text):
        return True
    rest = text
    for name in authors:
        if name:
            rest = re.sub(re.escape(name), " ", rest, flags=re.IGNORECASE)
    named = rest != text
    if site:
        rest = re.sub(re.escape(site), " ", rest, flags=re.IGNORECASE)
    rest = _CJK_SOURCE.sub(" ", _CJK_DATE.sub(" ", _MONTHS.sub(" ", rest)))
    left = [w for w in _WORD.findall(rest) if not w.isdigit() and w.casefold() not in _BYLINE_WORDS]
    if named:
        return not left
    # what is left must look like names: a few words, capitalised where the script has case
    return (
        bool(_BYLINE_LABEL.match(text))
        and len(left) <= MAX_BYLINE_NAME_WORDS
        and all(w[0].isupper() or not w[0].islower() for w in left)
        and text.rstrip()[-1:] not in _SENTENCE_END
    )


def bylines(blocks: Sequence[Block], *, authors: Sequence[str] = (), site: str | None = None) -> list[str]:
    """Texts of the byline blocks at either end of the body."""
    edge = {*range(BYLINE_EDGE_BLOCKS), *range(len(blocks) - BYLINE_EDGE_BLOCKS, len(blocks))}
    return [blocks[i].text for i in sorted(edge) if 0 <= i < len(blocks) and _is_byline(blocks[i].text, authors, site)]


def byline_authors(text: str) -> tuple[str, ...]:
    """The names in a byline: 'By Jane Doe and John Roe | May 2' -> ('Jane Doe', 'John Roe'); '作者：王晓明'
    -> ('王晓明',). The shapes are those of transforms/bylines.py."""
    byline = parse_byline(text)
    return byline.authors if byline else ()


def drop_title_and_byline(
    blocks: Sequence[Block],
    *,
    titles: Iterable[str | None],
    authors: Sequence[str] = (),
    site: str | None = None,
) -> list[Block]:
    """Remove blocks that repeat the headline (anywhere) or are only a byline (at either end)."""
    title_list = [t for t in titles if t]
    title_keys = {comparable(t) for t in title_list} - {""}
    longest = max((len(t) for t in title_list), default=0)
    edge = {*range(BYLINE_EDGE_BLOCKS), *range(len(blocks) - BYLINE_EDGE_BLOCKS, len(blocks))}

    def repeats_title(text: str) -> bool:
        # only a block about as long as a title can be one (saves normalising every long paragraph)
        return len(text) <= 2 * longest and comparable(text) in title_keys

    kept = [
        block
        for i, block in enumerate(blocks)
        if not repeats_title(block.text)
        and not (i in edge and (_is_byline(block.text, authors, site) or credit_authors(block.text) is not None))
    ]
    return guarded(blocks, kept)


def _site_of_host(host: str | None) -> str:
    """The registrable part of a host, near enough: 'news.bbc.co.uk' -> 'bbc.co.uk', 'www.a.com' -> 'a.com'"""
    labels = (host or "").lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


_AUTHORITY = re.compile(r"^(?:https?:)?//[^/?#]*", re.IGNORECASE)


def _is_internal(href: str, home: str, hosts: dict[str, bool]) -> bool:
    if not _ABSOLUTE.match(href):
        return True  # a relative link ("/news/x", "x.html", "?p=2") stays on the site
    authority = _AUTHORITY.match(href)
    if authority is None:
        return False  # mailto:, javascript:, tel:
    # a page links to a handful of hosts many times over: parse each scheme and host once
    key = authority.group(0).lower()
    if key not in hosts:
        try:
            host = urlsplit(key).hostname or ""
        except ValueError:  # malformed ("http://[::1"): not a link a reader could follow either
            hosts[key] = False
        else:
            hosts[key] = _site_of_host(host) == home
    return hosts[key]


@dataclass(frozen=True)
class Links:
    """The page's links to other pages of its own site (relative links included): their texts and hrefs."""

    internal_texts: frozenset[str]
    internal_hrefs: frozenset[str]
    texts: frozenset[str] = frozenset()  # of every link, to other sites too


def page_links(tree: _Element, url: str) -> Links:
    home = _site_of_host(urlsplit(url).hostname)
    hosts: dict[str, bool] = {}
    texts: set[str] = set()
    hrefs: set[str] = set()
    every: set[str] = set()
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        text = "".join(anchor.itertext())
        if "  " in text or "\n" in text or "\t" in text or "\xa0" in text or text[:1].isspace() or text[-1:].isspace():
            text = normalize_whitespace(text)  # most anchor texts are a clean line already
        if len(text) >= MIN_ANCHOR_CHARS:
            every.add(text)
        if not _is_internal(href, home, hosts):
            continue
        hrefs.add(href)
        if len(text) >= MIN_ANCHOR_CHARS:
            texts.add(text)
    return Links(frozenset(texts), frozenset(hrefs), frozenset(every))


def internal_anchor_texts(tree: _Element, url: str) -> frozenset[str]:
    """Texts of the page's links to other pages of its own site (relative links included)."""
    return page_links(tree, url).internal_texts


def link_share(text: str, anchors: Iterable[str]) -> float:
    """Share of `text` made of the given anchor texts."""
    if not text:
        return 0.0
    covered = sum(len(a) * text.count(a) for a in anchors if len(a) <= len(text) and a in text)
    return min(1.0, covered / len(text))


def drop_internal_link_blocks(blocks: Sequence[Block], anchors: frozenset[str]) -> list[Block]:
    """Remove teaser blocks: mostly text of links to the same site ("Related: ...", lists of headlines), and
    the label that headed them."""
    if not anchors:
        return list(blocks)
    kept = [block for block in blocks if link_share(block.text, anchors) < INTERNAL_LINK_SHARE]
    return guarded(blocks, drop_orphan_labels(blocks, kept))


# A row of links ("Share this: Email | Facebook | Twitter", "Print | Email to a friend") is this short...
LINK_BAR_MAX_WORDS = 12
# ...and links cover at least this share of it.
LINK_BAR_LINK_SHARE = 0.5
# ...of at least this many links, each of at most this many words ("Email", "Facebook", "Print")...
LINK_BAR_MIN_LINKS = 3
LINK_BAR_LINK_WORDS = 2
# ...with at most this many words between its links ("Share this").
LINK_BAR_MAX_LABEL_WORDS = 2
# A label ("Related Posts:", "More on this story") is this short and ends without a sentence's full stop.
MAX_LABEL_WORDS = 5
# A notice at the end with a copyright sign or "Copyright 2025" is at most this long.
MAX_NOTICE_WORDS = 40
# A block that is mostly a bare URL ("View original content: https://...") is a pointer, not text.
URL_SHARE = 0.4

_COPYRIGHT = re.compile(r"©|\(c\)\s*(?:19|20)\d\d|copyright\s*(?:©\s*)?(?:19|20)\d\d", re.IGNORECASE)
_URL = re.compile(r"https?://\S+")


def _is_link_bar(text: str, anchors: frozenset[str]) -> bool:
    """Three or more links of a word or two ("Email", "Facebook") and at most a label between them ("Share
    this:", "|"). Two linked names ("— Rep. Jane Doe (@jane) May 2, 2024") or linked titles are text."""
    if len(_WORD.findall(text)) > LINK_BAR_MAX_WORDS:
        return False
    # the block's words and pairs of words looked up among the anchors (not every anchor searched in the block)
    words = text.split()
    candidates = {*words, *(" ".join(pair) for pair in zip(words, words[1:], strict=False))}
    found = [c for c in candidates if c in anchors]
    if len(found) < LINK_BAR_MIN_LINKS or link_share(text, found) < LINK_BAR_LINK_SHARE:
        return False
    rest = text
    for anchor in sorted(found, key=len, reverse=True):
        rest = rest.replace(anchor, " ")
    return len(_WORD.findall(rest)) <= LINK_BAR_MAX_LABEL_WORDS


def _is_notice(text: str) -> bool:
    return len(_WORD.findall(text)) <= MAX_NOTICE_WORDS and _COPYRIGHT.search(text) is not None


def _is_self_pointer(text: str, home: str) -> bool:
    """Mostly a bare URL of the page's own site ("View original content: https://site/this-page"). A URL of
    another site is a source the article points to, and stays."""
    urls = [m for m in _URL.findall(text) if _site_of_host(urlsplit(m).hostname) == home]
    chars = sum(len(m) for m in urls)
    return bool(urls) and chars >= URL_SHARE * len(text) and len(_WORD.findall(text)) <= LINK_BAR_MAX_WORDS * 2


def _is_label(block: Block) -> bool:
    """A heading, or a short line that ends with a colon: what introduces a section or a list."""
    text = block.text.rstrip()
    if len(_WORD.findall(text)) > MAX_LABEL_WORDS or text[-1:] in _SENTENCE_END:
        return False
    return block.kind == "head" or text.endswith((":", "："))


def drop_page_furniture(blocks: Sequence[Block], anchors: frozenset[str], url: str) -> list[Block]:
    """Remove the page's furniture that trafilatura kept: rows of links (share bars, "Print | Email"), a
    copyright notice among the last blocks, a line that is mostly a bare URL, and a label left without what it
    labelled (a "Related Posts:" whose list was removed, here or by an earlier filter)."""
    edge = set(range(len(blocks) - BYLINE_EDGE_BLOCKS, len(blocks)))
    home = _site_of_host(urlsplit(url).hostname)
    kept = [
        block
        for i, block in enumerate(blocks)
        if not _is_link_bar(block.text, anchors)
        and not (i in edge and _is_notice(block.text))
        and not _is_self_pointer(block.text, home)
    ]
    kept = drop_orphan_labels(blocks, kept)
    return guarded(blocks, kept)


def drop_orphan_labels(before: Sequence[Block], after: list[Block]) -> list[Block]:
    """`after` less its labels that were followed, in `before`, by a block that was removed, or that end the
    body with a colon: a heading whose section is gone."""
    kept_ids = {id(block) for block in after}
    orphans = set()
    for i, block in enumerate(before):
        if id(block) not in kept_ids or not _is_label(block):
            continue
        removed_next = i + 1 < len(before) and id(before[i + 1]) not in kept_ids
        last_with_colon = block is after[-1] and block.text.rstrip().endswith((":", "："))
        if removed_next or last_with_colon:
            orphans.add(id(block))
    return [block for block in after if id(block) not in orphans]
