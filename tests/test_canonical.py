"""canonical_url and site_of: one key per article however it was linked."""

from __future__ import annotations

import pytest

from transforms.canonical import canonical_url, site_of

MAIN = "https://scmp.com/news/china/article/3300000/rare-earths-ganzhou"


def test_tracking_parameters_are_dropped_and_others_kept_sorted() -> None:
    url = (
        "https://www.example.com/story?utm_source=twitter&id=42&fbclid=AbC&page=2&gclid=x"
        "&mc_cid=1&mc_eid=2&ref=home&cmpid=rss&ocid=msn&utm_campaign=y&CMP=share_btn_tw&gallery=3"
    )
    assert canonical_url(url) == "https://example.com/story?gallery=3&id=42&page=2"


def test_meaningful_parameters_that_look_like_trackers_survive() -> None:
    # courlan's pattern would drop these (prefix "ga"/"gl"/"ref"/"source"); they carry the article.
    url = "https://example.com/view?global=1&reference=RE-9&sourceid=7&articleId=123"
    assert canonical_url(url) == "https://example.com/view?articleId=123&global=1&reference=RE-9&sourceid=7"


def test_repeated_parameter_keeps_its_order() -> None:
    assert canonical_url("https://example.com/s?tag=b&a=1&tag=a") == "https://example.com/s?a=1&tag=b&tag=a"


def test_fragment_is_dropped() -> None:
    assert canonical_url(MAIN + "#comments") == MAIN
    assert canonical_url(MAIN + "?utm_medium=email#section-2") == MAIN


@pytest.mark.parametrize(
    "variant",
    [
        MAIN + "/",
        MAIN + "//",
        "https://scmp.com//news/china//article/3300000/rare-earths-ganzhou",
    ],
)
def test_trailing_and_duplicate_slashes_are_normalised(variant: str) -> None:
    assert canonical_url(variant) == MAIN


def test_root_keeps_its_slash() -> None:
    assert canonical_url("https://example.com") == "https://example.com/"
    assert canonical_url("https://example.com/") == "https://example.com/"


def test_scheme_and_host_case_default_port_and_www_are_normalised() -> None:
    assert canonical_url("HTTP://WWW.SCMP.COM:80/news/china/article/3300000/rare-earths-ganzhou") == MAIN
    assert canonical_url("https://www.scmp.com:443/news/china/article/3300000/rare-earths-ganzhou") == MAIN


def test_http_and_https_are_one_article() -> None:
    assert canonical_url(MAIN.replace("https://", "http://")) == canonical_url(MAIN)


def test_non_default_port_keeps_scheme_and_port() -> None:
    assert canonical_url("http://example.com:8080/a/") == "http://example.com:8080/a"


def test_path_case_is_kept() -> None:
    # Paths are case-sensitive on most servers: only scheme and host are lower-cased.
    assert canonical_url("https://Example.com/News/Story") == "https://example.com/News/Story"


@pytest.mark.parametrize(
    "variant",
    [
        MAIN + "/amp",
        MAIN + "/amp/",
        MAIN + "?amp=1",
        MAIN + "?amp",
        MAIN + "?outputType=amp",
        MAIN + ".amp",
        "https://amp.scmp.com/news/china/article/3300000/rare-earths-ganzhou",
        "https://scmp.com/amp/news/china/article/3300000/rare-earths-ganzhou",
        "https://m.scmp.com/news/china/article/3300000/rare-earths-ganzhou",
        "https://mobile.scmp.com/news/china/article/3300000/rare-earths-ganzhou",
        "http://m.scmp.com/news/china/article/3300000/rare-earths-ganzhou/amp/?utm_source=x",
    ],
)
def test_amp_and_mobile_variants_map_to_the_main_url(variant: str) -> None:
    assert canonical_url(variant) == MAIN


def test_amp_html_suffix_maps_to_html() -> None:
    assert canonical_url("https://edition.cnn.com/2024/world/index.amp.html") == (
        "https://edition.cnn.com/2024/world/index.html"
    )


def test_output_type_other_than_amp_is_kept() -> None:
    assert canonical_url("https://example.com/a?outputType=print") == "https://example.com/a?outputType=print"


def test_mobile_prefix_is_not_stripped_when_only_a_suffix_would_remain() -> None:
    assert canonical_url("https://m.co/a") == "https://m.co/a"


def test_percent_escapes_are_normalised() -> None:
    assert canonical_url("https://example.com/%7euser/%e4%b8%ad") == "https://example.com/~user/%E4%B8%AD"
    assert canonical_url("https://example.com/新闻") == "https://example.com/%E6%96%B0%E9%97%BB"


def test_html_escaped_ampersand_from_feeds() -> None:
    assert canonical_url("https://example.com/?a=1&amp;utm_medium=x&amp;b=2") == "https://example.com/?a=1&b=2"


def test_user_info_is_dropped() -> None:
    assert canonical_url("https://user:secret@example.com/a") == "https://example.com/a"


def test_internationalised_host_is_one_key_in_either_form() -> None:
    assert canonical_url("https://例子.中国/a") == canonical_url("https://xn--fsqu00a.xn--fiqs8s/a")


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "   ",
        "not a url",
        "http://[::1",
        "mailto:desk@example.com",
        "javascript:alert(1)",
        "https:///path-only",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "ftp://example.com/file",
        "/relative/path",
    ],
)
def test_junk_never_raises_and_comes_back_stripped(junk: str) -> None:
    assert canonical_url("  " + junk + "\n") == junk.strip()
    assert site_of(junk) == ""


def test_site_of_strips_www_mobile_and_amp_but_keeps_other_subdomains() -> None:
    assert site_of("https://www.Reuters.com/markets/commodities/x") == "reuters.com"
    assert site_of("https://m.scmp.com/a") == "scmp.com"
    assert site_of("https://amp.theguardian.com/a") == "theguardian.com"
    assert site_of("https://asia.nikkei.com/a") == "asia.nikkei.com"
    assert site_of("https://xn--fsqu00a.xn--fiqs8s/a") == "例子.中国"
