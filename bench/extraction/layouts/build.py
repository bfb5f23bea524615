# ruff: noqa: E501  (page templates: HTML lines are as long as the page has them)
"""Build the layout set: the stories of stories_en.py and stories_cjk.py in the chrome of nine kinds of site.

`python bench/extraction/layouts/build.py` writes `html/ID.html.gz` (the page as a server would send it, in
the site's charset) and `ground-truth.json`: per page the URL, the article body (the story's paragraphs: the
hand-made ground truth), title, authors, date, page type, charset, and the boilerplate lines the layout put
on the page (each must be absent from an extracted body). Everything here was written for this repository;
the sites are fictional (`.example` hosts). Page ids are `type-slug`, so a page's kind shows in its name.

The layouts are kinds the benchmark half lacks: table layouts with the article in a `<td>` beside sidebars,
paragraphs split by `<br><br>`, legacy charsets (windows-1252, ISO-8859-1 labels on windows-1252 bytes, GBK,
Shift_JIS), the article in a bare `<div>` among siblings of the same size, bylines in running text ("By X",
"X – date", "Reporting by X; Editing by Y", "（记者X）"), live blogs and press releases, Chinese news pages.
A site's pages share its chrome and differ in their stories and in their teaser lists, as real ones do.
"""

from __future__ import annotations

import gzip
import html
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stories_cjk import JAPANESE_SJIS, NEWS_UTF8, PORTAL_GBK  # noqa: E402
from stories_en import LIVE, MAGNET_NOTES, METALS_GAZETTE, METALS_WIRE, MINING_RECORD, PRESS, Story  # noqa: E402


@dataclass(frozen=True)
class Page:
    html: str
    charset: str  # Python codec the page is written in
    truth: list[str]  # the article's paragraphs, as a reader would copy them
    boilerplate: list[str]  # lines of the page's chrome that must not reach the body


def e(text: str) -> str:
    return html.escape(text, quote=True)


def long_date(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day:%B} {day.day}, {day.year}"


def teasers(stories: Sequence[Story], story: Story, n: int = 3) -> list[Story]:
    """Other stories of the same site, as its related lists would show them (a different set per page)."""
    others = [s for s in stories if s is not story]
    start = stories.index(story) % max(1, len(others))
    return (others[start:] + others[:start])[:n]


def names(authors: Sequence[str]) -> str:
    return " and ".join(authors) if len(authors) <= 2 else ", ".join(authors[:-1]) + " and " + authors[-1]


# ---- The Mining Record: table layout, windows-1252 -------------------------------------------------------------


def mining_record(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story)
    paras = list(story.paragraphs)
    body: list[str] = []
    for i, p in enumerate(paras):
        body.append(f"<p>{e(p)}</p>")
        if i == 1:
            body.append(
                '<center><font size="1" color="#999999">ADVERTISEMENT</font><br>'
                '<a href="http://ads.adnet.example/click?slot=mr-mid"><img src="http://ads.adnet.example/b.gif"'
                ' width="468" height="60" border="0"></a></center>'
            )
    related_html = "<br>\n".join(f'<a href="/news/{s.slug}.html">{e(s.title)}</a>' for s in related)
    page = f"""<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<title>{e(story.title)} - The Mining Record</title>
<meta name="keywords" content="mining, rare earths, Australia, resources">
<link rel="stylesheet" href="/css/main.css">
<script language="JavaScript">var adSlot = "mr-top"; function pop(u) {{ window.open(u); }}</script>
</head>
<body bgcolor="#FFFFFF" topmargin="0" leftmargin="0">
<table width="780" border="0" cellpadding="0" cellspacing="0" align="center">
<tr><td colspan="3"><a href="/"><img src="/img/logo.gif" alt="The Mining Record" border="0"></a></td></tr>
<tr><td colspan="3" bgcolor="#003366"><font color="#FFFFFF" size="2"><a href="/">Home</a> |
<a href="/news/">News</a> | <a href="/markets/">Markets</a> | <a href="/projects/">Projects</a> |
<a href="/events/">Events</a> | <a href="/contact.html">Contact Us</a></font></td></tr>
<tr>
<td width="150" valign="top" bgcolor="#EEEEEE"><font size="2"><b>Sections</b><br>
<a href="/news/australia/">Australia</a><br><a href="/news/africa/">Africa</a><br>
<a href="/news/asia/">Asia</a><br><a href="/news/americas/">Americas</a><br><br>
<b>Commodities</b><br><a href="/gold/">Gold</a><br><a href="/lithium/">Lithium</a><br>
<a href="/rare-earths/">Rare earths</a><br><a href="/iron-ore/">Iron ore</a></font></td>
<td width="480" valign="top"><font face="Verdana, Arial" size="2">
<font size="4"><b>{e(story.title)}</b></font><br>
<font size="1" color="#666666">{e(names(story.authors))} – {long_date(story.date)}</font><br>
{"".join(body)}
<p><font size="1">Share this: <a href="mailto:?subject=Mining%20Record">Email</a> |
<a href="javascript:window.print()">Print</a> | <a href="https://www.facebook.com/sharer.php?u=x">Facebook</a> |
<a href="https://twitter.com/intent/tweet?u=x">Twitter</a></font></p>
<table width="100%" bgcolor="#FFFFCC" border="1" cellpadding="6"><tr><td>
<b>Get the Mining Record daily newsletter</b><br>Free news on mining and metals, every weekday morning.
<form action="/subscribe"><input name="email" size="20"> <input type="submit" value="Sign up"></form>
</td></tr></table>
<p><b>Related Posts</b><br>
{related_html}</p>
</font></td>
<td width="150" valign="top"><font size="2"><b>Most Read</b><br>
<a href="/news/gold-record.html">Gold hits record as dollar slides</a><br>
<a href="/news/pilbara-strike.html">Pilbara rail workers vote to strike</a><br><br>
<b>Upcoming events</b><br>Diggers &amp; Dealers Forum, Kalgoorlie, 4–6 August. Register now for early bird
rates and save on the full conference pass.</font></td>
</tr>
<tr><td colspan="3" align="center"><font size="1">Copyright © 2025 The Mining Record Pty Ltd. All rights reserved.
| <a href="/privacy.html">Privacy</a> | <a href="/terms.html">Terms of use</a></font></td></tr>
</table>
</body>
</html>
"""
    return Page(
        page,
        "cp1252",
        paras,
        [
            "ADVERTISEMENT",
            "Share this:",
            "Get the Mining Record daily newsletter",
            "Free news on mining and metals",
            "Related Posts",
            *(s.title for s in related),
            "Diggers & Dealers Forum",
            "Copyright © 2025 The Mining Record",
        ],
    )


# ---- Rare Metals Gazette: nested tables, <br><br> paragraphs, ISO-8859-1 label ---------------------------------


def metals_gazette(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story, 4)
    paras = list(story.paragraphs)
    chunks: list[str] = []
    for i, p in enumerate(paras):
        chunks.append(e(p))
        if i == 2:
            chunks.append(
                '<div align="center"><font size="1">ADVERTISEMENT</font><br><iframe src="/ads/300x250.html"'
                ' width="300" height="250" frameborder="0"></iframe></div>'
            )
    text = "\n<br><br>\n".join(chunks)
    caption = (
        f'<table align="right" width="220"><tr><td><img src="/photos/{story.slug}.jpg" width="210"><br>'
        f'<font size="1">Photo: {e(story.photo_credit)}</font></td></tr></table>'
        if story.photo_credit
        else ""
    )
    related_html = "\n".join(f'<li><a href="/{s.slug}.htm">{e(s.title)}</a></li>' for s in related)
    page = f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">
<title>Rare Metals Gazette :: {e(story.title)}</title>
<style type="text/css">.headline {{ font-size: 20px; font-weight: bold; }} .text {{ font-size: 13px; }}</style>
</head>
<body>
<table width="100%" cellspacing="0" cellpadding="0"><tr><td class="masthead">
<a href="/index.htm"><img src="/images/masthead.jpg" alt="Rare Metals Gazette"></a></td></tr></table>
<table width="100%" cellspacing="0" cellpadding="4">
<tr>
<td width="160" valign="top" class="nav">
<a href="/index.htm">Front page</a><br><a href="/markets.htm">Markets</a><br><a href="/policy.htm">Policy</a><br>
<a href="/technology.htm">Technology</a><br><a href="/archive.htm">Archive</a><br><a href="/about.htm">About us</a>
</td>
<td valign="top">
<table width="100%"><tr><td>
<span class="headline">{e(story.title)}</span><br>
<font size="1">{long_date(story.date)}</font>
</td></tr>
<tr><td class="text">
{caption}
By {e(names(story.authors))}, Staff Writer
<br><br>
{text}
<br><br>
<a href="/print/{story.slug}.htm">Print this article</a> | <a href="/email/{story.slug}.htm">Email to a friend</a>
<br><br>
<b><a href="/newsletter.htm">Click here to subscribe to our free weekly newsletter</a></b>
<br><br>
<b>Related Posts:</b>
<ul>
{related_html}
</ul>
</td></tr></table>
</td>
<td width="200" valign="top">
<table border="1" cellpadding="2" width="100%">
<tr><th colspan="2">Metal prices (US$/kg)</th></tr>
<tr><td>NdPr oxide</td><td>58.20</td></tr>
<tr><td>Dysprosium oxide</td><td>225.00</td></tr>
<tr><td>Terbium oxide</td><td>880.00</td></tr>
</table>
</td>
</tr></table>
<hr>
<center><font size="1">© 2025 Rare Metals Gazette. All rights reserved. Reproduction in whole or in part without
permission is prohibited.</font></center>
</body></html>
"""
    return Page(
        page,
        "cp1252",
        paras,
        [
            "ADVERTISEMENT",
            "Print this article",
            "Email to a friend",
            "subscribe to our free weekly newsletter",
            "Related Posts",
            *(s.title for s in related),
            "© 2025 Rare Metals Gazette",
            "Metal prices",
        ],
    )


# ---- Metals Wire: the story in a bare <div> among siblings of the same size -------------------------------------


COOKIE_EN = (
    "We use cookies to improve your experience and to show you relevant advertising. By continuing to browse"
    " you agree to our use of cookies."
)


def metals_wire(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story)
    paras = list(story.paragraphs)
    credit = f"Reporting by {names(story.authors)}; Editing by {names(story.editors)}"
    story_html = "\n".join(f'<p class="t3">{e(p)}</p>' for p in paras)
    top = "\n".join(
        f'<div class="t9"><a href="/markets/{s.slug}">{e(s.title)}</a><p class="t3">{e(s.paragraphs[0])}</p></div>'
        for s in related
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(story.title)} | Metals Wire</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:title" content="{e(story.title)}">
<meta property="article:published_time" content="{story.date}T06:12:00Z">
</head>
<body>
<div class="c0"><div><p>{COOKIE_EN}</p><button>Accept all</button> <button>Manage settings</button></div></div>
<div class="c1"><a href="/">Metals Wire</a> <a href="/markets">Markets</a> <a href="/world">World</a>
<a href="/energy">Energy</a> <a href="/commodities">Commodities</a></div>
<div class="c2">
<div class="c3">
<h1>{e(story.title)}</h1>
<div class="c4"><span>{long_date(story.date)}</span> <span>3 min read</span></div>
<div class="c5">
{story_html}
<p class="t3">({e(credit)})</p>
</div>
<div class="c6">Our Standards: The Metals Wire Trust Principles.</div>
<div class="c7">Share: <a href="https://www.facebook.com/sharer?u=x">Facebook</a>
<a href="https://x.com/intent/post?u=x">X</a> <a href="https://www.linkedin.com/share?u=x">LinkedIn</a>
<a href="mailto:?body=x">Email</a></div>
</div>
<div class="c8">
<div class="t1">Top news</div>
{top}
</div>
</div>
<div class="c10"><p>© 2025 Metals Wire. All rights reserved.</p><a href="/terms">Terms of use</a>
<a href="/privacy">Privacy</a> <a href="/cookies">Cookies</a></div>
</body></html>
"""
    return Page(
        page,
        "utf-8",
        paras,
        [
            COOKIE_EN[:60],
            "Accept all",
            "Our Standards",
            "Share: Facebook",
            "Top news",
            *(s.title for s in related),
            *(s.paragraphs[0] for s in related),
            "© 2025 Metals Wire",
        ],
    )


# ---- PR Wire: press releases -----------------------------------------------------------------------------------


def press_release(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story)
    company = story.paragraphs[0].split("--", 1)[1].split("(")[0].split(" announced")[0].strip()
    company = company.split(" today")[0].split(" has ")[0].split(" is ")[0].strip()
    parts: list[str] = []
    in_list = False
    for p in story.paragraphs:
        is_item = len(p) < 60 and not p.startswith(("About", "Contact", "Media")) and not p.endswith(":")
        if is_item and not in_list:
            parts.append("<ul>")
            in_list = True
        elif not is_item and in_list:
            parts.append("</ul>")
            in_list = False
        if is_item:
            parts.append(f"<li>{e(p)}</li>")
        elif p.startswith("About"):
            parts.append(f"<p><b>{e(p)}</b></p>")
        else:
            parts.append(f"<p>{e(p)}</p>")
    if in_list:
        parts.append("</ul>")
    related_html = "\n".join(f'<li><a href="/news-releases/{s.slug}.html">{e(s.title)}</a></li>' for s in related)
    page = f"""<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8">
<title>{e(story.title)}</title>
<meta name="description" content="{e(story.paragraphs[0][:150])}">
<meta property="og:site_name" content="PR Wire">
<meta name="date" content="{story.date}">
</head>
<body>
<div id="onetrust-banner-sdk"><div class="ot-text">{COOKIE_EN}</div>
<button id="accept-cookies">Accept all</button></div>
<header><nav><a href="/">PR Wire</a> <a href="/news-releases/">News</a> <a href="/products/">Products</a>
<a href="/contact/">Contact</a> <a href="/login/">Log in</a></nav></header>
<main>
<header class="release-header"><h1>{e(story.title)}</h1>
<p class="mb-no">News provided by <a href="/news/company/">{e(company)}</a></p>
<p class="mb-no">{long_date(story.date)}, 08:00 ET</p>
<div class="social">Share this article <a href="https://www.facebook.com/sharer?u=x">Facebook</a>
<a href="https://x.com/intent/post?u=x">X</a> <a href="https://www.linkedin.com/share?u=x">LinkedIn</a></div>
</header>
<section class="release-body container">
{"".join(parts)}
<p>SOURCE {e(company)}</p>
<p>View original content: https://www.prwire.example/news-releases/{story.slug}.html</p>
</section>
<section class="related"><h3>Related Links</h3><ul>
{related_html}
</ul></section>
</main>
<footer><p>© 2025 PR Wire Ltd. All Rights Reserved.</p><a href="/terms/">Terms of Use</a>
<a href="/privacy/">Privacy Policy</a></footer>
</body></html>
"""
    return Page(
        page,
        "utf-8",
        list(story.paragraphs),
        [
            COOKIE_EN[:60],
            "Share this article",
            "News provided by",
            f"SOURCE {company}",
            "View original content",
            "Related Links",
            *(s.title for s in related),
            "© 2025 PR Wire",
        ],
    )


# ---- The Daily Ledger: live blogs ------------------------------------------------------------------------------


def live_blog(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story, 2)
    entries: list[str] = []
    truth: list[str] = []
    for i, (time, heading, text) in enumerate(story.entries):
        entries.append(
            f'<div class="block" id="block-{i}"><p class="block-time"><time datetime="{story.date}T{time}">'
            f"{time}</time></p><h3>{e(heading)}</h3><p>{e(text)}</p>"
            '<div class="block-share"><a href="#">Share this update</a></div></div>'
        )
        if i == 1:
            entries.append('<div class="ad-slot"><p>ADVERTISEMENT</p></div>')
        truth += [time, heading, text]
    more = "\n".join(f'<li><a href="/live/{s.slug}">{e(s.title)}</a></li>' for s in related)
    page = f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>{e(story.title)} | The Daily Ledger</title>
<meta property="og:site_name" content="The Daily Ledger">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{story.date}T{story.entries[-1][0]}:00Z">
</head>
<body>
<div class="cookie-notice"><p>{COOKIE_EN}</p><a href="/cookies">Find out more</a> <button>OK</button></div>
<div class="masthead"><a href="/">The Daily Ledger</a><ul class="nav"><li><a href="/news">News</a></li>
<li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li><li><a href="/opinion">Opinion</a></li></ul>
</div>
<div class="liveblog">
<h1>{e(story.title)}</h1>
<p class="standfirst-byline">By {e(names(story.authors))}, {long_date(story.date)}</p>
{"".join(entries)}
</div>
<div class="signup"><h4>Sign up to Morning Briefing</h4><p>Our morning email breaks down the key stories of the day.</p>
<form><input type="email" placeholder="Your email"><button>Sign up</button></form></div>
<div class="more"><h4>More on this story</h4><ul>{more}</ul></div>
<div class="footer"><p>© 2025 The Daily Ledger Media Ltd. All rights reserved.</p></div>
</body></html>
"""
    return Page(
        page,
        "utf-8",
        truth,
        [
            COOKIE_EN[:60],
            "Share this update",
            "ADVERTISEMENT",
            "Sign up to Morning Briefing",
            "Our morning email",
            "More on this story",
            *(s.title for s in related),
            "© 2025 The Daily Ledger",
        ],
    )


# ---- Magnet Notes: a blog of bare divs -------------------------------------------------------------------------


def magnet_notes(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story, 3)
    paras = list(story.paragraphs)
    body: list[str] = []
    for i, p in enumerate(paras):
        body.append(f"<p>{e(p)}</p>")
        if i == len(paras) // 2:
            body.append("<div><small>ADVERTISEMENT</small><div><ins></ins></div></div>")
    recent = "\n".join(
        f'<div><a href="/{s.slug}/">{e(s.title)}</a><p>{e(s.paragraphs[0])}</p><a href="/{s.slug}/">Read more »</a>'
        "</div>"
        for s in related
    )
    day = date.fromisoformat(story.date)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>{e(story.title)} – Magnet Notes</title></head>
<body>
<div><p>This site uses cookies. By continuing to use this website, you agree to their use.</p><a href="#">Close and
accept</a></div>
<div><div><a href="/">Magnet Notes</a></div><div>Notes on rare earths, magnets and the machines that use them</div>
<div><a href="/">Home</a> <a href="/about/">About</a> <a href="/archive/">Archive</a></div></div>
<div>
<div>
<h2>{e(story.title)}</h2>
<div>{e(names(story.authors))} – {day.day} {day:%B} {day.year}</div>
{"".join(body)}
<div>Share this: <a href="https://twitter.com/share?u=x">Twitter</a> <a href="https://www.facebook.com/sharer?u=x">
Facebook</a> <a href="https://www.linkedin.com/share?u=x">LinkedIn</a></div>
<div><h3>Related Posts</h3>
{"".join(f'<a href="/{s.slug}/">{e(s.title)}</a> ' for s in related[:2])}</div>
</div>
<div><h3>Recent posts</h3>
{recent}
</div>
<div><h3>Subscribe to Magnet Notes</h3><p>Get new posts by email. No spam, unsubscribe at any time.</p>
<form><input type="email"><button>Subscribe</button></form></div>
</div>
<div>© 2025 Magnet Notes · Powered by WordPress</div>
</body></html>
"""
    return Page(
        page,
        "utf-8",
        paras,
        [
            "This site uses cookies",
            "ADVERTISEMENT",
            "Share this:",
            "Related Posts",
            "Recent posts",
            *(s.title for s in related),
            *(s.paragraphs[0] for s in related),
            "Subscribe to Magnet Notes",
            "Get new posts by email",
            "© 2025 Magnet Notes",
        ],
    )


# ---- 稀土信息网: GBK portal in tables --------------------------------------------------------------------------


def portal_gbk(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story, 4)
    paras = list(story.paragraphs)
    body = "\n".join(f"<p>\u3000\u3000{e(p)}</p>" for p in paras)
    related_html = "\n".join(
        f'<tr><td>·<a href="/news/{s.slug}.html">{e(s.title)}</a></td><td>{s.date}</td></tr>' for s in related
    )
    page = f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN">
<html xmlns="http://www.w3.org/1999/xhtml"><head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>{e(story.title)}_中国稀土信息网</title>
<meta name="keywords" content="稀土,稀土价格,稀土政策" />
</head>
<body>
<table width="1000" align="center" cellpadding="0" cellspacing="0"><tr>
<td><a href="/"><img src="/images/logo.jpg" alt="中国稀土信息网" /></a></td>
<td><a href="/">首页</a> | <a href="/news/">行业资讯</a> | <a href="/price/">价格行情</a> | <a href="/policy/">政策法规</a>
| <a href="/tech/">技术前沿</a> | <a href="/qiye/">企业动态</a></td></tr></table>
<table width="1000" align="center" cellpadding="0" cellspacing="0"><tr>
<td width="690" valign="top">
<table width="100%"><tr><td class="title" align="center"><h1>{e(story.title)}</h1></td></tr>
<tr><td class="info" align="center">来源：中国稀土信息网\u3000作者：{e("、".join(story.authors))}\u3000发布时间：{story.date} 09:30\u3000点击：1{len(story.title)}8</td></tr>
<tr><td id="content" class="content">
{body}
<p align="right">（责任编辑：{e("、".join(story.editors))}）</p>
</td></tr>
<tr><td class="share">分享到：<a href="#">微信</a> <a href="#">新浪微博</a> <a href="#">QQ空间</a></td></tr>
<tr><td class="ad" align="center"><span>广告</span><br /><a href="http://ad.example.cn/c?id=3"><img src="/ad/banner690.gif" /></a></td></tr>
<tr><td><table width="100%"><tr><td colspan="2" class="bt"><b>相关新闻</b></td></tr>
{related_html}
</table></td></tr>
</table>
</td>
<td width="300" valign="top">
<table width="100%"><tr><td class="bt">价格行情</td></tr>
<tr><td><a href="/price/pr.html">氧化镨钕</a> 42.5万元/吨</td></tr>
<tr><td><a href="/price/dy.html">氧化镝</a> 165万元/吨</td></tr>
<tr><td class="qr"><img src="/images/qr.jpg" /><br />扫码关注中国稀土信息网微信公众号，获取最新行业资讯</td></tr>
</table>
</td></tr></table>
<table width="1000" align="center"><tr><td align="center" class="foot">
<a href="/about/">关于我们</a> | <a href="/contact/">联系方式</a> | <a href="/ads/">广告服务</a><br />
版权所有 © 2025 中国稀土信息网 京ICP备12345678号
</td></tr></table>
</body></html>
"""
    return Page(
        page,
        "gbk",
        paras,
        [
            "责任编辑",
            "分享到",
            "广告",
            "相关新闻",
            *(s.title for s in related),
            "扫码关注",
            "价格行情",
            "版权所有",
        ],
    )


# ---- 稀土快讯: a modern Chinese page in UTF-8 --------------------------------------------------------------------


def news_utf8(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story, 3)
    paras = list(story.paragraphs)
    body = "\n".join(f"<p>{e(p)}</p>" for p in paras)
    recommended = "\n".join(f'<li><a href="/a/{s.slug}">{e(s.title)}</a></li>' for s in related)
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{e(story.title)} - 稀土快讯</title>
<meta name="description" content="{e(paras[0][:60])}">
<meta property="og:site_name" content="稀土快讯">
</head>
<body>
<div class="top-bar"><a href="/">稀土快讯</a><a href="/news">要闻</a><a href="/market">市场</a><a href="/company">公司</a>
<a href="/app">下载APP</a></div>
<div class="main">
<div class="left">
<h1 class="article-title">{e(story.title)}</h1>
<div class="article-meta"><span>{story.date} 08:12</span><span>来源：稀土快讯</span></div>
<div class="article-content">
{body}
</div>
<div class="share-bar">分享：<a href="#">微信</a><a href="#">微博</a><a href="#">复制链接</a></div>
<div class="statement">免责声明：本文内容仅供参考，不构成投资建议。</div>
<div class="recommend"><h3>推荐阅读</h3><ul>{recommended}</ul></div>
</div>
<div class="right"><div class="hot"><h3>24小时热榜</h3><ol><li><a href="/a/hot1">稀土板块午后拉升</a></li>
<li><a href="/a/hot2">镨钕价格周评</a></li></ol></div></div>
</div>
<div class="footer">Copyright © 2025 稀土快讯 版权所有 未经授权不得转载</div>
</body></html>
"""
    return Page(
        page,
        "utf-8",
        paras,
        ["分享：", "免责声明", "推荐阅读", *(s.title for s in related), "24小时热榜", "版权所有"],
    )


# ---- レアメタル通信: Shift_JIS tables ----------------------------------------------------------------------------


def japanese_sjis(story: Story, stories: Sequence[Story]) -> Page:
    related = teasers(stories, story, 3)
    paras = list(story.paragraphs)
    body = "\n".join(f"<p>{e(p)}</p>" for p in paras)
    related_html = "<br>\n".join(f'<a href="/news/{s.slug}.html">{e(s.title)}</a>' for s in related)
    page = f"""<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">
<title>{e(story.title)}｜レアメタル通信</title>
</head>
<body>
<table width="760" align="center" border="0"><tr><td><a href="/"><img src="/img/logo.gif" alt="レアメタル通信"></a>
</td><td><a href="/">トップ</a>｜<a href="/news/">ニュース</a>｜<a href="/market/">市況</a>｜<a href="/contact/">お問い合わせ</a></td></tr></table>
<table width="760" align="center" border="0"><tr>
<td width="560" valign="top">
<h2>{e(story.title)}</h2>
<div align="right">{story.date.replace("-", "/")}</div>
{body}
<p>この記事をシェア：<a href="https://x.com/share">X</a> <a href="https://www.facebook.com/share">Facebook</a>
<a href="https://line.me/share">LINE</a></p>
<div align="center"><font size="1">広告</font><br><img src="/ad/banner.gif"></div>
<p><b>関連記事</b><br>{related_html}</p>
</td>
<td width="200" valign="top"><table border="1" width="100%"><tr><td><b>メールマガジン登録（無料）</b><br>
最新ニュースを毎朝お届けします。<form><input name="mail"><input type="submit" value="登録"></form></td></tr></table></td>
</tr></table>
<div align="center"><font size="1">Copyright (C) 2025 レアメタル通信 All Rights Reserved.</font></div>
</body></html>
"""
    return Page(
        page,
        "shift_jis",
        paras,
        [
            "この記事をシェア",
            "広告",
            "関連記事",
            *(s.title for s in related),
            "メールマガジン登録",
            "最新ニュースを毎朝お届けします",
            "Copyright (C) 2025",
        ],
    )


Layout = Callable[[Story, Sequence[Story]], Page]

# page type -> (site host, URL path pattern, layout, stories)
SITES: dict[str, tuple[str, str, Layout, Sequence[Story]]] = {
    "table-cp1252": ("www.miningrecord.example", "/news/{slug}.html", mining_record, MINING_RECORD),
    "table-br": ("www.raremetalsgazette.example", "/{slug}.htm", metals_gazette, METALS_GAZETTE),
    "div-siblings-wire": ("www.metalswire.example", "/markets/commodities/{slug}-{date}/", metals_wire, METALS_WIRE),
    "press-release": ("www.prwire.example", "/news-releases/{slug}.html", press_release, PRESS),
    "live-blog": ("www.dailyledger.example", "/live/{slug}", live_blog, LIVE),
    "div-siblings-blog": ("magnetnotes.example", "/{slug}/", magnet_notes, MAGNET_NOTES),
    "zh-gbk-portal": ("www.cre-info.example.cn", "/news/{slug}.html", portal_gbk, PORTAL_GBK),
    "zh-utf8-news": ("www.xitukuaixun.example.cn", "/a/{slug}", news_utf8, NEWS_UTF8),
    "ja-sjis": ("www.raremetal-tsushin.example.jp", "/news/{slug}.html", japanese_sjis, JAPANESE_SJIS),
}


def build(out: Path = HERE) -> dict[str, dict[str, object]]:
    truth: dict[str, dict[str, object]] = {}
    (out / "html").mkdir(parents=True, exist_ok=True)
    for kind, (host, path, layout, stories) in SITES.items():
        for story in stories:
            page = layout(story, stories)
            page_id = f"{kind}-{story.slug}"
            raw = page.html.encode(page.charset, errors="xmlcharrefreplace")  # as a CMS writes what the charset lacks
            (out / "html" / f"{page_id}.html.gz").write_bytes(gzip.compress(raw, mtime=0))
            truth[page_id] = {
                "url": f"https://{host}{path.format(slug=story.slug, date=story.date.replace('-', ''))}",
                "articleBody": "\n\n".join(page.truth),
                "title": story.title,
                "authors": list(story.authors),
                "date": story.date,
                "type": kind,
                "charset": page.charset,
                "boilerplate": page.boilerplate,
                "origin": "written for rare-earth-news (bench/extraction/layouts/build.py); fictional sites",
            }
    (out / "ground-truth.json").write_text(
        json.dumps(truth, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return truth


if __name__ == "__main__":
    pages = build()
    print(f"{len(pages)} pages written to {HERE}")
