"""A synthetic corpus at the scale of Kaggle's Jigsaw train + test (312,735 comments).

Words follow a Zipf law over a large universe of made-up word types (~400k distinct types
occur), document lengths are lognormal (median ~36, mean ~68 tokens, capped at 2,000), and
the texts carry what makes tokenization real work: capitalised and upper-case words,
punctuation glued to words, newlines, tabs, apostrophes, some non-ASCII words.

Deterministic for a given seed and size. Written as gzipped JSON lines (one JSON string per
document) to a cache folder outside the repository, default ``~/.cache/rnnlab-bench/``
(``$RNNLAB_BENCH_CACHE``). This module must not import rnnlab: the Keras worker reads the
corpus through :func:`read_corpus`.

    python bench/make_corpus.py                 # 312,735 documents (cached)
    python bench/make_corpus.py --docs 20000    # a smaller one
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

N_DOCS = 312_735
UNIVERSE = 1_000_000  # word types that can be drawn; ~410k of them occur in 21M tokens
ZIPF_A = 1.25
LETTERS = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
LETTER_P = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4, 2.2, 2.0,
                     2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])
NON_ASCII = ["café", "naïve", "über", "straße", "İstanbul", "ΟΔΟΣ", "ὀδυσσεύς", "привет", "日本語", "ﬁne",
             "résumé", "Ǆemal", "ǅ", "ﬀ", "ß", "KELVIN\u212a", "\u00a0nbsp", "İİ", "ΣΑΣ", "crème"]
SEPARATORS = [" ", " ", " ", " ", " ", " ", " ", " ", ", ", ". ", "! ", "? ", "\n", "\n\n", " - ", "\t",
              "... ", ": ", " (", ") ", '"', " '", "' ", "!!! ", " * "]


def default_cache() -> Path:
    return Path(os.environ.get("RNNLAB_BENCH_CACHE") or Path.home() / ".cache" / "rnnlab-bench")


def corpus_path(n_docs: int = N_DOCS, seed: int = 0, cache: Path | None = None) -> Path:
    return (cache or default_cache()) / f"corpus-{n_docs}-seed{seed}.jsonl.gz"


def _vocabulary(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct made-up words, frequent ones short (rank r gets ~log(r) letters)."""
    words: list[str] = []
    seen: set[str] = set()
    p = LETTER_P / LETTER_P.sum()
    batch = 0
    while len(words) < n:
        k = n - len(words) + 1000
        ranks = np.arange(len(words), len(words) + k) + 1
        lens = np.clip(np.round(1 + np.log(ranks) * 0.55 + rng.normal(0, 1.0, k)).astype(int), 1, 18)
        letters = rng.choice(LETTERS, size=int(lens.sum()), p=p)
        flat = "".join(letters.tolist())
        pos = 0
        for length in lens.tolist():
            w = flat[pos:pos + length]
            pos += length
            if w not in seen:
                seen.add(w)
                words.append(w)
                if len(words) == n:
                    break
        batch += 1
    # a few words with apostrophes and digits, as in real comments
    out = np.array(words, dtype=object)
    idx = rng.choice(np.arange(50, n), size=n // 50, replace=False)  # n >= 20,000
    out[idx] = [w + "'s" for w in out[idx]]
    idx = rng.choice(np.arange(200, n), size=n // 100, replace=False)
    out[idx] = [w + str(int(d)) for w, d in zip(out[idx], rng.integers(0, 2030, len(idx)))]
    return out


def make_corpus(n_docs: int = N_DOCS, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(rng.lognormal(np.log(36), 1.13, n_docs)).astype(np.int64), 1, 2000)
    total = int(lengths.sum())
    universe = min(UNIVERSE, max(20_000, 50 * n_docs))  # small corpora: a smaller universe (fast)
    vocab = _vocabulary(universe, rng)
    # Zipf ranks over the universe by inverse CDF (bounded, so no rejection loop)
    h = np.cumsum(1.0 / np.arange(1, universe + 1) ** ZIPF_A)
    ranks = np.searchsorted(h, rng.random(total) * h[-1]).astype(np.int64)
    lower = vocab
    cap = np.array([w.capitalize() for w in vocab[:200_000]], dtype=object)
    upper = np.array([w.upper() for w in vocab[:50_000]], dtype=object)
    style = rng.random(total)
    words = lower[ranks]
    m = (style < 0.10) & (ranks < len(cap))
    words[m] = cap[ranks[m]]
    m = (style > 0.99) & (ranks < len(upper))
    words[m] = upper[ranks[m]]
    m = rng.random(total) < 0.0015
    words[m] = rng.choice(np.array(NON_ASCII, dtype=object), int(m.sum()))
    sep_p = np.array([40, 40, 40, 40, 40, 40, 40, 40, 12, 14, 3, 2, 4, 2, 1, 0.5, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5,
                      0.4, 0.3, 0.2])
    seps = np.array(SEPARATORS, dtype=object)[rng.choice(len(SEPARATORS), total, p=sep_p / sep_p.sum())]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    docs = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        parts = [None] * (2 * (b - a))
        parts[0::2] = words[a:b]
        parts[1::2] = seps[a:b]
        parts[-1] = ""
        docs.append("".join(parts))
    # a few empty and punctuation-only comments
    for i in rng.choice(n_docs, max(n_docs // 5000, 1), replace=False).tolist():
        docs[i] = "" if i % 2 else "!!! ... ?"
    return docs


def write_corpus(docs: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False))
            fh.write("\n")
    os.replace(tmp, path)


def read_corpus(path: str | Path, limit: int | None = None) -> list[str]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line))
            if limit is not None and len(out) >= limit:
                break
    return out


def ensure_corpus(n_docs: int = N_DOCS, seed: int = 0, cache: Path | None = None, quiet: bool = False) -> Path:
    """The corpus file, generated on first use."""
    path = corpus_path(n_docs, seed, cache)
    if not path.exists():
        t0 = time.perf_counter()
        if not quiet:
            print(f"generating a {n_docs:,}-document corpus -> {path}", file=sys.stderr, flush=True)
        write_corpus(make_corpus(n_docs, seed), path)
        if not quiet:
            print(f"  done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=N_DOCS, help=f"number of documents (default {N_DOCS:,})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="folder (default ~/.cache/rnnlab-bench)")
    ap.add_argument("--stats", action="store_true", help="print length and vocabulary statistics")
    a = ap.parse_args(argv)
    if a.docs < 1:
        ap.error("--docs must be >= 1")
    path = ensure_corpus(a.docs, a.seed, a.cache)
    print(path)
    if a.stats:
        import re

        docs = read_corpus(path)
        pat = re.compile(r'[!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~\t\n ]+')
        lens = np.array([len([w for w in pat.split(d.lower()) if w]) for d in docs])
        types = set()
        for d in docs:
            types.update(w for w in pat.split(d.lower()) if w)
        print(f"docs {len(docs):,}  tokens {lens.sum():,}  median {np.median(lens):.0f}  mean {lens.mean():.1f}  "
              f"max {lens.max():,}  word types {len(types):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
