"""Canonical URLs: one identity key per article however a feed, a share button or a mobile app linked it.

The canonical URL is a key for "is this the same article?", not a URL to fetch: the URL as found is stored
beside it and is what the fetcher uses. That is why the rules below may change what a server would see:

- ``http`` and ``https`` map to ``https``. Publishers serve the same article under both (feeds written years
  ago still say ``http``); treating them as two articles would store every such story twice. A URL with a
  non-default port keeps its scheme, because there the scheme says which service answers.
- Host: lower-cased, IDNA (punycode) form, user info dropped, and the ``www.``, ``m.``, ``mobile.`` and
  ``amp.`` prefixes removed so the desktop, mobile and AMP hosts agree. ``site_of`` uses the same host.
- AMP variants: a trailing ``/amp`` segment, an ``/amp/`` segment anywhere in the path, a ``.amp`` /
  ``.amp.html`` suffix and the ``amp`` / ``outputType=amp`` query parameters all lead to the main URL.
- Query: tracking parameters are dropped (``TRACKING_PARAMS`` and ``TRACKING_PREFIXES``); every other
  parameter is kept, sorted by name, because on many news sites the article id lives in the query.
- Fragments are dropped; the path's trailing slash is stripped except for the root, duplicate slashes are
  collapsed and percent-escapes are normalised (RFC 3986 section 6.2.2).

courlan's ``clean_url`` was tried and not used for the query: its tracker pattern matches any parameter that
*starts with* ``ga``, ``gl``, ``ref`` or contains ``source`` (``gallery=2``, ``global=1``, ``reference=...``
vanish), and it keeps fragments and the ``m.``/``amp.`` hosts. The rules here are explicit and tested instead.

``canonical_url`` never raises: input it cannot parse comes back stripped of surrounding whitespace.
"""

from __future__ import annotations

import contextlib
import html
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from courlan.clean import decode_punycode

# Exact parameter names (compared lower-case) that only say where a click came from.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "ttclid",
        "wbraid",
        "gbraid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "cmpid",
        "ocid",
        "icid",
        "cmp",
        "smid",
        "smtyp",
        "sref",
        "srnd",
        "ito",
        "tpcc",
        "xtor",
        "ftcamp",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "spm",
        "share",
        "rss",
        "taid",
        "__twitter_impression",
        "s_cid",
        "trk",
        "trkcampaign",
        "sr_share",
        "usqp",
    }
)
# Parameter-name prefixes (compared lower-case) of tracking families.
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hsa_", "itm_", "oly_", "vero_", "at_")
# Parameters that select the AMP rendering of the same article.
AMP_PARAMS: frozenset[str] = frozenset({"amp", "_amp"})
AMP_VALUED_PARAMS: frozenset[str] = frozenset({"outputtype", "output", "format", "view"})

_STRIPPED_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_WWW_N = re.compile(r"^www\d*\.")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 pchar plus "/" and "%": existing escapes are kept here and normalised by _normalise_escapes.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS = re.compile(r"[a-z0-9._:-]+")


def _normalise_escapes(part: str) -> str:
    """Upper-case percent-escapes and decode the ones for unreserved characters (RFC 3986, 6.2.2)."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    # Quote what must be quoted (spaces, non-ASCII) without touching valid escapes, then normalise them.
    quoted = quote(part, safe=_PATH_SAFE)
    return _PERCENT.sub(fix, quoted)


def _clean_host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    # A host IDNA cannot encode stays non-ASCII, and the caller's character check rejects it.
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    host = _WWW_N.sub("www.", host)
    for prefix in _STRIPPED_HOST_PREFIXES:
        rest = host[len(prefix) :]
        # Only strip when something domain-like remains ("m.co" must stay "m.co").
        if host.startswith(prefix) and rest.count(".") >= 1 and not _is_ip(host):
            host = rest
            break
    return host


def _is_ip(host: str) -> bool:
    return bool(re.fullmatch(r"[\d.]+", host)) or ":" in host


def _clean_path(path: str) -> str:
    path = re.sub(r"/{2,}", "/", path)
    segments = path.split("/")
    # "/amp/" anywhere and a trailing "/amp" are AMP renderings of the path without them.
    kept = [seg for seg in segments if seg.lower() != "amp"]
    path = "/".join(kept)
    path = re.sub(r"\.amp(\.html?)?$", lambda m: m.group(1) or "", path, flags=re.IGNORECASE)
    path = _normalise_escapes(path)
    if len(path) > 1:
        path = path.rstrip("/")
    return path or "/"


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _clean_query(query: str) -> str:
    if not query:
        return ""
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        lowered = name.lower()
        if _is_tracking(name) or lowered in AMP_PARAMS:
            continue
        if lowered in AMP_VALUED_PARAMS and value.lower() == "amp":
            continue
        kept.append((name, value))
    # Sort by name only: the sort is stable, so repeated names keep their relative order.
    kept.sort(key=lambda pair: pair[0])
    return urlencode(kept)


def _canonicalise(url: str) -> tuple[str, str] | None:
    """(canonical URL, host) or None when ``url`` is not an http(s) URL with a usable host."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(html.unescape(url.strip()))
        scheme = parts.scheme.lower()
        hostname = parts.hostname
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not hostname:
        return None
    host = _clean_host(hostname)
    if not _HOST_CHARS.fullmatch(host):
        return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    else:
        scheme = "https"
        netloc = f"[{host}]" if ":" in host else host
    return urlunsplit((scheme, netloc, _clean_path(parts.path), _clean_query(parts.query), "")), host


def canonical_url(url: str) -> str:
    """Return the canonical form of ``url`` (see the module docstring); junk comes back stripped."""
    result = _canonicalise(url)
    if result is None:
        return url.strip() if isinstance(url, str) else ""
    return result[0]


def site_of(url: str) -> str:
    """The host an article was published on, without ``www.``/``m.``/``amp.``; "" when there is none.

    This is the host as written in the URL (``asia.nikkei.com`` stays as is), not the registrable domain,
    so sections of a publisher on their own host are told apart. Punycode is shown decoded (``例子.中国``).
    """
    result = _canonicalise(url)
    return decode_punycode(result[1]) if result else ""
