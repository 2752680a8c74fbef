"""Korean-correct text normalization, shingling and MinHash signatures (vectorized numpy).

Normalization for hashing (never written to outputs): Unicode NFKC, which composes Hangul
(NFD input becomes NFC syllables; it never decomposes) and folds full-width forms to ASCII;
then lower case, every decimal digit to ``0``, punctuation and symbols removed, runs of
whitespace to one space. datatrove's MinHash simplification applies NFD and strips combining
marks, which turns every Hangul syllable into conjoining jamo; this module exists so that
shingles are built from syllables.

Shingles are character n-grams of the normalized text (``kind="char"``, the default chosen by
measurement in docs/dedup.md) or n-grams of whitespace words (``kind="eojeol"``). Each shingle
is hashed to 64 bits: character n-grams with a vectorized polynomial rolling hash over the
UTF-32 code points (no Python object per shingle), eojeol n-grams with xxh3 per word.

MinHash of those 64-bit shingle hashes is computed by rensa's Rust engine
(``RMinHash.digest_matrix_from_flat_token_hashes``: one call per batch of documents, uint32
values); bench/dedup_bench.py measured it about 50x faster than this module's own vectorized
numpy multiply-shift MinHash (:meth:`MinhashSignatures.signature_numpy`, kept as the reference
implementation and for the comparison) and faster than datasketch and rensa's string API,
which both need one Python string per shingle. Signatures depend on rensa's algorithm, so the
rensa version is recorded in the manifest and an index is only reused with the same one.
Band hashes chain splitmix64 over each band's ``rows`` values.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import rensa
import xxhash

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_POLY = np.uint64(0x100000001B3)  # FNV-1 64-bit prime, odd: multiplication is a bijection mod 2**64
_SEED_MIX = 0x9E3779B97F4A7C15


def _punct_symbol_table() -> dict[int, None]:
    table = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        if cat[0] in "PS":
            table[cp] = None
    return table


_DROP_TABLE: dict[int, None] | None = None
_SPACE_RE = re.compile(r"\s+")
_DIGIT_RE = re.compile(r"\d")


def normalize_for_hashing(text: str) -> str:
    """The text that shingles and exact hashes are computed from (see the module docstring)."""
    global _DROP_TABLE
    if _DROP_TABLE is None:
        _DROP_TABLE = _punct_symbol_table()
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DIGIT_RE.sub("0", text)
    text = text.translate(_DROP_TABLE)
    return _SPACE_RE.sub(" ", text).strip()


def exact_hash(normalized: str) -> int:
    """64-bit blake2b of the normalized text (the exact-dedup key)."""
    return int.from_bytes(hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).digest(), "little")


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Finalizer of splitmix64 (vectorized, wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def char_shingle_hashes(normalized: str, n: int) -> np.ndarray:
    """Distinct 64-bit hashes of the character n-grams (the whole text if shorter than n)."""
    if not normalized:
        return np.empty(0, dtype=np.uint64)
    cps = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) <= n:
        count, width = 1, len(cps)
    else:
        count, width = len(cps) - n + 1, n
    h = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(width):
            h = h * _POLY + cps[k : k + count] + np.uint64(1)
        h = h + np.uint64(width)  # texts shorter than n hash apart from their prefixes' n-grams
        return np.unique(_splitmix64(h))


def eojeol_shingle_hashes(normalized: str, n: int) -> np.ndarray:
    """Distinct 64-bit hashes of the n-grams of whitespace words (eojeols)."""
    if not normalized:
        return np.empty(0, dtype=np.uint64)
    words = np.array([xxhash.xxh3_64_intdigest(w) for w in normalized.split(" ")], dtype=np.uint64)
    count = max(len(words) - n + 1, 1)
    width = min(n, len(words))
    h = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(width):
            h = h * _POLY + words[k : k + count]
        return np.unique(_splitmix64(h + np.uint64(width)))


@dataclass(frozen=True)
class MinhashScheme:
    """Everything that fixes a signature: shingling, permutations, banding.

    kind/n: shingle kind ("char" or "eojeol") and n-gram size. bands x rows = number of hash
    functions. seed: seed of the hash-function coefficients.
    """

    kind: str = "char"
    n: int = 5
    bands: int = 20
    rows: int = 6
    seed: int = 1

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """The (a, b) coefficient vectors of the hash functions (a odd), shape (num_perm,)."""
        rng = np.random.Generator(np.random.PCG64(self.seed))
        a = rng.integers(1, 1 << 63, size=self.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.integers(0, 1 << 63, size=self.num_perm, dtype=np.uint64)
        return a, b

    def shingles(self, normalized: str) -> np.ndarray:
        """Distinct shingle hashes of a normalized text."""
        if self.kind == "char":
            return char_shingle_hashes(normalized, self.n)
        return eojeol_shingle_hashes(normalized, self.n)


def minhash_engine() -> str:
    """Name and version of the MinHash engine (part of what fixes a signature)."""
    from importlib.metadata import version

    return f"rensa {version('rensa')} (algorithm {rensa.RMinHash.ALGORITHM_VERSION})"


class MinhashSignatures:
    """Computes uint32 MinHash signatures and uint64 band hashes for one :class:`MinhashScheme`."""

    def __init__(self, scheme: MinhashScheme, *, chunk: int = 1024) -> None:
        self.scheme = scheme
        a, b = scheme.coefficients()
        self._a = a[None, :]
        self._b = b[None, :]
        self._chunk = chunk  # shingles per block of the numpy reference implementation

    def signatures(self, shingle_sets: list[np.ndarray]) -> np.ndarray:
        """(docs, num_perm) uint32 signatures of shingle-hash sets (rensa); empty set: all 0xFFFFFFFF."""
        if not shingle_sets:
            return np.empty((0, self.scheme.num_perm), dtype=np.uint32)
        flat = np.concatenate(shingle_sets).astype(np.uint64, copy=False)
        offsets = np.zeros(len(shingle_sets) + 1, dtype=np.uint64)
        np.cumsum([len(s) for s in shingle_sets], out=offsets[1:])
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            flat, offsets, num_perm=self.scheme.num_perm, seed=self.scheme.seed
        )
        return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(shingle_sets), self.scheme.num_perm)

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        """Signature (num_perm,) uint32 of one set of shingle hashes."""
        return self.signatures([shingles])[0]

    def signature_numpy(self, shingles: np.ndarray) -> np.ndarray:
        """Reference numpy MinHash (multiply-shift family); not the production engine."""
        out = np.full(self.scheme.num_perm, 0xFFFFFFFF, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for start in range(0, len(shingles), self._chunk):
                hv = shingles[start : start + self._chunk, None] * self._a
                hv += self._b
                hv >>= np.uint64(32)
                np.minimum(out, hv.min(axis=0), out=out)
        return out.astype(np.uint32)

    def signature_of_text(self, text: str) -> np.ndarray:
        """Signature of a raw text (normalized here)."""
        return self.signature(self.scheme.shingles(normalize_for_hashing(text)))

    def band_hashes(self, signatures: np.ndarray) -> np.ndarray:
        """(docs, bands) uint64 band hashes of a (docs, num_perm) signature matrix."""
        rows = self.scheme.rows
        sig = np.asarray(signatures, dtype=np.uint32).astype(np.uint64)
        out = np.empty((sig.shape[0], self.scheme.bands), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for band in range(self.scheme.bands):
                h = np.full(sig.shape[0], np.uint64(band + 1) * np.uint64(_SEED_MIX), dtype=np.uint64)
                for j in range(band * rows, (band + 1) * rows):
                    h = _splitmix64(h * _POLY + sig[:, j])
                out[:, band] = h
        return out


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Fraction of equal signature positions (last axis): the MinHash Jaccard estimate."""
    return (sig_a == sig_b).mean(axis=-1)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sets of shingle hashes (sorted unique arrays)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
