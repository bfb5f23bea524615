"""What the analyst sees: the report's data turned into one self-contained HTML page, and a watch's digest text.

The page needs no network to open: styles, the charts (inline SVG drawn here) and a few lines of script to sort
tables are all inside it, and its Content-Security-Policy forbids loading anything else. Every text from the web
(titles, sites, URLs, errors) is escaped, and only http(s) URLs become links.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

# Okabe-Ito and Tableau colours: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31", "#F0E442", "#7F7F7F", "#17BECF",
)  # fmt: skip
OTHER_COLOUR = "#BBBBBB"
TOP_SERIES = 8  # series drawn in a weekly chart; the rest are summed as "other"
MAX_WEEKS = 78  # a longer period shows its last weeks only
DIGEST_LIMIT = 50  # articles listed in one digest; the rest are counted


# --- the data --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklySeries:
    """Counts per week (weeks start on Monday) for each name, every week of the range present."""

    weeks: tuple[date, ...] = ()
    series: dict[str, tuple[int, ...]] = field(default_factory=dict)
    truncated_from: date | None = None  # the first week of data when older weeks were cut

    @property
    def empty(self) -> bool:
        return not self.weeks


@dataclass(frozen=True)
class StoryRow:
    id: int
    title: str | None
    url: str
    outlets: int  # distinct sites that carried the story
    copies: int  # articles in the story, the first one included
    sites: tuple[str, ...]
    published_at: datetime | None


@dataclass(frozen=True)
class ArticleRow:
    id: int
    title: str | None
    url: str
    site: str | None
    published_at: datetime | None
    language: str | None
    elements: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedHealthRow:
    url: str
    name: str | None
    last_status: str | None
    last_polled_at: datetime | None
    polls: int  # polls logged (feed_poll)
    not_modified: int  # of which answered 304
    failed_polls: int
    entries: int  # entries ever seen in the feed
    articles: int
    consecutive_failures: int
    entries_failed: int
    last_error: str | None
    links_resolved: int = 0  # aggregator links (Google News, Bing) resolved to publisher URLs
    links_failed: int = 0  # aggregator links that could not be resolved

    @property
    def share_not_modified(self) -> float | None:
        return self.not_modified / self.polls if self.polls else None

    @property
    def entries_per_poll(self) -> float | None:
        return self.entries / self.polls if self.polls else None


@dataclass(frozen=True)
class ReportData:
    generated_at: datetime
    since: datetime | None
    until: datetime | None
    articles: int
    stories: int
    copies: int
    languages: tuple[tuple[str, int], ...]
    elements_by_week: WeeklySeries
    topics_by_week: WeeklySeries
    companies: tuple[tuple[str, int], ...]
    places: tuple[tuple[str, int], ...]
    top_stories: tuple[StoryRow, ...]
    newest: tuple[ArticleRow, ...]
    feeds: tuple[FeedHealthRow, ...]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_series(
    rows: Iterable[tuple[date, str, int]], *, top: int = TOP_SERIES, max_weeks: int = MAX_WEEKS
) -> WeeklySeries:
    """(week, name, count) rows into aligned series: every week from first to last, the `top` names by total,
    the others summed as "other"."""
    counts: dict[str, dict[date, int]] = {}
    for week, name, count in rows:
        start = week_start(week)
        by_week = counts.setdefault(name, {})
        by_week[start] = by_week.get(start, 0) + count
    all_weeks = {week for by_week in counts.values() for week in by_week}
    if not all_weeks:
        return WeeklySeries()
    first, last = min(all_weeks), max(all_weeks)
    truncated_from = None
    if (last - first).days // 7 + 1 > max_weeks:
        truncated_from = first
        first = last - timedelta(weeks=max_weeks - 1)
    weeks = tuple(first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1))
    totals = sorted(counts, key=lambda name: (-sum(counts[name].values()), name))
    series = {name: tuple(counts[name].get(week, 0) for week in weeks) for name in totals[:top]}
    rest = totals[top:]
    if rest:
        series["other"] = tuple(sum(counts[name].get(week, 0) for name in rest) for week in weeks)
    series = {name: values for name, values in series.items() if any(values)}
    return WeeklySeries(weeks=weeks, series=series, truncated_from=truncated_from)


# --- small helpers -------------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def safe_href(url: str | None) -> str | None:
    """Only http(s) URLs become links: a stored `javascript:` URL must stay text."""
    if not url:
        return None
    scheme = url.split(":", 1)[0].strip().lower()
    return url if scheme in ("http", "https") and ":" in url else None


def _link(url: str | None, text: str) -> str:
    href = safe_href(url)
    return f'<a href="{_e(href)}" rel="noopener noreferrer">{_e(text)}</a>' if href else _e(text)


def _day(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d") if value else "-"


def _nice_step(maximum: float, ticks: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten, at least 1) so that about `ticks` steps cover `maximum`."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return max(1.0, next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude))


def _colour(index: int, name: str) -> str:
    return OTHER_COLOUR if name == "other" else PALETTE[index % len(PALETTE)]


# --- charts --------------------------------------------------------------------------------------------------


def stacked_weekly_chart(data: WeeklySeries, *, label: str, width: int = 960, height: int = 280) -> str:
    """A stacked bar per week; each bar segment has a tooltip (<title>)."""
    if data.empty or not data.series:
        return '<p class="empty">No articles in this period.</p>'
    left, right, top, bottom = 44, 12, 12, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for values in data.series.values()) for i in range(len(data.weeks))]
    step = _nice_step(max(totals))
    y_max = step * max(1, -(-max(totals) // step))
    band = plot_w / len(data.weeks)
    bar = min(46.0, max(1.0, band * 0.78))
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(label)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(label)}</title>",
    ]
    tick = 0.0
    while tick <= y_max + 1e-9:
        y = top + plot_h - tick / y_max * plot_h
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    label_every = max(1, -(-len(data.weeks) // 12))
    for i, week in enumerate(data.weeks):
        x = left + i * band + (band - bar) / 2
        y = top + plot_h
        for index, (name, values) in enumerate(data.series.items()):
            value = values[i]
            if not value:
                continue
            h = value / y_max * plot_h
            y -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{_colour(index, name)}"><title>{_e(name)}, week of {week.isoformat()}: {value}</title></rect>'
            )
        if i % label_every == 0:
            cx = left + i * band + band / 2
            parts.append(
                f'<text class="tick" x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{week.strftime('%d %b')}</text>"
            )
            if i == 0 or week.month == 1 and week.day <= 7:
                parts.append(
                    f'<text class="tick year" x="{cx:.1f}" y="{top + plot_h + 30}" text-anchor="middle">'
                    f"{week.year}</text>"
                )
    parts.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}"/></svg>')
    legend = "".join(
        f'<span class="key"><i style="background:{_colour(index, name)}"></i>{_e(name)} '
        f"<small>{sum(values)}</small></span>"
        for index, (name, values) in enumerate(data.series.items())
    )
    note = (
        f'<p class="note">Weeks from {data.weeks[0].isoformat()} shown; data since '
        f"{data.truncated_from.isoformat()}.</p>"
        if data.truncated_from
        else ""
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>{note}'


def bar_chart(items: Sequence[tuple[str, int]], *, label: str, colour: str, width: int = 460) -> str:
    """Horizontal bars, largest first, the value at the end of each bar."""
    if not items:
        return '<p class="empty">None mentioned in this period.</p>'
    row, label_w, value_w = 24, 170, 44
    height = row * len(items) + 8
    biggest = max(count for _, count in items) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(label)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(label)}</title>",
    ]
    for i, (name, count) in enumerate(items):
        y = 4 + i * row
        w = max(2.0, count / biggest * (width - label_w - value_w))
        shown = name if len(name) <= 26 else name[:25] + "…"
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 16}" text-anchor="end">{_e(shown)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{colour}">'
            f"<title>{_e(name)}: {count}</title></rect>"
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 16}">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- tables --------------------------------------------------------------------------------------------------


def _stories_table(stories: Sequence[StoryRow]) -> str:
    if not stories:
        return '<p class="empty">No stories in this period.</p>'
    most = max(story.outlets for story in stories) or 1
    rows = []
    for story in stories:
        sites = ", ".join(story.sites[:8]) + (" …" if len(story.sites) > 8 else "")
        day = _day(story.published_at)
        rows.append(
            f'<tr><td>{_link(story.url, story.title or story.url)}<div class="sites">{_e(sites)}</div></td>'
            f'<td class="num" data-sort="{story.outlets}">'
            f'<span class="meter" style="width:{story.outlets / most * 60:.0f}px"></span>{story.outlets}</td>'
            f'<td class="num">{story.copies}</td><td class="date" data-sort="{day}">{day}</td></tr>'
        )
    return (
        '<table class="sortable"><thead><tr><th>story</th><th class="num">outlets</th><th class="num">copies</th>'
        f"<th>published</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _newest_table(articles: Sequence[ArticleRow]) -> str:
    if not articles:
        return '<p class="empty">No articles in this period.</p>'
    rows = "".join(
        f'<tr><td class="date">{_day(article.published_at)}</td>'
        f"<td>{_link(article.url, article.title or article.url)}</td>"
        f"<td>{_e(article.site or '')}</td><td>{_e(article.language or '?')}</td>"
        f"<td>{_e(', '.join(article.elements[:4]))}</td></tr>"
        for article in articles
    )
    return (
        '<table class="sortable"><thead><tr><th>published</th><th>title</th><th>site</th><th>lang</th>'
        f"<th>elements</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _feeds_table(feeds: Sequence[FeedHealthRow]) -> str:
    if not feeds:
        return '<p class="empty">No feeds yet: add some with <code>rare-news feeds add URL</code>.</p>'
    rows = []
    for feed in feeds:
        status = feed.last_status or "never polled"
        css = {"ok": "ok", "not modified": "ok", "failed": "bad"}.get(status, "idle")
        per_poll = "-" if feed.entries_per_poll is None else f"{feed.entries_per_poll:.1f}"
        rows.append(
            f'<tr><td>{_link(feed.url, feed.name or feed.url)}<div class="sites">{_e(feed.url)}</div></td>'
            f'<td><span class="status {css}">{_e(status)}</span></td>'
            f'<td class="date" data-sort="{_day(feed.last_polled_at)}">{_day(feed.last_polled_at)}</td>'
            f'<td class="num">{feed.polls}</td>'
            f'<td class="num" data-sort="{feed.share_not_modified or 0}">{_percent(feed.share_not_modified)}</td>'
            f'<td class="num" data-sort="{feed.entries_per_poll or 0}">{per_poll}</td>'
            f'<td class="num">{feed.articles}</td>'
            f'<td class="num">{feed.failed_polls}</td><td class="num">{feed.consecutive_failures}</td>'
            f'<td class="num">{feed.entries_failed}</td>'
            f'<td class="num">{feed.links_resolved}</td><td class="num">{feed.links_failed}</td>'
            f'<td class="error">{_e(feed.last_error or "")}</td></tr>'
        )
    return (
        '<table class="sortable"><thead><tr><th>feed</th><th>last status</th><th>last polled</th>'
        '<th class="num">polls</th><th class="num">304s</th><th class="num">new items / poll</th>'
        '<th class="num">articles</th><th class="num">failed polls</th><th class="num">failures in a row</th>'
        '<th class="num">entries failed</th><th class="num">links resolved</th>'
        '<th class="num">links not resolved</th><th>last error</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# --- the page ------------------------------------------------------------------------------------------------

STYLE = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC",
  "WenQuanYi Zen Hei", "PingFang SC", "Microsoft YaHei", sans-serif; }
header { background: #1d2330; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c5cbd6; }
main { padding: 20px 32px 40px; display: grid; gap: 18px; grid-template-columns: repeat(2, minmax(0, 1fr)); }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 16px; margin: 0 0 10px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 130px; }
.card b { display: block; font-size: 22px; }
.card span { color: var(--muted); }
svg.chart { display: block; max-width: 100%; height: auto; }
svg .grid { stroke: var(--line); } svg .axis { stroke: #9aa3b2; }
svg .tick, svg .value { font-size: 11px; fill: var(--muted); } svg .label { font-size: 12px; fill: var(--ink); }
svg .year { font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin-top: 6px; }
.key i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px; }
.key small { color: var(--muted); }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); cursor: pointer; user-select: none; vertical-align: bottom; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td.num, th.num { text-align: right; } td.num, td.date { white-space: nowrap; }
section { overflow-x: auto; }
a { color: #0b5cad; text-decoration: none; } a:hover { text-decoration: underline; }
.sites { color: var(--muted); font-size: 12px; }
.meter { display: inline-block; height: 8px; background: #0072B2; border-radius: 2px; margin-right: 6px; }
.status { padding: 1px 7px; border-radius: 9px; font-size: 12px; white-space: nowrap; }
.status.ok { background: #e3f4ea; color: #17663a; } .status.bad { background: #fbe4e1; color: #9c2a1b; }
.status.idle { background: #eceef2; color: var(--muted); }
td.error { color: #9c2a1b; font-size: 12px; max-width: 260px; overflow-wrap: anywhere; }
.empty, .note { color: var(--muted); }
footer { padding: 0 32px 24px; color: var(--muted); font-size: 12px; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
"""

# Sorts a table by the clicked column (numbers as numbers; a cell's data-sort wins over its text).
SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], column = th.cellIndex;
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var key = function (row) {
      var cell = row.cells[column];
      return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? order : -order;
    });
    table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
document.documentElement.setAttribute("data-ready", "1");
"""


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def _period(data: ReportData) -> str:
    if data.since and data.until:
        return f"{_day(data.since)} to {_day(data.until)}"
    if data.since:
        return f"since {_day(data.since)}"
    if data.until:
        return f"until {_day(data.until)}"
    return "all time"


def render_report(data: ReportData, *, title: str = "Rare-earth news report") -> str:
    """The whole report as one HTML document."""
    languages = " · ".join(f"{_e(lang)} {count}" for lang, count in data.languages) or "-"
    cards = (
        f'<div class="card"><b>{data.articles}</b><span>articles</span></div>'
        f'<div class="card"><b>{data.stories}</b><span>stories</span></div>'
        f'<div class="card"><b>{data.copies}</b><span>syndicated copies</span></div>'
        f'<div class="card"><b>{len(data.feeds)}</b><span>feeds</span></div>'
        f'<div class="card"><b style="font-size:16px">{languages}</b><span>languages</span></div>'
    )
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{_script_hash(SCRIPT)}'; base-uri 'none'; form-action 'none'"
    )
    sections = [
        f'<section class="wide"><div class="cards">{cards}</div></section>',
        '<section class="wide" id="elements"><h2>Stories per week by element</h2>'
        + stacked_weekly_chart(data.elements_by_week, label="Stories per week by element")
        + "</section>",
        '<section class="wide" id="topics"><h2>Stories per week by topic</h2>'
        + stacked_weekly_chart(data.topics_by_week, label="Stories per week by topic")
        + "</section>",
        '<section id="companies"><h2>Companies most mentioned</h2>'
        + bar_chart(data.companies, label="Stories mentioning each company", colour=PALETTE[0])
        + "</section>",
        '<section id="places"><h2>Places most mentioned</h2>'
        + bar_chart(data.places, label="Stories mentioning each place", colour=PALETTE[2])
        + "</section>",
        '<section class="wide" id="stories"><h2>Stories carried by the most outlets</h2>'
        + _stories_table(data.top_stories)
        + "</section>",
        f'<section class="wide" id="newest"><h2>Newest articles</h2>{_newest_table(data.newest)}</section>',
        f'<section class="wide" id="feeds"><h2>Feed health</h2>{_feeds_table(data.feeds)}</section>',
    ]
    generated = data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{_e(_period(data))} · generated {generated} · "
        "copies of a story are counted once in the charts</p></header>"
        f"<main>{''.join(sections)}</main>"
        "<footer>Made by <code>rare-news report</code>. Self-contained: opens without a network.</footer>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


# --- the digest ----------------------------------------------------------------------------------------------


class DigestArticle(Protocol):
    @property
    def title(self) -> str | None: ...
    @property
    def url(self) -> str: ...
    @property
    def site(self) -> str | None: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def language(self) -> str | None: ...


def _markdown_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("\n", " ")


def render_digest(
    watch: str, description: str, articles: Sequence[DigestArticle], *, limit: int = DIGEST_LIMIT
) -> tuple[str, str]:
    """(title, Markdown body) of one watch's digest: one line per article, newest matches last."""
    count = len(articles)
    title = f"rare-news: {count} new article{'s' if count != 1 else ''} for watch {watch!r}"
    lines = [f"Watch **{_markdown_text(watch)}** ({_markdown_text(description)}):", ""]
    for number, article in enumerate(articles[:limit], start=1):
        text = _markdown_text(article.title or article.url)
        href = safe_href(article.url)
        headline = f"[{text}]({href.replace(')', '%29')})" if href else text
        facts = [fact for fact in (article.site, _day(article.published_at), article.language) if fact]
        lines.append(f"{number}. {headline} — {' · '.join(_markdown_text(fact) for fact in facts)}")
    if count > limit:
        lines += ["", f"… and {count - limit} more: rare-news search to see them all."]
    return title, "\n".join(lines)
