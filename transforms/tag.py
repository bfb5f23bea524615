"""Taxonomy tagging: which rare-earth elements, companies, places and topics an article mentions, how often.

The taxonomy is data (``config/taxonomy.toml``, parsed by the caller and given to ``Taxonomy.from_dict``), so
analysts add terms without touching code, either in the file or through ``Taxonomy.merged``.

Shape of the data (unknown keys are errors, so a typo cannot silently disable a term)::

    [weights]                # optional relevance weight per kind; defaults in DEFAULT_KIND_WEIGHTS
    element = 2.0
    [[core]]                 # phrases that say "this is about rare earths"; used by relevance, not tags
    name = "rare earth"
    weight = 3.0             # required for core phrases
    patterns = ["rare earth", "rare earths", "稀土"]
    [[term]]
    kind = "element"         # element | company | place | topic | person
    name = "neodymium"       # the canonical name stored as the tag
    patterns = ["neodymium", "钕"]            # matched case-insensitively
    case_sensitive_patterns = ["NdFeB", "NdPr"] # matched exactly as written
    exclude = ["..."]        # optional: longer phrases that must not count (e.g. "Arafura Sea")
    weight = 1.0             # optional: overrides the kind's weight
    prefilter = false        # optional: whether it admits entries from general feeds (see relevance)

Matching rules:

- Latin-script patterns are word-bounded: ``Lynas`` does not match inside ``Lynasx``. A space or hyphen in a
  pattern matches any run of spaces and hyphens/dashes, so "rare earth" finds "rare-earth" and "rare  earth".
  Plurals are listed explicitly.
- Patterns containing CJK (or kana/Hangul) characters match without word boundaries: Chinese has no spaces.
- Where matches overlap, the longest wins ("China Northern Rare Earth" is one company mention, not also a
  "rare earth" phrase and the place China). A pattern may belong to several terms: "NdPr" is a mention of
  both neodymium and praseodymium.
- Bare element symbols ("Y", "Er", "Nd", ...) and single letters are rejected at load time, and a
  case-insensitive Latin pattern needs at least three letters ("EU" must be case-sensitive): a capital "Y"
  or "Er" is never yttrium or erbium.

All patterns of a taxonomy compile once, when it is built, into three prefix-trie regexes (case-insensitive
patterns starting with a letter, other case-insensitive ones such as Chinese, case-sensitive ones), so
tagging a 5,000-word article is three scans of the text: about 2-3 ms here.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TERM_KINDS: tuple[str, ...] = ("element", "company", "place", "topic", "person")
CORE_KIND = "core"
# Relevance weight of one mention, by kind, when neither the TOML [weights] table nor the term says.
DEFAULT_KIND_WEIGHTS: dict[str, float] = {
    "element": 2.0,
    "company": 2.0,
    "place": 0.3,
    "topic": 0.3,
    "person": 1.0,
}
# Kinds whose terms admit an entry from a general feed unless the term says prefilter = false.
PREFILTER_KINDS: frozenset[str] = frozenset({CORE_KIND, "element", "company"})
# Chemical symbols of the 17 rare-earth elements: never valid patterns on their own.
ELEMENT_SYMBOLS: frozenset[str] = frozenset(
    {"Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"}
)
MIN_CASE_INSENSITIVE_LETTERS = 3

_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
_CJK_RE = re.compile(f"[{_CJK}]")
# Where CJK meets a Latin-script word character ("澳大利亚Lynas公司") text and patterns get a space, so that
# plain \w word boundaries work for Latin-script patterns inside Chinese text. (A boundary class that
# excluded CJK from \w would do the same without the space, but Python compiles such a class into a
# 64k-entry table at every one of the trie's hundreds of pattern ends: ~1 s per taxonomy.)
_SEAM_RE = re.compile(rf"(?<=[{_CJK}])(?=[^\W{_CJK}])|(?<=[^\W{_CJK}])(?=[{_CJK}])")
_SEP_CLASS = r"[\s\-\u2010-\u2014]+"
_SEP_RE = re.compile(_SEP_CLASS)
_SEP = object()  # trie token for "one or more spaces or hyphens"
_END = object()  # trie marker for "a pattern ends here"

_TERM_KEYS = frozenset({"kind", "name", "patterns", "case_sensitive_patterns", "exclude", "weight", "prefilter"})
_CORE_KEYS = _TERM_KEYS - {"kind"}
_TOP_KEYS = frozenset({"weights", "core", "term"})


@dataclass(frozen=True)
class TagMatch:
    kind: str
    name: str
    mentions: int


@dataclass(frozen=True)
class Term:
    """One taxonomy entry; core phrases are terms of kind ``core``."""

    kind: str
    name: str
    patterns: tuple[str, ...]
    case_sensitive_patterns: tuple[str, ...]
    exclude: tuple[str, ...]
    weight: float
    prefilter: bool


def _is_cjk(pattern: str) -> bool:
    return bool(_CJK_RE.search(pattern))


def _add_seams(text: str) -> str:
    if text.isascii() or not _CJK_RE.search(text):
        return text
    return _SEAM_RE.sub(" ", text)


def _key(text: str, *, case_sensitive: bool) -> str:
    """Lookup key of a pattern or of matched text: separators collapsed, lower-cased unless exact."""
    collapsed = _SEP_RE.sub(" ", text).strip()
    return collapsed if case_sensitive else collapsed.lower()


def _tokens(pattern: str, *, case_sensitive: bool) -> list[object]:
    out: list[object] = []
    for part in _SEP_RE.split(pattern.strip()):
        if not part:
            continue
        if out:
            out.append(_SEP)
        out.extend(part if case_sensitive else part.lower())
    return out


def _is_word_char(ch: str) -> bool:
    return (ch.isalnum() or ch == "_") and not _is_cjk(ch)


def _trie_regex(token_lists: Iterable[list[object]], *, boundary: str) -> str:
    """One regex for many literal patterns, factored by prefix so each text position costs a few steps.

    A pattern that starts (ends) with a Latin-script word character must not be preceded (followed) by
    one; CJK ends need no boundary. ``boundary`` says where the leading check goes: "before" the pattern
    (fastest when most text positions can start a pattern, as with lower-cased text) or "after" its first
    character (fastest when few can, as with capitalised acronyms: the engine then skips ahead by first
    character). With "before", every pattern must start with a word character.
    """
    root: dict[object, Any] = {}
    for tokens in token_lists:
        node = root
        for token in tokens:
            node = node.setdefault(token, {})
        last = tokens[-1]
        node[_END] = r"(?!\w)" if isinstance(last, str) and _is_word_char(last) else ""

    def piece(token: object) -> str:
        return _SEP_CLASS if token is _SEP else re.escape(str(token))

    def emit(node: dict[object, Any]) -> str:
        alts = [piece(token) + emit(child) for token, child in node.items() if token is not _END]
        # The end of a pattern is tried last, so the longest pattern at a position wins.
        if _END in node:
            alts.append(node[_END])
        if len(alts) == 1:
            return alts[0]
        return "(?:" + "|".join(alts) + ")"

    if not root:
        return ""
    if boundary == "before":
        return rf"(?<!\w){emit(root)}"
    firsts = []
    for token, child in root.items():
        check = r"(?<!\w.)" if isinstance(token, str) and _is_word_char(token) else ""
        firsts.append(f"{piece(token)}{check}{emit(child)}")
    return "(?:" + "|".join(firsts) + ")"


class _Matcher:
    """The compiled patterns of a taxonomy and the key -> term lookup tables.

    Case-insensitive patterns run as a case-sensitive regex over ``text.lower()`` (re.IGNORECASE is about
    twice as slow); when lower-casing changes the text's length (a few rare characters do), an IGNORECASE
    copy runs on the text itself so that match positions stay comparable with the case-sensitive ones.
    """

    def __init__(self, terms: tuple[Term, ...]) -> None:
        lookups: dict[bool, dict[str, set[int]]] = {False: {}, True: {}}
        ci_word_first: list[list[object]] = []
        ci_other: list[list[object]] = []
        cs_tokens: list[list[object]] = []
        for index, term in enumerate(terms):
            groups = (
                (term.patterns, False, index),
                (term.case_sensitive_patterns, True, index),
                (term.exclude, False, -1),  # matched so that it wins as the longer phrase, then ignored
            )
            for patterns, cs, target in groups:
                for raw_pattern in patterns:
                    pattern = _add_seams(raw_pattern)
                    ids = lookups[cs].setdefault(_key(pattern, case_sensitive=cs), set())
                    if target >= 0:
                        ids.add(target)
                    tokens = _tokens(pattern, case_sensitive=cs)
                    if cs:
                        cs_tokens.append(tokens)
                    elif _is_word_char(str(tokens[0])):
                        ci_word_first.append(tokens)
                    else:
                        ci_other.append(tokens)
        self.lookup = {cs: {k: tuple(sorted(v)) for k, v in table.items()} for cs, table in lookups.items()}
        self._ci_sources = [
            src
            for src in (
                _trie_regex(ci_word_first, boundary="before"),
                _trie_regex(ci_other, boundary="after"),
            )
            if src
        ]
        self._ci = [re.compile(src) for src in self._ci_sources]
        self._ci_ignorecase: list[re.Pattern[str]] | None = None
        cs_source = _trie_regex(cs_tokens, boundary="after")
        self._cs = [re.compile(cs_source)] if cs_source else []

    def _case_insensitive_runs(self, text: str) -> tuple[str, list[re.Pattern[str]]]:
        lowered = text.lower()
        if len(lowered) == len(text):
            return lowered, self._ci
        if self._ci_ignorecase is None:
            self._ci_ignorecase = [re.compile(src, re.IGNORECASE) for src in self._ci_sources]
        return text, self._ci_ignorecase

    def counts(self, text: str) -> dict[int, int]:
        """Mentions per term index in ``text``; overlapping matches resolved longest-first."""
        if not text.isascii():
            if not unicodedata.is_normalized("NFKC", text):
                text = unicodedata.normalize("NFKC", text)
            text = _add_seams(text)
        found: list[tuple[int, int, tuple[int, ...]]] = []
        ci_text, ci_regexes = self._case_insensitive_runs(text)
        runs = [(ci_text, regex, False) for regex in ci_regexes] + [(text, regex, True) for regex in self._cs]
        for subject, regex, cs in runs:
            table = self.lookup[cs]
            for match in regex.finditer(subject):
                ids = table.get(_key(match.group(), case_sensitive=cs), ())
                found.append((match.start(), match.end(), ids))
        found.sort(key=lambda m: (m[0], -m[1]))
        counts: dict[int, int] = {}
        last_end = -1
        for start, end, ids in found:
            if start < last_end:
                continue
            last_end = end
            for index in ids:
                counts[index] = counts.get(index, 0) + 1
        return counts


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"taxonomy: {where}: {message}")


def _string_list(value: Any, where: str, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, f"{field!r} must be a list of strings")
    out = []
    for raw in value:
        pattern = " ".join(unicodedata.normalize("NFKC", raw).split())
        if not _SEP_RE.sub("", pattern):
            raise _fail(where, f"{field!r} has an empty pattern {raw!r}")
        out.append(pattern)
    return out


def _check_pattern(pattern: str, *, case_sensitive: bool, where: str) -> None:
    if pattern in ELEMENT_SYMBOLS or (not case_sensitive and pattern.capitalize() in ELEMENT_SYMBOLS):
        raise _fail(where, f"bare element symbol {pattern!r} is not allowed (a capital 'Y' is not yttrium)")
    if _is_cjk(pattern):
        return
    letters = sum(ch.isalnum() for ch in pattern)
    if letters < 2:
        raise _fail(where, f"pattern {pattern!r} is too short to match anything reliably")
    if not case_sensitive and letters < MIN_CASE_INSENSITIVE_LETTERS:
        raise _fail(
            where,
            f"pattern {pattern!r} is too short to match case-insensitively; list it in case_sensitive_patterns",
        )


def _parse_weights(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail("[weights]", "must be a table of kind = number")
    out: dict[str, float] = {}
    for kind, weight in value.items():
        if kind not in TERM_KINDS:
            raise _fail("[weights]", f"unknown kind {kind!r}; expected one of {', '.join(TERM_KINDS)}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise _fail("[weights]", f"{kind} must be a non-negative number, got {weight!r}")
        out[kind] = float(weight)
    return out


def _parse_entry(raw: Any, *, core: bool, index: int) -> dict[str, Any]:
    """Validate one [[core]] or [[term]] table and return it in normalised form."""
    table = "core" if core else "term"
    where = f"[[{table}]] #{index + 1}"
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be a table")
    name = raw.get("name")
    if isinstance(name, str) and name.strip():
        where += f" ({name.strip()!r})"
    unknown = set(raw) - (_CORE_KEYS if core else _TERM_KEYS)
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(sorted(unknown))}")
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, "'name' must be a non-empty string")
    entry: dict[str, Any] = {"name": " ".join(name.split())}
    if core:
        entry["kind"] = CORE_KIND
    else:
        kind = raw.get("kind")
        if kind not in TERM_KINDS:
            raise _fail(where, f"'kind' must be one of {', '.join(TERM_KINDS)}, got {kind!r}")
        entry["kind"] = kind
    for field, cs in (("patterns", False), ("case_sensitive_patterns", True), ("exclude", False)):
        patterns = _string_list(raw.get(field, []), where, field)
        for pattern in patterns:
            _check_pattern(pattern, case_sensitive=cs, where=where)
        entry[field] = patterns
    if not entry["patterns"] and not entry["case_sensitive_patterns"]:
        raise _fail(where, "needs at least one pattern in 'patterns' or 'case_sensitive_patterns'")
    if "weight" in raw:
        weight = raw["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise _fail(where, f"'weight' must be a non-negative number, got {weight!r}")
        entry["weight"] = float(weight)
    elif core:
        raise _fail(where, "core phrases need a 'weight'")
    if "prefilter" in raw:
        if not isinstance(raw["prefilter"], bool):
            raise _fail(where, "'prefilter' must be true or false")
        entry["prefilter"] = raw["prefilter"]
    return entry


def _normalise(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise _fail("top level", "must be a table (the parsed TOML document)")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _fail("top level", f"unknown key(s) {', '.join(sorted(unknown))}; expected weights, core, term")
    out: dict[str, Any] = {"weights": _parse_weights(data.get("weights"))}
    for table, core in (("core", True), ("term", False)):
        entries = data.get(table, [])
        if not isinstance(entries, list):
            raise _fail(table, f"must be an array of tables ([[{table}]])")
        parsed = [_parse_entry(raw, core=core, index=i) for i, raw in enumerate(entries)]
        seen: set[tuple[str, str]] = set()
        for entry in parsed:
            ident = (entry["kind"], entry["name"].lower())
            if ident in seen:
                raise _fail(f"[[{table}]]", f"{entry['kind']} {entry['name']!r} is defined twice")
            seen.add(ident)
        out[table] = parsed
    return out


def _merge_entries(base: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = [dict(entry) for entry in base]
    index = {(e["kind"], e["name"].lower()): i for i, e in enumerate(merged)}
    for entry in extra:
        ident = (entry["kind"], entry["name"].lower())
        if ident not in index:
            index[ident] = len(merged)
            merged.append(dict(entry))
            continue
        target = merged[index[ident]]
        for field in ("patterns", "case_sensitive_patterns", "exclude"):
            target[field] = target[field] + [p for p in entry[field] if p not in target[field]]
        for field in ("weight", "prefilter"):
            if field in entry:
                target[field] = entry[field]
    return merged


class Taxonomy:
    """A validated taxonomy with its patterns compiled; build it with ``from_dict``."""

    def __init__(self, normalised: dict[str, Any]) -> None:
        self._data = normalised
        weights = {**DEFAULT_KIND_WEIGHTS, **normalised["weights"]}
        terms = []
        for entry in normalised["core"] + normalised["term"]:
            kind = entry["kind"]
            terms.append(
                Term(
                    kind=kind,
                    name=entry["name"],
                    patterns=tuple(entry["patterns"]),
                    case_sensitive_patterns=tuple(entry["case_sensitive_patterns"]),
                    exclude=tuple(entry["exclude"]),
                    weight=entry.get("weight", weights.get(kind, 0.0)),
                    prefilter=entry.get("prefilter", kind in PREFILTER_KINDS),
                )
            )
        self.terms: tuple[Term, ...] = tuple(terms)
        canonical = {
            "weights": dict(sorted(normalised["weights"].items())),
            "terms": sorted(
                (
                    {**e, **{f: sorted(e[f]) for f in ("patterns", "case_sensitive_patterns", "exclude")}}
                    for e in normalised["core"] + normalised["term"]
                ),
                key=lambda e: (e["kind"], e["name"].lower()),
            ),
        }
        digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        self.version: str = digest.hexdigest()[:12]
        self._matcher = _Matcher(self.terms)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Taxonomy:
        """Build from the parsed TOML document; raises ValueError naming the offending entry."""
        return cls(_normalise(data))

    def merged(self, extra: dict[str, Any]) -> Taxonomy:
        """A new taxonomy with ``extra`` (same shape as the TOML) added.

        A term with the same kind and name as an existing one adds its patterns to it (and overrides its
        weight or prefilter if given); other terms are appended. ``self`` is unchanged.
        """
        more = _normalise(extra)
        return Taxonomy(
            {
                "weights": {**self._data["weights"], **more["weights"]},
                "core": _merge_entries(self._data["core"], more["core"]),
                "term": _merge_entries(self._data["term"], more["term"]),
            }
        )

    def mentions(self, text: str) -> dict[Term, int]:
        """Mentions of every term (core phrases included) found in ``text``."""
        if not text:
            return {}
        return {self.terms[i]: n for i, n in self._matcher.counts(text).items()}

    def __repr__(self) -> str:
        return f"Taxonomy(version={self.version!r}, terms={len(self.terms)})"


def tag_text(
    taxonomy: Taxonomy,
    text: str,
    *,
    title: str = "",
    mentions: tuple[dict[Term, int], dict[Term, int]] | None = None,
) -> list[TagMatch]:
    """Tags for an article: mentions in title and body together, core phrases left out.

    Sorted by kind, then by mentions (most first), then by name. ``mentions``: ``taxonomy.mentions`` of the
    title and of ``text``, when the caller has them already (scoring needs them too).
    """
    totals: dict[Term, int] = {}
    for counts in mentions or (taxonomy.mentions(title), taxonomy.mentions(text)):
        for term, n in counts.items():
            if term.kind != CORE_KIND:
                totals[term] = totals.get(term, 0) + n
    matches = [TagMatch(kind=t.kind, name=t.name, mentions=n) for t, n in totals.items()]
    matches.sort(key=lambda m: (m.kind, -m.mentions, m.name))
    return matches
