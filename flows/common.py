"""What every flow and command needs first: the engine on a migrated schema, the taxonomy, the seed corpus."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from pathlib import Path

from sqlalchemy import Engine

from connectors.seeds import read_seed_files
from flows.settings import ConfigError, Settings, read_toml
from models import store
from models.db import get_engine, migrate, schema_exists, set_reconnect_window
from models.store import EntryOutcome
from transforms.pipeline import judge_article
from transforms.relevance import DEFAULT_THRESHOLD
from transforms.seed_text import parse_seed_text
from transforms.tag import Taxonomy

# Prefect is quiet and private unless asked otherwise: no analytics, no phoning home, warnings only.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
}


def quiet_prefect(verbose: bool = False) -> None:
    """Set Prefect's environment before it is imported (its settings are read at import)."""
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"


# A flow run keeps its memory flat, however many pages it fetches (`make bench`: the flow process of a
# 10,000-page run grew to 550 MB; it stays near 250 MB with the three steps below):
# - glibc raises its mmap threshold to the size of every large block freed, so page bodies (100 kB to a few MB)
#   that fetch threads allocate and free end up in heaps that are never returned: a fixed threshold
#   (mallopt M_MMAP_THRESHOLD) keeps them in mappings of their own.
# - tenacity's retry state and Prefect's futures hold each batch's pages in reference cycles, which only a full
#   collection frees; it ran too seldom. One per batch costs a few milliseconds once the objects that exist at
#   the start of the run (imports, clients, settings) are frozen out of the collector's sight (gc.freeze).
# - malloc_trim gives the heap's free pages back after each batch.
_M_MMAP_THRESHOLD = -3
LARGE_BUFFER_BYTES = 128 * 1024


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc has both; musl has neither
    except (OSError, AttributeError):
        return None
    return libc


def start_steady_memory() -> None:
    """Call at the start of a run: large buffers off the heap, the objects that exist now frozen."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES)
    gc.freeze()


def return_free_memory() -> None:
    """Call after each batch: free its reference cycles and give the heap's free pages back.

    The young generations only: a full collection walked every long-lived object once a batch (a twentieth
    of the flow process's CPU per page in `make bench`), and the startup objects are frozen anyway."""
    gc.collect(1)
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def end_steady_memory() -> None:
    """Call at the end of a run: what was frozen is collectable again."""
    gc.unfreeze()


def load_taxonomy(settings: Settings) -> Taxonomy:
    try:
        taxonomy = Taxonomy.from_dict(read_toml(settings.taxonomy_path, "taxonomy"))
        if settings.taxonomy_extra_file:
            taxonomy = taxonomy.merged(read_toml(settings.taxonomy_extra_file, "taxonomy additions"))
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"taxonomy {settings.taxonomy_path}: {exc}") from None
    return taxonomy


def relevance_threshold(settings: Settings) -> float:
    return settings.relevance_threshold if settings.relevance_threshold is not None else DEFAULT_THRESHOLD


def load_seeds(engine: Engine, taxonomy: Taxonomy, seed_dir: Path) -> int:
    """Load the seed corpus as articles with origin "seed"; returns how many were new. Idempotent."""
    outcomes = []
    for seed in read_seed_files(seed_dir):
        extracted = parse_seed_text(seed.text, name=seed.name)
        # Seeds are curated rare-earth articles: stored whatever their score, tagged like any other.
        decision = judge_article(
            extracted, url=f"seed:{Path(seed.name).stem}", origin="seed", taxonomy=taxonomy, threshold=0.0
        )
        if decision.record is not None:
            outcomes.append(
                EntryOutcome(
                    feed_id=None,
                    entry_key=seed.name,
                    url=None,
                    title=None,
                    status="loaded",
                    article=decision.record,
                )
            )
    return store.load_batch(engine, outcomes=outcomes).stored


def prepare_store(settings: Settings, taxonomy: Taxonomy | None = None) -> Engine:
    """The engine on the newest schema; a new database also gets the seed corpus."""
    engine = get_engine(settings.database_url)
    set_reconnect_window(settings.reconnect_seconds)
    was_new = not schema_exists(engine)
    migrate(engine)
    if was_new:
        load_seeds(engine, taxonomy or load_taxonomy(settings), settings.seed_dir)
    return engine
