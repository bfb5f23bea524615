"""Page structure read before trafilatura sees the tree: layout tables, widgets, ad slots and teaser cards.

trafilatura judges a page by its tags and class names, which old and minimal layouts do not give it: a
site built of `<table>`s, or of bare `<div>`s, has the article, the sidebars and the footer in elements that
all look alike. These steps use signals that hold whatever the site calls its elements:

- `unwrap_layout_tables`: a table is data when it has rows and columns of short cells; a table with a long
  cell, a nested table, a form or a heading in a cell, or one row or one column, is the page's grid. Its
  cells become `<div>`s, so the article in a `<td>` is judged as a block of text (and not kept whole as one
  "table row", with the sidebars beside it).
- `drop_widgets`: forms, buttons and script links (`href="#"`, `javascript:`) belong to sign-up boxes, cookie
  banners and share bars; the largest container around each that holds little text and one paragraph at
  most (the pitch) goes with it.
- `drop_ad_slots`: a container holding a frame or a slot for an ad, or a linked image, and one short label
  ("ADVERTISEMENT", "广告").
- `drop_teaser_cards`: two or more sibling containers of the same shape that each start with a link to
  another page of the site, on a line of its own, and add a summary in a block of its own are a "Top news" or
  "Recent posts" list, however long their summaries are.

Each step leaves alone any element holding the headline (`<h1>`), an `<article>` or the marked article body,
and removes elements with their tail text kept. Pure: the tree is changed in place, nothing else is touched.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from transforms.text import normalize_whitespace

if TYPE_CHECKING:
    from lxml.html import HtmlElement

# A table cell with more text than this is a page region (an article, a sidebar), not a datum.
LAYOUT_CELL_CHARS = 300
# A widget's container (sign-up box, cookie banner, share bar) holds at most this much text.
WIDGET_MAX_CHARS = 300
# A script link stands alone (a button) when its parent holds at most this much text besides the link's.
LONE_LINK_CONTEXT_CHARS = 20
# A <p> shorter than this is a label or a line of a form, not a paragraph of text.
MIN_PARAGRAPH_CHARS = 40
# An ad slot's label sits at most this many levels above its frame or image.
AD_SLOT_MAX_DEPTH = 3
# An ad slot's label is at most this long ("ADVERTISEMENT", "Advertisement", "广告", "Anzeige").
AD_LABEL_MAX_CHARS = 16
# A teaser card is at most this long: a headline and a summary, not an article.
TEASER_MAX_CHARS = 600
# A linked headline is at least this long ("More", "Read more »" and single names are not headlines).
TEASER_HEADLINE_MIN_CHARS = 15

# A CJK character counts as this many characters of text in the lengths above.
CJK_CHAR_WEIGHT = 3

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_NORMALIZED_LENGTH = etree.XPath("string-length(normalize-space())")
# Keys of a publication date in a page's scripts, as plain substrings (a regex over a 200 kB script costs).
_DATA_SCRIPTS = ("application/ld+json", "application/settings+json")  # what trafilatura and htmldate read
_DATE_KEYS = ("datePublished", "dateCreated", "date_published", "pubdate", "pubDate", "publishDate", "publish_date")
_CELL_TAGS = ("td", "th")
_GRID_TAGS = frozenset({"table", "tbody", "thead", "tfoot", "tr", "td", "th", "caption"})
_REGION_MARKERS = ("table", "form", "h1", "h2")
_CONTAINER_TAGS = frozenset(
    {"div", "section", "aside", "form", "table", "tr", "td", "li", "ul", "p", "center", "span", "font"}
)
_CARD_TAGS = frozenset({"div", "article", "section"})
_SUMMARY_TAGS = ("p", "div")
_MEDIA_TAGS = ("iframe", "ins", "embed", "object", "video", "img")


def _text_len(el: HtmlElement) -> int:
    """Length of an element's text, a CJK character counting as CJK_CHAR_WEIGHT (it carries about a word)."""
    text = normalize_whitespace(el.text_content())
    if text.isascii():
        return len(text)
    return len(text) + (CJK_CHAR_WEIGHT - 1) * len(_CJK.findall(text))


def _text_over(el: HtmlElement, limit: int) -> bool:
    """Whether an element's text is longer than `limit` as `_text_len` counts it. The containers asked about
    are often the whole page: their plain length is taken by XPath in C, and CJK weighting is only counted
    when it could tip the answer."""
    plain = int(_NORMALIZED_LENGTH(el))
    if plain > limit:
        return True
    if plain * CJK_CHAR_WEIGHT <= limit:
        return False
    return _text_len(el) > limit


def _protected(el: HtmlElement) -> bool:
    """Holds the headline or the article: never removed whole."""
    if el.tag in ("article", "h1") or el.get("itemprop") == "articleBody":
        return True
    return el.find(".//h1") is not None or el.find(".//article") is not None


def remove_keeping_tail(el: HtmlElement) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    previous = el.getprevious()
    parent.remove(el)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


# ---- tables ----------------------------------------------------------------------------------------------------


def _own_cells(table: HtmlElement) -> list[HtmlElement]:
    """The cells of this table, not of the tables nested in it."""
    return [cell for cell in table.iter(*_CELL_TAGS) if next(cell.iterancestors("table"), None) is table]


def is_layout_table(table: HtmlElement) -> bool:
    cells = _own_cells(table)
    if not cells:
        return True
    rows = set([cell.getparent() for cell in cells])  # the list keeps each row's proxy (and identity) alive
    if len(rows) < 2 or len(cells) < 2 * len(rows) - 1:  # one row, or about one cell per row
        return True
    for cell in cells:
        if any(cell.find(f".//{tag}") is not None for tag in _REGION_MARKERS):
            return True
        if _text_over(cell, LAYOUT_CELL_CHARS):
            return True
    # A table of links (standings with linked names, headlines with dates) is still a table: the link filters
    # judge its rows.
    return False


def unwrap_layout_tables(tree: HtmlElement) -> int:
    """Turn layout tables into `<div>`s (data tables stay tables). Returns how many were unwrapped."""
    layout = [table for table in tree.iter("table") if is_layout_table(table)]
    # decided on the tree as parsed, renamed afterwards (renaming while lxml iterates by tag loses elements)
    grid = [
        el
        for table in layout
        for el in table.iter(*_GRID_TAGS)
        # a nested table is judged on its own: a data table in a layout cell stays a table
        if el is table or (el.tag != "table" and next(el.iterancestors("table"), None) is table)
    ]
    for el in grid:
        el.tag = "div"
    return len(layout)


# ---- widgets, ad slots, teaser cards -----------------------------------------------------------------------------


_FORM_CONTROLS = ("button", "input", "select", "textarea")


_SCRIPT_LINKS = etree.XPath("//a[@href='#' or starts-with(@href, 'javascript:')]")


def _script_links(tree: HtmlElement) -> list[HtmlElement]:
    return list(_SCRIPT_LINKS(tree))


def _widget_container(el: HtmlElement, regions: dict[HtmlElement, bool]) -> HtmlElement | None:
    """The largest ancestor-or-self of a form or a control that still holds little text and one paragraph at
    most; None when even the element itself is a region of text (a page wrapped in one `<form>`).

    `regions` remembers the ancestors already judged: a page's controls share them (a form's twenty inputs
    climb to the same sidebar), and judging a large one reads all of its text."""
    best = None
    current: HtmlElement | None = el
    while current is not None and current.tag not in ("body", "html"):
        region = regions.get(current)
        if region is None:
            region = _text_over(current, WIDGET_MAX_CHARS) or _protected(current) or _paragraphs(current) > 1
            regions[current] = region
        if region:
            break
        if current is el or current.tag in _CONTAINER_TAGS:
            best = current
        current = current.getparent()
    return best


def _banner_around(link: HtmlElement) -> HtmlElement | None:
    """A script link (`href="#"`) also sits in article paragraphs ("enlarge", "show more"): around one, only a
    strip directly under `<body>` that holds little text (a cookie banner) goes with it, else the link alone
    when it stands alone (a "Share" button), else nothing (a word of a sentence)."""
    top = link
    for ancestor in link.iterancestors():
        if ancestor.tag in ("body", "html"):
            break
        top = ancestor
    parent = top.getparent()
    at_top = top is not link and parent is not None and parent.tag == "body"
    if at_top and not (_text_over(top, WIDGET_MAX_CHARS) or _protected(top) or _paragraphs(top) > 1):
        return top
    own = len(normalize_whitespace(link.text_content()))
    around = link.getparent()
    if around is not None and _text_over(around, own + LONE_LINK_CONTEXT_CHARS):
        return None
    return link


def _paragraphs(el: HtmlElement) -> int:
    """Paragraphs of text in an element: a widget has one at most (its pitch), a region of content more."""
    return sum(1 for p in el.iter("p") if len(normalize_whitespace(p.text_content())) > MIN_PARAGRAPH_CHARS)


def drop_widgets(tree: HtmlElement) -> int:
    removed = 0
    regions: dict[HtmlElement, bool] = {}
    # forms first, then the visible controls and script links still in the tree (not those that went with a form)
    for tags in (("form",), _FORM_CONTROLS):
        for control in [c for c in tree.iter(*tags) if c.get("type") != "hidden"]:
            container = _widget_container(control, regions)
            if container is not None:
                remove_keeping_tail(container)
                removed += 1
    for link in _script_links(tree):
        widget = _banner_around(link)
        if widget is not None:
            remove_keeping_tail(widget)
            removed += 1
    return removed


def drop_ad_slots(tree: HtmlElement) -> int:
    """Containers of a short label and an ad's frame, slot or linked image."""
    removed = 0
    for media in list(tree.iter(*_MEDIA_TAGS)):
        current = media.getparent()
        for _ in range(AD_SLOT_MAX_DEPTH):
            if current is None or current.tag in ("body", "html"):
                break
            if _text_over(current, AD_LABEL_MAX_CHARS) or _protected(current):
                break
            label = normalize_whitespace(current.text_content())
            if label and len(label.split()) <= 2:
                remove_keeping_tail(current)
                removed += 1
                break
            current = current.getparent()
    return removed


def _card_shape(el: HtmlElement) -> tuple[str, str]:
    return (str(el.tag), el.get("class") or "")


def _starts_with_headline(card: HtmlElement, internal: frozenset[str]) -> bool:
    """The card's first text is a link to another page of the site, long enough to be a headline, and a
    summary follows in a block of its own. (A link that runs on into its sentence, as in a roundup's list of
    "Company did X. More text", is the article's own writing.)"""
    first_link = card.find(".//a")
    if first_link is None or (first_link.get("href") or "").strip() not in internal:
        return False
    headline = normalize_whitespace(first_link.text_content())
    if len(headline) < TEASER_HEADLINE_MIN_CHARS:
        return False
    if not normalize_whitespace(card.text_content()).startswith(headline):
        return False
    link_line = set(first_link.iterancestors())
    return any(
        block not in link_line and len(normalize_whitespace(block.text_content())) >= TEASER_HEADLINE_MIN_CHARS
        for block in card.iter(*_SUMMARY_TAGS)
    )


def drop_teaser_cards(tree: HtmlElement, internal: frozenset[str]) -> int:
    removed = 0
    for parent in list(tree.iter(*_CARD_TAGS)):
        if len(parent) < 2:
            continue
        groups: dict[tuple[str, str], list[HtmlElement]] = {}
        for child in parent:
            if child.tag in _CARD_TAGS and len(child) >= 2:  # a card has a headline and a summary at least
                groups.setdefault(_card_shape(child), []).append(child)
        for cards in groups.values():
            if len(cards) < 2:
                continue
            teasers = [
                c
                for c in cards
                if not _text_over(c, TEASER_MAX_CHARS) and _starts_with_headline(c, internal) and not _protected(c)
            ]
            if len(teasers) >= 2:
                for card in teasers:
                    remove_keeping_tail(card)
                removed += len(teasers)
    return removed


# The article's container holds at least this share of the text of the page's paragraphs.
ARTICLE_TEXT_SHARE = 0.6


def mark_article(tree: HtmlElement) -> HtmlElement | None:
    """On a page with no `<article>`, the smallest container of the headline (`<h1>`) that holds most of the
    page's paragraph text becomes one: the region trafilatura then reads first, headings and all, instead of
    gathering paragraphs from the whole page."""
    if tree.find(".//article") is not None:
        return None
    headline = tree.find(".//h1")
    if headline is None:
        return None
    # each paragraph's text counted once, into every container it sits in
    inside: dict[HtmlElement, int] = {}
    total = 0
    for p in tree.iter("p"):
        length = int(_NORMALIZED_LENGTH(p))
        if length <= MIN_PARAGRAPH_CHARS < length * CJK_CHAR_WEIGHT:
            length = _text_len(p)  # a short paragraph in CJK may still be one
        if length <= MIN_PARAGRAPH_CHARS:
            continue
        total += length
        for container in p.iterancestors():
            inside[container] = inside.get(container, 0) + length
    if not total:
        return None
    for container in headline.iterancestors():
        if container.tag in ("body", "html"):
            return None
        if inside.get(container, 0) >= ARTICLE_TEXT_SHARE * total:
            if container.tag in ("div", "section", "main", "td"):
                container.tag = "article"
                return container
            return None
    return None


def drop_inert(tree: HtmlElement) -> int:
    """Scripts, styles, SVG drawings and `<noscript>`: trafilatura removes them too, but only after copying
    the tree; gone first, they cost neither the copy nor the steps above (a tenth of a page's extraction).
    JSON-LD stays (titles, authors, dates), and so does a script that names a publication date (htmldate
    reads dates in scripts)."""
    inert = [
        el
        for el in tree.iter("script", "style", "svg", "noscript")
        if el.get("type") not in _DATA_SCRIPTS and not (el.tag == "script" and _names_a_date(el.text or ""))
    ]
    for el in inert:
        remove_keeping_tail(el)
    return len(inert)


def _names_a_date(script: str) -> bool:
    return any(key in script for key in _DATE_KEYS)


def clean_layout(tree: HtmlElement, internal_hrefs: frozenset[str]) -> None:
    """All of the above, in the order that lets each see the structure it needs."""
    drop_inert(tree)
    unwrap_layout_tables(tree)
    drop_widgets(tree)
    drop_ad_slots(tree)
    drop_teaser_cards(tree, internal_hrefs)
    mark_article(tree)
