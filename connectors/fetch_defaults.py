"""The fetcher's default limits (connectors/http.FetchPolicy), in a module of their own so that the settings can
name them without importing the HTTP client: `rare-news search` and the other reading commands start faster."""

from __future__ import annotations

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 20.0
DEFAULT_TOTAL_TIMEOUT = 60.0
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_MAX_DECOMPRESSED_BYTES = 20_000_000
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_PER_HOST_CONCURRENCY = 2
DEFAULT_PER_HOST_DELAY = 0.0
DEFAULT_USER_AGENT = "rare-earth-news/0.1 (+https://github.com/rare-earth-news)"
