"""Read the seed corpus: plain-text articles in `seeds/*.txt`, one article per file (parsed by
transforms/seed_text.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEED_DIR = Path(__file__).resolve().parents[1] / "seeds"
SEED_GLOB = "*.txt"


@dataclass(frozen=True)
class SeedFile:
    name: str  # file name, e.g. "000_5e03993ef8204055.txt": stable, so it can key the seed's ledger entry
    text: str


def read_seed_files(directory: Path = DEFAULT_SEED_DIR) -> list[SeedFile]:
    """All `*.txt` files in `directory`, sorted by name, decoded as UTF-8 (a leading BOM is dropped).

    Raises FileNotFoundError naming the directory if it does not exist, NotADirectoryError if it is a file,
    and UnicodeDecodeError naming the file if one is not UTF-8: a seed corpus is curated, so a bad file is
    an error to fix, not a page to guess at.
    """
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(f"seed directory not found: {directory} (expected *.txt seed articles there)")
    if not directory.is_dir():
        raise NotADirectoryError(f"seed path is not a directory: {directory}")
    seeds: list[SeedFile] = []
    for path in sorted(directory.glob(SEED_GLOB), key=lambda p: p.name):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise UnicodeDecodeError(
                err.encoding, err.object, err.start, err.end, f"{err.reason} in seed file {path}"
            ) from err
        seeds.append(SeedFile(name=path.name, text=text))
    return seeds
