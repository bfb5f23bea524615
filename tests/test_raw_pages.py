"""Stored pages: written as zstd, and pages stored as gzip by earlier versions still read back."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from models.raw_pages import compress_page, decompress_page

# real news pages, as the benchmark keeps them (gzip files)
PAGES = sorted((Path(__file__).resolve().parents[1] / "bench" / "extraction" / "html").glob("*.html.gz"))


@pytest.fixture
def page() -> bytes:
    assert PAGES, "bench/extraction/html holds real article pages"
    return gzip.decompress(PAGES[0].read_bytes())


def test_a_page_round_trips_and_shrinks(page: bytes) -> None:
    stored = compress_page(page)
    assert decompress_page(stored) == page
    assert len(stored) < len(page) / 3


def test_pages_stored_as_gzip_still_read(page: bytes) -> None:
    assert decompress_page(gzip.compress(page, compresslevel=1)) == page


def test_bytes_in_neither_format_are_an_error() -> None:
    with pytest.raises(ValueError, match="neither zstd nor gzip"):
        decompress_page(b"<html>not compressed</html>")
