"""Duplicate detection, the pure part: exact copies by a hash of normalised text, near copies by MinHash.

- Exact: ``body_sha256`` of ``normalise_text`` (NFKC, lower case, punctuation dropped, whitespace collapsed),
  so the same text re-served with other spacing, quotes or case is one article.
- Near (syndicated copies with another headline, a byline, an extra paragraph or other boilerplate):
  ``minhash_signature`` over shingles of ``SHINGLE_SIZE`` tokens, where a token is a word, or a single
  character in CJK text (Chinese has no spaces, so its shingles are 5-character runs).
- LSH: the 128 hash values are cut into ``LSH_BANDS`` = 16 bands of ``LSH_ROWS`` = 8. Two articles become
  candidates when any band matches, which for Jaccard similarity s happens with probability
  1 - (1 - s^8)^16: 0.95 at s = 0.8, 0.994 at 0.85, 0.06 at 0.5, 0.001 at 0.3. Candidates are then
  confirmed with ``estimated_jaccard(...) >= NEAR_DUPLICATE_JACCARD``. datasketch's own optimiser
  (``_optimal_param(0.8, 128, 0.5, 0.5)``) picks 9 x 13, which finds a pair at s = 0.8 only 40% of the
  time; 16 x 8 trades a few more candidate checks (cheap: a comparison of two 1 kB signatures) for recall.
- ``band_keys`` turns each band into one signed 64-bit integer (band index mixed in), which fits an
  indexed Postgres BIGINT or SQLite INTEGER column: the store finds candidates with one indexed lookup.
  What is done with confirmed pairs (stories, their canonical article, rebuilds) is models/stories.py.

Signatures are datasketch's "affine64" MinHash (SHA-1 of each shingle, the MurmurHash3 finalizer, then
``a * h + b`` mod 2^64 per permutation), with one set of permutations built once at import from a fixed
seed, stored as 128 little-endian uint64 values (1,024 bytes). The arithmetic is written out here in numpy,
bit for bit the same as ``datasketch.MinHash(scheme="affine64")`` (tests/test_dedup.py compares them on
many texts), because importing datasketch imports SciPy for its LSH classes, which we don't use: 55 MB in
every process that dedups (the flow and each extraction worker), for no work. datasketch stays a dependency
for ``signature_to_minhash``, which hands stored signatures to its tools.
Changing ``NUM_PERM``, ``MINHASH_SEED``, ``SCHEME`` or the shingling makes stored signatures incomparable:
re-run ``reprocess`` after such a change, then ``rare-news dedup --rebuild`` (as after changing the threshold).
An 800-word article takes about 1.5 ms here: shingling, a SHA-1 per shingle, and numpy's 850 x 128 uint64
multiply-add ("affine32" would halve the last part; 64-bit values were kept because they are what is stored).
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from functools import cache
from operator import eq
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasketch import MinHash

NUM_PERM = 128
SHINGLE_SIZE = 5
LSH_BANDS = 16
LSH_ROWS = 8
NEAR_DUPLICATE_JACCARD = 0.8
MINHASH_SEED = 1
SCHEME = "affine64"
SIGNATURE_BYTES = NUM_PERM * 8
assert LSH_BANDS * LSH_ROWS == NUM_PERM

_EMPTY_VALUE = (1 << 64) - 1  # datasketch's value for "no element seen"
_EMPTY_SIGNATURE = struct.pack(f"<{NUM_PERM}Q", *[_EMPTY_VALUE] * NUM_PERM)
_UNPACK = struct.Struct(f"<{NUM_PERM}Q").unpack
# MurmurHash3's 64-bit finalizer: shift and multipliers (multiplication wraps mod 2^64, as intended).
_FMIX_SHIFT = 33
_FMIX_M1 = 0xFF51AFD7ED558CCD
_FMIX_M2 = 0xC4CEB9FE1A85EC53


@cache
def _permutations() -> Any:
    """datasketch's affine64 permutations: odd multipliers `a` (a bijection mod 2^64) and offsets `b`.

    numpy is imported here, not with the module: only processes that hash pages need it (the flow process
    compares stored signatures, which plain bytes do; numpy is 30 MB a process)."""
    import numpy as np

    generator = np.random.RandomState(MINHASH_SEED)
    a = generator.randint(0, 1 << 63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = generator.randint(0, 1 << 64, NUM_PERM, dtype=np.uint64)
    return np.array([a, b])


_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


def normalise_text(text: str) -> str:
    """NFKC, lower case, punctuation replaced by spaces, runs of whitespace collapsed to one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def body_sha256(text: str) -> str:
    """Hex SHA-256 of ``normalise_text(text)``: equal for copies that differ only in case, spacing,
    punctuation or Unicode form."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def shingles(text: str) -> set[bytes]:
    """Overlapping runs of ``SHINGLE_SIZE`` tokens (words; single characters in CJK text).

    A text shorter than one shingle gives a single shingle of all its tokens; an empty text gives none.
    """
    normalised = normalise_text(text)
    tokens = _TOKEN.findall(normalised) if _CJK_CHAR.search(normalised) else normalised.split()
    if not tokens:
        return set()
    if len(tokens) <= SHINGLE_SIZE:
        return {" ".join(tokens).encode("utf-8")}
    return {" ".join(tokens[i : i + SHINGLE_SIZE]).encode("utf-8") for i in range(len(tokens) - SHINGLE_SIZE + 1)}


def minhash_signature(text: str) -> bytes:
    """MinHash of ``shingles(text)`` as ``NUM_PERM`` little-endian uint64 values."""
    items = shingles(text)
    if not items:
        return _EMPTY_SIGNATURE
    import numpy as np

    # the first 8 bytes of each SHA-1, little-endian: datasketch's sha1_hash64
    hashed = np.frombuffer(b"".join(hashlib.sha1(item).digest()[:8] for item in items), dtype="<u8")
    hashed = hashed.astype(np.uint64).reshape(-1, 1)
    shift, m1, m2 = np.uint64(_FMIX_SHIFT), np.uint64(_FMIX_M1), np.uint64(_FMIX_M2)
    with np.errstate(over="ignore"):
        hashed ^= hashed >> shift
        hashed *= m1
        hashed ^= hashed >> shift
        hashed *= m2
        hashed ^= hashed >> shift
        a, b = _permutations()
        permuted = hashed * a + b
    return bytes(permuted.min(axis=0).astype("<u8").tobytes())


def _values(signature: bytes) -> tuple[int, ...]:
    if len(signature) != SIGNATURE_BYTES:
        raise ValueError(f"a signature is {SIGNATURE_BYTES} bytes, got {len(signature)}")
    return _UNPACK(signature)


def is_empty_signature(signature: bytes) -> bool:
    """True for the signature of a text without tokens (it would equal every other empty one)."""
    if len(signature) != SIGNATURE_BYTES:
        raise ValueError(f"a signature is {SIGNATURE_BYTES} bytes, got {len(signature)}")
    return signature == _EMPTY_SIGNATURE


def signature_to_minhash(signature: bytes) -> MinHash:
    """A datasketch MinHash from a stored signature (e.g. for ``datasketch.MinHashLSH``)."""
    import numpy as np
    from datasketch import MinHash  # lazy: it imports SciPy (see the module docstring)

    return MinHash(
        num_perm=NUM_PERM,
        seed=MINHASH_SEED,
        scheme=SCHEME,
        permutations=_permutations(),
        hashvalues=np.array(_values(signature), dtype=np.uint64),
    )


def band_keys(signature: bytes) -> list[int]:
    """One signed 64-bit key per LSH band: equal keys at the same band index mean a candidate pair.

    The band index is hashed in, so one key column can index all bands. Empty texts get no keys: they
    would all collide with each other.
    """
    if is_empty_signature(signature):
        return []
    width = LSH_ROWS * 8
    keys = []
    for band in range(LSH_BANDS):
        chunk = signature[band * width : (band + 1) * width]
        digest = hashlib.blake2b(band.to_bytes(2, "little") + chunk, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures (share of equal values).

    0.0 when either text was empty.
    """
    values_a, values_b = _values(a), _values(b)
    if a == _EMPTY_SIGNATURE or b == _EMPTY_SIGNATURE:
        return 0.0
    return sum(map(eq, values_a, values_b)) / NUM_PERM
