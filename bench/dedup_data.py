"""The Korean near-duplicate benchmark set and its exact ground truth (used by bench/dedup_bench.py).

Built deterministically (seed 0) from real Korean text: the LibreOffice Korean help pages
(``/tmp/lo/libreoffice/help/ko/text`` or unpacked from ``/work/shared/data``). Every page with
at least 200 normalized characters is a background document; 200 of them get 15 variants each:
character edits (1, 3, 5, 10, 20 % of characters replaced by random Hangul syllables), eojeol
edits (2, 5, 10, 20 % of words deleted, replaced or inserted), a Korean boilerplate footer,
sentences shuffled, 10 % and 30 % of sentences removed, NFD-decomposed, full-width ASCII.
Hard negatives: 150 documents that share one long portal-style navigation header and footer
but each carry a different body.

Ground truth: every pair whose *exact* Jaccard similarity of the documented shingle sets
(character 5-grams of hanforge's normalized text) is >= the threshold, found exhaustively with
prefix filtering (any such pair shares a token of its rarest-first prefix), then verified.

Run alone to print the set's composition:  .venv/bin/python bench/dedup_data.py
"""

from __future__ import annotations

import math
import random
import re
import tarfile
import unicodedata
from pathlib import Path

import numpy as np

from hanforge.corpus.dedup.shingles import MinhashScheme, jaccard, normalize_for_hashing

LO_DIR = Path("/tmp/lo/libreoffice/help/ko/text")
LO_TAR = Path("/work/shared/data/libreoffice-help-ko-7.4.7.tar.gz")
FOOTERS = [
    "무단전재 및 재배포 금지",
    "저작권자 ⓒ 한빛일보 무단전재 및 재배포 금지\n김민수 기자 minsu.kim@hanbit.co.kr",
    "이 기사를 구독하시려면 로그인하세요. 구독 신청 | 해지 | 고객센터 1588-0000",
    "ⓒ 2024 코리아뉴스. All rights reserved. 기사제보 및 보도자료 news@korea.example",
]
NAV_HEADER = (
    "홈 | 뉴스 | 정치 | 경제 | 사회 | 생활/문화 | 세계 | IT/과학 | 오피니언 | 연예 | 스포츠\n"
    "로그인 회원가입 고객센터 전체메뉴 검색어를 입력하세요 많이 본 뉴스 실시간 인기 검색어\n"
    "오늘의 주요 뉴스 헤드라인 정치 일반 국회 정당 행정 국방 외교 북한 경제 일반 금융 증권 부동산\n"
)
NAV_FOOTER = (
    "회사소개 | 광고안내 | 제휴문의 | 개인정보처리방침 | 청소년보호정책 | 이용약관 | 고충처리인\n"
    "서울특별시 중구 세종대로 000 대표전화 02-000-0000 등록번호 서울 아00000 발행인 홍길동 편집인 홍길동\n"
    "Copyright ⓒ 한빛미디어 All rights reserved. 무단전재 및 재배포 금지\n"
)


def load_pages() -> list[tuple[str, str]]:
    """(relative path, extracted main-content text) of every LibreOffice Korean help page."""
    from resiliparse.extract.html2text import extract_plain_text

    if not LO_DIR.is_dir():
        with tarfile.open(LO_TAR) as tar:
            tar.extractall("/tmp/lo", filter="data")
    pages = []
    for path in sorted(LO_DIR.rglob("*.html")):
        html = path.read_text(encoding="utf-8", errors="replace")
        pages.append((str(path.relative_to(LO_DIR)), extract_plain_text(html, main_content=True)))
    return pages


def _random_syllable(rng: random.Random) -> str:
    return chr(0xAC00 + rng.randrange(11172))


def char_edits(text: str, rate: float, rng: random.Random) -> str:
    chars = list(text)
    positions = [i for i, c in enumerate(chars) if not c.isspace()]
    for i in rng.sample(positions, k=int(len(positions) * rate)):
        chars[i] = _random_syllable(rng)
    return "".join(chars)


def word_edits(text: str, rate: float, rng: random.Random, vocabulary: list[str]) -> str:
    out = []
    for line in text.split("\n"):
        words = []
        for w in line.split(" "):
            if rng.random() < rate:
                op = rng.randrange(3)
                if op == 1:
                    words.append(rng.choice(vocabulary))
                elif op == 2:
                    words.extend([w, rng.choice(vocabulary)])
            else:
                words.append(w)
        out.append(" ".join(words))
    return "\n".join(out)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?다])\s+|\n+", text) if s.strip()]


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else ("\u3000" if c == " " else c) for c in text)


def build_benchmark(*, num_originals: int = 200, num_negatives: int = 150, seed: int = 0) -> list[dict]:
    """Documents ``{id, text, group, variant}`` of the benchmark set (deterministic)."""
    rng = random.Random(seed)
    pages = [(p, t) for p, t in load_pages() if len(normalize_for_hashing(t)) >= 200]
    docs = [{"id": f"lo/{p}", "text": t, "group": f"lo/{p}", "variant": "background"} for p, t in pages]
    vocabulary = sorted({w for _, t in pages[:300] for w in t.split() if len(w) >= 2})
    eligible = [i for i, (_, t) in enumerate(pages) if len(normalize_for_hashing(t)) >= 500]
    originals = rng.sample(eligible, k=min(num_originals, len(eligible)))
    for i in originals:
        path, text = pages[i]
        group = f"lo/{path}"
        variants = {f"char{int(r * 100):02d}": char_edits(text, r, rng) for r in (0.01, 0.03, 0.05, 0.10, 0.20)}
        variants.update(
            {f"word{int(r * 100):02d}": word_edits(text, r, rng, vocabulary) for r in (0.02, 0.05, 0.10, 0.20)}
        )
        variants["footer"] = text + "\n" + rng.choice(FOOTERS)
        sents = _sentences(text)
        shuffled = sents[:]
        rng.shuffle(shuffled)
        variants["reorder"] = "\n".join(shuffled)
        for r in (0.10, 0.30):
            drop = set(rng.sample(range(len(sents)), k=int(len(sents) * r)))
            variants[f"remove{int(r * 100):02d}"] = "\n".join(s for j, s in enumerate(sents) if j not in drop)
        variants["nfd"] = unicodedata.normalize("NFD", text)
        variants["fullwidth"] = full_width(text)
        for name, vtext in variants.items():
            docs.append({"id": f"{group}#{name}", "text": vtext, "group": group, "variant": name})
    bodies = rng.sample([i for i in range(len(pages)) if i not in set(originals)], k=num_negatives)
    for n, i in enumerate(bodies):
        body = pages[i][1][:800]
        docs.append(
            {
                "id": f"negative/{n:03d}",
                "text": NAV_HEADER + body + "\n" + NAV_FOOTER,
                "group": f"negative/{n:03d}",
                "variant": "hard_negative",
            }
        )
    return docs


def shingle_sets(texts: list[str], scheme: MinhashScheme) -> list[np.ndarray]:
    return [scheme.shingles(normalize_for_hashing(t)) for t in texts]


def true_pairs(sets: list[np.ndarray], threshold: float) -> dict[tuple[int, int], float]:
    """All pairs (i < j) with exact Jaccard >= threshold (prefix filtering, then verification)."""
    tokens, counts = np.unique(np.concatenate([s for s in sets if len(s)]), return_counts=True)
    index: dict[int, list[int]] = {}
    for d, s in enumerate(sets):
        if not len(s):
            continue
        freq = counts[np.searchsorted(tokens, s)]
        ordered = s[np.lexsort((s, freq))]
        prefix = len(s) - math.ceil(threshold * len(s)) + 1
        for t in ordered[:prefix].tolist():
            index.setdefault(t, []).append(d)
    candidates = set()
    for ds in index.values():
        for a in range(len(ds)):
            for b in range(a + 1, len(ds)):
                candidates.add((ds[a], ds[b]))
    out = {}
    for i, j in candidates:
        small, large = sorted((len(sets[i]), len(sets[j])))
        if small < threshold * large:
            continue
        sim = jaccard(sets[i], sets[j])
        if sim >= threshold:
            out[(i, j)] = sim
    empty = [d for d, s in enumerate(sets) if not len(s)]
    for a in range(len(empty)):
        for b in range(a + 1, len(empty)):
            out[(empty[a], empty[b])] = 1.0
    return out


if __name__ == "__main__":
    import collections

    docs = build_benchmark()
    print(len(docs), collections.Counter(d["variant"] for d in docs))
