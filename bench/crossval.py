"""k-fold cross-validation of the extractor on the repository's pages: the figure that says it generalises.

Whatever is learned or chosen by score from pages is fit on the other folds only, then scored on the held-out
fold; the mean of the k held-out F1 figures is the extractor's cross-validated F1. Two things are fit:

- the thresholds in `TUNABLES`, module constants of the extraction filters: for each fold, the combination
  that scores best on the training folds is the one used on the held-out fold (every combination's
  predictions are made once per page, so the grid costs one extraction per page per combination, not per
  fold);
- site templates (transforms/templates.py): a held-out page's template is learned from the pages of its site
  that are in the training folds, never from itself or its fold.

Folds deal pages round-robin in (set, page type, id) order, so every fold holds pages of every kind and, where
a site has several pages, the site's other pages sit mostly in other folds (as its earlier pages would in the
pipeline). The whole-set figure beside it fits the same things on all pages and scores on the same pages:
the gap between the two is what tuning on the pages themselves is worth, and no more should be believed.
"""

from __future__ import annotations

import importlib
import itertools
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from transforms.templates import SiteTemplate

FOLDS = 5
# Template thresholds in the evaluation: a site brings fewer pages here than to the pipeline, so one other page
# of the site that has a block is enough (the pipeline waits for two: MIN_TEMPLATE_WEIGHT).
EVAL_TEMPLATE_MIN_WEIGHT = 1.0


class Page(Protocol):
    id: str
    url: str
    html: bytes
    group: str  # "benchmark" or "layouts"
    kind: str  # page type ("news" for the benchmark's pages)


@dataclass(frozen=True)
class Tunable:
    """A threshold of the extraction chosen by score: a module constant and the values tried."""

    module: str
    name: str
    values: tuple[float, ...]


# Thresholds that were chosen by their F1 on pages: the CV refits them on each fold's training pages.
TUNABLES: tuple[Tunable, ...] = (
    Tunable("transforms.blocks", "INTERNAL_LINK_SHARE", (0.6, 0.7, 0.8)),
    Tunable("transforms.extract", "FALLBACK_BELOW_CHARS", (500.0, 1000.0)),
)

Config = tuple[tuple[str, str, float], ...]


def grid(tunables: Sequence[Tunable]) -> list[Config]:
    """Every combination of the tunables' values, the defaults' combination first."""
    axes = [[(t.module, t.name, v) for v in t.values] for t in tunables]
    return [tuple(combo) for combo in itertools.product(*axes)] if axes else [()]


@contextmanager
def configured(config: Config) -> Iterator[None]:
    """The extraction modules with a configuration's constants, restored afterwards."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for module_name, name, value in config:
            module = importlib.import_module(module_name)
            current = getattr(module, name)
            saved.append((module, name, current))
            setattr(module, name, type(current)(value))
        yield
    finally:
        for module, name, value in reversed(saved):
            setattr(module, name, value)


def describe(config: Config) -> str:
    return ", ".join(f"{name}={value:g}" for _, name, value in config) or "defaults"


def assign_folds(pages: Sequence[Page], k: int = FOLDS) -> dict[str, int]:
    ordered = sorted(pages, key=lambda p: (p.group, p.kind, p.id))
    return {page.id: i % k for i, page in enumerate(ordered)}


@dataclass
class Extraction:
    body: str
    authors: tuple[str, ...]
    title: str | None
    date: str | None  # ISO day
    block_keys: tuple[str, ...]


def extract(page: Page, template: SiteTemplate | None = None) -> Extraction:
    from transforms.extract import extract_article

    article = extract_article(page.html, url=page.url, template=template)
    return Extraction(
        body=article.body_text,
        authors=article.authors,
        title=article.title,
        date=article.published_at.date().isoformat() if article.published_at else None,
        block_keys=article.block_keys,
    )


def templates_from(pages: Sequence[Page], keys: Mapping[str, tuple[str, ...]], for_pages: Sequence[Page]) -> dict:
    """For each page of `for_pages`, the template learned from the pages of its site among `pages` (itself
    excluded): the block keys of the site's other pages, never the ground truth."""
    from transforms.templates import SiteTemplate, learn_template, template_site

    by_site: dict[str, list[Page]] = {}
    for page in pages:
        by_site.setdefault(template_site(page.url), []).append(page)
    templates: dict[str, SiteTemplate] = {}
    for page in for_pages:
        template = SiteTemplate(min_weight=EVAL_TEMPLATE_MIN_WEIGHT)
        for other in sorted(by_site.get(template_site(page.url), []), key=lambda p: p.url):
            if other.id != page.id:
                template = learn_template(template, keys[other.id])
        templates[page.id] = template
    return templates


Scorer = Callable[[Mapping[str, str], Mapping[str, str]], dict[str, Any]]


@dataclass
class CrossValidation:
    folds: int
    held_out: dict[str, list[float]]  # row name -> F1 of each held-out fold
    chosen: list[str]  # the configuration each fold chose
    whole_set: dict[str, float]  # row name -> F1 with everything fit on all pages
    whole_set_config: str
    # Held-out predictions, one per page (each page is held out once), for the per-page checks.
    predictions: dict[str, dict[str, Extraction]] = field(default_factory=dict)

    def mean(self, row: str) -> float:
        return statistics.fmean(self.held_out[row])


def cross_validate(
    pages: Sequence[Page],
    truth: Mapping[str, str],
    score: Scorer,
    *,
    k: int = FOLDS,
    tunables: Sequence[Tunable] = TUNABLES,
) -> CrossValidation:
    configs = grid(tunables)
    runs: dict[Config, dict[str, Extraction]] = {}
    for config in configs:
        with configured(config):
            runs[config] = {page.id: extract(page) for page in pages}

    def f1(config: Config, ids: Sequence[str]) -> float:
        return float(score({i: truth[i] for i in ids}, {i: runs[config][i].body for i in ids})["f1"])

    folds = assign_folds(pages, k)
    held_out: dict[str, list[float]] = {"ours": [], "ours+template": []}
    chosen: list[str] = []
    predictions: dict[str, dict[str, Extraction]] = {"ours": {}, "ours+template": {}}
    for fold in range(k):
        train = [p for p in pages if folds[p.id] != fold]
        test = [p for p in pages if folds[p.id] == fold]
        best = max(configs, key=lambda c: f1(c, [p.id for p in train]))
        chosen.append(describe(best))
        test_ids = [p.id for p in test]
        held_out["ours"].append(f1(best, test_ids))
        keys = {p.id: runs[best][p.id].block_keys for p in train}
        templates = templates_from(train, keys, test)
        with configured(best):
            templated = {p.id: extract(p, templates[p.id]) for p in test}
        held_out["ours+template"].append(
            float(score({i: truth[i] for i in test_ids}, {i: templated[i].body for i in test_ids})["f1"])
        )
        predictions["ours"].update({i: runs[best][i] for i in test_ids})
        predictions["ours+template"].update(templated)

    all_ids = [p.id for p in pages]
    best_all = max(configs, key=lambda c: f1(c, all_ids))
    keys_all = {i: runs[best_all][i].block_keys for i in all_ids}
    templates_all = templates_from(pages, keys_all, pages)
    with configured(best_all):
        templated_all = {p.id: extract(p, templates_all[p.id]).body for p in pages}
    whole_set = {
        "ours": f1(best_all, all_ids),
        "ours+template": float(score(truth, templated_all)["f1"]),
    }
    return CrossValidation(k, held_out, chosen, whole_set, describe(best_all), predictions)
